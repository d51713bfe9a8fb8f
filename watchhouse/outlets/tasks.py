"""Background work of the outlets: bringing copies in line with their post or alert,
sending each copy, and collecting what comes back. Tasks take ids and call a service, which
re-reads what it acts on, so a stale, repeated or restarted task is harmless."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from watchhouse.outlets.services import (
    alert_outlets_sync,
    copy_sync,
    inbound_collect_due,
    post_outlets_sync,
)
from watchhouse.outlets.services.inbound import collect_interval


@task()
def sync_post_outlets_task(post_id: int) -> list[int]:
    """Set what every copy of the post should show; the copies enqueued."""
    return post_outlets_sync(post_id=post_id)


@task()
def sync_alert_outlets_task(alert_id: int) -> list[int]:
    """Set what every copy of the alert's chain should show; the copies enqueued."""
    return alert_outlets_sync(alert_id=alert_id)


@task()
def sync_copy_task(copy_id: int) -> str:
    """Bring one copy in line on its network; what happened."""
    return copy_sync(copy_id=copy_id)


@task()
def collect_inbound_task(outlet_id: int) -> bool:
    """Collect one outlet's replies and mentions, then come back after the interval while
    the outlet is enabled (a second chain of the same outlet ends at its first run)."""
    going_on = inbound_collect_due(outlet_id=outlet_id)
    if going_on:
        later = timezone.now() + collect_interval()
        collect_inbound_task.using(run_after=later).enqueue(outlet_id)
    return going_on
