"""Case workspaces: the purpose gate, supervisor approval by a second person, named-account
collection into a timeline and a map (mention, coordinates, EXIF), witness searches within and
beyond policy (lawful assemblies counted only), closing and the retention purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.alerts.conftest import committed
from tests.monitoring.cases_support import (
    JUSTIFICATION,
    PHOTO_AT,
    PREDICATE,
    account_posts_stub,
    open_case,
    post,
)
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    Case,
    CaseAccount,
    CaseItem,
    CaseState,
    Landmark,
    MatchedPost,
    SourceKind,
    Story,
)
from watchhouse.monitoring.posts import MediaRef, PublicPost
from watchhouse.monitoring.selectors.cases import case_places, case_timeline
from watchhouse.monitoring.services.approvals import approval_decide
from watchhouse.monitoring.services.cases import (
    WitnessSearch,
    case_account_refresh,
    case_account_request,
    case_close,
    case_decide,
    case_get,
    case_posts_add,
    case_request,
    case_witness_search,
    retention_purge,
)

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.monitoring.conftest_cases"]

WHY = "Looking for witnesses of the robbery at the mill on Friday night."


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).order_by("-seq").first()


# --- request and decision ------------------------------------------------------------------


def test_a_case_needs_number_justification_and_predicate(people):
    good = {"number": "2026-1", "title": "T", "justification": JUSTIFICATION,
            "predicate": PREDICATE}  # fmt: skip
    with pytest.raises(InvalidInputError, match="justification of at least 40"):
        case_request(actor=people.investigator, **(good | {"justification": "because"}))
    with pytest.raises(InvalidInputError, match="predicate"):
        case_request(actor=people.investigator, **(good | {"predicate": "bad"}))
    with pytest.raises(InvalidInputError, match="case number"):
        case_request(actor=people.investigator, **(good | {"number": " "}))
    with pytest.raises(NotPermittedError):
        case_request(actor=people.analyst, **good)
    case = case_request(actor=people.investigator, **good)
    assert case.state == CaseState.REQUESTED
    entry = last(policy.ACTION_CASE_REQUEST)
    assert entry.object_id == str(case.pk) and entry.justification == JUSTIFICATION
    with pytest.raises(InvalidInputError, match="2026-1 already has a workspace"):
        case_request(actor=people.colleague, **good)


def test_the_supervisor_decides_and_never_their_own_request(people, make_staff):
    boss = make_staff("investigator", "supervisor")
    case = case_request(actor=boss, number="2026-2", title="T", justification=JUSTIFICATION,
                        predicate=PREDICATE)  # fmt: skip
    with pytest.raises(NotPermittedError, match="second person"):
        case_decide(actor=boss, case_id=case.pk, approve=True)
    with pytest.raises(NotPermittedError):
        case_decide(actor=people.colleague, case_id=case.pk, approve=True)
    with pytest.raises(InvalidInputError, match="why"):
        case_decide(actor=people.supervisor, case_id=case.pk, approve=False)
    opened = case_decide(actor=people.supervisor, case_id=case.pk, approve=True)
    assert opened.state == CaseState.OPEN and opened.approved_by == people.supervisor
    assert 1820 <= (opened.review_by - opened.approved_at).days <= 1830  # five years
    assert last(policy.ACTION_CASE_APPROVE).object_id == str(case.pk)
    other = case_request(actor=people.investigator, number="2026-3", title="T",
                         justification=JUSTIFICATION, predicate=PREDICATE)  # fmt: skip
    refused = case_decide(actor=people.supervisor, case_id=other.pk, approve=False,
                          note="No criminal predicate: a lost-property matter.")  # fmt: skip
    assert refused.state == CaseState.REFUSED and "lost-property" in refused.refused_reason
    assert last(policy.ACTION_CASE_REFUSE).data["note"].startswith("No criminal")


# --- the purpose gate ----------------------------------------------------------------------


def _attempts(case_id: int, actor: Any) -> dict[str, Any]:
    at = timezone.now()
    return {
        "view": lambda: case_get(actor=actor, case_id=case_id),
        "account": lambda: case_account_request(
            actor=actor, case_id=case_id, network="fediverse", handle="@jdoe@social.example",
            justification=WHY),
        "search": lambda: case_witness_search(
            actor=actor, case_id=case_id, lat=39.78, lon=-89.64, at=at, radius_m=500, hours=2,
            justification=WHY),
        "file": lambda: case_posts_add(
            actor=actor, case_id=case_id, justification=WHY,
            posts=[PublicPost(source="file", remote_id="x", text="hi", posted_at=at)]),
    }  # fmt: skip


@pytest.mark.parametrize("state", ["requested", "refused", "closed", "past review", "no role"])
def test_the_gate_refuses_and_records_every_attempt(people, state):
    case = case_request(actor=people.investigator, number="2026-9", title="T",
                        justification=JUSTIFICATION, predicate=PREDICATE)  # fmt: skip
    actor = people.investigator
    if state == "refused":
        case_decide(actor=people.supervisor, case_id=case.pk, approve=False, note="Not enough.")
    elif state == "closed":
        case_decide(actor=people.supervisor, case_id=case.pk, approve=True)
        case_close(actor=people.investigator, case_id=case.pk, reason="Found safe and well.")
    elif state == "past review":
        case_decide(actor=people.supervisor, case_id=case.pk, approve=True)
        Case.objects.filter(pk=case.pk).update(review_by=timezone.now() - timedelta(days=1))
    elif state == "no role":
        case_decide(actor=people.supervisor, case_id=case.pk, approve=True)
        actor = people.analyst
    for name, attempt in _attempts(case.pk, actor).items():
        before = AuditEntry.objects.filter(action=policy.ACTION_REFUSED_INPUT).count()
        with pytest.raises(NotPermittedError):
            attempt()
        refusal = last(policy.ACTION_REFUSED_INPUT)
        assert AuditEntry.objects.filter(action=policy.ACTION_REFUSED_INPUT).count() == before + 1
        assert refusal.object_id == str(case.pk) and refusal.actor == actor, name
    assert not AuditEntry.objects.filter(action=policy.ACTION_CASE_VIEW).exists()
    assert not AuditEntry.objects.filter(action=policy.ACTION_SEARCH).exists()
    assert not Approval.objects.exists()


def test_a_view_through_the_gate_is_on_the_record(people):
    case = open_case(people)
    assert case_get(actor=people.investigator, case_id=case.pk) == case
    entry = last(policy.ACTION_CASE_VIEW)
    assert entry.actor == people.investigator and entry.justification == JUSTIFICATION


# --- named accounts: timeline and map ------------------------------------------------------


def test_collecting_an_account_needs_a_second_person_and_finds_its_places(people, web, monkeypatch):
    case = open_case(people)
    now = timezone.now()
    calls = account_posts_stub(monkeypatch, [
        post(1, server=web, when=now - timedelta(hours=3), text="Coffee at home"),
        post(2, server=web, when=now - timedelta(hours=2), text="At the harbour",
             lat=39.80, lon=-89.65),
        post(3, server=web, when=now - timedelta(hours=1), text="Look at this sunset",
             media=(MediaRef(f"{web.url}/photo.jpg"), MediaRef(f"{web.url}/plain.jpg"),
                    MediaRef(f"{web.url}/fake.jpg"), MediaRef(f"{web.url}/missing.jpg"))),
    ])  # fmt: skip
    approval = case_account_request(actor=people.investigator, case_id=case.pk,
                                    network="fediverse", handle="@jdoe@social.example",
                                    justification=WHY)  # fmt: skip
    assert approval.kind == ApprovalKind.WATCH_ACCOUNT and not CaseAccount.objects.exists()
    assert not calls, "nothing is fetched before the second person approves"
    with pytest.raises(NotPermittedError, match="Supervisor"):
        approval_decide(actor=people.investigator, approval_id=approval.pk, approve=True)
    with committed():
        approval_decide(actor=people.supervisor, approval_id=approval.pk, approve=True)
    assert calls == [("fediverse", "@jdoe@social.example")]
    account = CaseAccount.objects.get(case=case)
    assert account.collected_at is not None
    timeline = case_timeline(case)
    assert [i.text for i in timeline] == ["Coffee at home", "At the harbour", "Look at this sunset"]
    assert all(len(i.sha256) == 64 for i in timeline)
    features = case_places(case)["features"]
    found = {(f["properties"]["found_by"], tuple(reversed(f["geometry"]["coordinates"])))
             for f in features}  # fmt: skip
    assert ("coordinates", (39.80, -89.65)) in found
    assert ("exif", PHOTO_AT) in found  # only the real photo with GPS; the rest are skipped
    assert len([f for f in features if f["properties"]["found_by"] == "exif"]) == 1
    exif = next(f for f in features if f["properties"]["found_by"] == "exif")
    assert exif["properties"]["item"] == timeline[2].pk
    search = last(policy.ACTION_SEARCH)
    assert search.justification == WHY and search.data["stored"] == 3
    assert search.actor == people.investigator
    # Collecting again adds only what is new, and is on the record too.
    assert case_account_refresh(actor=people.investigator, case_id=case.pk,
                                account_id=account.pk) == 0  # fmt: skip
    assert AuditEntry.objects.filter(action=policy.ACTION_SEARCH).count() == 2


def test_places_named_in_the_text_come_from_the_gazetteer(people, web, monkeypatch):
    Landmark.objects.create(name="Old Mill", lat=39.79, lon=-89.61)
    case = open_case(people)
    account_posts_stub(monkeypatch, [post(1, server=web, when=timezone.now())])
    approval = case_account_request(actor=people.investigator, case_id=case.pk,
                                    network="fediverse", handle="@jdoe@social.example",
                                    justification=WHY)  # fmt: skip
    with committed():
        approval_decide(actor=people.supervisor, approval_id=approval.pk, approve=True)
    features = case_places(case)["features"]
    assert [f["properties"]["found_by"] for f in features] == ["mention"]
    assert features[0]["geometry"]["coordinates"] == [-89.61, 39.79]


def test_an_account_approved_after_the_case_closed_is_not_collected(people, monkeypatch, web):
    case = open_case(people)
    account_posts_stub(monkeypatch, [])
    approval = case_account_request(actor=people.investigator, case_id=case.pk,
                                    network="fediverse", handle="@a@b.example",
                                    justification=WHY)  # fmt: skip
    case_close(actor=people.investigator, case_id=case.pk, reason="Found safe and well.")
    with pytest.raises(InvalidInputError, match="no longer open"):
        approval_decide(actor=people.supervisor, approval_id=approval.pk, approve=True)
    assert not CaseAccount.objects.exists()


# --- finding sources -----------------------------------------------------------------------

INCIDENT = (39.7817, -89.6501)


def _stream_post(n: int, *, lat: float, lon: float, hours: float, lawful: bool = False,
                 places: list[Any] | None = None) -> MatchedPost:  # fmt: skip
    story = Story.objects.create(signature=f"s{n}", title=f"story {n}", lawful_assembly=lawful)
    return MatchedPost.objects.create(
        source_kind=SourceKind.JETSTREAM, remote_id=f"at://did:plc:x/post/{n}",
        author_handle=f"witness{n}.bsky.social", text=f"I saw it happen {n}",
        posted_at=timezone.now() - timedelta(hours=hours), lat=lat, lon=lon,
        places=places or [], story=story,
    )  # fmt: skip


def test_witness_search_within_policy_runs_at_once(people):
    case = open_case(people)
    near = _stream_post(1, lat=39.7840, lon=-89.6500, hours=1)  # ~250 m, an hour ago
    _stream_post(2, lat=39.80, lon=-89.65, hours=1)  # ~2 km: too far
    _stream_post(3, lat=39.7820, lon=-89.6502, hours=30)  # too long ago
    named = _stream_post(4, lat=None, lon=None, hours=2,  # a place it names, not carries
                         places=[{"name": "Mill", "kind": "landmark", "lat": 39.7818,
                                  "lon": -89.6490}])  # fmt: skip
    _stream_post(5, lat=39.7817, lon=-89.6501, hours=1, lawful=True)  # a lawful assembly
    result = case_witness_search(actor=people.investigator, case_id=case.pk, lat=INCIDENT[0],
                                 lon=INCIDENT[1], at=timezone.now(), radius_m=500, hours=6,
                                 justification=WHY)  # fmt: skip
    assert isinstance(result, WitnessSearch)
    assert [hit.pk for hit in result.hits] == [named.pk, near.pk]
    assert result.lawful_assembly_count == 1
    assert all("witness5" not in hit.author_handle for hit in result.hits)
    entry = last(policy.ACTION_SEARCH)
    assert entry.justification == WHY and entry.data["radius_m"] == 500
    assert entry.data["hits"] == 2 and entry.data["lawful_assembly"] == 1


def test_a_look_back_beyond_policy_needs_a_second_person(people, settings):
    settings.WATCHHOUSE_MONITORING_SEARCH_MAX_METRES = 1000
    settings.WATCHHOUSE_MONITORING_SEARCH_MAX_HOURS = 24
    case = open_case(people)
    old = _stream_post(1, lat=39.7830, lon=-89.6500, hours=60)
    _stream_post(2, lat=39.7830, lon=-89.6500, hours=50, lawful=True)
    pending = case_witness_search(actor=people.investigator, case_id=case.pk, lat=INCIDENT[0],
                                  lon=INCIDENT[1], at=timezone.now(), radius_m=500, hours=72,
                                  justification=WHY)  # fmt: skip
    assert isinstance(pending, Approval) and pending.kind == ApprovalKind.LOOKBACK
    assert not AuditEntry.objects.filter(action=policy.ACTION_SEARCH).exists()
    assert last(policy.ACTION_APPROVAL_REQUEST).data["request"]["hours"] == 72
    approval_decide(actor=people.supervisor, approval_id=pending.pk, approve=True)
    items = list(CaseItem.objects.filter(case=case))
    assert [i.remote_id for i in items] == [old.remote_id]  # never the lawful assembly's post
    assert items[0].places[0]["found_by"] == "coordinates"
    entry = last(policy.ACTION_SEARCH)
    assert entry.justification == WHY and entry.data["what"] == "look-back"
    assert entry.data["stored"] == 1 and entry.data["lawful_assembly"] == 1
    wide = case_witness_search(actor=people.investigator, case_id=case.pk, lat=INCIDENT[0],
                               lon=INCIDENT[1], at=timezone.now(), radius_m=5000, hours=1,
                               justification=WHY)  # fmt: skip
    assert isinstance(wide, Approval)


def test_witness_search_refuses_nonsense(people):
    case = open_case(people)
    with pytest.raises(InvalidInputError, match="out of range"):
        case_witness_search(
            actor=people.investigator,
            case_id=case.pk,
            lat=95,
            lon=0,
            at=timezone.now(),
            radius_m=100,
            hours=1,
            justification=WHY,
        )
    with pytest.raises(InvalidInputError, match="justification"):
        case_witness_search(
            actor=people.investigator,
            case_id=case.pk,
            lat=1,
            lon=0,
            at=timezone.now(),
            radius_m=100,
            hours=1,
            justification="x",
        )


# --- close and purge -----------------------------------------------------------------------


def test_a_case_open_past_its_review_date_is_purged(people):
    case = open_case(people)
    CaseItem.objects.create(case=case, source_kind="rss", remote_id="r1", text="x",
                            posted_at=timezone.now(), sha256="a" * 64,
                            collected_by=people.investigator)  # fmt: skip
    assert retention_purge() == "Purged 0 case(s) holding 0 item(s)."
    Case.objects.filter(pk=case.pk).update(review_by=timezone.now() - timedelta(seconds=1))
    with committed():
        assert retention_purge() == "Purged 1 case(s) holding 1 item(s)."
    case.refresh_from_db()
    assert case.state == CaseState.PURGED and case.tombstone["item_sha256"] == ["a" * 64]
    assert not CaseItem.objects.exists()
    entry = last(policy.ACTION_CASE_PURGE)
    assert entry.actor is None and entry.justification == "past its review date"


def test_a_case_rule_on_named_accounts_goes_live_and_is_purged_with_the_case(people):
    from watchhouse.monitoring.models import Match, RuleState, WatchRule
    from watchhouse.monitoring.services.rules import rule_create

    case = open_case(people)
    rule = rule_create(actor=people.investigator, name="Her accounts", purpose=WHY,
                       authors=["@jdoe@social.example"], case_id=case.pk,
                       expires_at=timezone.now() + timedelta(days=7))  # fmt: skip
    approval = Approval.objects.get(rule=rule)
    approval_decide(actor=people.supervisor, approval_id=approval.pk, approve=True)
    rule.refresh_from_db()
    assert rule.state == RuleState.ACTIVE and not CaseAccount.objects.exists()
    matched = _stream_post(1, lat=None, lon=None, hours=1)
    Match.objects.create(post=matched, rule=rule, reason={"authors": ["@jdoe@social.example"]})
    case_close(actor=people.investigator, case_id=case.pk, reason="Found safe and well.")
    with committed():
        retention_purge()
    assert not WatchRule.objects.filter(case=case).exists() and not Match.objects.exists()
    assert Case.objects.get(pk=case.pk).state == CaseState.PURGED


def test_posts_handed_over_as_a_file_join_the_timeline_through_the_gate(people):
    """Posts the family exported join the case once each, with the places they name or
    carry, and the collection is on the record with its justification."""
    Landmark.objects.create(name="Old Mill", lat=39.79, lon=-89.61)
    case = open_case(people)
    when = timezone.now() - timedelta(hours=3)
    posts = [
        PublicPost(source="file", remote_id="a", text="Meet me at the old mill", posted_at=when),
        PublicPost(source="file", remote_id="b", text="Bus stop", posted_at=when,
                   lat=39.781, lon=-89.642),
    ]  # fmt: skip
    assert case_posts_add(actor=people.investigator, case_id=case.pk, posts=posts,
                          justification=WHY) == 2  # fmt: skip
    assert case_posts_add(actor=people.investigator, case_id=case.pk, posts=posts,
                          justification=WHY) == 0  # fmt: skip
    found = sorted(f["properties"]["found_by"] for f in case_places(case)["features"])
    assert found == ["coordinates", "mention"]
    entry = last(policy.ACTION_SEARCH)
    assert entry.justification == WHY and entry.data["stored"] == 0
    with pytest.raises(InvalidInputError):
        case_posts_add(actor=people.investigator, case_id=case.pk, posts=posts, justification="x")
