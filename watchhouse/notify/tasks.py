"""Background work of notifications: sending deliveries and confirmation e-mails."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from watchhouse.core.errors import WatchhouseError
from watchhouse.notify.services import confirmation_send, deliveries_send


class ConfirmationNotSentError(WatchhouseError):
    """The mail server could not take the confirmation e-mail this time."""


@task()
def send_deliveries_task(delivery_ids: list[int]) -> dict[str, Any]:
    """Send the due deliveries among ``delivery_ids``; each goes out at most once."""
    report = deliveries_send(delivery_ids=delivery_ids)
    return {
        "sent": report.sent,
        "failed": report.failed,
        "skipped": report.skipped,
        "retrying": sum(len(ids) for ids in report.retry.values()),
    }


@task()
def send_confirmation_task(endpoint_id: int) -> bool:
    """Mail the confirmation link of an endpoint (nothing once it is confirmed)."""
    result = confirmation_send(endpoint_id=endpoint_id)
    if result is not None and not result.ok and result.retryable:
        # Raising hands the task back to the queue, which tries again with backoff.
        raise ConfirmationNotSentError(result.error)
    return bool(result and result.ok)
