"""Reading posts, revisions, media, officers and topics for the staff console.

(The public site reads through :mod:`watchhouse.posts.public`, which never shows a draft, a
hidden file or an original.)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from watchhouse.posts.models import (
    MediaAsset,
    OfficerProfile,
    Post,
    PostMedia,
    PostRevision,
    Topic,
)


def post_console_list(*, state: str = "", kind: str = "") -> QuerySet[Post]:
    """Every post (or those in ``state`` / of ``kind``), last changed first, with authors."""
    posts = Post.objects.select_related("author", "approved_by").order_by("-updated_at", "-pk")
    if state:
        posts = posts.filter(state=state)
    if kind:
        posts = posts.filter(kind=kind)
    return posts


def post_console_get(pk: int) -> Post:
    """One post with its areas, topics, officer and attachments; raises Post.DoesNotExist."""
    return (
        Post.objects.select_related("author", "approved_by", "officer")
        .prefetch_related(
            "areas",
            "topics",
            Prefetch(
                "attachments",
                queryset=PostMedia.objects.select_related("media").order_by("position", "pk"),
            ),
        )
        .get(pk=pk)
    )


def revision_list(post: Post) -> QuerySet[PostRevision]:
    """The post's versions, newest first, with who saved each."""
    return post.revisions.select_related("created_by").order_by("-number")


@dataclass(frozen=True)
class FieldDiff:
    """How one field changed between two versions: unified-diff lines, unescaped."""

    field: str
    lines: list[str]


def revision_diff(old: PostRevision, new: PostRevision) -> list[FieldDiff]:
    """The fields that differ between ``old`` and ``new``, as unified-diff lines (escape them
    when showing them: they are what staff typed)."""
    diffs = []
    pairs = [
        ("title", old.title, new.title),
        ("summary", old.summary, new.summary),
        ("body", old.body, new.body),
        ("state", old.state, new.state),
    ]
    for key in sorted(set(old.data) | set(new.data)):
        pairs.append((key, str(old.data.get(key, "")), str(new.data.get(key, ""))))
    for field, before, after in pairs:
        if before == after:
            continue
        lines = list(
            difflib.unified_diff(
                before.splitlines(),
                after.splitlines(),
                fromfile=f"v{old.number}",
                tofile=f"v{new.number}",
                lineterm="",
            )
        )
        diffs.append(FieldDiff(field=field, lines=lines))
    return diffs


def media_library_list(*, kind: str = "", status: str = "") -> QuerySet[MediaAsset]:
    """Uploaded files, newest first, with their uploaders."""
    media = MediaAsset.objects.select_related("uploaded_by").order_by("-created_at", "-pk")
    if kind:
        media = media.filter(kind=kind)
    if status:
        media = media.filter(status=status)
    return media


def officer_console_list() -> QuerySet[OfficerProfile]:
    """Every officer profile (active or not), in page order, with photo and areas."""
    return OfficerProfile.objects.select_related("photo").prefetch_related("areas")


def topic_list() -> QuerySet[Topic]:
    """Every topic, by name."""
    return Topic.objects.order_by("name")
