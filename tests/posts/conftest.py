"""Fixtures of the posts tests: staff by role, media folders, posts and media files, running
queued tasks in-process."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from tests.alerts.conftest import committed, drain, queued  # noqa: F401 - re-exported
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


def jpeg_with_gps(path: Path, size: tuple[int, int] = (800, 600)) -> Path:
    """A JPEG photo whose EXIF says where it was taken."""
    image = Image.new("RGB", size, (40, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    gps = {1: "N", 2: (39.0, 57.0, 0.0), 3: "W", 4: (89.0, 21.0, 0.0)}
    exif[0x8825] = gps
    image.save(path, "JPEG", exif=exif)
    return path


def ffmpeg_make(path: Path, *args: str) -> Path:
    """Run ffmpeg to make a test file at ``path``."""
    subprocess.run(  # noqa: S603 - fixed arguments, test files only
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)],  # noqa: S607
        check=True,
        timeout=120,
    )
    return path


def video_file(path: Path, *, seconds: int = 2, size: str = "320x240") -> Path:
    return ffmpeg_make(
        path,
        "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
    )  # fmt: skip


def audio_file(path: Path, *, seconds: int = 2) -> Path:
    return ffmpeg_make(
        path, "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", "-c:a", "pcm_s16le"
    )
