"""Background work of posts: publishing at the scheduled minute, taking missing-person posts
down at expiry, and making the public copies of uploaded media. Each task re-checks what it
acts on, so a stale, repeated or restarted task is harmless."""

from __future__ import annotations

from django_tasks import task

from watchhouse.posts.services import media_process, post_expire_due, post_publish_due


@task()
def publish_post_task(post_id: int) -> bool:
    """Publish the post if it is still scheduled and its minute has come."""
    return post_publish_due(post_id=post_id)


@task()
def expire_post_task(post_id: int) -> bool:
    """Close the missing-person post as withdrawn if its expiry has come unresolved."""
    return post_expire_due(post_id=post_id)


@task()
def process_media_task(media_id: int) -> str:
    """Make the public copies of an uploaded file; return its status afterwards."""
    return media_process(media_id=media_id)
