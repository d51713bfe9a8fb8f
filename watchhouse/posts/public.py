"""What the public may read of posts, officers and their media.

Every read of the public site goes through here, so the rule "only listed posts in lists and
feeds, only public states on a page, never hidden media, never an original file" is written
once. Lists are ordered newest first by ``(published_at, id)`` and paged by keyset (a cursor
naming the last post shown), so page 1,000 costs what page 1 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.geo.models import Area, AreaKind
from watchhouse.posts.models import (
    MediaAsset,
    MediaKind,
    MediaRole,
    MediaStatus,
    OfficerProfile,
    Post,
    PostKind,
    PostMedia,
    Topic,
)
from watchhouse.posts.states import LISTED_STATES, PUBLIC_STATES, PostState

# Posts on one page of the timeline.
PAGE_SIZE = 20


class PostFilterError(LookupError):
    """A filter names a kind, area or topic that does not exist."""


@dataclass(frozen=True)
class PostFilter:
    """Which listed posts a timeline or feed shows: any combination of one kind, one area
    slug and one topic slug (none: all of them).

    ``params`` are the query parameters that name it; ``key`` names it in validators.
    """

    kind: str = ""
    area_slug: str = ""
    area_ids: tuple[int, ...] = ()
    topic_slug: str = ""
    topic_id: int | None = None
    labels: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, str]:
        named = {"kind": self.kind, "area": self.area_slug, "topic": self.topic_slug}
        return {k: v for k, v in named.items() if v}

    @property
    def query_string(self) -> str:
        return urlencode(self.params)

    @property
    def label(self) -> str:
        return ", ".join(self.labels)


def filter_key(params: dict[str, str]) -> str:
    """A stable name of the filter given by these query parameters (for ETags and caches)."""
    return urlencode(sorted((k, params.get(k, "")) for k in FILTER_PARAMS))


# Query parameters of the timeline and feeds that filter posts.
FILTER_PARAMS = ("kind", "area", "topic")


def post_filter_make(*, kind: str = "", area: str = "", topic: str = "") -> PostFilter:
    """The filter for a kind, an area slug and a topic slug (each optional); raises
    :class:`PostFilterError` when one names nothing that exists."""
    labels: list[str] = []
    area_ids: tuple[int, ...] = ()
    topic_id = None
    if kind:
        if kind not in PostKind.values:
            raise PostFilterError(f"No kind of post is called {kind!r}.")
        labels.append(str(PostKind(kind).label))
    if area:
        # Area slugs are unique per jurisdiction and kind, so one slug may name several areas
        # (a neighbourhood and the beat named after it): the filter takes them all.
        areas = list(Area.objects.filter(slug=area).values_list("pk", "name"))
        if not areas:
            raise PostFilterError(f"No area is called {area!r}.")
        area_ids = tuple(pk for pk, _ in areas)
        labels.append(areas[0][1])
    if topic:
        found = Topic.objects.filter(slug=topic).values_list("pk", "name").first()
        if found is None:
            raise PostFilterError(f"No topic is called {topic!r}.")
        topic_id = found[0]
        labels.append(found[1])
    return PostFilter(
        kind=kind,
        area_slug=area,
        area_ids=area_ids,
        topic_slug=topic,
        topic_id=topic_id,
        labels=tuple(labels),
    )


def visible_media_prefetch() -> Prefetch[Any]:
    """The prefetch of a post's media the public may see (``visible_attachments``)."""
    return Prefetch(
        "attachments",
        queryset=PostMedia.objects.filter(hidden=False, media__status=MediaStatus.READY)
        .select_related("media")
        .order_by("position", "id"),
        to_attr="visible_attachments",
    )


def post_listed(post_filter: PostFilter | None = None) -> QuerySet[Post]:
    """Listed (published) posts matching the filter, newest first, with their visible media."""
    # A resolved appeal is taken down from every list, like a retraction.
    posts = Post.objects.filter(state__in=LISTED_STATES, redacted=False)
    if post_filter is not None:
        if post_filter.kind:
            posts = posts.filter(kind=post_filter.kind)
        if post_filter.area_ids:
            # Exists, not a join: a post in two of the areas is still listed once.
            posts = posts.filter(
                Exists(
                    Post.areas.through.objects.filter(
                        post_id=OuterRef("pk"), area_id__in=post_filter.area_ids
                    )
                )
            )
        if post_filter.topic_id is not None:
            posts = posts.filter(
                Exists(
                    Post.topics.through.objects.filter(
                        post_id=OuterRef("pk"), topic_id=post_filter.topic_id
                    )
                )
            )
    return posts.order_by("-published_at", "-id").prefetch_related(visible_media_prefetch())


