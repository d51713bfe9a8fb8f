"""RSS and Atom feeds (local news, other agencies), parsed by feedparser.

Each feed is fetched with a conditional GET (its ``ETag`` and ``Last-Modified`` are kept in
the cursor, so an unchanged feed costs a 304), a timeout and a size cap, through the same
address guard as fediverse fetches (no private addresses unless allowed). Entries newer than
the last one read become posts: title and summary reduced to text, link, time, a GeoRSS or
W3C geo point as coordinates, enclosures as media.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import feedparser
import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import (
    Batch,
    Connector,
    check_http_url,
    host_forbidden,
    string_list,
)
from watchhouse.monitoring.models import SourceKind
from watchhouse.monitoring.posts import MalformedPostError, MediaRef, PublicPost
from watchhouse.outlets.activitypub.inbox import plain_text
from watchhouse.outlets.activitypub.remote import RemoteFetchError, check_address

logger = logging.getLogger("watchhouse.monitoring")

TIMEOUT = (5, 15)  # connect, read (seconds)
MAX_FEED_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
USER_AGENT = "Watchhouse (+RSS reader)"
# Source.cursor holds at most this many characters.
CURSOR_CHARS = 500


def max_feed_bytes() -> int:
    return int(settings.WATCHHOUSE_MONITORING_RSS_MAX_BYTES)


def feed_key(url: str) -> str:
    return hashlib.blake2b(url.encode(), digest_size=4).hexdigest()


def cursor_load(cursor: str) -> dict[str, dict[str, Any]]:
    try:
        state = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return (
        {k: v for k, v in state.items() if isinstance(v, dict)} if isinstance(state, dict) else {}
    )


def cursor_dump(state: dict[str, dict[str, Any]]) -> str:
    """The cursor as JSON within :data:`CURSOR_CHARS`: validators are dropped first (a
    feed then costs a full GET), the newest entry time is always kept."""
    text = json.dumps(state, separators=(",", ":"))
    if len(text) > CURSOR_CHARS:
        text = json.dumps(
            {k: {"t": v.get("t", 0)} for k, v in state.items()}, separators=(",", ":")
        )
    return text


def own_site(url: str) -> bool:
    """Whether ``url`` is on this site (its own alert feeds), which the address guard allows
    even on a private address."""
    site = urlsplit(str(getattr(settings, "SITE_URL", "")))
    split = urlsplit(url)
    return bool(site.netloc) and (split.scheme, split.netloc) == (site.scheme, site.netloc)


class FeedTooLargeError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class FetchedFeed:
    body: bytes
    etag: str
    modified: str
    content_type: str


def fetch_feed(url: str, validators: dict[str, Any]) -> FetchedFeed | None:
    """GET ``url`` conditionally; None when unchanged (304). Redirects are followed by hand so
    every hop passes the address guard."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"}  # fmt: skip
    if validators.get("e"):
        headers["If-None-Match"] = validators["e"]
    if validators.get("m"):
        headers["If-Modified-Since"] = validators["m"]
    for _hop in range(MAX_REDIRECTS + 1):
        if not own_site(url):
            check_address(url)
        if host_forbidden(url):
            raise RemoteFetchError(f"{url[:200]} is on a platform that forbids collection.")
        response = requests.get(
            url, headers=headers, timeout=TIMEOUT, stream=True, allow_redirects=False
        )
        if response.status_code in (301, 302, 303, 307, 308) and response.headers.get("Location"):
            response.close()
            url = urljoin(url, response.headers["Location"])
            continue
        if response.status_code == 304:
            response.close()
            return None
        if response.status_code != 200:
            response.close()
            raise RemoteFetchError(f"{url[:200]} answered {response.status_code}.")
        with response:
            body = b""
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > max_feed_bytes():
                    raise FeedTooLargeError(url)
            return FetchedFeed(
                body,
                response.headers.get("ETag", "")[:200],
                response.headers.get("Last-Modified", "")[:40],
                response.headers.get("Content-Type", ""),
            )
    raise RemoteFetchError(f"{url[:200]} redirects too often.")


def _entry_time(entry: Any) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(name)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return None


def _coordinates(entry: Any) -> tuple[float | None, float | None]:
    where = entry.get("where")
    if isinstance(where, dict) and where.get("type") == "Point":
        coords = where.get("coordinates")
        if isinstance(coords, (list, tuple)) and len(coords) >= 2:
            lon, lat = coords[0], coords[1]
            return _point(lat, lon)
    if entry.get("geo_lat") and entry.get("geo_long"):
        return _point(entry["geo_lat"], entry["geo_long"])
    return None, None


