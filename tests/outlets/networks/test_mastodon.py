"""The Mastodon adapter (Mastodon.py) against a loopback Mastodon server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.outlets.fakes import MastodonServer, make_outlet
from tests.outlets.networks.conftest import image_item, rendered, video_item
from watchhouse.outlets.networks.base import OutletError
from watchhouse.outlets.networks.mastodon import MastodonAdapter
from watchhouse.outlets.networks.registry import adapter_for
from watchhouse.outlets.rendering import render


@pytest.fixture
def server() -> Any:
    with MastodonServer() as fake:
        yield fake


def adapter(server: MastodonServer, token: str = "") -> MastodonAdapter:
    return MastodonAdapter(
        api_base=server.url,
        account=server.username,
        credentials={"access_token": token or server.token},
    )


def test_construction_asks_the_server_nothing(server: MastodonServer) -> None:
    adapter(server)
    assert server.requests == []


@pytest.mark.django_db
def test_a_post_with_images_and_alt_text(server: MastodonServer, make_post: Any) -> None:
    outlet = make_outlet("mastodon", server)
    post = make_post(topics=("Traffic",), images=(("Patrol car", 640, False), ("", 640, False)))
    rendering = render(outlet, post=post)
    published = adapter_for(outlet).publish(rendering)
    status = server.statuses[published.remote_id]
    assert status["text"] == rendering.parts[0]
    assert status["text"].endswith("#Traffic")
    assert [m["description"] for m in status["media_attachments"]] == ["Patrol car", None]
    assert published.remote_url == status["url"]
    assert [p["kind"] for p in published.parts] == ["post", "media", "media"]
    upload = next(r for r in server.requests if r.path == "/api/v2/media")
    assert upload.header("Authorization") == f"Bearer {server.token}"


def test_a_video_is_uploaded(server: MastodonServer, media_root: Path) -> None:
    clip = video_item(media_root)
    published = adapter(server).publish(rendered(["At the fair"], media=[clip]))
    media = server.statuses[published.remote_id]["media_attachments"]
    assert [m["type"] for m in media] == ["video"]
    assert server.media[media[0]["id"]]["bytes"] == clip.bytes


def test_a_thread_replies_in_order(server: MastodonServer) -> None:
    published = adapter(server).publish(rendered(["One (1/3)", "Two (2/3)", "Three (3/3)"]))
    ids = [p["id"] for p in published.parts]
    assert [server.statuses[i]["in_reply_to_id"] for i in ids] == [None, ids[0], ids[1]]


def test_an_edit_updates_in_place_and_reshapes_the_thread(server: MastodonServer) -> None:
    masto = adapter(server)
    published = masto.publish(rendered(["One", "Two", "Three"]))
    first_ids = [p["id"] for p in published.parts]
    shorter = masto.update(published.parts, rendered(["Uno", "Dos"]))
    assert [p["id"] for p in shorter.parts] == first_ids[:2]
    assert [server.statuses[i]["text"] for i in first_ids[:2]] == ["Uno", "Dos"]
    assert server.statuses[first_ids[0]]["edited_at"] is not None
    assert server.deleted == [first_ids[2]]
    longer = masto.update(shorter.parts, rendered(["Uno", "Dos", "Tres", "Cuatro"]))
    assert len(longer.parts) == 4
    assert server.statuses[longer.parts[3]["id"]]["in_reply_to_id"] == longer.parts[2]["id"]


def test_delete_and_notice(server: MastodonServer) -> None:
    masto = adapter(server)
    published = masto.publish(rendered(["One", "Two"]))
    notice = masto.notice(published.parts, "Updated: see the site.")
    assert server.statuses[notice["id"]]["in_reply_to_id"] == published.remote_id
    masto.delete([*published.parts, notice])
    assert server.statuses == {}
    with pytest.raises(OutletError) as gone:
        masto.delete(published.parts)
    assert gone.value.kind == "not_found"


def test_mentions_come_back_as_plain_text(server: MastodonServer) -> None:
    masto = adapter(server)
    published = masto.publish(rendered(["Road works"]))
    server.mention("is <b>Main</b> open?", in_reply_to_id=published.remote_id, username="sam")
    server.mention("hello")
    items, cursor = masto.inbound("", [published.remote_id])
    assert [(i.kind, i.text) for i in items] == [
        ("mention", "@examplepd hello"),
        ("reply", "@examplepd is Main open?"),
    ]
    assert items[1].in_reply_to == published.remote_id
    assert items[1].author_handle == "@sam"
    assert cursor == "2"
    assert masto.inbound(cursor, []) == ([], cursor)
    query = [r for r in server.requests if r.path == "/api/v1/notifications"][-1].query
    assert "since_id=2" in query
    assert "types" in query


def test_check(server: MastodonServer) -> None:
    result = adapter(server).check()
    assert result.ok
    assert "@examplepd" in result.message


def test_rate_limit_is_thrown_not_slept_with_the_reset(server: MastodonServer) -> None:
    server.fail_next("rate_limit")
    with pytest.raises(OutletError) as error:
        adapter(server).publish(rendered(["Road works"]))
    assert (error.value.kind, error.value.retryable) == ("rate_limited", True)
    assert error.value.retry_after is not None
    assert 280 <= error.value.retry_after <= 301


def test_an_expired_token_is_auth(server: MastodonServer) -> None:
    server.fail_next("expired_token")
    with pytest.raises(OutletError) as error:
        adapter(server).check()
    assert (error.value.kind, error.value.retryable, error.value.status) == ("auth", False, 401)
    assert "expired" in str(error.value)
    with pytest.raises(OutletError) as invalid:
        adapter(server, token="wrong").check()
    assert invalid.value.kind == "auth"


def test_rejected_media(server: MastodonServer, media_root: Path) -> None:
    server.fail_next("media_rejected")
    with pytest.raises(OutletError) as error:
        adapter(server).publish(rendered(["Photo"], media=[image_item(media_root)]))
    assert (error.value.kind, error.value.retryable, error.value.status) == (
        "media_rejected",
        False,
        422,
    )
    assert server.statuses == {}


def test_server_error_is_retryable(server: MastodonServer) -> None:
    server.fail_next("server_error", path="/api/v1/statuses")
    with pytest.raises(OutletError) as error:
        adapter(server).publish(rendered(["Road works"]))
    assert (error.value.kind, error.value.retryable, error.value.status) == (
        "unavailable",
        True,
        503,
    )


def test_half_a_thread_is_taken_back_when_a_reply_fails(server: MastodonServer) -> None:
    calls = {"n": 0}
    original = server.serve

    def second_post_fails(request: Any) -> Any:
        if request.path == "/api/v1/statuses" and request.method == "POST":
            calls["n"] += 1
            if calls["n"] == 2:
                return server.failure("server_error", request)
        return original(request)

    server.serve = second_post_fails  # type: ignore[method-assign]
    with pytest.raises(OutletError):
        adapter(server).publish(rendered(["One", "Two", "Three"]))
    assert server.statuses == {}


def test_a_missing_token_is_refused_before_any_request() -> None:
    with pytest.raises(OutletError) as error:
        MastodonAdapter(api_base="https://example.test", account="a", credentials={})
    assert error.value.kind == "auth"
