"""Real `watchhouse worker` processes: nothing uploaded is lost when the worker dies (one
transcoding a video is SIGKILLed half-way, and a second claims the file again and finishes
it), and a scheduled post is published by a worker started after the one that was running
when it was scheduled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import File
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import need

# Fixtures of the worker tests, used here by name.
from tests.core.conftest import (  # noqa: F401
    Workers,
    child_env,
    database_backend,
    media_root,
    workers,
)
from tests.posts.conftest import HAVE_FFMPEG, fields, video_file
from watchhouse.posts.models import MediaAsset, Post
from watchhouse.posts.services import media_upload, post_create, post_schedule
from watchhouse.posts.storage import public_path

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.mark.slow
@pytest.mark.usefixtures("database_backend")
def test_worker_killed_mid_transcode_another_finishes_it(request, make_staff, tmp_path):
    """The file ends ready, processed by a second attempt, with a complete MP4."""
    need(HAVE_FFMPEG, "ffmpeg and ffprobe are not installed")
    pool: Workers = request.getfixturevalue("workers")
    private = request.getfixturevalue("media_roots")[1]
    env = {
        "WATCHHOUSE_TASK_BACKEND": "database",
        "WATCHHOUSE_WORKER_LEASE_SECONDS": "2",
        "WATCHHOUSE_PRIVATE_MEDIA_ROOT": str(private),
    }
    source = video_file(tmp_path / "long.mp4", seconds=40, size="640x360")
    pio = make_staff("pio")
    with source.open("rb") as handle:
        media = media_upload(actor=pio, file=File(handle, name="long.mp4"))

    def progress() -> float:
        return MediaAsset.objects.values_list("progress", flat=True).get(pk=media.pk)

    first = pool.start(**env)
    pool.wait_for(lambda: progress() >= 0.05, what="the transcode to get going", timeout=60)
    pool.kill(first)
    media.refresh_from_db()
    assert media.status == "processing" and media.attempts == 1 and media.progress < 1.0
    pool.start(**env)
    pool.wait_for(
        lambda: MediaAsset.objects.filter(pk=media.pk, status="ready").exists(),
        what="the second worker to finish the transcode",
        timeout=120,
    )
    media.refresh_from_db()
    assert media.attempts == 2 and media.error == "" and media.progress == 1.0
    assert 39 < media.duration_s < 41
    mp4 = public_path(media.renditions["mp4"]["path"])
    assert mp4.stat().st_size == media.renditions["mp4"]["bytes"] > 0
    # The killed attempt's half-written files are gone: only the final copies remain.
    assert sorted(p.name for p in mp4.parent.iterdir()) == ["poster.jpg", "video.mp4"]


@pytest.mark.slow
@pytest.mark.usefixtures("database_backend")
def test_a_restarted_worker_publishes_a_scheduled_post(request, make_staff):
    """The publication waits in the queue, not in a worker's memory."""
    pool: Workers = request.getfixturevalue("workers")
    env = {"WATCHHOUSE_TASK_BACKEND": "database", "WATCHHOUSE_WORKER_LEASE_SECONDS": "2"}
    pio = make_staff("pio")
    post = post_create(actor=pio, fields=fields())
    first = pool.start(**env)
    post = post_schedule(actor=pio, post=post, publish_at=timezone.now() + timedelta(hours=1))
    task = DBTaskResult.objects.get(task_path__endswith=".publish_post_task")
    assert task.run_after == post.publish_at
    pool.wait_for(lambda: _beating(), what="the first worker to start")
    pool.kill(first)
    assert Post.objects.get().state == "scheduled"
    # The hour passes while no worker runs.
    due = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    Post.objects.filter(pk=post.pk).update(publish_at=due)
    DBTaskResult.objects.filter(pk=task.pk).update(run_after=due)
    pool.start(**env)
    pool.wait_for(
        lambda: Post.objects.filter(pk=post.pk, state="published").exists(),
        what="the restarted worker to publish the post",
        timeout=60,
    )
    assert Post.objects.get().published_at >= due


def _beating() -> bool:
    from watchhouse.core.models import WorkerHeartbeat

    return WorkerHeartbeat.objects.exists()
