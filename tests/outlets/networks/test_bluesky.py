"""The Bluesky adapter (the atproto SDK) against a loopback PDS speaking XRPC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.outlets.fakes import BlueskyPds, make_outlet
from tests.outlets.networks.conftest import image_item, rendered
from watchhouse.outlets.networks.base import OutletError
from watchhouse.outlets.networks.bluesky import BlueskyAdapter
from watchhouse.outlets.networks.registry import adapter_for
from watchhouse.outlets.rendering import render

LINK = "https://police.example.org/news/7-road-works/"


@pytest.fixture
def pds() -> Any:
    with BlueskyPds() as server:
        yield server


def adapter(pds: BlueskyPds, **credentials: str) -> BlueskyAdapter:
    creds = {"app_password": pds.password, **credentials}
    return BlueskyAdapter(api_base=pds.url, account=pds.handle, credentials=creds)


def record(pds: BlueskyPds, uri: str) -> dict[str, Any]:
    return pds.records[uri]["record"]


def test_links_and_hashtags_are_facets_at_utf8_byte_offsets(pds: BlueskyPds) -> None:
    text = f"Straße 🚓 closed: {LINK} #Traffic"
    published = adapter(pds).publish(rendered([text], link=LINK))
    post = record(pds, published.remote_id)
    assert post["text"] == text
    encoded = text.encode()
    spans = {
        encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0]
        for f in post["facets"]
    }
    assert spans[LINK] == {"uri": LINK, "$type": "app.bsky.richtext.facet#link"}
    assert spans["#Traffic"] == {"tag": "Traffic", "$type": "app.bsky.richtext.facet#tag"}
    assert post["langs"] == ["en"]


def test_without_images_the_link_is_a_card(pds: BlueskyPds) -> None:
    published = adapter(pds).publish(rendered(["Road works"], link=LINK))
    embed = record(pds, published.remote_id)["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    assert embed["external"]["uri"] == LINK
    assert embed["external"]["title"] == "Road works on Main Street"


def test_images_are_blobs_with_alt_text_and_aspect_ratio(pds: BlueskyPds, media_root: Path) -> None:
    photos = [image_item(media_root, "a.jpg", alt="Patrol car"), image_item(media_root, "b.jpg")]
    published = adapter(pds).publish(rendered(["Road works"], media=photos))
    embed = record(pds, published.remote_id)["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in embed["images"]] == ["Patrol car", "A patrol car"]
    assert embed["images"][0]["aspectRatio"]["width"] == 640
    blob = embed["images"][0]["image"]
    assert pds.blobs[blob["ref"]["$link"]] == {"bytes": photos[0].bytes, "mime": "image/jpeg"}


@pytest.mark.django_db
def test_a_thread_replies_under_its_root(pds: BlueskyPds, make_post: Any) -> None:
    outlet = make_outlet("bluesky", pds)
    rendering = render(
        outlet, post=make_post(summary="", body="Please drive slowly near the mill. " * 15)
    )
    assert len(rendering.parts) > 1
    published = adapter_for(outlet).publish(rendering)
    root = published.parts[0]
    replies = [record(pds, p["id"]) for p in published.parts[1:]]
    assert all(
        r["reply"]["root"]
        == {"uri": root["id"], "cid": root["cid"], "$type": "com.atproto.repo.strongRef"}
        for r in replies
    )
    parents = [r["reply"]["parent"]["uri"] for r in replies]
    assert parents == [p["id"] for p in published.parts[:-1]]
    assert [record(pds, p["id"])["text"] for p in published.parts] == rendering.parts
    assert published.remote_url.startswith(f"https://bsky.app/profile/{pds.handle}/post/")


def test_no_edit_a_notice_reply_and_delete(pds: BlueskyPds) -> None:
    bsky = adapter(pds)
    published = bsky.publish(rendered(["One", "Two"]))
    with pytest.raises(OutletError) as error:
        bsky.update(published.parts, rendered(["Changed"]))
    assert error.value.kind == "rejected"
    notice = bsky.notice(published.parts, "This post was retracted.")
    assert record(pds, notice["id"])["reply"]["parent"]["uri"] == published.remote_id
    bsky.delete([*published.parts, notice])
    assert pds.records == {}


def test_replies_and_mentions_come_back_once(pds: BlueskyPds) -> None:
    bsky = adapter(pds)
    published = bsky.publish(rendered(["Road works"]))
    pds.notify(
        "reply", "Is <b>Main</b> open?", parent_uri=published.remote_id, handle="sam.bsky.social"
    )
    pds.notify("mention", "@police.example.test thanks")
    pds.notify("like", "")
    items, cursor = bsky.inbound("", [published.remote_id])
    assert [(i.kind, i.text) for i in items] == [
        ("mention", "@police.example.test thanks"),
        ("reply", "Is <b>Main</b> open?"),
    ]
    reply = items[1]
    assert reply.in_reply_to == published.remote_id
    assert reply.author_handle == "@sam.bsky.social"
    assert reply.url.startswith("https://bsky.app/profile/sam.bsky.social/post/")
    assert bsky.inbound(cursor, [published.remote_id]) == ([], cursor)


def test_the_session_is_kept_and_resumed_instead_of_a_new_login(pds: BlueskyPds) -> None:
    first = adapter(pds)
    assert first.check().ok
    kept = first.refreshed_credentials
    assert kept is not None
    assert "session" in kept
    second = BlueskyAdapter(api_base=pds.url, account=pds.handle, credentials=kept)
    second.publish(rendered(["Resumed"]))
    assert pds.sessions_created == 1


def test_an_expired_session_logs_in_again(pds: BlueskyPds) -> None:
    first = adapter(pds)
    first.check()
    pds.expire_sessions()
    kept = first.refreshed_credentials or {}
    second = BlueskyAdapter(api_base=pds.url, account=pds.handle, credentials=kept)
    published = second.publish(rendered(["After expiry"]))
    assert published.remote_id in pds.records
    assert pds.sessions_created == 2
    assert second.refreshed_credentials is not None
    assert second.refreshed_credentials["session"] != kept["session"]


def test_expired_token_mid_call_logs_in_again(pds: BlueskyPds) -> None:
    bsky = adapter(pds)
    bsky.check()
    pds.fail_next("expired_token", path="createRecord")
    published = bsky.publish(rendered(["Retried"]))
    assert published.remote_id in pds.records


def test_a_wrong_app_password_is_auth_not_retryable(pds: BlueskyPds) -> None:
    with pytest.raises(OutletError) as error:
        adapter(pds, app_password="wrong").publish(rendered(["Nope"]))
    assert (error.value.kind, error.value.retryable, error.value.status) == ("auth", False, 401)
    assert "AuthenticationRequired" in str(error.value)


def test_rate_limit_waits_until_ratelimit_reset(pds: BlueskyPds) -> None:
    bsky = adapter(pds)
    bsky.check()
    pds.fail_next("rate_limit", path="createRecord")
    with pytest.raises(OutletError) as error:
        bsky.publish(rendered(["Road works"]))
    assert (error.value.kind, error.value.retryable) == ("rate_limited", True)
    assert error.value.retry_after is not None
    assert 290 <= error.value.retry_after <= 301


def test_a_blob_too_large_is_media_rejected(pds: BlueskyPds, media_root: Path) -> None:
    pds.fail_next("media_rejected")
    with pytest.raises(OutletError) as error:
        adapter(pds).publish(rendered(["Photo"], media=[image_item(media_root)]))
    assert (error.value.kind, error.value.retryable) == ("media_rejected", False)
    assert "BlobTooLarge" in str(error.value)
    assert pds.records == {}


def test_half_a_thread_is_taken_back_when_a_reply_fails(pds: BlueskyPds) -> None:
    bsky = adapter(pds)
    bsky.check()
    calls = {"n": 0}
    original = pds.serve

    def second_post_fails(request: Any) -> Any:
        if request.path.endswith("createRecord"):
            calls["n"] += 1
            if calls["n"] == 2:
                return pds.failure("server_error", request)
        return original(request)

    pds.serve = second_post_fails  # type: ignore[method-assign]
    with pytest.raises(OutletError) as error:
        bsky.publish(rendered(["One", "Two", "Three"]))
    assert (error.value.kind, error.value.retryable, error.value.status) == (
        "unavailable",
        True,
        500,
    )
    assert pds.records == {}


def test_an_unreachable_pds_is_retryable() -> None:
    with BlueskyPds() as gone:
        url = gone.url
    bsky = BlueskyAdapter(api_base=url, account="a.test", credentials={"app_password": "x"})
    with pytest.raises(OutletError) as error:
        bsky.check()
    assert (error.value.kind, error.value.retryable) == ("unavailable", True)
