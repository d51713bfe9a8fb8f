"""A named account's own public posts, collected into a case's timeline (after the purpose
gate and a second person's approval, in ``services/cases.py``).

RSS: a feed the person publishes (its address as the handle), every entry.
Bluesky: the public AppView's ``app.bsky.feed.getAuthorFeed`` (no login; the documented XRPC
query), pages followed by cursor, reposts of others skipped. Fediverse: WebFinger, the actor,
its outbox (an ``OrderedCollection`` paged by ``next``), public Create(Note) only. Every fetch
goes through the outlets' address guard. Media URLs are kept so images can be read for EXIF.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import text_of
from watchhouse.monitoring.connectors.fediverse import (
    _ref,
    actor_uri_for,
    is_public,
    json_get,
    note_post,
)
from watchhouse.monitoring.connectors.jetstream import (
    DEFAULT_CDN,
    post_from_record,
)
from watchhouse.monitoring.connectors.rss import feed_posts
from watchhouse.monitoring.models import SourceKind
from watchhouse.monitoring.posts import MalformedPostError, MediaRef, PublicPost
from watchhouse.outlets.activitypub.remote import (
    RemoteFetchError,
    actor_fields,
    actor_store,
    fetch_document,
)
from watchhouse.outlets.activitypub.services import department_actor

logger = logging.getLogger("watchhouse.monitoring")

MAX_PAGES = 50
NETWORKS = {"jetstream": "bluesky", "bluesky": "bluesky", "fediverse": "fediverse", "rss": "rss"}


def appview_base() -> str:
    return str(settings.WATCHHOUSE_MONITORING_BSKY_APPVIEW).rstrip("/")


def account_posts(
    network: str, handle: str, *, since: datetime | None = None, limit: int = 500
) -> list[PublicPost]:
    """Up to ``limit`` of the account's own public posts, newest first, none older than
    ``since``. Raises :class:`InvalidInputError` for an unknown network or an account that
    cannot be read (the message says why)."""
    kind = NETWORKS.get(network)
    if kind is None:
        raise InvalidInputError(_("Accounts on %(n)s cannot be collected.") % {"n": network})
    handle = handle.strip()
    if not handle:
        raise InvalidInputError(_("Which account?"))
    try:
        if kind == "bluesky":
            return _bluesky_posts(handle.lstrip("@"), since=since, limit=limit)
        if kind == "rss":
            # The "account" is a feed the person publishes (a blog): its address.
            posts = [p for p in feed_posts(handle) if since is None or p.posted_at >= since]
            return posts[:limit]
        return _fediverse_posts(handle, since=since, limit=limit)
    except RemoteFetchError as error:
        raise InvalidInputError(
            _("The posts of %(h)s could not be read: %(e)s") % {"h": handle, "e": error}
        ) from error


def _bluesky_media(view: Any) -> tuple[MediaRef, ...]:
    """Images of a post view's (hydrated) embed: the AppView's full-size URLs and alt text."""
    if not isinstance(view, dict):
        return ()
    if str(view.get("$type", "")).startswith("app.bsky.embed.recordWithMedia"):
        return _bluesky_media(view.get("media"))
    found = []
    for image in view.get("images") or []:
        if isinstance(image, dict) and str(image.get("fullsize", "")).startswith("https://"):
            alt = text_of(image.get("alt"))
            found.append(MediaRef(image["fullsize"][:500], "image", alt[:2000]))
    return tuple(found)


def _bluesky_posts(handle: str, *, since: datetime | None, limit: int) -> list[PublicPost]:
    posts: list[PublicPost] = []
    cursor = ""
    for _page in range(MAX_PAGES):
        params = {"actor": handle, "limit": "100", "filter": "posts_with_replies"}
        if cursor:
            params["cursor"] = cursor
        answer = json_get(
            f"{appview_base()}/xrpc/app.bsky.feed.getAuthorFeed",
            params=params,
            accept="application/json",
        )
        feed = answer.get("feed") if isinstance(answer, dict) else None
        if not isinstance(feed, list):
            raise RemoteFetchError("the AppView answered without a feed")
        for item in feed:
            if not isinstance(item, dict) or item.get("reason") is not None:
                continue  # a repost (or pin) is not the account's own post here
            view = item.get("post")
            if not isinstance(view, dict) or not isinstance(view.get("author"), dict):
                continue
            author = view["author"]
            if handle not in (author.get("handle"), author.get("did")):
                continue
            uri = view.get("uri")
            if not isinstance(uri, str) or not uri.startswith("at://"):
                continue
            try:
                post = post_from_record(
                    str(author.get("did")), uri.rsplit("/", 1)[-1], view.get("record"),
                    cdn=DEFAULT_CDN,
                )  # fmt: skip
            except MalformedPostError as error:
                logger.info("Skipped %s: %s", uri, error)
                continue
            if since is not None and post.posted_at < since:
                return posts
            post.author_handle = str(author.get("handle") or post.author_handle)[:300]
            post.author_name = str(author.get("displayName") or "")[:300]
            post.remote_id = uri[:500]
            post.media = _bluesky_media(view.get("embed")) or post.media
            posts.append(post)
            if len(posts) >= limit:
                return posts
        cursor = answer.get("cursor") if isinstance(answer.get("cursor"), str) else ""
        if not cursor or not feed:
            return posts
    return posts


def _fediverse_posts(handle: str, *, since: datetime | None, limit: int) -> list[PublicPost]:
    signer = department_actor()
    actor_uri = actor_uri_for(handle)
    document = fetch_document(actor_uri, signer=signer)
    remote = actor_store(actor_fields(document))
    if remote.uri != actor_uri:
        raise RemoteFetchError(f"{actor_uri[:200]} answered with another actor's document.")
    outbox = _ref(document.get("outbox"))
    if not outbox:
        raise RemoteFetchError(f"{actor_uri[:200]} has no outbox.")
    collection = fetch_document(outbox, signer=signer)
    page: Any = collection.get("first") if "orderedItems" not in collection else collection
    posts: list[PublicPost] = []
    for _page in range(MAX_PAGES):
        if isinstance(page, str):
            page = fetch_document(page, signer=signer)
        if not isinstance(page, dict):
            return posts
        items = page.get("orderedItems") or page.get("items") or []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or item.get("type") != "Create":
                continue  # boosts (Announce) are others' posts
            note = item.get("object")
            if not isinstance(note, dict) or not is_public(note):
                continue
            if _ref(note.get("attributedTo")) not in ("", remote.uri):
                continue
            try:
                post = note_post(note, author=remote)
            except MalformedPostError as error:
                logger.info("Skipped an item of %s: %s", outbox, error)
                continue
            if since is not None and post.posted_at < since:
                return posts
            post.source = SourceKind.FEDIVERSE
            posts.append(post)
            if len(posts) >= limit:
                return posts
        page = page.get("next")
        if not page:
            return posts
    return posts
