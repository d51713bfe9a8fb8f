"""Public pages of posts: the timeline, post pages, events' calendar files, search, officers,
the podcast page, captions, and the public media files."""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_safe

from watchhouse.community.selectors.conversation import comment_list_for_post
from watchhouse.core import pagecache
from watchhouse.posts import public, search
from watchhouse.posts.feeds import FORMATS, feed_title, feed_url, filter_from_request, post_guid
from watchhouse.posts.models import (
    AppealOutcome,
    MediaAsset,
    MediaRole,
    OfficerProfile,
    Post,
    PostKind,
)
from watchhouse.posts.states import PostState

# Seconds a browser may reuse a public page without asking again.
PAGE_MAX_AGE_S = 60
# Seconds browsers and caches keep a public media file (renditions are never rewritten in
# place: a new upload gets a new path).
MEDIA_MAX_AGE_S = 30 * 24 * 3600
# Results on one page of search.
SEARCH_PAGE_SIZE = 20
# Kinds that ask the public for help and so offer a "send a tip" button.
APPEAL_KINDS = frozenset({PostKind.APPEAL, PostKind.MISSING})
# Types of files the public media view serves; anything else under MEDIA_ROOT (an HTML or SVG
# file that could carry script, say) is not served.
PUBLIC_MEDIA_TYPES = frozenset(
    {
        "image/jpeg", "image/png", "image/webp", "image/avif", "image/gif",
        "video/mp4", "video/webm", "audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg",
        "text/vtt",
    }
)  # fmt: skip
_EXTRA_TYPES = {".vtt": "text/vtt", ".m4a": "audio/mp4", ".webp": "image/webp",
                ".avif": "image/avif", ".mp3": "audio/mpeg", ".aac": "audio/aac"}  # fmt: skip
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024


def _page_cache(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, max_age=PAGE_MAX_AGE_S)
    return response


def _served(
    request: HttpRequest,
    name: str,
    build: Callable[[dict[str, Any]], HttpResponse],
    *,
    query: bool = False,
) -> HttpResponse:
    """The page ``build`` renders, from the shared page cache for anonymous visitors.

    The cache's "posts" version retires pages when a service reports a change; the key also
    holds :func:`~watchhouse.posts.public.listing_changed`, so a change that was not reported
    (a row written outside the services) still reaches a page rendered through Django. The
    language form's CSRF token is a placeholder that the cache fills in per visitor.
    """
    if not pagecache.cacheable(request, query=query):
        return _page_cache(build({}))
    changed = public.listing_changed()
    stamp = changed.isoformat() if changed else "-"
    return pagecache.serve(
        request,
        f"posts:{name}:{stamp}",
        lambda: (build({"csrf_token": pagecache.CSRF_PLACEHOLDER}), float(pagecache.TIMEOUT_S)),
        per_visitor=True,
        query=query,
    )


def _feed_links(post_filter: public.PostFilter | None) -> list[tuple[str, str, str]]:
    """(type, title, url) of the feeds matching the filter, for ``<link rel="alternate">``."""
    title = feed_title(post_filter)
    return [
        (FORMATS[fmt].split(";")[0], f"{title} ({name})", feed_url(fmt, post_filter))
        for fmt, name in (("rss", "RSS"), ("atom", "Atom"), ("json", "JSON Feed"))
    ]


@require_safe
def post_list(request: HttpRequest) -> HttpResponse:
    """The timeline: listed posts newest first, filtered by kind, area and topic."""
    return _served(
        request,
        "list",
        lambda extra: _post_list(request, extra),
        query=True,
    )


def _post_list(request: HttpRequest, extra: dict[str, Any]) -> HttpResponse:
    post_filter = filter_from_request(request)
    page = public.timeline_page(post_filter, cursor=request.GET.get("after", "")[:64])
    next_query = dict(post_filter.params)
    if page.next_cursor:
        next_query["after"] = page.next_cursor
    return _page_cache(
        render(
            request,
            "posts/list.html",
            {
                **extra,
                "cards": [public.card(p) for p in page.posts],
                "post_filter": post_filter,
                "first_page": not request.GET.get("after"),
                "next_query": public.urlencode(next_query) if page.next_cursor else "",
                "feed_links": _feed_links(post_filter),
                "kinds": PostKind.choices,
                "topics": public.topic_list(),
                "areas": public.area_choices(),
            },
        )
    )


def _public_post(pk: int) -> Post:
    try:
        return public.post_public_get(pk)
    except Post.DoesNotExist as exc:
        raise Http404("No such post.") from exc


