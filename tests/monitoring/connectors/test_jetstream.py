"""Bluesky through Jetstream, against a loopback server replaying Jetstream-format events:
the right accounts' posts are read, a cursor resumes where reading stopped, a dropped
connection is made again from the cursor, and malformed or giant events are counted, never
raised."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.monitoring.connectors.conftest import T0, JetstreamReplay, post_event, source_row
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import Batch
from watchhouse.monitoring.connectors.jetstream import REWIND_US, JetstreamConnector
from watchhouse.monitoring.models import SourceKind

pytestmark = pytest.mark.django_db
ALICE, BOB, CAROL = "did:plc:alice", "did:plc:bob", "did:plc:carol"
S = 10_000_000  # ten seconds in microseconds


def _events() -> list[dict[str, Any] | str]:
    image = {"$type": "blob", "ref": {"$link": "bafkreiimage"}, "mimeType": "image/jpeg",
             "size": 1000}  # fmt: skip
    return [
        post_event(ALICE, "3kaaa", "Smoke over the river by the old mill", at=T0),
        {
            "did": ALICE,
            "time_us": T0 + S,
            "kind": "identity",
            "identity": {"did": ALICE, "handle": "alice.example", "seq": 1},
        },  # fmt: skip
        '{"did": "did:plc:bob", "time_us": ',  # cut off: not JSON
        post_event(BOB, "3kbbb", "spam " * 5000, at=T0 + 2 * S),
        post_event(
            ALICE,
            "3kccc",
            "Water rising on Mill Street",
            at=T0 + 3 * S,
            embed={
                "$type": "app.bsky.embed.images",
                "images": [{"alt": "Flooded street", "image": image}],
            },
        ),  # fmt: skip
        post_event(CAROL, "3kddd", "Not watched", at=T0 + 4 * S),
        {
            "did": ALICE,
            "time_us": T0 + 5 * S,
            "kind": "commit",
            "commit": {
                "rev": "x",
                "operation": "delete",
                "collection": "app.bsky.feed.post",
                "rkey": "3kaaa",
            },
        },  # fmt: skip
        {
            "did": BOB,
            "time_us": T0 + 6 * S,
            "kind": "commit",
            "commit": {
                "rev": "y",
                "operation": "create",
                "collection": "app.bsky.feed.post",
                "rkey": "3keee",
                "record": {"$type": "app.bsky.feed.post"},
            },
        },  # fmt: skip
        {
            "did": BOB,
            "time_us": T0 + 7 * S,
            "kind": "account",
            "account": {"active": True, "did": BOB, "seq": 2},
        },  # fmt: skip
    ]


def _read_until(connector: JetstreamConnector, cursor: str, last: int) -> list[Batch]:
    """Read batches until the cursor reaches ``last`` (or ten seconds pass)."""
    stop = threading.Event()
    timer = threading.Timer(10, stop.set)
    timer.start()
    batches = []
    try:
        for batch in connector.read(cursor, stop=stop):
            batches.append(batch)
            if batch.cursor == str(last):
                stop.set()
    finally:
        timer.cancel()
    assert not timer.finished.is_set() or batches, "nothing was read"
    return batches


def _refused(batches: list[Batch]) -> dict[str, int]:
    total: dict[str, int] = {}
    for batch in batches:
        for reason, n in batch.refused.items():
            total[reason] = total.get(reason, 0) + n
    return total


def test_reads_the_watched_accounts_posts(analyst: Any) -> None:
    """Only the wanted accounts' new posts come through, in one schema; identity, account
    and delete events are skipped; the cut-off event and the record without text are counted
    as malformed and the giant post as giant."""
    with JetstreamReplay(_events()) as server:
        source = source_row(SourceKind.JETSTREAM, {"endpoint": server.url, "dids": [ALICE, BOB]},
                            analyst)  # fmt: skip
        batches = _read_until(JetstreamConnector(source), "", T0 + 7 * S)
        [query] = server.queries()
    assert query["wantedDids"] == [ALICE, BOB]
    assert query["wantedCollections"] == ["app.bsky.feed.post"]
    assert "cursor" not in query
    posts = [p for b in batches for p in b.posts]
    assert [p.text for p in posts] == [
        "Smoke over the river by the old mill",
        "Water rising on Mill Street",
    ]
    first, second = posts
    assert first.remote_id == f"at://{ALICE}/app.bsky.feed.post/3kaaa"
    assert first.url == f"https://bsky.app/profile/{ALICE}/post/3kaaa"
    assert first.author_handle == ALICE and first.language == "en"
    assert first.source == "jetstream" and first.source_id == source.pk
    assert first.lat is None and first.lon is None
    assert first.posted_at.isoformat() == "2026-11-29T12:00:00+00:00"
    [image] = second.media
    assert image.alt == "Flooded street"
    assert image.url == f"https://cdn.bsky.app/img/feed_fullsize/plain/{ALICE}/bafkreiimage@jpeg"
    assert _refused(batches) == {"malformed": 2, "giant": 1}
    assert batches[-1].cursor == str(T0 + 7 * S)


def test_resumes_from_the_cursor(analyst: Any) -> None:
    """Given a cursor, reading asks Jetstream to replay from a few seconds before it, and
    posts from before that are not read again."""
    with JetstreamReplay(_events()) as server:
        source = source_row(SourceKind.JETSTREAM, {"endpoint": server.url, "dids": [ALICE]},
                            analyst)  # fmt: skip
        batches = _read_until(JetstreamConnector(source), str(T0 + 3 * S), T0 + 5 * S)
        [query] = server.queries()
    assert query["cursor"] == [str(T0 + 3 * S - REWIND_US)]
    assert [p.text for b in batches for p in b.posts] == ["Water rising on Mill Street"]


def test_reconnects_after_a_dropped_connection(analyst: Any) -> None:
    """A connection dropped mid-stream is made again from the last cursor, and the rest of
    the stream is read."""
    with JetstreamReplay(_events(), drop_after=1) as server:
        source = source_row(SourceKind.JETSTREAM, {"endpoint": server.url, "dids": [ALICE]},
                            analyst)  # fmt: skip
        batches = _read_until(JetstreamConnector(source), "", T0 + 5 * S)
        queries = server.queries()
    assert len(queries) == 2
    assert queries[1]["cursor"] == [str(max(T0 - REWIND_US, 0))]
    texts = [p.text for b in batches for p in b.posts]
    # The first post comes again after the rewind; the stream's dedupe drops the copy.
    assert texts == ["Smoke over the river by the old mill"] * 2 + ["Water rising on Mill Street"]


def test_an_unreachable_endpoint_stops_when_asked(analyst: Any) -> None:
    """Nothing listening: the connector retries with backoff and ends when stopped, without
    raising."""
    from tests.notify.loopback import free_port

    endpoint = f"ws://127.0.0.1:{free_port()}/subscribe"
    source = source_row(SourceKind.JETSTREAM, {"endpoint": endpoint}, analyst)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    assert list(JetstreamConnector(source).read("", stop=stop)) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"endpoint": "https://jetstream.example/subscribe"}, "ws://"),
        ({"dids": ["alice.bsky.social"]}, "not DIDs"),
        ({"collections": ["app.bsky.feed.like"]}, "app.bsky.feed.post"),
        ({"max_message_bytes": 10}, "between"),
    ],
)
def test_bad_config_is_refused(config: dict[str, Any], message: str) -> None:
    """A wrong endpoint, handles instead of DIDs, or no post collection: a clear error."""
    with pytest.raises(InvalidInputError, match=message):
        JetstreamConnector.validate_config(config)


def test_a_message_over_the_size_limit_is_counted_as_giant(analyst: Any) -> None:
    """Messages larger than ``max_message_bytes`` are not parsed, only counted."""
    events: list[dict[str, Any] | str] = [
        post_event(ALICE, "3kbig", "word " * 400, at=T0),
        post_event(ALICE, "3ksmall", "short", at=T0 + S),
    ]
    with JetstreamReplay(events) as server:
        config = {"endpoint": server.url, "max_message_bytes": 1024}
        source = source_row(SourceKind.JETSTREAM, config, analyst)
        batches = _read_until(JetstreamConnector(source), "", T0 + S)
    assert [p.text for b in batches for p in b.posts] == ["short"]
    assert _refused(batches) == {"giant": 1}
