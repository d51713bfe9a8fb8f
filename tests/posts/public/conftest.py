"""Fixtures of the public side of posts: posts, media files, officers and topics made straight
with the ORM (the state a publishing service leaves), and real files under MEDIA_ROOT."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image

from tests.alerts.conftest import town_create
from tests.factories import StaffFactory
from watchhouse.geo.models import Area
from watchhouse.posts.models import (
    MediaAsset,
    MediaKind,
    MediaRole,
    MediaStatus,
    OfficerProfile,
    Post,
    PostMedia,
    Topic,
)
from watchhouse.posts.states import PostState

HAVE_FFMPEG = shutil.which("ffmpeg") is not None


@pytest.fixture(autouse=True)
def media_roots(settings, tmp_path: Path) -> tuple[Path, Path]:
    """Fresh public and private media folders, and the site's address, for each test."""
    public, private = tmp_path / "media", tmp_path / "private-media"
    public.mkdir()
    private.mkdir()
    settings.MEDIA_ROOT = public
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = private
    settings.SITE_URL = "https://police.example.org"
    settings.ALLOWED_HOSTS = ["testserver", "police.example.org", "127.0.0.1", "localhost"]
    return public, private


@pytest.fixture
def author() -> Any:
    return StaffFactory()


@pytest.fixture
def town(tmp_path: Path) -> dict[str, Area]:
    """Testford's four neighbourhoods, by name."""
    return town_create(tmp_path)


@pytest.fixture
def topic() -> Callable[..., Topic]:
    def make(name: str) -> Topic:
        return Topic.objects.create(name=name, slug=slugify(name))

    return make


_clock = {"n": 0}


@pytest.fixture
def make_post(author: Any) -> Callable[..., Post]:
    """Create a post as the services leave it: published ones with ``published_at`` set
    (each later than the one before unless given) and sanitised ``body_html``."""

    def make(
        title: str = "Road works on Main Street",
        *,
        kind: str = "update",
        state: str = PostState.PUBLISHED,
        areas: list[Area] | None = None,
        topics: list[Topic] | None = None,
        **fields: Any,
    ) -> Post:
        _clock["n"] += 1
        base = timezone.now() - timedelta(days=30)
        published = state in {PostState.PUBLISHED, PostState.RETRACTED, PostState.ARCHIVED}
        values: dict[str, Any] = {
            "kind": kind,
            "state": state,
            "title": title,
            "slug": slugify(title)[:200] or "post",
            "summary": f"Summary of {title}",
            "body": f"Body of {title}",
            "body_html": f"<p>Body of <strong>{title}</strong></p>",
            "author": author,
            "published_at": base + timedelta(minutes=_clock["n"]) if published else None,
        }
        values.update(fields)
        post = Post.objects.create(**values)
        if areas:
            post.areas.set(areas)
        if topics:
            post.topics.set(topics)
        return post

    return make


