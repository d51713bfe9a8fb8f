"""Fixtures of the network adapter tests: media files under a fresh MEDIA_ROOT, posts with
topics and media, and rendered posts ready for an adapter."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import need
from tests.mediafiles import video_file
from watchhouse.outlets.networks.base import MediaItem, Rendered
from watchhouse.posts.models import (
    MediaAsset,
    MediaKind,
    MediaStatus,
    Post,
    PostMedia,
    PostState,
    Topic,
)

HAVE_FFMPEG = shutil.which("ffmpeg") is not None


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "public-media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.SITE_URL = "https://police.example.org"
    return root


def jpeg(path: Path, size: tuple[int, int] = (640, 480), *, noise: bool = False) -> Path:
    """A real JPEG; with ``noise`` one that compresses badly (a large file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        image.save(path, "JPEG", quality=100)
    else:
        Image.new("RGB", size, (40, 90, 160)).save(path, "JPEG")
    return path


def image_item(root: Path, name: str = "photo.jpg", *, alt: str = "A patrol car") -> MediaItem:
    path = jpeg(root / "posts" / name)
    return MediaItem(
        path=path,
        mime="image/jpeg",
        kind="image",
        alt=alt,
        bytes=path.stat().st_size,
        width=640,
        height=480,
    )


def video_item(root: Path) -> MediaItem:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    path = video_file(root / "posts" / "clip.mp4") if HAVE_FFMPEG else None
    need(path is not None, "Debian's ffmpeg is not installed (it makes the test video)")
    return MediaItem(
        path=path,
        mime="video/mp4",
        kind="video",
        alt="Officers at the fair",
        bytes=path.stat().st_size,
        width=320,
        height=240,
    )


def rendered(
    parts: list[str] | None = None,
    *,
    media: list[MediaItem] | None = None,
    link: str = "https://police.example.org/posts/7/road-works/",
) -> Rendered:
    return Rendered(
        parts=parts or [f"Road works on Main Street\n\nExpect delays.\n\n{link}"],
        link=link,
        title="Road works on Main Street",
        summary="Expect delays.",
        media=media or [],
        hashtags=["#Traffic"],
    )


@pytest.fixture
def staff(make_staff: Callable[..., Any]) -> Any:
    return make_staff("pio")


@pytest.fixture
def make_post(staff: Any, media_root: Path) -> Callable[..., Post]:
    """A published post; ``images`` is a list of (alt, width, noisy) for its photos."""

    def make(
        *,
        title: str = "Road works on Main Street",
        summary: str = "Expect delays.",
        body: str = "",
        topics: tuple[str, ...] = (),
        images: tuple[tuple[str, int, bool], ...] = (),
        video: bool = False,
    ) -> Post:
        post = Post.objects.create(
            kind="update",
            state=PostState.PUBLISHED,
            title=title,
            slug="road-works",
            summary=summary,
            body=body,
            author=staff,
        )
        for name in topics:
            topic, _created = Topic.objects.get_or_create(
                name=name, slug=name.lower().replace(" ", "-")
            )
            post.topics.add(topic)
        for index, (alt, width, noisy) in enumerate(images):
            renditions = {}
            for w in [width] if noisy else sorted({320, width}):
                path = jpeg(
                    media_root / f"posts/{post.pk}/{index}/w{w}.jpg", (w, w * 3 // 4), noise=noisy
                )
                renditions[f"w{w}"] = {
                    "name": f"w{w}",
                    "path": str(path.relative_to(media_root)),
                    "mime": "image/jpeg",
                    "width": w,
                    "height": w * 3 // 4,
                    "bytes": path.stat().st_size,
                }
            media = MediaAsset.objects.create(
                kind=MediaKind.IMAGE,
                status=MediaStatus.READY,
                original=f"originals/{post.pk}-{index}",
                mime="image/jpeg",
                sha256="0" * 64,
                uploaded_by=staff,
                renditions=renditions,
                alt_text=alt,
            )
            PostMedia.objects.create(post=post, media=media, position=index)
        if video:
            path = video_item(media_root).path
            poster = jpeg(media_root / "posts/poster.jpg")
            media = MediaAsset.objects.create(
                kind=MediaKind.VIDEO,
                status=MediaStatus.READY,
                original=f"originals/{post.pk}-v",
                mime="video/mp4",
                sha256="0" * 64,
                uploaded_by=staff,
                alt_text="Officers at the fair",
                renditions={
                    "mp4": {
                        "name": "mp4",
                        "path": str(path.relative_to(media_root)),
                        "mime": "video/mp4",
                        "width": 320,
                        "height": 240,
                        "bytes": path.stat().st_size,
                    },
                    "poster": {
                        "name": "poster",
                        "path": str(poster.relative_to(media_root)),
                        "mime": "image/jpeg",
                        "width": 640,
                        "height": 480,
                        "bytes": poster.stat().st_size,
                    },
                },
            )
            PostMedia.objects.create(post=post, media=media, position=99)
        return post

    return make