@require_safe
def post_detail(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    """A post's page at its canonical address (other slugs redirect there)."""
    return _served(
        request,
        f"detail:{pk}",
        lambda extra: _post_detail(request, pk, slug, extra),
        query=False,
    )


def _post_detail(request: HttpRequest, pk: int, slug: str, extra: dict[str, Any]) -> HttpResponse:
    post = _public_post(pk)
    canonical = public.post_url(post)
    if request.path != canonical:
        return redirect(canonical, permanent=True)
    shown = public.card(post)
    media = [] if post.redacted else public.post_media(post)
    # The cover, video or audio goes above the text; other pictures follow it.
    lead = [m for m in media if m.role != MediaRole.GALLERY] or media[:1]
    og_image = shown.cover.src if shown.cover is not None and not post.redacted else None
    return _page_cache(
        render(
            request,
            "posts/detail.html",
            {
                **extra,
                "post": post,
                "shown": shown,
                "lead_media": lead,
                "more_media": [m for m in media if m not in lead],
                "retracted": post.state == PostState.RETRACTED,
                "archived": post.state == PostState.ARCHIVED,
                "outcome_label": (AppealOutcome(post.outcome).label if post.outcome else ""),
                "tip_url": (
                    f"/tips/new?appeal={post.pk}"
                    if post.kind in APPEAL_KINDS
                    and post.state == PostState.PUBLISHED
                    and not post.redacted
                    and not post.outcome
                    else ""
                ),
                "ics_url": (
                    reverse("posts:ics", kwargs={"pk": post.pk})
                    if post.kind == PostKind.EVENT and post.event_start and not post.redacted
                    else ""
                ),
                "officer": (
                    post.officer
                    if post.officer is not None and post.officer.active and not post.redacted
                    else None
                ),
                "areas": [] if post.redacted else list(post.areas.all()),
                "topics": [] if post.redacted else list(post.topics.all()),
                "canonical_url": public.absolute(canonical),
                "og_image": public.absolute(og_image.url) if og_image else "",
                "og_image_alt": shown.cover.alt if og_image and shown.cover else "",
                **_comments(post),
            },
        )
    )


def _comments(post: Post) -> dict[str, Any]:
    """The post's comments as every reader sees them (the page is cached for everyone; the
    comment services retire it with ``pages_changed("posts")``), and the comment page's
    address while the post takes comments."""
    if post.redacted:
        return {"comments": [], "comment_url": ""}
    return {
        "comments": list(comment_list_for_post(post)),
        "comment_url": (
            reverse("community:post_comment", kwargs={"pk": post.pk})
            if post.state == PostState.PUBLISHED
            else ""
        ),
    }


@require_safe
def post_ics(request: HttpRequest, pk: int) -> HttpResponse:
    """An event as an iCalendar file; its UID never changes, its SEQUENCE counts versions."""
    from icalendar import Calendar, Event

    post = _public_post(pk)
    if post.kind != PostKind.EVENT or post.event_start is None or post.redacted:
        raise Http404("This post is not an event.")
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.WATCHHOUSE_AGENCY_NAME}//Watchhouse//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", post_guid(post))
    event.add("dtstamp", post.edited_at or post.published_at or post.created_at)
    event.add("dtstart", post.event_start)
    event.add("dtend", post.event_end or post.event_start + timedelta(hours=1))
    event.add("summary", post.title)
    event.add("sequence", post.version)
    if post.summary:
        event.add("description", post.summary)
    if post.event_location:
        event.add("location", post.event_location)
    event.add("url", public.absolute(public.post_url(post)))
    event.add("status", "CANCELLED" if post.state == PostState.RETRACTED else "CONFIRMED")
    calendar.add_component(event)
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="event-{post.pk}.ics"'
    return _page_cache(response)


@require_safe
def post_search(request: HttpRequest) -> HttpResponse:
    """Full-text search over listed posts."""
    return _served(
        request,
        "search",
        lambda extra: _post_search(request, extra),
        query=True,
    )


def _post_search(request: HttpRequest, extra: dict[str, Any]) -> HttpResponse:
    q = request.GET.get("q", "").strip()[: search.MAX_QUERY_CHARS]
    try:
        page = max(1, min(int(request.GET.get("page", "1")), 50))
    except ValueError:
        page = 1
    found = (
        search.post_search(q, limit=SEARCH_PAGE_SIZE + 1, offset=(page - 1) * SEARCH_PAGE_SIZE)
        if q
        else []
    )
    return _page_cache(
        render(
            request,
            "posts/search.html",
            {
                **extra,
                "q": q,
                "cards": [public.card(p) for p in found[:SEARCH_PAGE_SIZE]],
                "page": page,
                "next_query": (
                    public.urlencode({"q": q, "page": page + 1})
                    if len(found) > SEARCH_PAGE_SIZE
                    else ""
                ),
                "feed_links": _feed_links(None),
            },
        )
    )


@require_safe
def officer_list(request: HttpRequest) -> HttpResponse:
    """Meet your officers."""
    return _served(
        request,
        "officers",
        lambda extra: _officer_list(request, extra),
        query=False,
    )


def _officer_list(request: HttpRequest, extra: dict[str, Any]) -> HttpResponse:
    officers = list(public.officer_list())
    return _page_cache(
        render(
            request,
            "posts/officers.html",
            {**extra, "officers": [(o, public.photo_of(o)) for o in officers]},
        )
    )


@require_safe
def officer_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """An officer's profile and their spotlight posts."""
    return _served(
        request,
        f"officer:{slug}",
        lambda extra: _officer_detail(request, slug, extra),
        query=False,
    )


