"""Fixtures of the posts tests: staff by role, media folders, posts and media files, running
queued tasks in-process."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.alerts.conftest import committed, drain, queued  # noqa: F401 - re-exported
from tests.mediafiles import audio_file, ffmpeg_make, jpeg_with_gps, video_file  # noqa: F401
from watchhouse.posts.models import MediaAsset, MediaKind, MediaStatus, Post
from watchhouse.posts.services import Attachment, PostFields, post_create

HAVE_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


@pytest.fixture(autouse=True)
def media_roots(settings, tmp_path: Path) -> tuple[Path, Path]:
    """Fresh public and private media folders for each test."""
    public, private = tmp_path / "public-media", tmp_path / "private-media"
    public.mkdir()
    private.mkdir()
    settings.MEDIA_ROOT = public
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = private
    return public, private


@pytest.fixture
def pio(make_staff: Callable[..., Any]) -> Any:
    return make_staff("pio")


@pytest.fixture
def supervisor(make_staff: Callable[..., Any]) -> Any:
    return make_staff("supervisor")


def fields(**changes: Any) -> PostFields:
    values: dict[str, Any] = {
        "kind": "update",
        "title": "Road works on Main Street",
        "summary": "Expect delays near the mill this week.",
        "body": "Crews work **every night** from 8 pm.",
    }
    values.update(changes)
    return PostFields(**values)


@pytest.fixture
def make_post(pio: Any) -> Callable[..., Post]:
    """Create a draft post (by the PIO unless ``actor`` is given)."""

    def make(actor: Any = None, **changes: Any) -> Post:
        return post_create(actor=actor or pio, fields=fields(**changes))

    return make


def ready_media(actor: Any, kind: str = MediaKind.IMAGE, **changes: Any) -> MediaAsset:
    """A media row as the worker leaves it when processing succeeded (for workflow tests that
    are not about processing)."""
    values: dict[str, Any] = {
        "kind": kind,
        "status": MediaStatus.READY,
        "original": f"originals/test-{MediaAsset.objects.count()}",
        "original_name": f"{kind}.bin",
        "mime": {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg"}[kind],
        "sha256": "0" * 64,
        "uploaded_by": actor,
        "renditions": {"w640": {"path": "posts/x/w640.jpg", "mime": "image/jpeg",
                                "width": 640, "height": 480, "bytes": 1}},
    }  # fmt: skip
    values.update(changes)
    return MediaAsset.objects.create(**values)


def attach(*items: tuple[MediaAsset, str]) -> tuple[Attachment, ...]:
    return tuple(Attachment(media_id=m.pk, role=role) for m, role in items)


def soon(minutes: int = 30) -> Any:
    return timezone.now() + timedelta(minutes=minutes)
