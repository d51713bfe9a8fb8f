"""Interop with an independent ActivityPub implementation: Fedify (npm ``@fedify/fedify``,
``tests/outlets/activitypub/peer``) on loopback resolves our actor by WebFinger, follows it,
and receives, verifies (HTTP Signatures, with our key fetched from our actor document) and
accepts the Accept, a Create, an Update and a Delete.

Needs Node and ``npm ci --prefix tests/outlets/activitypub/peer``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import need
from tests.posts.conftest import fields as post_fields
from watchhouse.outlets.activitypub.delivery import ap_deliveries_send
from watchhouse.outlets.activitypub.publishing import ap_post_changed
from watchhouse.outlets.models import Follower
from watchhouse.posts.services import post_publish, post_retract, post_update

PEER = Path(__file__).parent / "peer"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(settings: Any, live_server: Any) -> str:
    """Our site served by the live server, its actors named after its host."""
    settings.SITE_URL = live_server.url
    settings.WATCHHOUSE_AP_ALLOW_PRIVATE = True
    host = urlsplit(live_server.url).hostname or "localhost"
    settings.ALLOWED_HOSTS = [host, "127.0.0.1", "localhost", "testserver"]
    return urlsplit(live_server.url).netloc


@pytest.fixture
def peer(site: str, tmp_path: Path) -> Iterator[str]:
    node = shutil.which("node")
    need(node is not None, "node is not installed")
    need(
        (PEER / "node_modules" / "@fedify" / "fedify").is_dir(),
        "Fedify is not installed (npm ci --prefix tests/outlets/activitypub/peer)",
    )
    log = tmp_path / "peer.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own script
            [str(node), str(PEER / "peer.mjs"), site],
            cwd=PEER,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not log.read_text().startswith("READY ") and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        first = log.read_text().splitlines()[0]
        yield f"http://127.0.0.1:{int(first.split()[1])}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _received(peer: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        got = requests.get(f"{peer}/control/received", timeout=5).json()
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_fedify_follows_and_receives_create_update_delete(
    site: str, peer: str, pio: Any, make_post: Any
) -> None:
    answer = requests.post(
        f"{peer}/control/follow", params={"handle": f"police@{site}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    actor_uri = f"http://{site}/ap/users/police"
    assert found["actor"] == actor_uri
    assert found["type"] == "Organization"
    assert found["sharedInbox"] == f"http://{site}/ap/inbox"
    follower = Follower.objects.get()
    assert follower.remote.uri == f"{peer}/users/alice"
    assert follower.follow_uri == found["follow"]

    ap_deliveries_send()
    [accept] = _received(peer, 1)
    assert accept["type"] == "Accept" and accept["actor"] == actor_uri

    post = make_post(title="Fedify interop", body="Crews work **tonight**.")
    post_publish(actor=pio, post=post)
    ap_post_changed(post.pk)
    ap_deliveries_send()
    post_update(
        actor=pio, post=post, fields=post_fields(title="Fedify interop, edited"), note="Title"
    )
    ap_post_changed(post.pk)
    ap_deliveries_send()
    post_retract(actor=pio, post=post, reason="Test over.")
    ap_post_changed(post.pk)
    ap_deliveries_send()

    got = _received(peer, 4)
    assert [g["type"] for g in got] == ["Accept", "Create", "Update", "Delete"]
    object_id = f"{actor_uri}/posts/{post.pk}"
    create, update, delete = got[1:]
    assert create["objectType"] == "Note" and create["objectId"] == object_id
    assert "Fedify interop" in create["content"] and "<strong>tonight</strong>" in create["content"]
    assert "edited" in update["content"] and update["objectId"] == object_id
    assert delete["objectId"] == object_id and delete["objectType"] == "Tombstone"
    assert all(g["actor"] == actor_uri for g in got)
    assert requests.get(f"{peer}/control/rejected", timeout=5).json() == {"rejected": 0}
