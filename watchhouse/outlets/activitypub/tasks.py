"""Background work of the fediverse actors: sending activities to followers' inboxes. Each
task claims what it sends, so a repeated or restarted task sends nothing twice."""

from __future__ import annotations

from django_tasks import task

from watchhouse.outlets.activitypub.delivery import ap_deliveries_send
from watchhouse.outlets.activitypub.services import seen_activity_prune


@task()
def deliver_activity_task(activity_id: int) -> int:
    """Send the activity's due deliveries; return how many were delivered."""
    return ap_deliveries_send(activity_id=activity_id).delivered


@task()
def deliver_due_task() -> int:
    """Send every due delivery (a sweep after a restart); return how many were delivered."""
    return ap_deliveries_send().delivered


@task()
def prune_seen_activities_task() -> int:
    """Forget replay-guard ids older than the signature date window allows."""
    return seen_activity_prune()
