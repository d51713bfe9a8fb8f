"""Bluesky through Jetstream: the documented WebSocket stream of repository commits as JSON.

One connection to ``<endpoint>?wantedCollections=app.bsky.feed.post&wantedDids=…&cursor=…``;
each message is one event ``{"did", "time_us", "kind", …}``. Commits creating an
``app.bsky.feed.post`` record become posts; identity and account events, and other
operations, are skipped. The cursor is the last ``time_us`` read: a reconnect resumes a few
seconds before it (Jetstream replays from any cursor it still holds) and the stream's
dedupe drops the overlap.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from django.utils.translation import gettext as _
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import Batch, Connector, string_list, text_of
from watchhouse.monitoring.models import SourceKind
from watchhouse.monitoring.posts import MalformedPostError, MediaRef, PublicPost

logger = logging.getLogger("watchhouse.monitoring")

DEFAULT_ENDPOINT = "wss://jetstream2.us-east.bsky.network/subscribe"
POST_COLLECTION = "app.bsky.feed.post"
DEFAULT_CDN = "https://cdn.bsky.app/img/feed_fullsize/plain"
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024
# A message this large is not read at all (the connection drops and is made again).
HARD_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
REWIND_US = 3_000_000
BATCH_POSTS = 500
BATCH_SECONDS = 0.5
MAX_BACKOFF_S = 30.0


def parse_time(value: Any) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when it names no offset)."""
    if not isinstance(value, str):
        raise MalformedPostError("no time")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedPostError(f"unreadable time {value[:40]!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _blob_cid(image: Any) -> str:
    if not isinstance(image, dict):
        return ""
    ref = image.get("ref")
    if isinstance(ref, dict) and isinstance(ref.get("$link"), str):
        return ref["$link"]
    # Legacy blobs carry the cid directly.
    return image["cid"] if isinstance(image.get("cid"), str) else ""


def embed_media(did: str, embed: Any, cdn: str) -> tuple[MediaRef, ...]:
    """Images (and a video) a post record's embed carries, addressed through ``cdn``."""
    if not isinstance(embed, dict):
        return ()
    kind = embed.get("$type")
    if kind == "app.bsky.embed.recordWithMedia":
        return embed_media(did, embed.get("media"), cdn)
    found: list[MediaRef] = []
    if kind == "app.bsky.embed.images" and isinstance(embed.get("images"), list):
        for image in embed["images"][:10]:
            if not isinstance(image, dict):
                continue
            cid = _blob_cid(image.get("image"))
            if cid:
                alt = text_of(image.get("alt"))
                found.append(MediaRef(f"{cdn.rstrip('/')}/{did}/{cid}@jpeg", "image", alt[:2000]))
    elif kind == "app.bsky.embed.video":
        cid = _blob_cid(embed.get("video"))
        if cid:
            alt = text_of(embed.get("alt"))
            found.append(MediaRef(f"{cdn.rstrip('/')}/{did}/{cid}@jpeg", "video", alt[:2000]))
    return tuple(found)


def post_from_record(
    did: Any, rkey: Any, record: Any, *, cdn: str, source: str = SourceKind.JETSTREAM
) -> PublicPost:
    """A ``app.bsky.feed.post`` record of ``did`` as a :class:`PublicPost`."""
    if not isinstance(did, str) or not did.startswith("did:"):
        raise MalformedPostError("no author DID")
    if not isinstance(rkey, str) or not rkey or "/" in rkey:
        raise MalformedPostError("no record key")
    if not isinstance(record, dict) or record.get("$type", POST_COLLECTION) != POST_COLLECTION:
        raise MalformedPostError("not a post record")
    text = record.get("text")
    if not isinstance(text, str):
        raise MalformedPostError("no text")
    langs = record.get("langs")
    language = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else ""
    return PublicPost(
        source=str(source),
        remote_id=f"at://{did}/{POST_COLLECTION}/{rkey}",
        text=text,
        posted_at=parse_time(record.get("createdAt")),
        author_handle=did,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        language=language[:16],
        media=embed_media(did, record.get("embed"), cdn),
        raw={"did": did, "rkey": rkey, "record": record},
    )


class JetstreamConnector(Connector):
    kind: ClassVar[str] = SourceKind.JETSTREAM
    streaming: ClassVar[bool] = True
    terms: ClassVar[str] = (
        "Bluesky's Jetstream: the public firehose of the AT Protocol, documented and open for "
        "any use under Bluesky's developer guidelines; only public post records are read."
    )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        endpoint = config.get("endpoint") or DEFAULT_ENDPOINT
        split = urlsplit(endpoint) if isinstance(endpoint, str) else None
        if split is None or split.scheme not in ("ws", "wss") or not split.hostname:
            raise InvalidInputError(_("The Jetstream endpoint must be a ws:// or wss:// address."))
        collections = string_list(
            config.get("collections") or [POST_COLLECTION], field="collections", limit=100
        )
        if POST_COLLECTION not in collections:
            raise InvalidInputError(_("Jetstream sources read app.bsky.feed.post records."))
        dids = string_list(config.get("dids"), field="dids", limit=10000)
        bad = [d for d in dids if not d.startswith("did:")]
        if bad:
            raise InvalidInputError(
                _("These are not DIDs (did:plc:… or did:web:…): %(d)s") % {"d": ", ".join(bad[:5])}
            )
        try:
            max_bytes = int(config.get("max_message_bytes") or DEFAULT_MAX_MESSAGE_BYTES)
        except (TypeError, ValueError):
            raise InvalidInputError(_("max_message_bytes must be a number.")) from None
        if not 1024 <= max_bytes <= HARD_MAX_MESSAGE_BYTES:
            raise InvalidInputError(_("max_message_bytes must be between 1 KiB and 16 MiB."))
        cdn = config.get("cdn") or DEFAULT_CDN
        if not isinstance(cdn, str) or urlsplit(cdn).scheme not in ("http", "https"):
            raise InvalidInputError(_("The image CDN must be an http(s) address."))
        return {
            "endpoint": endpoint,
            "collections": collections,
            "dids": dids,
            "max_message_bytes": max_bytes,
            "cdn": cdn,
        }

    def url(self, cursor: str) -> str:
        params: list[tuple[str, str]] = [
            ("wantedCollections", c) for c in self.config["collections"]
        ]
        params += [("wantedDids", d) for d in self.config["dids"]]
        if cursor.isdigit():
            params.append(("cursor", str(max(int(cursor) - REWIND_US, 0))))
        return f"{self.config['endpoint']}?{urlencode(params)}"

    def event_post(
        self, message: str | bytes, batch: Batch
    ) -> tuple[int | None, PublicPost | None]:
        """The event's ``time_us`` and its post (None for events that are not new posts);
        bad events are counted in ``batch``."""
        if len(message) > self.config["max_message_bytes"]:
            batch.refuse("giant")
            return None, None
        try:
            event = json.loads(message)
        except ValueError:
            batch.refuse("malformed")
            return None, None
        if not isinstance(event, dict):
            batch.refuse("malformed")
            return None, None
        time_us = event.get("time_us")
        time_us = time_us if isinstance(time_us, int) and time_us > 0 else None
        if event.get("kind") != "commit":
            return time_us, None  # identity and account events
        commit = event.get("commit")
        if not isinstance(commit, dict) or time_us is None:
            batch.refuse("malformed")
            return time_us, None
        if commit.get("operation") != "create" or commit.get("collection") != POST_COLLECTION:
            return time_us, None
        try:
            post = post_from_record(
                event.get("did"), commit.get("rkey"), commit.get("record"), cdn=self.config["cdn"]
            )
        except MalformedPostError:
            batch.refuse("malformed")
            return time_us, None
        return time_us, post if self.keep(post, batch) else None

    def read(self, cursor: str, *, stop: threading.Event) -> Iterator[Batch]:
        backoff = 0.5
        while not stop.is_set():
            batch = Batch([], cursor)
            started = time.monotonic()
            try:
                with connect(
                    self.url(cursor),
                    max_size=HARD_MAX_MESSAGE_BYTES,
                    open_timeout=10,
                    close_timeout=1,
                    user_agent_header="Watchhouse (+Jetstream)",
                ) as websocket:
                    while not stop.is_set():
                        wait = max(BATCH_SECONDS - (time.monotonic() - started), 0.01)
                        try:
                            message = websocket.recv(timeout=wait)
                        except TimeoutError:
                            message = None
                        if message is not None:
                            backoff = 0.5
                            time_us, post = self.event_post(message, batch)
                            if post is not None:
                                batch.posts.append(post)
                            if time_us is not None:
                                batch.cursor = cursor = str(time_us)
                        full = len(batch.posts) >= BATCH_POSTS
                        due = time.monotonic() - started >= BATCH_SECONDS
                        if full or (due and (batch.posts or batch.refused)):
                            yield batch
                            batch, started = Batch([], cursor), time.monotonic()
                        elif due:
                            started = time.monotonic()
            except (OSError, WebSocketException, TimeoutError) as error:
                logger.warning(
                    "Jetstream %s: %s; reconnecting in %.1fs",
                    self.source.name, type(error).__name__, backoff,
                )  # fmt: skip
            if batch.posts or batch.refused:
                yield batch
            if stop.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF_S)
