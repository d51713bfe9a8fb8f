"""Background work of alerts: finding recipients after issue, and expiring on time."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from watchhouse.alerts.services import alert_expire
from watchhouse.notify.services import deliveries_create


@task()
def resolve_alert_recipients_task(alert_id: int) -> dict[str, Any]:
    """Write the deliveries of an issued alert and hand them to the send tasks."""
    report = deliveries_create(alert_id=alert_id)
    return {"subscriptions": report.subscriptions, "created": report.created}


@task()
def expire_alert_task(alert_id: int) -> bool:
    """Mark the alert expired once its expiry time has come."""
    return alert_expire(alert_id=alert_id)