@dataclass(frozen=True)
class TimelinePage:
    """One page of a timeline and the cursor of the next (older) page, if there is one."""

    posts: list[Post]
    next_cursor: str


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_of(post: Post) -> str:
    """The keyset cursor just after ``post``: its publication time in microseconds and id."""
    moment = post.published_at or post.created_at
    # Integer arithmetic: a float timestamp could land a microsecond off and skip a post.
    stamp = (moment - _EPOCH) // timedelta(microseconds=1)
    return f"{stamp}.{post.pk}"


def _after_cursor(cursor: str) -> Q | None:
    try:
        stamp_text, pk_text = cursor.split(".", 1)
        stamp, pk = int(stamp_text), int(pk_text)
        moment = _EPOCH + timedelta(microseconds=stamp)
    except (ValueError, OverflowError):
        return None
    return Q(published_at__lt=moment) | Q(published_at=moment, pk__lt=pk)


def timeline_page(
    post_filter: PostFilter | None = None, *, cursor: str = "", size: int = PAGE_SIZE
) -> TimelinePage:
    """Up to ``size`` listed posts after ``cursor`` (a malformed cursor means the first page).

    Two queries: the posts (one more than shown, to know whether an older page exists) and
    their visible media.
    """
    posts = post_listed(post_filter)
    after = _after_cursor(cursor) if cursor else None
    if after is not None:
        posts = posts.filter(after)
    found = list(posts[: size + 1])
    shown = found[:size]
    return TimelinePage(shown, cursor_of(shown[-1]) if len(found) > size else "")


def post_public_get(pk: int) -> Post:
    """The post ``pk`` if its page is public (published, retracted or archived), with its
    visible media, areas, topics and officer; raises ``Post.DoesNotExist`` otherwise."""
    return (
        Post.objects.filter(state__in=PUBLIC_STATES)
        .select_related("officer", "officer__photo")
        .prefetch_related(visible_media_prefetch(), "areas", "topics")
        .get(pk=pk)
    )


