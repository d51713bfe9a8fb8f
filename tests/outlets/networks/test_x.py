"""The X adapter against a loopback X API v2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.outlets.fakes import XApi, make_outlet
from tests.outlets.networks.conftest import image_item, rendered, video_item
from watchhouse.core.crypto import seal_json, unseal_json
from watchhouse.outlets.networks.base import OutletError
from watchhouse.outlets.networks.registry import adapter_for
from watchhouse.outlets.networks.x import XAdapter
from watchhouse.outlets.rendering import render


@pytest.fixture
def api() -> Any:
    with XApi() as server:
        server.processing_polls = 1
        yield server


def adapter(api: XApi, **credentials: str) -> XAdapter:
    creds = {
        "access_token": api.token,
        "refresh_token": api.refresh_token,
        "client_id": api.client_id,
        **credentials,
    }
    return XAdapter(api_base=api.url, account=api.user_id, credentials=creds)


@pytest.mark.django_db
def test_a_long_post_becomes_a_thread_of_replies(api: XApi, make_post: Any) -> None:
    outlet = make_outlet("x", api)
    post = make_post(summary="", body="Residents should expect delays near the mill. " * 12)
    rendering = render(outlet, post=post)
    assert len(rendering.parts) > 1
    published = adapter_for(outlet).publish(rendering)
    posted = [p for p in published.parts if p["kind"] in ("post", "reply")]
    assert [p["kind"] for p in posted] == ["post"] + ["reply"] * (len(posted) - 1)
    assert published.remote_url == f"https://x.com/i/web/status/{published.remote_id}"
    tweets = [api.tweets[p["id"]] for p in posted]
    assert tweets[0]["reply_to"] == ""
    assert [t["reply_to"] for t in tweets[1:]] == [p["id"] for p in posted[:-1]]
    assert [t["text"] for t in tweets] == rendering.parts


def test_images_are_uploaded_with_alt_text(api: XApi, media_root: Path) -> None:
    photos = [image_item(media_root, "a.jpg", alt="Patrol car"), image_item(media_root, "b.jpg")]
    published = adapter(api).publish(rendered(["Road works"], media=photos))
    media_ids = [p["id"] for p in published.parts if p["kind"] == "media"]
    assert [api.media[m]["alt"] for m in media_ids] == ["Patrol car", "A patrol car"]
    assert [api.media[m]["category"] for m in media_ids] == ["tweet_image"] * 2
    assert api.tweets[published.remote_id]["media_ids"] == media_ids


def test_a_video_is_uploaded_in_chunks_and_waits_for_processing(
    api: XApi, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = video_item(media_root)
    monkeypatch.setattr("watchhouse.outlets.networks.x.CHUNK_BYTES", max(1, clip.bytes // 3))
    published = adapter(api).publish(rendered(["At the fair"], media=[clip]))
    media_id = next(p["id"] for p in published.parts if p["kind"] == "media")
    assert api.media[media_id]["bytes"] == clip.bytes
    assert len(api.media[media_id]["chunks"]) >= 3
    commands = [r.query for r in api.requests if r.method == "GET"]
    assert any("command=STATUS" in q for q in commands)
    assert api.tweets[published.remote_id]["media_ids"] == [media_id]


def test_no_edit_a_notice_reply_and_delete(api: XApi) -> None:
    x = adapter(api)
    assert XAdapter.can_edit is False
    published = x.publish(rendered(["First", "Second"]))
    with pytest.raises(OutletError) as error:
        x.update(published.parts, rendered(["Changed"]))
    assert error.value.kind == "rejected"
    notice = x.notice(published.parts, "Updated: https://police.example.org/news/7/")
    assert api.tweets[notice["id"]]["reply_to"] == published.remote_id
    x.delete([*published.parts, notice])
    assert api.tweets == {}
    with pytest.raises(OutletError) as gone:
        x.delete(published.parts)
    assert gone.value.kind == "not_found"


def test_mentions_since_the_cursor(api: XApi) -> None:
    x = adapter(api)
    published = x.publish(rendered(["Road works"]))
    api.mention("@ExamplePD is Main St open?", in_reply_to=published.remote_id, username="sam")
    api.mention("@ExamplePD hello")
    items, cursor = x.inbound("", [published.remote_id])
    assert [(i.kind, i.text) for i in items] == [
        ("mention", "@ExamplePD hello"),
        ("reply", "@ExamplePD is Main St open?"),
    ]
    assert items[1].in_reply_to == published.remote_id
    assert items[1].author_handle == "@sam"
    assert items[1].author_url == "https://x.com/sam"
    assert cursor == items[0].remote_id
    later = api.mention("@ExamplePD thanks")
    again, newer = x.inbound(cursor, [])
    assert [i.remote_id for i in again] == [later["id"]]
    assert newer == later["id"]
    mentions = [r for r in api.requests if r.path.endswith("/mentions")]
    assert f"since_id={cursor}" in mentions[-1].query
    assert x.inbound(newer, []) == ([], newer)


def test_an_expired_token_is_refreshed_once_and_handed_back(api: XApi) -> None:
    x = adapter(api)
    api.token_expired = True
    old_refresh = api.refresh_token
    published = x.publish(rendered(["After refresh"]))
    assert published.remote_id in api.tweets
    assert x.refreshed_credentials is not None
    assert x.refreshed_credentials["access_token"] == api.token
    assert x.refreshed_credentials["refresh_token"] == api.refresh_token != old_refresh
    token = next(r for r in api.requests if r.path == "/2/oauth2/token")
    assert token.form() == {
        "grant_type": "refresh_token",
        "refresh_token": old_refresh,
        "client_id": api.client_id,
    }
    result = x.check()
    assert result.ok
    assert result.credentials == x.refreshed_credentials


@pytest.mark.django_db
def test_a_refreshed_token_survives_through_the_outlet(api: XApi) -> None:
    """The credentials an adapter hands back are what the next adapter uses."""
    outlet = make_outlet("x", api)
    api.token_expired = True
    first = adapter_for(outlet)
    first.check()
    outlet.credentials = seal_json(first.refreshed_credentials)  # type: ignore[attr-defined]
    assert unseal_json(outlet.credentials)["access_token"] == api.token
    assert adapter_for(outlet).check().ok


def test_a_confidential_client_refreshes_with_basic_auth() -> None:
    with XApi(client_secret="shh") as api:
        api.token_expired = True
        x = adapter(api, client_secret="shh")
        assert x.check().ok
        token = next(r for r in api.requests if r.path == "/2/oauth2/token")
        assert token.header("Authorization").startswith("Basic ")
        assert "client_id" not in token.form()


def test_a_revoked_refresh_token_is_auth_not_retryable(api: XApi) -> None:
    api.token_expired = True
    x = adapter(api, refresh_token="stale")
    with pytest.raises(OutletError) as error:
        x.publish(rendered(["Nope"]))
    assert (error.value.kind, error.value.retryable) == ("auth", False)
    assert api.tweets == {}


def test_expired_token_without_refresh_is_auth(api: XApi) -> None:
    api.fail_next("expired_token")
    x = XAdapter(api_base=api.url, account=api.user_id, credentials={"access_token": api.token})
    with pytest.raises(OutletError) as error:
        x.check()
    assert (error.value.kind, error.value.retryable, error.value.status) == ("auth", False, 401)


def test_rate_limit_waits_until_the_reset_header(api: XApi) -> None:
    api.fail_next("rate_limit", path="/2/tweets")
    with pytest.raises(OutletError) as error:
        adapter(api).publish(rendered(["Road works"]))
    assert (error.value.kind, error.value.retryable) == ("rate_limited", True)
    assert error.value.retry_after is not None
    assert 890 <= error.value.retry_after <= 901


def test_half_a_thread_is_taken_back_when_a_reply_fails(api: XApi) -> None:
    x = adapter(api)
    # The second part fails: the first is deleted so the retry does not post it twice.
    calls = {"n": 0}
    original = api.serve

    def second_post_fails(request: Any) -> Any:
        if request.path == "/2/tweets" and request.method == "POST":
            calls["n"] += 1
            if calls["n"] == 2:
                return api.failure("server_error", request)
        return original(request)

    api.serve = second_post_fails  # type: ignore[method-assign]
    with pytest.raises(OutletError) as error:
        x.publish(rendered(["One", "Two", "Three"]))
    assert (error.value.kind, error.value.retryable) == ("unavailable", True)
    assert api.tweets == {}


def test_duplicate_content_is_a_permanent_refusal(api: XApi) -> None:
    x = adapter(api)
    x.publish(rendered(["Same words"]))
    with pytest.raises(OutletError) as error:
        x.publish(rendered(["Same words"]))
    assert (error.value.kind, error.value.retryable, error.value.status) == ("rejected", False, 403)
    assert "duplicate" in str(error.value)


def test_rejected_media(api: XApi, media_root: Path) -> None:
    api.fail_next("media_rejected")
    with pytest.raises(OutletError) as error:
        adapter(api).publish(rendered(["Photo"], media=[image_item(media_root)]))
    assert (error.value.kind, error.value.retryable) == ("media_rejected", False)
    assert api.tweets == {}


def test_server_error_is_retryable(api: XApi) -> None:
    api.fail_next("server_error")
    with pytest.raises(OutletError) as error:
        adapter(api).check()
    assert (error.value.kind, error.value.retryable, error.value.status) == (
        "unavailable",
        True,
        503,
    )


def test_check_names_the_account(api: XApi) -> None:
    result = adapter(api).check()
    assert result.ok
    assert "@ExamplePD" in result.message
    assert result.credentials is None
