"""Background work of monitoring: forgetting matches nobody reviewed in time. Tasks take no
state and call a service, so a repeated or restarted task is harmless."""

from __future__ import annotations

from django_tasks import task

from watchhouse.monitoring.services.stream import matched_posts_expire


@task()
def purge_unreviewed_task() -> int:
    """Delete matched posts still unreviewed after the review period; how many went."""
    return matched_posts_expire()
