"""A named account's own public posts for a case: Bluesky through the AppView's
getAuthorFeed (paged, reposts of others skipped), the fediverse through WebFinger, the actor
and its outbox (public Create(Note) only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.monitoring.connectors.conftest import AppView, FediHost
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.accounts import account_posts

pytestmark = pytest.mark.django_db
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
DID = "did:plc:missing"


def _view(rkey: str, text: str, when: str, *, did: str = DID, handle: str = "sam.bsky.social",
          **item: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "post": {
            "uri": f"at://{did}/app.bsky.feed.post/{rkey}",
            "cid": f"bafy{rkey}",
            "author": {"did": did, "handle": handle, "displayName": "Sam"},
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": when,
                       "langs": ["en"]},
            "embed": {"$type": "app.bsky.embed.images#view", "images": [
                {"thumb": f"https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/{rkey}@jpeg",
                 "fullsize": f"https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{rkey}@jpeg",
                 "alt": "the pier"}]},
            "indexedAt": when,
        },
        **item,
    }  # fmt: skip


@pytest.fixture
def appview(settings: Any) -> Any:
    with AppView(page_size=2) as server:
        settings.WATCHHOUSE_MONITORING_BSKY_APPVIEW = server.url
        server.feeds["sam.bsky.social"] = [
            _view("3k4", "At the pier now", "2026-11-28T20:00:00.000Z"),
            _view("3k3", "someone else's post", "2026-11-28T19:00:00.000Z",
                  did="did:plc:other", handle="other.bsky.social",
                  reason={"$type": "app.bsky.feed.defs#reasonRepost",
                          "by": {"did": DID, "handle": "sam.bsky.social"}}),
            _view("3k2", "Leaving work", "2026-11-28T17:00:00.000Z"),
            _view("3k1", "Morning run", "2026-11-27T07:00:00.000Z"),
        ]  # fmt: skip
        yield server


def test_bluesky_own_posts_across_pages(appview: AppView) -> None:
    """All own posts, newest first, across the AppView's pages; the repost is skipped;
    images keep their full-size URL and alt text for EXIF reading."""
    posts = account_posts("jetstream", "@sam.bsky.social")
    assert [p.text for p in posts] == ["At the pier now", "Leaving work", "Morning run"]
    first = posts[0]
    assert first.remote_id == f"at://{DID}/app.bsky.feed.post/3k4"
    assert first.url == f"https://bsky.app/profile/{DID}/post/3k4"
    assert (first.author_handle, first.author_name) == ("sam.bsky.social", "Sam")
    assert [(m.url, m.alt) for m in first.media] == [
        (f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/3k4@jpeg", "the pier")
    ]
    cursors = [r.query for r in appview.requests]
    assert len(cursors) == 2 and "cursor=2" in cursors[1]


def test_bluesky_since_and_limit(appview: AppView) -> None:
    """``since`` stops at older posts; ``limit`` caps the count."""
    since = datetime(2026, 11, 28, tzinfo=UTC)
    assert [p.text for p in account_posts("bluesky", "sam.bsky.social", since=since)] == [
        "At the pier now",
        "Leaving work",
    ]
    assert len(account_posts("bluesky", "sam.bsky.social", limit=1)) == 1


def test_an_unknown_account_or_network_is_a_clear_error(appview: AppView) -> None:
    with pytest.raises(InvalidInputError, match="could not be read"):
        account_posts("bluesky", "nobody.bsky.social")
    with pytest.raises(InvalidInputError, match="cannot be collected"):
        account_posts("facebook", "someone")


def test_fediverse_outbox_public_notes_only(fedihost: FediHost, settings: Any) -> None:
    """WebFinger, actor, outbox pages: public Creates of the account's own notes; a
    followers-only note and a boost are left out."""
    settings.WATCHHOUSE_MONITORING_WEBFINGER_SCHEME = "http"
    dana = fedihost.user("dana")

    def create(n: int, text: str, *, public: bool = True) -> dict[str, Any]:
        note = {"id": f"{dana.uri}/statuses/{n}", "type": "Note", "attributedTo": dana.uri,
                "content": f"<p>{text}</p>", "published": f"2026-11-2{n}T10:00:00Z",
                "to": [PUBLIC] if public else [f"{dana.uri}/followers"], "cc": []}  # fmt: skip
        return {"id": f"{note['id']}/activity", "type": "Create", "actor": dana.uri,
                "object": note}  # fmt: skip

    fedihost.outboxes["dana"] = [
        create(8, "Heading to the lake"),
        create(7, "private thoughts", public=False),
        {"id": f"{dana.uri}/boost/1", "type": "Announce", "actor": dana.uri,
         "object": "https://elsewhere.example/notes/1"},
        create(6, "Coffee on Main Street"),
        create(5, "Back home"),
    ]  # fmt: skip
    posts = account_posts("fediverse", fedihost.handle("dana"))
    assert [p.text for p in posts] == ["Heading to the lake", "Coffee on Main Street", "Back home"]
    assert posts[0].remote_id == f"{dana.uri}/statuses/8"
    assert posts[0].author_handle == f"dana@{fedihost.host}"
    since = datetime(2026, 11, 26, tzinfo=UTC)
    assert len(account_posts("fediverse", fedihost.handle("dana"), since=since)) == 2