def jpeg_bytes(width: int, height: int, colour: str = "navy") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
def make_image(author: Any, media_roots: tuple[Path, Path]) -> Callable[..., MediaAsset]:
    """A processed image: an original under the private root and two public sizes (real JPEGs)
    under MEDIA_ROOT, recorded as the worker records them."""
    public_root, private_root = media_roots

    def make(
        post: Post | None = None,
        *,
        role: str = MediaRole.COVER,
        alt: str = "A patrol car outside the station",
        original_name: str = "IMG_0001.jpg",
        hidden: bool = False,
    ) -> MediaAsset:
        number = MediaAsset.objects.count() + 1
        (private_root / f"original-{number}.jpg").write_bytes(jpeg_bytes(800, 600))
        media = MediaAsset.objects.create(
            kind=MediaKind.IMAGE, status=MediaStatus.READY,
            original=f"original-{number}.jpg", original_name=original_name,
            mime="image/jpeg", sha256="0" * 64, width=800, height=600,
            alt_text=alt, uploaded_by=author,
        )  # fmt: skip
        # Public copies live in MEDIA_ROOT/posts/<media id>/, as the worker writes them.
        folder = public_root / "posts" / str(media.pk)
        folder.mkdir(parents=True)
        for width in (320, 640):
            data = jpeg_bytes(width, width * 3 // 4)
            (folder / f"w{width}.jpg").write_bytes(data)
            media.renditions[f"w{width}"] = {
                "name": f"w{width}", "path": f"posts/{media.pk}/w{width}.jpg",
                "mime": "image/jpeg", "width": width, "height": width * 3 // 4,
                "bytes": len(data),
            }  # fmt: skip
        media.save()
        if post is not None:
            PostMedia.objects.create(post=post, media=media, role=role, hidden=hidden)
        return media

    return make


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture
def make_video(author: Any, media_roots: tuple[Path, Path]) -> Callable[..., MediaAsset]:
    """A processed video made by ffmpeg: an H.264/AAC MP4 (fast start) and a poster frame."""
    public_root, _ = media_roots

    def make(post: Post, *, captions: str = "") -> MediaAsset:
        media = MediaAsset.objects.create(
            kind=MediaKind.VIDEO, status=MediaStatus.READY, original="original.mov",
            original_name="evidence-clip.mov", mime="video/mp4", sha256="0" * 64,
            width=320, height=240, duration_s=2.0, captions_vtt=captions,
            alt_text="A test pattern", uploaded_by=author,
        )  # fmt: skip
        folder = public_root / "posts" / str(media.pk)
        folder.mkdir(parents=True)
        mp4, poster = folder / "video.mp4", folder / "poster.jpg"
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            "-movflags", "+faststart", str(mp4),
        )  # fmt: skip
        ffmpeg("-i", str(mp4), "-frames:v", "1", str(poster))
        media.renditions = {
            "mp4": {"name": "mp4", "path": f"posts/{media.pk}/video.mp4", "mime": "video/mp4",
                    "width": 320, "height": 240, "bytes": mp4.stat().st_size},
            "poster": {"name": "poster", "path": f"posts/{media.pk}/poster.jpg",
                       "mime": "image/jpeg", "width": 320, "height": 240,
                       "bytes": poster.stat().st_size},
        }  # fmt: skip
        media.save()
        PostMedia.objects.create(post=post, media=media, role=MediaRole.VIDEO)
        return media

    return make


@pytest.fixture
def make_audio(author: Any, media_roots: tuple[Path, Path]) -> Callable[..., MediaAsset]:
    """A processed podcast audio file (bytes written under MEDIA_ROOT, no ffmpeg needed)."""
    public_root, _ = media_roots

    def make(post: Post, *, seconds: float = 754.0, size: int = 4096) -> MediaAsset:
        media = MediaAsset.objects.create(
            kind=MediaKind.AUDIO, status=MediaStatus.READY, original="original.wav",
            original_name="interview-raw.wav", mime="audio/mpeg", sha256="0" * 64,
            duration_s=seconds, uploaded_by=author,
        )  # fmt: skip
        folder = public_root / "posts" / str(media.pk)
        folder.mkdir(parents=True)
        (folder / "audio.mp3").write_bytes(b"\xff\xfb\x90\x00" * (size // 4))
        media.renditions = {
            "audio": {"name": "audio", "path": f"posts/{media.pk}/audio.mp3",
                      "mime": "audio/mpeg", "bytes": size}
        }  # fmt: skip
        media.save()
        PostMedia.objects.create(post=post, media=media, role=MediaRole.AUDIO)
        return media

    return make


@pytest.fixture
def make_officer() -> Callable[..., OfficerProfile]:
    def make(name: str = "Sgt. Dana Ruiz", *, areas: list[Area] | None = None) -> OfficerProfile:
        officer = OfficerProfile.objects.create(
            name=name, slug=slugify(name), title="Sergeant, Beat 3",
            bio="Walks the beat.", bio_html="<p>Walks <em>the beat</em>.</p>",
            achievements_html="<p>Medal of Merit, 2025</p>",
            contact_email="dana.ruiz@police.example",
        )  # fmt: skip
        if areas:
            officer.areas.set(areas)
        return officer

    return make


def aware(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.get_current_timezone())