def _point(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None, None
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return lat, lon
    return None, None


def _media(entry: Any) -> tuple[MediaRef, ...]:
    found: list[MediaRef] = []
    for enclosure in (entry.get("enclosures") or [])[:10]:
        href = enclosure.get("href") or ""
        kind = str(enclosure.get("type") or "")
        if href.startswith(("http://", "https://")):
            found.append(
                MediaRef(
                    href[:500],
                    kind.split("/")[0] if kind.startswith(("image/", "video/")) else "other",
                )
            )
    for content in (entry.get("media_content") or [])[:10]:
        href = content.get("url") or ""
        medium = str(content.get("medium") or content.get("type") or "image").split("/")[0]
        if href.startswith(("http://", "https://")) and all(m.url != href for m in found):
            found.append(MediaRef(href[:500], medium if medium in ("image", "video") else "other"))
    return tuple(found)


def entry_post(entry: Any, *, feed_url: str, language: str, fetched_at: datetime) -> PublicPost:
    """One feed entry as a :class:`PublicPost`."""
    link = entry.get("link") or ""
    remote_id = entry.get("id") or link
    if not isinstance(remote_id, str) or not remote_id.strip():
        raise MalformedPostError("an entry with neither id nor link")
    title = plain_text(str(entry.get("title") or ""))
    summary = plain_text(str(entry.get("summary") or ""))
    text = (
        title if not summary or summary == title else f"{title}\n\n{summary}" if title else summary
    )
    if not text.strip():
        raise MalformedPostError("an entry without text")
    lat, lon = _coordinates(entry)
    return PublicPost(
        source=SourceKind.RSS,
        remote_id=f"{feed_key(feed_url)}:{remote_id.strip()}"[:500],
        text=text,
        posted_at=_entry_time(entry) or fetched_at,
        author_handle=str(entry.get("author") or "")[:300],
        url=link[:500] if link.startswith(("http://", "https://")) else "",
        language=str(entry.get("language") or language or "")[:16],
        lat=lat,
        lon=lon,
        media=_media(entry),
        raw={"feed": feed_url, "id": remote_id[:500]},
    )


def feed_posts(url: str) -> list[PublicPost]:
    """Every entry of one feed as posts, newest first (for a case's named feed); raises
    :class:`RemoteFetchError` when the feed cannot be read."""
    check_http_url(url, field=_("A feed address"))
    try:
        fetched = fetch_feed(url, {})
    except FeedTooLargeError:
        raise RemoteFetchError(f"{url[:200]} is over the size limit.") from None
    except requests.RequestException as error:
        raise RemoteFetchError(
            f"{url[:200]} could not be fetched: {type(error).__name__}"
        ) from None
    if fetched is None:
        return []
    parsed = feedparser.parse(
        fetched.body,
        response_headers={"content-location": url, "content-type": fetched.content_type},
    )
    if parsed.bozo and not parsed.entries:
        raise RemoteFetchError(f"{url[:200]} is not a feed.")
    now = timezone.now()
    language = str(parsed.feed.get("language") or "")
    posts = []
    for entry in parsed.entries:
        try:
            posts.append(entry_post(entry, feed_url=url, language=language, fetched_at=now))
        except MalformedPostError:
            continue
    return sorted(posts, key=lambda p: p.posted_at, reverse=True)


class RssConnector(Connector):
    kind: ClassVar[str] = SourceKind.RSS
    terms: ClassVar[str] = (
        "RSS and Atom: feeds publishers syndicate for anyone to read; only feed documents are "
        "fetched (never the platforms' pages), and platforms whose terms forbid automated "
        "collection are refused."
    )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        urls = string_list(config.get("urls") or config.get("url"), field="urls", limit=50)
        if not urls:
            raise InvalidInputError(_("An RSS source needs at least one feed address."))
        return {"urls": [check_http_url(u, field=_("A feed address")) for u in urls]}

    def read(self, cursor: str, *, stop: threading.Event) -> Iterator[Batch]:
        state = cursor_load(cursor)
        for url in self.config["urls"]:
            if stop.is_set():
                return
            key = feed_key(url)
            seen = dict(state.get(key, {}))
            batch = Batch([], "")
            try:
                response = fetch_feed(url, seen)
            except FeedTooLargeError:
                logger.warning("RSS feed %s is over the size limit", url)
                batch.refuse("giant")
                response = None
            except (RemoteFetchError, requests.RequestException) as error:
                logger.warning("RSS feed %s could not be read: %s", url, error)
                response = None
            if response is not None:
                newest = self._read_feed(url, response, seen, batch)
                seen = {"e": response.etag, "m": response.modified, "t": newest}
                state[key] = {k: v for k, v in seen.items() if v}
            batch.cursor = cursor_dump(state)
            yield batch

    def _read_feed(
        self, url: str, response: FetchedFeed, seen: dict[str, Any], batch: Batch
    ) -> int:
        """Add the feed's new entries to ``batch``; return the newest entry time (epoch s)."""
        parsed = feedparser.parse(
            response.body,
            response_headers={"content-location": url, "content-type": response.content_type},
        )
        if parsed.bozo and not parsed.entries:
            batch.refuse("malformed")
            return int(seen.get("t", 0))
        last = int(seen.get("t", 0))
        newest = last
        fetched_at = timezone.now()
        language = str(parsed.feed.get("language") or "")
        for entry in parsed.entries:
            try:
                post = entry_post(entry, feed_url=url, language=language, fetched_at=fetched_at)
            except MalformedPostError:
                batch.refuse("malformed")
                continue
            when = int(post.posted_at.timestamp())
            if _entry_time(entry) is not None and when <= last:
                continue  # read on an earlier fetch
            newest = max(newest, when)
            if self.keep(post, batch):
                batch.posts.append(post)
        return newest
