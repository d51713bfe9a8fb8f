"""Our inboxes: verified signatures (digest, date window, key fetched and cached, rotation),
replays refused, Follow/Accept/Undo, replies and mentions kept as records, deletes, and bad
input refused with a clear status, never a crash."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from tests.notify.loopback import Answer
from tests.outlets.activitypub.conftest import (
    SITE,
    FediServer,
    RemoteUser,
    activity_id,
    follow,
    signed_post,
)
from watchhouse.outlets.activitypub import remote as remote_module
from watchhouse.outlets.activitypub.delivery import ap_deliveries_send
from watchhouse.outlets.activitypub.publishing import ap_post_changed
from watchhouse.outlets.activitypub.services import department_actor
from watchhouse.outlets.models import (
    Activity,
    ApDelivery,
    Follower,
    InboundItem,
    RemoteActor,
    SeenActivity,
)
from watchhouse.posts.services import post_publish

pytestmark = pytest.mark.django_db
ACTOR = f"{SITE}/ap/users/police"


def _follow(user: RemoteUser) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": activity_id(user),
        "type": "Follow",
        "actor": user.uri,
        "object": ACTOR,
    }


def _reply(user: RemoteUser, in_reply_to: str, content: str, **extra: Any) -> dict[str, Any]:
    note = {
        "id": f"{user.uri}/statuses/{time.monotonic_ns()}",
        "type": "Note",
        "attributedTo": user.uri,
        "inReplyTo": in_reply_to,
        "content": content,
        "published": "2026-11-29T12:00:00Z",
        "url": f"{user.server.url}/@x/1",
        **extra,
    }
    return {"id": activity_id(user), "type": "Create", "actor": user.uri, "object": note}


def test_follow_is_stored_and_accepted(client: Client, fedi: FediServer) -> None:
    """A Follow stores the follower and sends a signed Accept to its inbox."""
    department_actor()
    alice = fedi.user("alice")
    follow_activity = _follow(alice)
    response = signed_post(client, "/ap/users/police/inbox", follow_activity, alice)
    assert response.status_code == 202
    follower = Follower.objects.get()
    assert follower.remote.uri == alice.uri
    assert follower.remote.shared_inbox == fedi.shared_inbox
    assert follower.remote.handle == f"alice@{fedi.url.split('//')[1]}"
    accept = Activity.objects.get(type="Accept")
    assert ApDelivery.objects.get(activity=accept).inbox == alice.inbox
    ap_deliveries_send()
    [sent] = fedi.activities()
    assert sent["type"] == "Accept" and sent["object"]["id"] == follow_activity["id"]
    assert fedi.all_signed_by_us()
    undo = {"id": activity_id(alice), "type": "Undo", "actor": alice.uri, "object": follow_activity}
    assert signed_post(client, "/ap/inbox", undo, alice).status_code == 202
    assert Follower.objects.count() == 0


def test_replay_is_refused(client: Client, fedi: FediServer) -> None:
    department_actor()
    alice = fedi.user("alice")
    activity = _follow(alice)
    assert signed_post(client, "/ap/inbox", activity, alice).status_code == 202
    again = signed_post(client, "/ap/inbox", activity, alice)
    assert again.status_code == 409
    assert Activity.objects.filter(type="Accept").count() == 1
    assert SeenActivity.objects.filter(uri=activity["id"]).count() == 1


def test_forged_tampered_and_stale_requests_are_refused(client: Client, fedi: FediServer) -> None:
    department_actor()
    alice = fedi.user("alice")
    mallory = fedi.user("mallory")
    activity = _follow(alice)
    forged = signed_post(client, "/ap/inbox", activity, alice, key_pem=mallory.private_pem)
    assert forged.status_code == 401
    tampered = signed_post(
        client,
        "/ap/inbox",
        activity,
        alice,
        body_override=json.dumps({**activity, "object": "x"}).encode(),
    )
    assert tampered.status_code == 401
    stale = signed_post(client, "/ap/inbox", activity, alice, date_offset_s=-13 * 3600)
    assert stale.status_code == 401
    unsigned = client.post("/ap/inbox", data=activity, content_type="application/activity+json")
    assert unsigned.status_code == 401
    # Signed by alice, claiming to be bob.
    impostor = {**_follow(alice), "actor": fedi.user("bob").uri}
    assert signed_post(client, "/ap/inbox", impostor, alice).status_code == 401
    assert Follower.objects.count() == 0


def test_rotated_key_is_refetched_once(client: Client, fedi: FediServer) -> None:
    department_actor()
    alice = fedi.user("alice")
    assert signed_post(client, "/ap/inbox", _follow(alice), alice).status_code == 202
    old = RemoteActor.objects.get().public_key_pem
    alice.rotate()
    follow_again = _follow(alice)
    assert signed_post(client, "/ap/inbox", follow_again, alice).status_code == 202
    assert RemoteActor.objects.get().public_key_pem == alice.public_pem != old


def test_oversized_body_is_refused(client: Client, fedi: FediServer) -> None:
    alice = fedi.user("alice")
    big = {**_follow(alice), "padding": "x" * (300 * 1024)}
    response = signed_post(client, "/ap/inbox", big, alice)
    assert response.status_code == 413
    assert RemoteActor.objects.count() == 0


def test_actor_answering_html_or_timing_out_is_refused(
    client: Client, fedi: FediServer, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """An actor whose server answers an HTML page, or too slowly, is refused with 401 and a
    log line; nothing is stored and nothing crashes."""
    department_actor()
    alice = fedi.user("alice")
    fedi.actor_answer = lambda user: Answer(
        200, b"<html>Welcome!</html>", {"Content-Type": "text/html"}
    )
    with caplog.at_level("INFO", logger="watchhouse.outlets.activitypub"):
        response = signed_post(client, "/ap/inbox", _follow(alice), alice)
    assert response.status_code == 401
    assert "not an ActivityPub document" in response.content.decode()
    assert "refused" in caplog.text

    def slow(user: RemoteUser) -> Answer:
        time.sleep(1.0)
        return Answer(
            200, json.dumps(user.document()).encode(), {"Content-Type": "application/activity+json"}
        )

    fedi.actor_answer = slow
    monkeypatch.setattr(remote_module, "TIMEOUT", (1, 0.3))
    response = signed_post(client, "/ap/inbox", _follow(alice), alice)
    assert response.status_code == 401
    assert "Timeout" in response.content.decode()
    assert RemoteActor.objects.count() == 0 and Follower.objects.count() == 0


def test_private_addresses_are_refused_unless_allowed(settings: Any, fedi: FediServer) -> None:
    settings.WATCHHOUSE_AP_ALLOW_PRIVATE = False
    with pytest.raises(remote_module.RemoteFetchError, match="private address"):
        remote_module.fetch_document(fedi.user("alice").uri)
    with pytest.raises(remote_module.RemoteFetchError, match="http"):
        remote_module.fetch_document("file:///etc/passwd")


def test_reply_is_kept_with_its_post_then_marked_deleted(
    client: Client, fedi: FediServer, pio: Any, make_post: Any
) -> None:
    """A reply to our post is kept as plain text with the post; its Delete marks it, and the
    record stays."""
    post = make_post()
    post_publish(actor=pio, post=post)
    ap_post_changed(post.pk)
    alice = fedi.user("alice")
    create = _reply(
        alice,
        f"{ACTOR}/posts/{post.pk}",
        '<p>Thanks! <script>alert(1)</script><a href="x">link</a> &amp; more</p>',
    )
    assert signed_post(client, "/ap/inbox", create, alice).status_code == 202
    item = InboundItem.objects.get()
    assert item.post == post and item.kind == "reply" and item.network == "activitypub"
    assert item.text == "Thanks! link & more"
    assert item.author_handle.startswith("alice@")
    delete = {
        "id": activity_id(alice),
        "type": "Delete",
        "actor": alice.uri,
        "object": {"id": create["object"]["id"], "type": "Tombstone"},
    }
    assert signed_post(client, "/ap/inbox", delete, alice).status_code == 202
    item.refresh_from_db()
    assert item.deleted_remotely_at is not None


def test_mention_is_kept(client: Client, fedi: FediServer) -> None:
    department_actor()
    alice = fedi.user("alice")
    create = _reply(
        alice,
        "",
        "<p>@police hello</p>",
        tag=[{"type": "Mention", "href": ACTOR, "name": "@police"}],
    )
    assert signed_post(client, "/ap/inbox", create, alice).status_code == 202
    assert InboundItem.objects.get().kind == "mention"


def test_unknown_objects_are_accepted_and_ignored(
    client: Client, fedi: FediServer, caplog: Any
) -> None:
    department_actor()
    alice = fedi.user("alice")
    with caplog.at_level("INFO", logger="watchhouse.outlets.activitypub"):
        stray = _reply(alice, "https://elsewhere.example/notes/1", "<p>hi</p>")
        assert signed_post(client, "/ap/inbox", stray, alice).status_code == 202
        gone = {
            "id": activity_id(alice),
            "type": "Delete",
            "actor": alice.uri,
            "object": "https://elsewhere.example/notes/1",
        }
        assert signed_post(client, "/ap/inbox", gone, alice).status_code == 202
        like = {
            "id": activity_id(alice),
            "type": "Like",
            "actor": alice.uri,
            "object": f"{ACTOR}/posts/99999",
        }
        assert signed_post(client, "/ap/inbox", like, alice).status_code == 202
    assert InboundItem.objects.count() == 0
    assert "ignored" in caplog.text


def test_actor_delete_removes_its_follows_and_update_refreshes_key(
    client: Client, fedi: FediServer
) -> None:
    local = department_actor()
    alice, bob = fedi.user("alice"), fedi.user("bob")
    follow(local, alice)
    follow(local, bob)
    bob.rotate()
    update = {"id": activity_id(bob), "type": "Update", "actor": bob.uri, "object": bob.document()}
    assert signed_post(client, "/ap/inbox", update, bob).status_code == 202
    assert RemoteActor.objects.get(uri=bob.uri).public_key_pem == bob.public_pem
    delete = {"id": activity_id(alice), "type": "Delete", "actor": alice.uri, "object": alice.uri}
    assert signed_post(client, "/ap/inbox", delete, alice).status_code == 202
    assert list(Follower.objects.values_list("remote__uri", flat=True)) == [bob.uri]
    assert RemoteActor.objects.get(uri=alice.uri).gone_at is not None


def test_inbox_answers_only_post(client: Client) -> None:
    assert client.get("/ap/inbox").status_code == 405
    department_actor()
    assert client.post("/ap/inbox", data=b"{", content_type="application/json").status_code == 401


def test_delete_of_a_gone_unknown_actor_is_accepted(client: Client, fedi: FediServer) -> None:
    """An account deletion from an actor we never met, whose document is already gone,
    is answered 202 with nothing stored (its key cannot be had, and there is nothing to do)."""
    department_actor()
    ghost = fedi.user("ghost")
    fedi.actor_answer = lambda user: Answer(410, b"Gone")
    delete = {"id": activity_id(ghost), "type": "Delete", "actor": ghost.uri, "object": ghost.uri}
    assert signed_post(client, "/ap/inbox", delete, ghost).status_code == 202
    other = {"id": activity_id(ghost), "type": "Follow", "actor": ghost.uri, "object": ACTOR}
    assert signed_post(client, "/ap/inbox", other, ghost).status_code == 401
    assert RemoteActor.objects.count() == 0 and Follower.objects.count() == 0
