"""The department's feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1 of listed posts (all, or one
kind, area or topic), and the podcast's RSS feed with Apple's iTunes tags.

The XML is written with lxml rather than feedgen or Django's feedgenerator: lxml is already how
this codebase writes feeds (the CAP Atom feed), it carries type information for mypy (feedgen
has none), and the podcast needs exact control of the ``itunes:`` elements and their order,
which feedgenerator does not model.

Every feed answers conditional requests: its Last-Modified (and, without the page cache, its
ETag) comes from :func:`~watchhouse.posts.public.listing_changed` (one query of three index
lookups) before anything else is read, so a 304 costs that one query. With
``WATCHHOUSE_PAGE_CACHE`` on (production), anonymous readers get feeds from the shared page
cache (:mod:`watchhouse.core.pagecache`), whose fast path answers repeats without Django.

Entry ids are ``tag:`` URIs (RFC 4151) made from the site's host, the post's creation date and
its primary key: they never change when a post is edited, renamed or re-slugged, so readers
and podcast apps never show an edited post or episode twice.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache as memoize
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import (
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)
from django.utils.http import http_date
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from lxml import etree

from watchhouse.core import pagecache
from watchhouse.posts import public
from watchhouse.posts.models import Post, PostKind
from watchhouse.posts.public import PostFilter, PostFilterError, absolute

# Items in each feed.
FEED_SIZE = 50
# Episodes in the podcast feed.
PODCAST_SIZE = 300
# Seconds a reader or shared cache may reuse a feed before asking again (with its validator).
FEED_MAX_AGE_S = 300
# Apple's podcast directory: artwork 1400 to 3000 px square; a category from its list.
PODCAST_ARTWORK_PX = 1400
PODCAST_CATEGORY = "Government"

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# Podcasting 2.0 (podcastindex.org): chapters as a JSON document linked from each episode.
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
CHAPTERS_TYPE = "application/json+chapters"
FORMATS = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


# Identity and dates.


def _host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def post_guid(post: Post) -> str:
    """The post's permanent id in every feed: a ``tag:`` URI that edits never change."""
    return f"tag:{_host()},{post.created_at:%Y-%m-%d}:posts/{post.pk}"


def _published(post: Post) -> datetime:
    return post.published_at or post.created_at


def _modified(post: Post) -> datetime:
    return post.edited_at or _published(post)


def rfc822_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def rfc3339_date(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def feed_url(fmt: str, post_filter: PostFilter | None = None) -> str:
    """The address of a feed of the timeline in ``fmt`` (rss, atom, json) for the filter."""
    base = reverse("posts:feed", kwargs={"fmt": fmt})
    query = post_filter.query_string if post_filter is not None else ""
    return f"{base}?{query}" if query else base


def timeline_url(post_filter: PostFilter | None = None) -> str:
    base = reverse("posts:list")
    query = post_filter.query_string if post_filter is not None else ""
    return f"{base}?{query}" if query else base


def feed_title(post_filter: PostFilter | None = None) -> str:
    title = _("News from %(agency)s") % {"agency": settings.WATCHHOUSE_AGENCY_NAME}
    if post_filter is not None and post_filter.label:
        return f"{title}: {post_filter.label}"
    return title


def _tags(post: Post) -> list[str]:
    return [str(PostKind(post.kind).label), *(t.name for t in post.topics.all())]


# Rendering.


def xml_add(parent: Any, tag: str, text: str | None = None, **attributes: str) -> Any:
    element = etree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def xml_bytes(root: Any) -> bytes:
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True))


def render_rss(posts: list[Post], post_filter: PostFilter | None) -> bytes:
    """RSS 2.0 with ``atom:link rel=self`` and full text in ``content:encoded``."""
    rss = etree.Element("rss", {"version": "2.0"}, nsmap={"atom": ATOM_NS, "content": CONTENT_NS})
    channel = xml_add(rss, "channel")
    xml_add(channel, "title", feed_title(post_filter))
    xml_add(channel, "link", absolute(timeline_url(post_filter)))
    xml_add(channel, "description", feed_title(post_filter))
    xml_add(channel, "language", get_language() or settings.LANGUAGE_CODE)
    if posts:
        xml_add(channel, "lastBuildDate", rfc822_date(max(_modified(p) for p in posts)))
    xml_add(
        channel,
        f"{{{ATOM_NS}}}link",
        rel="self",
        href=absolute(feed_url("rss", post_filter)),
        type="application/rss+xml",
    )
    for post in posts:
        item = xml_add(channel, "item")
        xml_add(item, "title", post.title)
        xml_add(item, "link", absolute(public.post_url(post)))
        xml_add(item, "guid", post_guid(post), isPermaLink="false")
        xml_add(item, "pubDate", rfc822_date(_published(post)))
        xml_add(item, "description", post.summary or post.title)
        xml_add(item, f"{{{CONTENT_NS}}}encoded", post.body_html)
        for tag in _tags(post):
            xml_add(item, "category", tag)
        cover = public.cover_of(post)
        if cover is not None and cover.largest is not None and cover.largest.bytes:
            xml_add(
                item,
                "enclosure",
                url=absolute(cover.largest.url),
                length=str(cover.largest.bytes),
                type=cover.largest.mime,
            )
    return xml_bytes(rss)


