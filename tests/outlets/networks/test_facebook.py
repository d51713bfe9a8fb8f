"""The Facebook Page adapter against a loopback Graph API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.outlets.fakes import FacebookGraph, make_outlet
from tests.outlets.networks.conftest import image_item, rendered, video_item
from watchhouse.outlets.networks.base import OutletError
from watchhouse.outlets.networks.facebook import GRAPH_VERSION, FacebookAdapter
from watchhouse.outlets.networks.registry import adapter_for
from watchhouse.outlets.rendering import render


@pytest.fixture
def graph() -> Any:
    with FacebookGraph() as server:
        yield server


def adapter(graph: FacebookGraph, **credentials: str) -> FacebookAdapter:
    creds = {"page_token": graph.token, "app_id": "5550001", "app_secret": "s", **credentials}
    return FacebookAdapter(api_base=graph.url, account=graph.page_id, credentials=creds)


@pytest.mark.django_db
def test_a_post_goes_to_the_page_feed_with_its_link(graph: FacebookGraph, make_post: Any) -> None:
    outlet = make_outlet("facebook", graph)
    post = make_post(topics=("Traffic",))
    published = adapter_for(outlet).publish(render(outlet, post=post))
    stored = graph.posts[published.remote_id]
    assert stored["message"] == "Road works on Main Street\n\nExpect delays.\n\n#Traffic"
    assert stored["link"].endswith(f"/news/{post.pk}-road-works/")
    assert published.remote_url == (
        f"https://www.facebook.com/{graph.page_id}/posts/{published.remote_id.split('_')[1]}"
    )
    feed = next(r for r in graph.requests if r.path.endswith("/feed"))
    assert feed.path == f"/{GRAPH_VERSION}/{graph.page_id}/feed"
    assert feed.header("Authorization") == f"Bearer {graph.token}"
    assert graph.token not in feed.query  # never in a URL


def test_photos_are_uploaded_unpublished_with_alt_text_then_attached(
    graph: FacebookGraph, media_root: Path
) -> None:
    photos = [image_item(media_root, "a.jpg", alt="Patrol car"), image_item(media_root, "b.jpg")]
    published = adapter(graph).publish(rendered(["Road works"], media=photos))
    assert [p["kind"] for p in published.parts] == ["post", "media", "media"]
    photo_ids = [p["id"] for p in published.parts[1:]]
    assert [graph.photos[i]["alt"] for i in photo_ids] == ["Patrol car", "A patrol car"]
    assert all(graph.photos[i]["published"] is False for i in photo_ids)
    assert all(graph.photos[i]["bytes"] == photos[0].bytes for i in photo_ids)
    stored = graph.posts[published.remote_id]
    assert stored["attached_media"] == photo_ids
    assert stored["message"].endswith("/road-works/")  # the link goes in the text with photos


def test_a_video_is_its_own_post(graph: FacebookGraph, media_root: Path) -> None:
    clip = video_item(media_root)
    published = adapter(graph).publish(rendered(["Officers at the fair"], media=[clip]))
    video = graph.videos[published.remote_id]
    assert video["bytes"] == clip.bytes
    assert video["message"].startswith("Officers at the fair")
    assert published.parts[0]["type"] == "video"
    adapter(graph).update(published.parts, rendered(["Officers at the county fair"]))
    assert video["message"].startswith("Officers at the county fair")


def test_edit_and_delete(graph: FacebookGraph) -> None:
    fb = adapter(graph)
    published = fb.publish(rendered(["First version"]))
    again = fb.update(published.parts, rendered(["Second version"]))
    assert again.remote_id == published.remote_id
    assert graph.posts[published.remote_id]["message"] == "Second version"
    fb.delete(published.parts)
    assert published.remote_id not in graph.posts
    with pytest.raises(OutletError) as gone:
        fb.delete(published.parts)
    assert gone.value.kind == "not_found"


def test_a_notice_is_a_comment_and_comments_come_back(graph: FacebookGraph) -> None:
    fb = adapter(graph)
    published = fb.publish(rendered(["Road works"]))
    notice = fb.notice(published.parts, "Corrected: the works end Friday.")
    assert notice["kind"] == "notice"
    graph.comment(published.remote_id, "Thanks <b>for</b> the heads-up", name="Sam Resident")
    items, cursor = fb.inbound("", [p["id"] for p in published.parts])
    assert [i.text for i in items] == [
        "Corrected: the works end Friday.",
        "Thanks <b>for</b> the heads-up",  # stored as given; the inbox reduces it to text
    ]
    resident = items[1]
    assert resident.kind == "comment"
    assert resident.author_name == "Sam Resident"
    assert resident.in_reply_to == published.remote_id
    assert cursor.isdigit()
    again, _cursor = fb.inbound(cursor, [published.remote_id])
    assert {i.remote_id for i in again} <= {i.remote_id for i in items}  # nothing older


def test_comments_of_a_deleted_post_are_skipped(graph: FacebookGraph) -> None:
    assert adapter(graph).inbound("", [f"{graph.page_id}_999"]) == ([], "")


def test_check_reads_the_page_and_the_token_expiry(graph: FacebookGraph) -> None:
    graph.expires_in = 3600
    result = adapter(graph).check()
    assert result.ok
    assert "Example Police Department" in result.message
    assert result.token_expires_at is not None
    debug = next(r for r in graph.requests if r.path.endswith("/debug_token"))
    assert debug.header("Authorization") == "Bearer 5550001|s"  # the app token asks
    other = FacebookAdapter(
        api_base=graph.url, account="999", credentials={"page_token": graph.token}
    )
    assert not other.check().ok


def test_check_with_a_never_expiring_page_token(graph: FacebookGraph) -> None:
    result = adapter(graph).check()
    assert result.ok
    assert result.token_expires_at is None


def test_rate_limit_is_retryable_after_the_usage_header_wait(graph: FacebookGraph) -> None:
    graph.fail_next("rate_limit")
    with pytest.raises(OutletError) as error:
        adapter(graph).publish(rendered(["Road works"]))
    assert error.value.kind == "rate_limited"
    assert error.value.retryable
    assert error.value.retry_after == 7 * 60
    assert "#32" in str(error.value)
    assert graph.posts == {}


def test_expired_token_is_auth_and_not_retryable(graph: FacebookGraph) -> None:
    graph.fail_next("expired_token")
    with pytest.raises(OutletError) as error:
        adapter(graph).publish(rendered(["Road works"]))
    assert (error.value.kind, error.value.retryable) == ("auth", False)
    assert "190" in str(error.value)


def test_rejected_photo_leaves_nothing_behind(graph: FacebookGraph, media_root: Path) -> None:
    photos = [image_item(media_root, "a.jpg"), image_item(media_root, "b.jpg")]
    graph.fail_next("media_rejected", path="/photos")
    graph.fail_next("media_rejected", path="/photos")
    fb = adapter(graph)
    with pytest.raises(OutletError) as error:
        fb.publish(rendered(["Road works"], media=photos))
    assert (error.value.kind, error.value.retryable) == ("media_rejected", False)
    assert graph.posts == {}


def test_a_failed_feed_post_deletes_its_uploaded_photos(
    graph: FacebookGraph, media_root: Path
) -> None:
    graph.fail_next("server_error", path="/feed")
    with pytest.raises(OutletError) as error:
        adapter(graph).publish(rendered(["Road works"], media=[image_item(media_root)]))
    assert (error.value.kind, error.value.retryable) == ("unavailable", True)
    assert graph.photos == {}


def test_server_error_is_retryable(graph: FacebookGraph) -> None:
    graph.fail_next("server_error")
    with pytest.raises(OutletError) as error:
        adapter(graph).check()
    assert (error.value.kind, error.value.retryable, error.value.status) == (
        "unavailable",
        True,
        500,
    )


def test_an_unreachable_graph_is_retryable() -> None:
    with FacebookGraph() as graph:
        url = graph.url
    fb = FacebookAdapter(api_base=url, account="1", credentials={"page_token": "t"})
    with pytest.raises(OutletError) as error:
        fb.check()
    assert (error.value.kind, error.value.retryable) == ("unavailable", True)


def test_attached_media_is_json_per_index(graph: FacebookGraph, media_root: Path) -> None:
    adapter(graph).publish(rendered(["Two"], media=[image_item(media_root, "a.jpg")]))
    feed = next(r for r in graph.requests if r.path.endswith("/feed"))
    form = feed.form()
    assert json.loads(form["attached_media[0]"]) == {"media_fbid": next(iter(graph.photos))}
    assert "link" not in form
