"""Fixtures of the ActivityPub tests: a loopback fediverse server with actors of its own,
signed requests to our inboxes, and the site's address.

:class:`FediServer` is a real HTTP server on 127.0.0.1 speaking ActivityPub as a remote
server does: it serves its actors' documents (with their public keys), takes POSTs at its
actors' inboxes and its shared inbox, verifies their signatures against our actor's
published key, and answers with the statuses a test sets (503 for an outage, 410 for a
gone inbox), or with an HTML page or a slow answer for an actor that misbehaves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from tests.notify.loopback import Answer, LoopbackHttpServer, RecordedRequest
from watchhouse.outlets.activitypub import documents
from watchhouse.outlets.activitypub.signatures import (
    check_request,
    new_key_pair,
    sign_request,
    verify_signature,
)
from watchhouse.outlets.models import Follower, LocalActor, RemoteActor

SITE = "http://testserver"


@pytest.fixture(autouse=True)
def ap_site(settings: Any) -> None:
    """Our site at the test client's host; remote servers on loopback are allowed."""
    settings.SITE_URL = SITE
    settings.WATCHHOUSE_AP_ALLOW_PRIVATE = True


@dataclass
class RemoteUser:
    server: FediServer
    name: str
    private_pem: str
    public_pem: str

    @property
    def uri(self) -> str:
        return f"{self.server.url}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return f"{self.uri}#main-key"

    @property
    def inbox(self) -> str:
        return f"{self.uri}/inbox"

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "inbox": self.inbox,
            "endpoints": {"sharedInbox": self.server.shared_inbox} if self.server.shared else {},
            "url": f"{self.server.url}/@{self.name}",
            "publicKey": {"id": self.key_id, "owner": self.uri, "publicKeyPem": self.public_pem},
        }

    def rotate(self) -> None:
        self.private_pem, self.public_pem = new_key_pair()


class FediServer(LoopbackHttpServer):
    """A remote fediverse server on loopback (see the module docstring)."""

    def __init__(self, *, shared: bool = True) -> None:
        super().__init__()
        self.shared = shared
        self.users: dict[str, RemoteUser] = {}
        self.inbox_status = 202
        self.actor_answer: Callable[[RemoteUser], Answer] | None = None

    @property
    def shared_inbox(self) -> str:
        return f"{self.url}/inbox"

    def user(self, name: str) -> RemoteUser:
        if name not in self.users:
            private, public = _keys()
            self.users[name] = RemoteUser(self, name, private, public)
        return self.users[name]

    def posts(self) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def all_signed_by_us(self) -> bool:
        """Whether every POST received carries a valid signature of one of our actors
        (checked in the test's thread, which sees the test's database)."""
        posts = self.posts()
        return bool(posts) and all(_verify_ours(r) for r in posts)

    def activities(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.posts()]

    def answer(self, request: RecordedRequest) -> Answer:
        if request.method == "GET" and request.path.startswith("/users/"):
            user = self.users.get(request.path.removeprefix("/users/"))
            if user is None:
                return Answer(404)
            if self.actor_answer is not None:
                return self.actor_answer(user)
            return Answer(
                200,
                json.dumps(user.document()).encode(),
                {"Content-Type": "application/activity+json"},
            )
        if request.method == "POST" and (
            request.path == "/inbox" or request.path.endswith("/inbox")
        ):
            return Answer(self.inbox_status)
        return Answer(404)


_KEYS: list[tuple[str, str]] = []


def _keys() -> tuple[str, str]:
    """A key pair for a remote user (a few are made once per run: RSA generation is slow)."""
    if len(_KEYS) < 6:
        _KEYS.append(new_key_pair())
        return _KEYS[-1]
    _KEYS.append(_KEYS.pop(0))
    return _KEYS[-1]


def _verify_ours(request: RecordedRequest) -> bool:
    """Whether a POST carries a valid signature of one of our actors (the key as our actor
    document publishes it)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        params = check_request(
            method="POST", target=request.path, headers=headers, body=request.body
        )
        username = params.key_id.split("/ap/users/")[1].split("#")[0]
        pem = LocalActor.objects.get(username=username).public_key_pem
        verify_signature(
            params, method="POST", target=request.path, headers=headers, public_key_pem=pem
        )
    except Exception:  # noqa: BLE001 - any failure is "not verified"
        return False
    return True


@pytest.fixture
def fedi() -> Iterator[FediServer]:
    with FediServer() as server:
        yield server


@pytest.fixture
def fedi2() -> Iterator[FediServer]:
    with FediServer() as server:
        yield server


def follow(local: LocalActor, user: RemoteUser) -> Follower:
    """Make ``user`` a follower of ``local`` directly (as an accepted Follow leaves it)."""
    remote, _ = RemoteActor.objects.update_or_create(
        uri=user.uri,
        defaults={
            "inbox": user.inbox,
            "shared_inbox": user.server.shared_inbox if user.server.shared else "",
            "key_id": user.key_id,
            "public_key_pem": user.public_pem,
            "handle": f"{user.name}@{user.server.url.split('//')[1]}",
        },
    )
    return Follower.objects.create(actor=local, remote=remote, follow_uri=f"{user.uri}#follow")


def signed_post(
    client: Client,
    path: str,
    activity: dict[str, Any] | bytes,
    user: RemoteUser,
    *,
    date_offset_s: float = 0,
    body_override: bytes | None = None,
    key_pem: str | None = None,
) -> Any:
    """POST ``activity`` to our ``path`` signed by ``user`` (or with ``key_pem``)."""
    from datetime import UTC, datetime, timedelta

    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    headers = sign_request(
        method="POST",
        url=f"{SITE}{path}",
        body=body,
        key_id=user.key_id,
        private_key_pem=key_pem or user.private_pem,
        when=datetime.now(UTC) + timedelta(seconds=date_offset_s),
    )
    return client.post(
        path,
        data=body_override if body_override is not None else body,
        content_type="application/activity+json",
        headers={k: v for k, v in headers.items() if k != "Host"},
    )


def activity_id(user: RemoteUser) -> str:
    return f"{user.uri}/activities/{time.monotonic_ns()}"


def our_actor_uri(local: LocalActor) -> str:
    return documents.actor_uri(local)


# Posts and alerts as their own tests make them.
from tests.alerts.conftest import make_alert, town  # noqa: E402, F401
from tests.posts.conftest import make_post, media_roots, pio, supervisor  # noqa: E402, F401
