"""Loopback servers speaking the real protocols of the sources.

- :class:`JetstreamReplay`: a WebSocket server replaying Jetstream-format events, honouring
  the ``cursor``, ``wantedDids`` and ``wantedCollections`` query parameters as Jetstream does.
- :class:`FeedServer`: RSS and Atom documents with ``ETag`` validators (304 when unchanged).
- :class:`FediHost`: the outlets' loopback fediverse server with WebFinger and outboxes.
- :class:`AppView`: Bluesky's public ``app.bsky.feed.getAuthorFeed``, paged by cursor.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from tests.notify.loopback import LOOPBACK, Answer, LoopbackHttpServer, RecordedRequest, free_port
from tests.outlets.activitypub.conftest import SITE, FediServer, ap_site  # noqa: F401
from watchhouse.monitoring.models import Source, SourceKind

T0 = 1_764_400_000_000_000  # time_us of the first replayed event


class JetstreamReplay:
    """Replays ``events`` (dicts, or raw strings for malformed ones) to every subscriber,
    then keeps the connection open as a live stream does. ``drop_after`` closes the first
    connection after that many messages, to act out a network failure."""

    def __init__(
        self, events: list[dict[str, Any] | str], *, drop_after: int | None = None
    ) -> None:
        self.events = events
        self.drop_after = drop_after
        self.paths: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.port = free_port()
        self.url = f"ws://{LOOPBACK}:{self.port}/subscribe"
        self._server = serve(self._handle, LOOPBACK, self.port, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def queries(self) -> list[dict[str, list[str]]]:
        with self.lock:
            return [parse_qs(urlsplit(p).query) for p in self.paths]

    def _wanted(self, event: dict[str, Any] | str, query: dict[str, list[str]]) -> bool:
        if isinstance(event, str):
            return True
        cursor = query.get("cursor")
        if cursor and event.get("time_us", 0) < int(cursor[0]):
            return False
        dids = query.get("wantedDids")
        if dids and event.get("did") not in dids:
            return False
        collections = query.get("wantedCollections")
        commit = event.get("commit")
        if collections and isinstance(commit, dict):
            return commit.get("collection") in collections
        return True

    def _handle(self, websocket: ServerConnection) -> None:
        path = websocket.request.path if websocket.request else ""
        with self.lock:
            self.paths.append(path)
            first = len(self.paths) == 1
        query = parse_qs(urlsplit(path).query)
        sent = 0
        try:
            for event in self.events:
                if not self._wanted(event, query):
                    continue
                websocket.send(event if isinstance(event, str) else json.dumps(event))
                sent += 1
                if first and self.drop_after is not None and sent >= self.drop_after:
                    websocket.close()
                    return
            while not self.stopping.is_set():
                try:
                    websocket.recv(timeout=0.1)
                except TimeoutError:
                    continue
        except ConnectionClosed:
            return

    def __enter__(self) -> JetstreamReplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._thread.join(timeout=5)


def post_event(did: str, rkey: str, text: str, *, at: int, **record: Any) -> dict[str, Any]:
    """A Jetstream commit event creating an ``app.bsky.feed.post`` record."""
    return {
        "did": did,
        "time_us": at,
        "kind": "commit",
        "commit": {
            "rev": f"3l{rkey}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": "2026-11-29T12:00:00.000Z",
                "langs": ["en"],
                **record,
            },
            "cid": f"bafyrei{rkey}",
        },
    }


class FeedServer(LoopbackHttpServer):
    """Feeds at ``/<name>``: ``feeds[name] = (content_type, body)``; the ETag is a hash of
    the body, and a matching ``If-None-Match`` is answered 304."""

    def __init__(self) -> None:
        super().__init__()
        self.feeds: dict[str, tuple[str, bytes]] = {}

    def statuses(self) -> list[tuple[str, int]]:
        return [(r.path, 304 if self._etag(r.path) == r.header("If-None-Match") else 200)
                for r in self.requests]  # fmt: skip

    def _etag(self, path: str) -> str:
        feed = self.feeds.get(path.lstrip("/"))
        return f'"{hashlib.blake2b(feed[1], digest_size=8).hexdigest()}"' if feed else ""

    def answer(self, request: RecordedRequest) -> Answer:
        feed = self.feeds.get(request.path.lstrip("/"))
        if feed is None:
            return Answer(404)
        etag = self._etag(request.path)
        if request.header("If-None-Match") == etag:
            return Answer(304, b"", {"ETag": etag})
        return Answer(200, feed[1], {"Content-Type": feed[0], "ETag": etag})


class FediHost(FediServer):
    """The outlets' loopback fediverse server, with WebFinger, each user's outbox
    (``outboxes[name]``: the activities, newest first, served two to a page) and notes
    (``notes[path]``)."""

    def __init__(self) -> None:
        super().__init__()
        self.outboxes: dict[str, list[dict[str, Any]]] = {}
        self.notes: dict[str, dict[str, Any]] = {}

    @property
    def host(self) -> str:
        return self.url.split("//")[1]

    def handle(self, name: str) -> str:
        return f"@{name}@{self.host}"

    def answer(self, request: RecordedRequest) -> Answer:
        ap = {"Content-Type": "application/activity+json"}
        if request.path == "/.well-known/webfinger":
            resource = dict(parse_qsl(request.query)).get("resource", "")
            name = resource.removeprefix("acct:").split("@")[0]
            if name not in self.users:
                return Answer(404)
            return Answer(200, json.dumps({
                "subject": resource,
                "links": [{"rel": "self", "type": "application/activity+json",
                           "href": self.users[name].uri}],
            }).encode(), {"Content-Type": "application/jrd+json"})  # fmt: skip
        if request.method == "GET" and request.path in self.notes:
            return Answer(200, json.dumps(self.notes[request.path]).encode(), ap)
        if request.method == "GET" and request.path.endswith("/outbox"):
            name = request.path.split("/")[2]
            items = self.outboxes.get(name, [])
            base = f"{self.url}/users/{name}/outbox"
            page = dict(parse_qsl(request.query)).get("page")
            if page is None:
                document = {"id": base, "type": "OrderedCollection", "totalItems": len(items),
                            "first": f"{base}?page=1"}  # fmt: skip
            else:
                number = int(page)
                document = {"id": f"{base}?page={number}", "type": "OrderedCollectionPage",
                            "orderedItems": items[(number - 1) * 2 : number * 2]}  # fmt: skip
                if number * 2 < len(items):
                    document["next"] = f"{base}?page={number + 1}"
            return Answer(200, json.dumps(document).encode(), ap)
        if request.method == "GET" and request.path.startswith("/users/"):
            user = self.users.get(request.path.removeprefix("/users/"))
            if user is not None and self.actor_answer is None:
                return Answer(200, json.dumps(
                    {**user.document(), "outbox": f"{user.uri}/outbox"}).encode(), ap)  # fmt: skip
        return super().answer(request)


class AppView(LoopbackHttpServer):
    """``/xrpc/app.bsky.feed.getAuthorFeed``: ``feeds[actor]`` (FeedViewPosts, newest first)
    served ``page_size`` at a time with an opaque cursor."""

    def __init__(self, page_size: int = 2) -> None:
        super().__init__()
        self.feeds: dict[str, list[dict[str, Any]]] = {}
        self.page_size = page_size

    def answer(self, request: RecordedRequest) -> Answer:
        if request.path != "/xrpc/app.bsky.feed.getAuthorFeed":
            return Answer.json(404, {"error": "MethodNotImplemented"})
        params = dict(parse_qsl(request.query))
        if params.get("actor") not in self.feeds:
            return Answer.json(400, {"error": "InvalidRequest", "message": "Profile not found"})
        items = self.feeds[params["actor"]]
        start = int(params.get("cursor") or 0)
        size = min(int(params.get("limit") or 50), self.page_size)
        answer: dict[str, Any] = {"feed": items[start : start + size]}
        if start + size < len(items):
            answer["cursor"] = str(start + size)
        return Answer.json(200, answer)


@pytest.fixture
def fedihost() -> Iterator[FediHost]:
    with FediHost() as server:
        yield server


@pytest.fixture
def fedihost2() -> Iterator[FediHost]:
    with FediHost() as server:
        yield server


@pytest.fixture
def analyst(make_staff: Any) -> Any:
    return make_staff("analyst")


def source_row(kind: str, config: dict[str, Any], analyst: Any, name: str = "") -> Source:
    """A source saved directly (the services have tests of their own)."""
    return Source.objects.create(
        kind=kind, name=name or f"{kind} source", config=config, created_by=analyst
    )


__all__ = ["SITE", "SourceKind"]