def _officer_detail(request: HttpRequest, slug: str, extra: dict[str, Any]) -> HttpResponse:
    try:
        officer = public.officer_public_get(slug)
    except OfficerProfile.DoesNotExist as exc:
        raise Http404("No such officer.") from exc
    return _page_cache(
        render(
            request,
            "posts/officer.html",
            {
                **extra,
                "officer": officer,
                "photo": public.photo_of(officer),
                "cards": [public.card(p) for p in public.officer_posts(officer)],
            },
        )
    )


@require_safe
def podcast(request: HttpRequest) -> HttpResponse:
    """The podcast's episodes with players, and its feed."""
    return _served(
        request,
        "podcast",
        lambda extra: _podcast(request, extra),
        query=False,
    )


def _podcast(request: HttpRequest, extra: dict[str, Any]) -> HttpResponse:
    episodes = public.podcast_episodes(limit=50)
    return _page_cache(
        render(
            request,
            "posts/podcast.html",
            {
                **extra,
                "episodes": [(public.card(p), public.audio_of(p)) for p in episodes],
                "feed_url": reverse("posts:podcast_feed"),
            },
        )
    )


@require_safe
def captions(request: HttpRequest, pk: int) -> HttpResponse:
    """A public video's WebVTT captions."""
    try:
        media = public.captions_public_get(pk)
    except MediaAsset.DoesNotExist as exc:
        raise Http404("No such captions.") from exc
    response = HttpResponse(media.captions_vtt, content_type="text/vtt; charset=utf-8")
    return _page_cache(response)


# Public media files.


def _media_file(path: str) -> Path:
    """The file under MEDIA_ROOT that ``path`` names; 404 for anything outside it (``..``,
    absolute paths, symlinks leading out), for the private originals, and for non-files."""
    if "\x00" in path or path.startswith(("/", "\\")):
        raise Http404("No such file.")
    root = Path(settings.MEDIA_ROOT).resolve()
    private = Path(settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT).resolve()
    try:
        target = (root / path).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise Http404("No such file.") from exc
    if not target.is_relative_to(root) or target.is_relative_to(private):
        raise Http404("No such file.")
    if not target.is_file() or any(p.startswith(".") for p in target.relative_to(root).parts):
        raise Http404("No such file.")
    return target


def _media_type(path: Path) -> str:
    mime = _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or ""
    if mime not in PUBLIC_MEDIA_TYPES:
        raise Http404("No such file.")
    return mime


class _FilePart:
    """``length`` bytes of a file from ``offset``. The file is opened only when the body is
    read, and closed when it is done (or abandoned), so a response never sent leaks nothing."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self.path, self.offset, self.length = path, offset, length

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            handle.seek(self.offset, os.SEEK_SET)
            left = self.length
            while left > 0:
                chunk = handle.read(min(_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The single ``(first, last)`` byte range asked for, clamped to the file; None when the
    header is absent or not one range (the whole file is sent); raises ValueError when it
    cannot be satisfied."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # "bytes=-N": the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise ValueError("range outside the file")
    return first, min(last, size - 1)


_RENDITION_PATH = re.compile(r"^posts/(\d+)/[^/]+$")


def _may_see(request: HttpRequest, path: str) -> bool:
    """Whether the visitor may fetch this public copy: staff may (the console previews drafts);
    others only the copies of media shown on a public page (attached, not hidden, to a
    published, retracted or archived post, or an active officer's photo). A resolved appeal's
    faces, or a draft's pictures, are not reachable even by someone who kept their address."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    match = _RENDITION_PATH.match(path)
    return match is not None and public.media_is_public(int(match.group(1)))


@require_safe
def media_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """A public copy of a media file, with byte ranges (video seeking), an ETag and a long
    cache lifetime. Only image, video, audio and caption files under MEDIA_ROOT that belong to
    media shown publicly are served (see :func:`_may_see`)."""
    if not _may_see(request, path):
        raise Http404("No such file.")
    target = _media_file(path)
    mime = _media_type(target)
    stat = target.stat()
    etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(stat.st_mtime),
        "Accept-Ranges": "bytes",
        "Cache-Control": f"public, max-age={MEDIA_MAX_AGE_S}",
    }
    if_none_match = request.headers.get("If-None-Match", "")
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if (if_none_match and etag in if_none_match) or (
        not if_none_match and since is not None and int(stat.st_mtime) <= since
    ):
        not_modified = HttpResponseNotModified()
        for name, value in headers.items():
            not_modified[name] = value
        return not_modified
    wanted: tuple[int, int] | None = None
    range_header = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range", "")
    if range_header and (not if_range or if_range == etag):
        try:
            wanted = _byte_range(range_header, stat.st_size)
        except ValueError:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{stat.st_size}"
            return refused
    if wanted is None:
        response = StreamingHttpResponse(_FilePart(target, 0, stat.st_size), content_type=mime)
        response["Content-Length"] = str(stat.st_size)
    else:
        first, last = wanted
        response = StreamingHttpResponse(
            _FilePart(target, first, last - first + 1), content_type=mime, status=206
        )
        response["Content-Length"] = str(last - first + 1)
        response["Content-Range"] = f"bytes {first}-{last}/{stat.st_size}"
    for name, value in headers.items():
        response[name] = value
    return response
