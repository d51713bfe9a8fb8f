"""Rumor services: who may do what, what each records, evidence kept with its SHA-256, the
public answer and its time, corrections published as posts, comments turned into rumors."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.rumors.conftest_rumors import (
    answered_rumor,
    entries,
    open_rumor,
    png_bytes,
    published_post,
    resident_comment,
)
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.posts.models import Post, PostKind, PostState
from watchhouse.rumors import selectors
from watchhouse.rumors.models import EvidenceKind, Rumor, RumorEvidence
from watchhouse.rumors.services import (
    incident_create,
    rumor_decide,
    rumor_evidence_add,
    rumor_evidence_read,
    rumor_from_comment,
    rumor_publish_correction,
    rumor_update,
)

pytestmark = pytest.mark.django_db


def _files(root: Any) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


# Roles and audit.


def test_an_analyst_may_not_track_rumors(make_staff: Any) -> None:
    analyst = make_staff("analyst")
    with pytest.raises(NotPermittedError):
        open_rumor(analyst)
    with pytest.raises(NotPermittedError):
        incident_create(actor=analyst, name="Storm")
    assert not Rumor.objects.exists()


def test_a_dispatcher_opens_a_rumor_with_its_links_but_may_not_answer_it(make_staff: Any) -> None:
    dispatcher = make_staff("dispatcher")
    rumor = open_rumor(
        dispatcher, links=("https://social.example/post/1", "http://forum.example/t/9")
    )
    assert rumor.status == "unverified" and rumor.answered_at is None
    links = list(rumor.evidence.values_list("kind", "url"))
    assert links == [
        ("link", "https://social.example/post/1"),
        ("link", "http://forum.example/t/9"),
    ]
    [entry] = entries("rumors.open", rumor)
    assert entry.actor == dispatcher and entry.data["links"] == 2
    with pytest.raises(NotPermittedError):
        rumor_decide(actor=dispatcher, rumor=rumor, status="false", what_we_know="Not so.")
    rumor.refresh_from_db()
    assert rumor.status == "unverified" and not entries("rumors.decide")


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "ftp://files.example/x", "data:text/html,hi", "not a link"]
)
def test_a_link_that_is_not_http_is_refused_and_nothing_is_tracked(pio: Any, link: str) -> None:
    with pytest.raises(InvalidInputError, match="http"):
        open_rumor(pio, links=("https://fine.example/", link))
    assert not Rumor.objects.exists() and not RumorEvidence.objects.exists()


def test_incident_slugs_stay_unique(pio: Any) -> None:
    first = incident_create(actor=pio, name="Storm on Main Street")
    second = incident_create(actor=pio, name="Storm on Main Street")
    assert first.slug == "storm-on-main-street"
    assert second.slug != first.slug and second.slug.startswith(first.slug)
    assert len(entries("rumors.incident_create")) == 2


def test_an_update_changes_the_claim_and_is_audited(pio: Any) -> None:
    rumor = open_rumor(pio)
    storm = incident_create(actor=pio, name="Storm")
    rumor_update(
        actor=pio,
        rumor=rumor,
        claim="The Route 9 bridge fell into the river",
        first_seen_at=rumor.first_seen_at,
        first_seen_where="Video sharing site",
        incident=storm,
    )
    rumor.refresh_from_db()
    assert rumor.claim == "The Route 9 bridge fell into the river" and rumor.incident == storm
    [entry] = entries("rumors.update", rumor)
    assert set(entry.data["changed"]) == {"claim", "first_seen_where", "incident"}


# The answer.


def test_a_rumor_is_public_only_once_answered_with_a_verdict(pio: Any) -> None:
    rumor = open_rumor(pio)
    rumor_decide(actor=pio, rumor=rumor, status="unverified", what_we_know="Checking.")
    rumor.refresh_from_db()
    assert rumor.answered_at is None and rumor.decided_by == pio
    assert rumor not in selectors.rumor_public_list()
    with pytest.raises(InvalidInputError, match="what we know"):
        rumor_decide(actor=pio, rumor=rumor, status="false", what_we_know="  ")
    rumor_decide(actor=pio, rumor=rumor, status="false", what_we_know="The bridge stands.")
    rumor.refresh_from_db()
    assert rumor.answered_at is not None and rumor.decided_at is not None
    assert list(selectors.rumor_public_list()) == [rumor]
    assert [e.data["public"] for e in entries("rumors.decide", rumor)] == [False, True]


def test_answered_at_is_set_once_and_a_later_change_shows_as_an_update(
    pio: Any, supervisor: Any
) -> None:
    rumor = answered_rumor(pio)
    answered = rumor.answered_at
    assert not selectors.rumor_public_list().get().was_updated
    Rumor.objects.filter(pk=rumor.pk).update(answered_at=answered - timedelta(hours=1))
    rumor_decide(actor=supervisor, rumor=rumor, status="partly", what_we_know="One lane is closed.")
    rumor.refresh_from_db()
    assert rumor.answered_at == answered - timedelta(hours=1)
    assert rumor.decided_by == supervisor and rumor.status == "partly"
    assert selectors.rumor_public_list().get().was_updated


def test_time_to_answer_is_from_first_seen_to_the_public_answer(pio: Any) -> None:
    fast = open_rumor(pio, "Schools are closed tomorrow", minutes_ago=30)
    slow = open_rumor(pio, "The water is poisoned", minutes_ago=150)
    never = open_rumor(pio, "A curfew starts tonight", minutes_ago=10)
    for rumor in (fast, slow):
        rumor_decide(actor=pio, rumor=rumor, status="false", what_we_know="No.")
        rumor.refresh_from_db()
    assert selectors.answer_minutes(fast) == pytest.approx(30, abs=1)
    assert selectors.answer_minutes(slow) == pytest.approx(150, abs=1)
    assert selectors.answer_minutes(never) is None
    assert selectors.median_answer_minutes() == pytest.approx(90, abs=1)


# Evidence.


def test_a_screenshot_is_kept_privately_with_the_sha256_of_the_uploaded_bytes(
    pio: Any, make_staff: Any
) -> None:
    rumor = open_rumor(pio)
    content = png_bytes()
    evidence = rumor_evidence_add(
        actor=pio,
        rumor=rumor,
        kind=EvidenceKind.SCREENSHOT,
        url="https://social.example/post/1",
        file=SimpleUploadedFile("shot.png", content, content_type="image/png"),
    )
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.size == len(content) and evidence.mime == "image/png"
    [stored] = _files(settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT)
    assert stored.read_bytes() == content and stored.suffix == ".png"
    assert not _files(settings.MEDIA_ROOT)
    [entry] = entries("rumors.evidence_add", evidence)
    assert entry.data["sha256"] == evidence.sha256
    dispatcher = make_staff("dispatcher")
    assert rumor_evidence_read(actor=dispatcher, evidence=evidence) == content
    [view] = entries("rumors.evidence_view", evidence)
    assert view.actor == dispatcher
    with pytest.raises(NotPermittedError):
        rumor_evidence_read(actor=make_staff("analyst"), evidence=evidence)


def test_a_second_identical_screenshot_never_overwrites_the_first(pio: Any) -> None:
    rumor = open_rumor(pio)
    for _ in range(2):
        rumor_evidence_add(
            actor=pio,
            rumor=rumor,
            kind="screenshot",
            file=SimpleUploadedFile("shot.png", png_bytes()),
        )
    paths = set(rumor.evidence.values_list("path", flat=True))
    assert len(paths) == 2 and len(_files(settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT)) == 2


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"<!doctype html><html><script>alert(1)</script></html>", "web page"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "SVG"),
        (b"just some text, not a picture", "JPEG, PNG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cannot be read"),
    ],
)
def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(
    pio: Any, content: bytes, said: str
) -> None:
    rumor = open_rumor(pio)
    with pytest.raises(InvalidInputError, match=said):
        rumor_evidence_add(
            actor=pio,
            rumor=rumor,
            kind="screenshot",
            file=SimpleUploadedFile("screenshot.png", content, content_type="image/png"),
        )
    assert not RumorEvidence.objects.exists()
    assert not _files(settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT)
    assert not entries("rumors.evidence_add")


def test_a_screenshot_changed_on_disk_is_not_shown(pio: Any) -> None:
    rumor = open_rumor(pio)
    evidence = rumor_evidence_add(
        actor=pio, rumor=rumor, kind="screenshot", file=SimpleUploadedFile("a.png", png_bytes())
    )
    [stored] = _files(settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT)
    stored.write_bytes(png_bytes(colour="blue"))
    with pytest.raises(InvalidInputError, match="SHA-256"):
        rumor_evidence_read(actor=pio, evidence=evidence)


def test_notes_and_links_are_evidence_too(pio: Any) -> None:
    rumor = open_rumor(pio)
    rumor_evidence_add(actor=pio, rumor=rumor, kind="note", note="Called the bridge authority.")
    rumor_evidence_add(actor=pio, rumor=rumor, kind="link", url="https://news.example/a")
    with pytest.raises(InvalidInputError):
        rumor_evidence_add(actor=pio, rumor=rumor, kind="link", url="javascript:alert(1)")
    with pytest.raises(InvalidInputError):
        rumor_evidence_add(actor=pio, rumor=rumor, kind="note", note=" ")
    assert list(rumor.evidence.values_list("kind", flat=True)) == ["note", "link"]


# Corrections.


def test_publish_correction_publishes_an_update_post_and_links_it(pio: Any) -> None:
    rumor = answered_rumor(pio)
    post = rumor_publish_correction(actor=pio, rumor=rumor)
    post.refresh_from_db()
    rumor.refresh_from_db()
    assert post.state == PostState.PUBLISHED and post.kind == PostKind.UPDATE
    assert rumor.correction == post
    assert rumor.claim in post.title
    assert "The bridge is standing" in post.body and "False" in post.body
    [entry] = entries("rumors.publish_correction", rumor)
    assert entry.data["post"] == post.pk
    assert entries("posts.publish", post)
    with pytest.raises(InvalidInputError, match="already"):
        rumor_publish_correction(actor=pio, rumor=rumor)
    assert Post.objects.count() == 1


def test_a_correction_takes_the_edited_title_and_text(pio: Any) -> None:
    rumor = answered_rumor(pio)
    post = rumor_publish_correction(
        actor=pio, rumor=rumor, title="The Route 9 bridge is open", body="One lane is closed."
    )
    assert post.title == "The Route 9 bridge is open" and post.body == "One lane is closed."


def test_no_correction_before_the_verdict_or_by_a_dispatcher(pio: Any, make_staff: Any) -> None:
    with pytest.raises(InvalidInputError, match="Decide"):
        rumor_publish_correction(actor=pio, rumor=open_rumor(pio))
    with pytest.raises(NotPermittedError):
        rumor_publish_correction(actor=make_staff("dispatcher"), rumor=answered_rumor(pio))
    assert not Post.objects.exists()
    assert not Rumor.objects.filter(correction__isnull=False).exists()


# Comments.


def test_a_community_comment_becomes_a_tracked_rumor_in_one_action(make_staff: Any) -> None:
    pio = make_staff("pio")
    post = published_post(pio)
    body = "They say the tap water is poisoned! " * 20
    comment = resident_comment(post, body)
    dispatcher = make_staff("dispatcher")
    rumor = rumor_from_comment(actor=dispatcher, comment=comment)
    assert rumor.source_comment == comment
    assert rumor.claim.startswith("They say the tap water is poisoned!")
    assert len(rumor.claim) == 300
    assert rumor.first_seen_at == comment.created_at
    assert rumor.first_seen_where == "comment on Water main repairs on Elm Street"
    assert rumor.status == "unverified" and rumor.created_by == dispatcher
    [entry] = entries("rumors.from_comment", rumor)
    assert entry.data["comment"] == comment.pk
    with pytest.raises(InvalidInputError, match="already tracked"):
        rumor_from_comment(actor=dispatcher, comment=comment)
    with pytest.raises(NotPermittedError):
        rumor_from_comment(actor=make_staff("analyst"), comment=comment)
    assert Rumor.objects.count() == 1


def test_a_short_comment_is_the_whole_claim(pio: Any) -> None:
    comment = resident_comment(published_post(pio), "  Police are   closing the park\n tonight ")
    comment.created_at = timezone.now() - timedelta(hours=2)
    comment.save()
    rumor = rumor_from_comment(actor=pio, comment=comment)
    assert rumor.claim == "Police are closing the park tonight"
    assert selectors.answer_minutes(rumor) is None
