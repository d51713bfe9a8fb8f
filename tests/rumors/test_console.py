"""The rumor tracker in the console: roles, the list with answer times, evidence with its
SHA-256 (the screenshot view audited), the verdict and the "Publish correction" button."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.rumors.conftest_rumors import (
    answered_rumor,
    entries,
    open_rumor,
    png_bytes,
    published_post,
    resident_comment,
)
from watchhouse.posts.models import Post, PostState
from watchhouse.rumors.models import Rumor, RumorEvidence

pytestmark = pytest.mark.django_db


def _act(client: Any, rumor: Rumor, action: str, **data: Any) -> Any:
    return client.post(reverse("console:rumor_act", args=[rumor.pk, action]), data, follow=True)


def test_an_analyst_is_kept_out_and_a_dispatcher_gets_in(client: Any, make_staff: Any) -> None:
    client.force_login(make_staff("analyst"))
    assert client.get(reverse("console:rumors")).status_code == 403
    client.force_login(make_staff("dispatcher"))
    assert client.get(reverse("console:rumors")).status_code == 200
    assert b"Rumor control" in client.get(reverse("console:home")).content


def test_the_tracker_shows_each_time_to_answer_and_the_median(client: Any, pio: Any) -> None:
    answered_rumor(pio, "The dam has burst")
    open_rumor(pio, "Looters are on Main Street")
    client.force_login(pio)
    page = client.get(reverse("console:rumors")).content.decode()
    assert "The dam has burst" in page and "Looters are on Main Street" in page
    assert "90 min" in page and "Not answered" in page
    unanswered = client.get(reverse("console:rumors"), {"unanswered": "on"}).content.decode()
    assert "Looters are on Main Street" in unanswered and "The dam has burst" not in unanswered


def test_a_dispatcher_tracks_a_rumor_from_the_form(client: Any, make_staff: Any) -> None:
    client.force_login(make_staff("dispatcher"))
    response = client.post(
        reverse("console:rumor_new"),
        {
            "claim": "The mall is on fire",
            "first_seen_at": "2026-03-01T10:00",
            "first_seen_where": "Chat group",
            "links": "https://social.example/p/1\njavascript:alert(1)",
        },
    )
    assert response.status_code == 400 and b"http" in response.content
    assert not Rumor.objects.exists()
    response = client.post(
        reverse("console:rumor_new"),
        {
            "claim": "The mall is on fire",
            "first_seen_at": "2026-03-01T10:00",
            "links": "https://social.example/p/1",
        },
    )
    rumor = Rumor.objects.get()
    assert response.status_code == 302 and response.url == reverse("console:rumor", args=[rumor.pk])
    page = client.get(response.url).content.decode()
    assert "https://social.example/p/1" in page
    # A dispatcher sees no verdict form.
    assert "Publish correction" not in page and 'name="what_we_know"' not in page


def test_a_screenshot_is_listed_with_its_sha256_and_viewing_it_is_audited(
    client: Any, pio: Any
) -> None:
    rumor = open_rumor(pio)
    client.force_login(pio)
    content = png_bytes()
    page = _act(
        client, rumor, "evidence", kind="screenshot", file=SimpleUploadedFile("s.png", content)
    ).content.decode()
    digest = hashlib.sha256(content).hexdigest()
    assert digest in page
    evidence = RumorEvidence.objects.get()
    response = client.get(reverse("console:rumor_evidence_file", args=[evidence.pk]))
    assert response.status_code == 200 and response.content == content
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    [view] = entries("rumors.evidence_view", evidence)
    assert view.actor == pio


def test_a_lying_screenshot_is_refused_with_a_message(client: Any, pio: Any) -> None:
    rumor = open_rumor(pio)
    client.force_login(pio)
    html = SimpleUploadedFile("s.png", b"<html><body>hi</body></html>", content_type="image/png")
    page = _act(client, rumor, "evidence", kind="screenshot", file=html).content.decode()
    assert "web page (HTML)" in page
    assert not RumorEvidence.objects.exists()


def test_decide_then_publish_correction_from_the_rumor_page(client: Any, pio: Any) -> None:
    rumor = open_rumor(pio, "The bridge has collapsed")
    client.force_login(pio)
    page = _act(
        client, rumor, "decide", status="false", what_we_know="The bridge stands."
    ).content.decode()
    assert "Publish correction" in page
    # The correction form comes filled in from "what we know".
    assert "The bridge stands." in page.split("Publish correction")[1]
    page = _act(
        client, rumor, "correct", title="The bridge stands", body="It is open."
    ).content.decode()
    post = Post.objects.get()
    assert post.state == PostState.PUBLISHED and post.title == "The bridge stands"
    rumor.refresh_from_db()
    assert rumor.correction == post and "The bridge stands" in page


def test_a_dispatcher_cannot_decide_through_the_console(client: Any, make_staff: Any) -> None:
    dispatcher = make_staff("dispatcher")
    rumor = open_rumor(dispatcher)
    client.force_login(dispatcher)
    response = _act(client, rumor, "decide", status="false", what_we_know="No.")
    assert response.status_code == 403
    rumor.refresh_from_db()
    assert rumor.status == "unverified"


def test_a_comment_becomes_a_rumor_from_the_console(client: Any, pio: Any) -> None:
    comment = resident_comment(published_post(pio), "The water is poisoned")
    client.force_login(pio)
    moderation = client.get(
        reverse("console:community_moderation_item", kwargs={"kind": "comment", "pk": comment.pk})
    ).content.decode()
    assert reverse("console:rumor_from_comment", args=[comment.pk]) in moderation
    response = client.post(reverse("console:rumor_from_comment", args=[comment.pk]))
    rumor = Rumor.objects.get()
    assert response.url == reverse("console:rumor", args=[rumor.pk])
    assert rumor.source_comment == comment and rumor.claim == "The water is poisoned"


def test_incidents_are_created_and_listed(client: Any, pio: Any) -> None:
    client.force_login(pio)
    response = client.post(reverse("console:rumor_incidents"), {"name": "Flood"}, follow=True)
    assert b"Flood" in response.content
    [entry] = entries("rumors.incident_create")
    assert entry.actor == pio
    response = client.post(reverse("console:rumor_incidents"), {"name": "  "})
    assert response.status_code == 400


def test_a_reply_from_another_network_becomes_a_rumor_from_the_inbox(
    client: Any, pio: Any, make_staff: Any
) -> None:
    """The button beside a reply in the outlets' inbox tracks it, once, with its link kept as
    evidence and where it was seen; staff who may not track rumors are refused."""
    from watchhouse.outlets.models import InboundItem

    item = InboundItem.objects.create(
        network="mastodon", remote_id="109", kind="reply", author_handle="someone@social.example",
        text="They say   the bridge\nis closed for good <b>tonight</b>",
        url="https://social.example/@someone/109",
    )  # fmt: skip
    client.force_login(pio)
    inbox = client.get(reverse("console:outlet_inbox")).content.decode()
    assert reverse("console:rumor_from_inbound", args=[item.pk]) in inbox
    assert "&lt;b&gt;tonight&lt;/b&gt;" in inbox  # the remote text is shown as text
    response = client.post(reverse("console:rumor_from_inbound", args=[item.pk]))
    rumor = Rumor.objects.get()
    assert response.url == reverse("console:rumor", args=[rumor.pk])
    assert rumor.claim == "They say the bridge is closed for good <b>tonight</b>"
    assert rumor.source_inbound == item
    assert rumor.first_seen_where == "Mastodon account: someone@social.example"
    assert [e.url for e in RumorEvidence.objects.filter(rumor=rumor)] == [item.url]
    assert entries("rumors.from_inbound")[0].data["inbound"] == item.pk
    # Tracked once: a second press says so and changes nothing.
    again = client.post(reverse("console:rumor_from_inbound", args=[item.pk]), follow=True)
    assert b"already tracked as rumor" in again.content and Rumor.objects.count() == 1
    client.force_login(make_staff("investigator"))
    refused = client.post(reverse("console:rumor_from_inbound", args=[item.pk]))
    assert refused.status_code == 403 and Rumor.objects.count() == 1