def render_atom(posts: list[Post], post_filter: PostFilter | None) -> bytes:
    """Atom 1.0 (RFC 4287): summary and HTML content, stable ``tag:`` ids."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    xml_add(feed, f"{{{ATOM_NS}}}id", absolute(feed_url("atom", post_filter)))
    xml_add(feed, f"{{{ATOM_NS}}}title", feed_title(post_filter))
    updated = max((_modified(p) for p in posts), default=None) or timezone.now()
    xml_add(feed, f"{{{ATOM_NS}}}updated", rfc3339_date(updated))
    author = xml_add(feed, f"{{{ATOM_NS}}}author")
    xml_add(author, f"{{{ATOM_NS}}}name", settings.WATCHHOUSE_AGENCY_NAME)
    xml_add(
        feed,
        f"{{{ATOM_NS}}}link",
        rel="self",
        href=absolute(feed_url("atom", post_filter)),
        type="application/atom+xml",
    )
    xml_add(
        feed,
        f"{{{ATOM_NS}}}link",
        rel="alternate",
        href=absolute(timeline_url(post_filter)),
        type="text/html",
    )
    for post in posts:
        entry = xml_add(feed, f"{{{ATOM_NS}}}entry")
        xml_add(entry, f"{{{ATOM_NS}}}id", post_guid(post))
        xml_add(entry, f"{{{ATOM_NS}}}title", post.title)
        xml_add(entry, f"{{{ATOM_NS}}}published", rfc3339_date(_published(post)))
        xml_add(entry, f"{{{ATOM_NS}}}updated", rfc3339_date(_modified(post)))
        xml_add(
            entry,
            f"{{{ATOM_NS}}}link",
            rel="alternate",
            href=absolute(public.post_url(post)),
            type="text/html",
        )
        if post.summary:
            xml_add(entry, f"{{{ATOM_NS}}}summary", post.summary)
        xml_add(entry, f"{{{ATOM_NS}}}content", post.body_html, type="html")
        for tag in _tags(post):
            xml_add(entry, f"{{{ATOM_NS}}}category", term=tag)
    return xml_bytes(feed)


def render_json(posts: list[Post], post_filter: PostFilter | None) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    items = []
    for post in posts:
        item: dict[str, Any] = {
            "id": post_guid(post),
            "url": absolute(public.post_url(post)),
            "title": post.title,
            "content_html": post.body_html,
            "date_published": rfc3339_date(_published(post)),
            "date_modified": rfc3339_date(_modified(post)),
            "tags": _tags(post),
            "language": post.language,
        }
        if post.summary:
            item["summary"] = post.summary
        cover = public.cover_of(post)
        if cover is not None and cover.largest is not None:
            item["image"] = absolute(cover.largest.url)
        attachments = []
        for media in public.post_media(post):
            playable = media.audio or media.video
            if playable is not None:
                attachment: dict[str, Any] = {
                    "url": absolute(playable.url),
                    "mime_type": playable.mime,
                }
                if playable.bytes:
                    attachment["size_in_bytes"] = playable.bytes
                if media.duration_s:
                    attachment["duration_in_seconds"] = round(media.duration_s)
                attachments.append(attachment)
        if attachments:
            item["attachments"] = attachments
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed_title(post_filter),
        "home_page_url": absolute(timeline_url(post_filter)),
        "feed_url": absolute(feed_url("json", post_filter)),
        "language": get_language() or settings.LANGUAGE_CODE,
        "authors": [{"name": settings.WATCHHOUSE_AGENCY_NAME}],
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=1).encode("utf-8")


def _duration(seconds: float | None) -> str:
    total = round(seconds or 0)
    return f"{total // 3600:d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def render_podcast(episodes: list[Post]) -> bytes:
    """The podcast's RSS 2.0 feed with the tags Apple Podcasts requires: channel title,
    description, language, ``itunes:image`` (≥ 1400 px square), ``itunes:category`` and
    ``itunes:explicit``; per episode a title, an ``enclosure`` with URL, length and type, a
    ``guid`` that edits never change, ``pubDate`` and ``itunes:duration``."""
    rss = etree.Element(
        "rss",
        {"version": "2.0"},
        nsmap={"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": ATOM_NS, "content": CONTENT_NS},
    )
    channel = xml_add(rss, "channel")
    title = _("%(agency)s podcast") % {"agency": settings.WATCHHOUSE_AGENCY_NAME}
    description = _("Voice updates and conversations from %(agency)s.") % {
        "agency": settings.WATCHHOUSE_AGENCY_NAME
    }
    xml_add(channel, "title", title)
    xml_add(channel, "link", absolute(reverse("posts:podcast")))
    xml_add(channel, "description", description)
    xml_add(channel, "language", get_language() or settings.LANGUAGE_CODE)
    xml_add(
        channel,
        f"{{{ATOM_NS}}}link",
        rel="self",
        href=absolute(reverse("posts:podcast_feed")),
        type="application/rss+xml",
    )
    xml_add(channel, f"{{{ITUNES_NS}}}author", settings.WATCHHOUSE_AGENCY_NAME)
    xml_add(channel, f"{{{ITUNES_NS}}}summary", description)
    xml_add(channel, f"{{{ITUNES_NS}}}image", href=absolute(reverse("posts:podcast_artwork")))
    xml_add(channel, f"{{{ITUNES_NS}}}category", text=PODCAST_CATEGORY)
    xml_add(channel, f"{{{ITUNES_NS}}}explicit", "false")
    xml_add(channel, f"{{{ITUNES_NS}}}type", "episodic")
    owner = xml_add(channel, f"{{{ITUNES_NS}}}owner")
    xml_add(owner, f"{{{ITUNES_NS}}}name", settings.WATCHHOUSE_AGENCY_NAME)
    if settings.DEFAULT_FROM_EMAIL:
        xml_add(owner, f"{{{ITUNES_NS}}}email", settings.DEFAULT_FROM_EMAIL)
    for post in episodes:
        media = public.audio_of(post)
        if media is None or media.audio is None:
            continue
        item = xml_add(channel, "item")
        xml_add(item, "title", post.title)
        xml_add(item, "link", absolute(public.post_url(post)))
        xml_add(item, "description", post.summary or post.title)
        xml_add(item, f"{{{CONTENT_NS}}}encoded", post.body_html)
        xml_add(
            item,
            "enclosure",
            url=absolute(media.audio.url),
            length=str(media.audio.bytes),
            type=media.audio.mime or "audio/mpeg",
        )
        xml_add(item, "guid", post_guid(post), isPermaLink="false")
        xml_add(item, "pubDate", rfc822_date(_published(post)))
        xml_add(item, f"{{{ITUNES_NS}}}duration", _duration(media.duration_s))
        xml_add(item, f"{{{ITUNES_NS}}}explicit", "false")
        xml_add(item, f"{{{ITUNES_NS}}}episodeType", "full")
        if public.chapters_of(media):
            xml_add(
                item,
                f"{{{PODCAST_NS}}}chapters",
                url=absolute(reverse("posts:chapters", kwargs={"pk": post.pk})),
                type=CHAPTERS_TYPE,
            )
        if post.summary:
            xml_add(item, f"{{{ITUNES_NS}}}summary", post.summary)
    return xml_bytes(rss)


@memoize
def podcast_artwork_png(agency: str, size: int = PODCAST_ARTWORK_PX) -> bytes:
    """A square PNG cover for the podcast, drawn from the agency's name (Apple asks for 1400
    to 3000 px, RGB, PNG or JPEG). Made here so no third-party image is needed."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (size, size), (16, 42, 84))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size // 14)
    words, lines, line = agency.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) > size * 0.8 and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    lines.append(_("Podcast"))
    step = size // 11
    top = (size - step * len(lines)) // 2
    for number, text in enumerate(lines):
        draw.text((size // 2, top + number * step), text, fill="white", font=font, anchor="ma")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# Views.


def feed_response(
    request: HttpRequest,
    name: str,
    content_type: str,
    render: Callable[[], bytes],
    *,
    changed: datetime | None,
    query: bool = True,
) -> HttpResponse:
    """Answer 304 when the client's validator is current, else the (cached) body, with
    ETag, Last-Modified and Cache-Control either way. ``changed`` is when what the feed lists
    last changed; ``query`` says whether the query string picks what it lists."""
    stamp = changed.isoformat() if changed else "none"
    last_modified = int(changed.timestamp()) if changed else None
    if pagecache.cacheable(request, query=query):
        return feed_from_page_cache(request, name, stamp, last_modified, content_type, render)
    seed = f"{name}|{stamp}|{get_language()}|{settings.SITE_URL}"
    etag = '"' + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32] + '"'
    response = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if response is None:
        response = HttpResponse(render(), content_type=content_type)
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    patch_cache_control(response, public=True, max_age=FEED_MAX_AGE_S)
    # Feed and channel titles follow the reader's language.
    patch_vary_headers(response, ("Accept-Language",))
    return response


def feed_from_page_cache(
    request: HttpRequest,
    name: str,
    stamp: str,
    last_modified: int | None,
    content_type: str,
    render: Callable[[], bytes],
) -> HttpResponse:
    """An anonymous reader's feed from the shared page cache, whose fast path in front of
    Django (:class:`~watchhouse.core.pagecache.PageCacheApp`) answers repeats and their
    ``If-None-Match`` without a query. Its ETag is the body's digest; the key also holds the
    listing stamp, so a change not reported to the cache still reaches a feed built here."""
    if last_modified is not None and "If-None-Match" not in request.headers:
        not_modified = get_conditional_response(request, last_modified=last_modified)
        if not_modified is not None:
            not_modified["Last-Modified"] = http_date(last_modified)
            patch_cache_control(not_modified, public=True, max_age=pagecache.MAX_AGE_S)
            return not_modified

    def build() -> tuple[HttpResponse, float]:
        return HttpResponse(render(), content_type=content_type), float(pagecache.TIMEOUT_S)

    response = pagecache.serve(request, f"feed:{name}:{stamp}", build, query=True)
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    return response


def filter_from_request(request: HttpRequest) -> PostFilter:
    """The filter named by the request's ``kind``, ``area`` and ``topic`` parameters; 404 when
    one names nothing."""
    try:
        return public.post_filter_make(
            **{k: request.GET.get(k, "").strip()[:200] for k in public.FILTER_PARAMS}
        )
    except PostFilterError as exc:
        raise Http404(str(exc)) from exc


_RENDERERS: dict[str, Callable[[list[Post], PostFilter | None], bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


def feed(request: HttpRequest, fmt: str) -> HttpResponse:
    """A feed of listed posts in ``fmt``: all of them, or those of a kind, area and/or topic
    (query parameters, as on the timeline)."""
    if fmt not in FORMATS:
        raise Http404("No such feed format.")
    # The filter is resolved only to render: a 304 needs no query beyond the validator's.
    key = public.filter_key({k: request.GET.get(k, "") for k in public.FILTER_PARAMS})

    def render() -> bytes:
        post_filter = filter_from_request(request)
        posts = list(public.post_listed(post_filter).prefetch_related("topics")[:FEED_SIZE])
        return _RENDERERS[fmt](posts, post_filter)

    return feed_response(
        request, f"{fmt}|{key}", FORMATS[fmt], render, changed=public.listing_changed()
    )


def podcast_feed(request: HttpRequest) -> HttpResponse:
    """The podcast's RSS feed (only episodes with a public audio file)."""
    return feed_response(
        request,
        "podcast",
        "application/rss+xml; charset=utf-8",
        lambda: render_podcast(public.podcast_episodes(limit=PODCAST_SIZE)),
        changed=public.listing_changed(),
    )


def podcast_chapters(request: HttpRequest, pk: int) -> HttpResponse:
    """An episode's chapters as a Podcasting 2.0 JSON chapters document (version 1.2.0)."""
    episode = public.post_listed(PostFilter(kind=PostKind.PODCAST)).filter(pk=pk).first()
    media = public.audio_of(episode) if episode is not None else None
    chapters = public.chapters_of(media) if media is not None else []
    if not chapters:
        raise Http404("No chapters.")
    document = {
        "version": "1.2.0",
        "chapters": [{"startTime": start, "title": title} for start, title in chapters],
    }
    response = HttpResponse(json.dumps(document, ensure_ascii=False), content_type=CHAPTERS_TYPE)
    patch_cache_control(response, public=True, max_age=FEED_MAX_AGE_S)
    return response


def podcast_artwork(request: HttpRequest) -> HttpResponse:
    """The podcast's cover art (PNG, 1400 px square)."""
    response = HttpResponse(
        podcast_artwork_png(settings.WATCHHOUSE_AGENCY_NAME), content_type="image/png"
    )
    patch_cache_control(response, public=True, max_age=86400)
    return response