def listing_changed() -> datetime | None:
    """When any post, media file or officer last changed: the feeds' Last-Modified, and with
    the filter the base of their ETag.

    One query of three index lookups (``MAX`` over the ``updated_at`` columns indexed by
    migration 0002), so a conditional request costs almost nothing. It takes every post, not
    only listed ones: a post leaving the listing (retracted, archived) changes it too. A post
    deleted outright is not seen, but revisions (``PROTECT``) keep posts from being deleted.
    """
    tables = [m._meta.db_table for m in (Post, MediaAsset, OfficerProfile)]
    # The table names come from the models, not from input.
    sql = "SELECT " + ", ".join(f"(SELECT MAX(updated_at) FROM {t})" for t in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone() or ()
    stamps = [s for s in (_as_datetime(v) for v in row) if s is not None]
    return max(stamps, default=None)


def _as_datetime(value: object) -> datetime | None:
    # PostgreSQL returns aware datetimes; SQLite returns the stored UTC text.
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
    return None


def officer_list() -> QuerySet[OfficerProfile]:
    """Active officers in their page order, with photos and beat areas."""
    return (
        OfficerProfile.objects.filter(active=True)
        .select_related("photo")
        .prefetch_related("areas")
        .order_by("position", "name")
    )


def officer_public_get(slug: str) -> OfficerProfile:
    """The active officer ``slug``; raises ``OfficerProfile.DoesNotExist`` otherwise."""
    return officer_list().get(slug=slug)


def officer_posts(officer: OfficerProfile, *, limit: int = 20) -> list[Post]:
    """The listed posts about ``officer`` (their spotlights), newest first."""
    return list(post_listed().filter(officer=officer)[:limit])


def area_posts(area: Area, *, limit: int = 10) -> list[Post]:
    """The newest listed posts tagged with ``area``."""
    return list(post_listed().filter(areas=area)[:limit])


def area_officers(area: Area) -> list[OfficerProfile]:
    """The active officers whose beat includes ``area``."""
    return list(officer_list().filter(areas=area))


def podcast_episodes(*, limit: int = 100) -> list[Post]:
    """Listed podcast episodes that have a public audio file, newest first."""
    episodes = post_listed(PostFilter(kind=PostKind.PODCAST))[: limit * 2]
    return [p for p in episodes if audio_of(p) is not None][:limit]


# Media of a post, as the templates and feeds need it.


@dataclass(frozen=True)
class Rendition:
    """One public copy of a media file."""

    url: str
    path: str
    mime: str
    width: int | None
    height: int | None
    bytes: int


@dataclass(frozen=True)
class ShownMedia:
    """A media file as shown on a public page: its public copies, never the original."""

    kind: str
    role: str
    alt: str
    caption: str
    images: list[Rendition]
    video: Rendition | None
    poster: Rendition | None
    audio: Rendition | None
    captions_url: str
    duration_s: float | None
    media_id: int
    chapters: list[Any]

    @property
    def srcset(self) -> str:
        return ", ".join(f"{r.url} {r.width}w" for r in self.images if r.width)

    @property
    def src(self) -> Rendition | None:
        """The image to use without ``srcset``: the largest up to 1280 px wide."""
        fitting = [r for r in self.images if (r.width or 0) <= 1280] or self.images
        return fitting[-1] if fitting else None

    @property
    def chapter_marks(self) -> list[tuple[str, str]]:
        """(h:mm:ss, title) of each chapter of an audio file, for the page."""
        marks = []
        for start, title in chapters_of(self):
            whole = int(start)
            marks.append((f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}", title))
        return marks

    @property
    def largest(self) -> Rendition | None:
        return self.images[-1] if self.images else None


def media_url(path: str) -> str:
    """The public address of a file under MEDIA_ROOT (served by ``posts:media``)."""
    return reverse("posts:media", kwargs={"path": path.lstrip("/")})


def _rendition(entry: Any) -> Rendition | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return None
    path = entry["path"]
    width, height, size = entry.get("width"), entry.get("height"), entry.get("bytes")
    return Rendition(
        url=media_url(path),
        path=path,
        mime=str(entry.get("mime", "")),
        width=width if isinstance(width, int) else None,
        height=height if isinstance(height, int) else None,
        bytes=size if isinstance(size, int) else 0,
    )


def shown_media(attachment: PostMedia) -> ShownMedia:
    """The public copies of one attached file, sorted for ``srcset``."""
    media = attachment.media
    renditions = media.renditions if isinstance(media.renditions, dict) else {}
    named = {name: r for name, entry in renditions.items() if (r := _rendition(entry))}
    video = named.get("mp4") or next(
        (r for r in named.values() if r.mime.startswith("video/")), None
    )
    audio = named.get("audio") or next(
        (r for r in named.values() if r.mime.startswith("audio/")), None
    )
    poster = named.get("poster")
    images = sorted(
        (r for n, r in named.items() if r.mime.startswith("image/") and n != "poster"),
        key=lambda r: r.width or 0,
    )
    if media.kind == MediaKind.VIDEO and poster is None and images:
        poster = images[-1]
    if media.kind == MediaKind.VIDEO and poster is not None and not images:
        images = [poster]
    captions_url = ""
    if media.kind == MediaKind.VIDEO and media.captions_vtt.strip():
        captions_url = reverse("posts:captions", kwargs={"pk": media.pk})
    return ShownMedia(
        kind=media.kind,
        role=attachment.role,
        alt=media.alt_text,
        caption=media.caption,
        images=images,
        video=video if media.kind == MediaKind.VIDEO else None,
        poster=poster,
        audio=audio if media.kind == MediaKind.AUDIO else None,
        captions_url=captions_url,
        duration_s=media.duration_s,
        media_id=media.pk,
        chapters=media.chapters if isinstance(media.chapters, list) else [],
    )


def post_media(post: Post) -> list[ShownMedia]:
    """The post's visible media in order (needs :func:`post_listed` or
    :func:`post_public_get`'s prefetch); a resolved appeal's hidden faces are not there."""
    return [shown_media(a) for a in getattr(post, "visible_attachments", [])]


def cover_of(post: Post) -> ShownMedia | None:
    """The post's cover image: the attachment marked cover, else its first image."""
    shown = [m for m in post_media(post) if m.images]
    covers = [m for m in shown if m.role == MediaRole.COVER]
    chosen = covers or shown
    return chosen[0] if chosen else None


def audio_of(post: Post) -> ShownMedia | None:
    """The post's first audio file with a public copy."""
    return next((m for m in post_media(post) if m.audio is not None), None)


def media_is_public(pk: int) -> bool:
    """Whether media ``pk`` is shown on some public page: attached and not hidden in a post the
    public can open, or the photo of an active officer."""
    return (
        PostMedia.objects.filter(
            media_id=pk,
            hidden=False,
            media__status=MediaStatus.READY,
            post__state__in=PUBLIC_STATES,
        ).exists()
        or OfficerProfile.objects.filter(photo_id=pk, active=True).exists()
    )


def chapters_of(media: ShownMedia) -> list[tuple[float, str]]:
    """The audio's chapters as (start in seconds, title), in order; entries that are not a
    number and a title are left out."""
    chapters = []
    for entry in media.chapters:
        if not isinstance(entry, dict):
            continue
        start, title = entry.get("start_s"), entry.get("title")
        if isinstance(start, int | float) and start >= 0 and isinstance(title, str) and title:
            chapters.append((float(start), title))
    return sorted(chapters)


def captions_public_get(pk: int) -> MediaAsset:
    """A video whose captions the public may fetch: attached, not hidden, to a public post."""
    return (
        MediaAsset.objects.filter(
            pk=pk,
            kind=MediaKind.VIDEO,
            status=MediaStatus.READY,
            attachments__hidden=False,
            attachments__post__state__in=PUBLIC_STATES,
        )
        .distinct()
        .get()
    )


def post_url(post: Post) -> str:
    """The canonical address of a post's page."""
    # A resolved appeal's slug may spell the person's name; its address no longer does.
    slug = "resolved" if post.redacted else (post.slug or "post")
    return reverse("posts:detail", kwargs={"pk": post.pk, "slug": slug})


def absolute(path: str) -> str:
    """``path`` on this site as an absolute URL (for feeds, link previews, the sitemap)."""
    return f"{settings.SITE_URL}{path}"


@dataclass(frozen=True)
class Card:
    """A post as lists, feeds and pages show it. A resolved (redacted) appeal shows only a
    neutral title and notice: its title may have named the person."""

    post: Post
    title: str
    summary: str
    url: str
    kind_label: str
    cover: ShownMedia | None
    published_at: datetime | None
    edited_at: datetime | None
    retracted: bool
    redacted: bool


def neutral_title(post: Post) -> str:
    """The title a redacted appeal shows instead of its own."""
    if post.kind == PostKind.MISSING:
        return str(_("Missing person appeal: resolved"))
    return str(_("Appeal: resolved"))


def card(post: Post) -> Card:
    """The public face of ``post`` (needs the visible-media prefetch of the selectors)."""
    return Card(
        post=post,
        title=neutral_title(post) if post.redacted else post.title,
        summary="" if post.redacted else post.summary,
        url=post_url(post),
        kind_label=str(PostKind(post.kind).label),
        cover=None if post.redacted else cover_of(post),
        published_at=post.published_at,
        edited_at=post.edited_at,
        retracted=post.state == PostState.RETRACTED,
        redacted=post.redacted,
    )


def topic_list() -> list[Topic]:
    """Topics that at least one listed post carries, by name."""
    return list(
        Topic.objects.filter(
            Exists(
                Post.topics.through.objects.filter(
                    topic_id=OuterRef("pk"), post__state__in=LISTED_STATES
                )
            )
        ).order_by("name")
    )


def area_choices() -> list[tuple[str, str]]:
    """(slug, name) of the neighbourhoods, for the timeline's area filter."""
    return list(
        Area.objects.filter(kind=AreaKind.NEIGHBOURHOOD)
        .order_by("name")
        .values_list("slug", "name")
        .distinct()
    )


def photo_of(officer: OfficerProfile) -> ShownMedia | None:
    """The officer's public photo (needs :func:`officer_list`'s ``select_related``)."""
    photo = officer.photo
    if photo is None or photo.status != MediaStatus.READY:
        return None
    shown = shown_media(PostMedia(media=photo, role=MediaRole.COVER))
    return shown if shown.images else None
