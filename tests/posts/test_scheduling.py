"""Scheduling to the minute: the task is queued for the minute, a due task publishes, a stale
task after re-scheduling or unscheduling does nothing, and the past is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from freezegun import freeze_time

from tests.posts.conftest import attach, committed, drain, queued, ready_media
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.posts.models import Post
from watchhouse.posts.services import (
    media_update,
    post_approve,
    post_schedule,
    post_submit,
    post_unschedule,
)

pytestmark = pytest.mark.django_db


def _at(minutes: int):
    return timezone.now() + timedelta(minutes=minutes, seconds=17)


def test_scheduling_queues_the_publication_for_the_minute(make_post, pio):
    post = make_post()
    when = _at(90)
    with committed():
        post = post_schedule(actor=pio, post=post, publish_at=when)
    assert post.state == "scheduled"
    assert post.publish_at == when.replace(second=0, microsecond=0)
    (task,) = DBTaskResult.objects.filter(task_path__endswith=".publish_post_task")
    assert task.args_kwargs["args"] == [post.pk]
    assert task.run_after == post.publish_at
    assert AuditEntry.objects.filter(action="posts.schedule", object_id=str(post.pk)).exists()
    assert drain() == 0  # not due: nothing runs yet
    assert Post.objects.get().state == "scheduled"
    with freeze_time(post.publish_at + timedelta(seconds=5)):
        assert drain() == 2  # the publication, then the outlets' sync it enqueues
    post.refresh_from_db()
    assert post.state == "published" and post.published_at is not None
    (entry,) = AuditEntry.objects.filter(action="posts.publish_scheduled")
    assert entry.actor_id is None
    assert post.revisions.get(number=post.version).created_by == pio


def test_scheduling_in_the_past_is_refused_and_changes_nothing(make_post, pio):
    post = make_post()
    with committed(), pytest.raises(InvalidInputError, match="passed"):
        post_schedule(actor=pio, post=post, publish_at=timezone.now() - timedelta(minutes=1))
    post.refresh_from_db()
    assert post.state == "draft" and post.publish_at is None and post.version == 1
    assert queued("publish_post_task") == []


def test_a_stale_task_after_rescheduling_does_nothing(make_post, pio):
    post = make_post()
    first, later = _at(30), _at(120)
    with committed():
        post_schedule(actor=pio, post=post, publish_at=first)
    with committed():
        post = post_schedule(actor=pio, post=post, publish_at=later)
    assert queued("publish_post_task") == [[post.pk], [post.pk]]
    with freeze_time(first + timedelta(minutes=1)):
        drain()
    post.refresh_from_db()
    assert post.state == "scheduled"  # the first task found it not yet due
    with freeze_time(later + timedelta(minutes=1)):
        drain()
    post.refresh_from_db()
    assert post.state == "published"
    assert AuditEntry.objects.filter(action="posts.publish_scheduled").count() == 1


def test_an_unscheduled_post_stays_a_draft_when_its_task_comes(make_post, pio):
    post = make_post()
    when = _at(30)
    with committed():
        post_schedule(actor=pio, post=post, publish_at=when)
    post = post_unschedule(actor=pio, post=post)
    with freeze_time(when + timedelta(minutes=1)):
        drain()
    post.refresh_from_db()
    assert post.state == "draft" and post.publish_at is None


def test_a_pio_cannot_schedule_an_appeal_but_a_supervisor_approves_it_for_later(
    make_post, pio, supervisor
):
    post = make_post(kind="appeal")
    with pytest.raises(NotPermittedError):
        post_schedule(actor=pio, post=post, publish_at=_at(60))
    post_submit(actor=pio, post=post)
    when = _at(60)
    with committed():
        post = post_approve(actor=supervisor, post=post, publish_at=when)
    assert post.state == "scheduled" and post.approved_by == supervisor
    with freeze_time(when + timedelta(minutes=1)):
        drain()
    assert Post.objects.get().state == "published"


def test_a_scheduled_post_that_broke_goes_back_to_draft_with_the_reason(make_post, pio):
    photo = ready_media(pio, alt_text="A digger")
    post = make_post(attachments=attach((photo, "cover")))
    when = _at(30)
    with committed():
        post_schedule(actor=pio, post=post, publish_at=when)
    media_update(actor=pio, media=photo, alt_text="")
    with freeze_time(when + timedelta(minutes=1)):
        drain()
    post.refresh_from_db()
    assert post.state == "draft"
    assert "alt text" in post.revisions.get(number=post.version).note
    assert AuditEntry.objects.filter(action="posts.schedule_failed").exists()
