"""Background work on tips: each task takes an id, is idempotent and calls one service."""

from __future__ import annotations

from django_tasks import task


@task()
def process_tip_file_task(file_id: int) -> str:
    """Extract a tip file's metadata and make its stripped preview."""
    from watchhouse.tips.services.processing import tip_file_process

    return tip_file_process(file_id=file_id)


@task()
def deliver_tip_message_task(message_id: int) -> str:
    """Send a message to an e-mail tipster."""
    from watchhouse.tips.services.inbound import tip_message_deliver

    return tip_message_deliver(message_id=message_id)
