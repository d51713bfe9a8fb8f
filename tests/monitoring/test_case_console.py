"""The case pages: only investigators and supervisors get in; a request is decided by another
supervisor; an open case's page is a recorded view with the timeline, the map and its table of
places (posts' text escaped); searches, evidence, sharing and closing go through the services."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.alerts.conftest import committed
from tests.monitoring.cases_support import (
    JUSTIFICATION,
    PREDICATE,
    open_case,
)
from watchhouse.audit.models import AuditEntry
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    Case,
    CaseItem,
    CaseState,
    Dissemination,
    Evidence,
    MatchedPost,
    Story,
)
from watchhouse.monitoring.services.cases import item_canonical

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.monitoring.conftest_cases"]

SCRIPT = "<script>alert(1)</script>"
WHY = "Looking for witnesses of the robbery at the mill on Friday night."


def _item(case: Case, text: str = SCRIPT) -> CaseItem:
    item = CaseItem(case=case, source_kind="fediverse", remote_id="x/1",
                    author_handle="@jdoe@social.example", text=text, posted_at=timezone.now(),
                    places=[{"name": "Old Mill", "found_by": "exif", "lat": 39.79,
                             "lon": -89.61}], collected_by=case.opened_by)  # fmt: skip
    item.sha256 = hashlib.sha256(item_canonical(item)).hexdigest()
    item.save()
    return item


def test_who_gets_in(client, people):
    case = open_case(people)
    client.force_login(people.analyst)
    assert client.get(reverse("console:monitoring_cases")).status_code == 403
    assert client.get(reverse("console:monitoring_case_detail", args=[case.pk])).status_code == 403
    assert client.get(reverse("console:monitoring_case_new")).status_code == 403
    refused = client.post(reverse("console:monitoring_case_search", args=[case.pk]), {})
    assert refused.status_code == 403
    assert not AuditEntry.objects.filter(action=policy.ACTION_CASE_VIEW).exists()
    client.force_login(people.investigator)
    listing = client.get(reverse("console:monitoring_cases")).content.decode()
    assert case.number in listing and "Request a case workspace" in listing


def test_request_then_decide_by_another_supervisor(client, people):
    client.force_login(people.investigator)
    short = client.post(reverse("console:monitoring_case_new"),
                        {"number": "2026-7", "title": "T", "predicate": PREDICATE,
                         "justification": "too short"})  # fmt: skip
    assert short.status_code == 400 and not Case.objects.exists()
    made = client.post(reverse("console:monitoring_case_new"),
                       {"number": "2026-7", "title": "Missing: J. Doe", "predicate": PREDICATE,
                        "justification": JUSTIFICATION})  # fmt: skip
    case = Case.objects.get(number="2026-7")
    assert made.status_code == 302 and case.state == CaseState.REQUESTED
    page = client.get(reverse("console:monitoring_case_detail", args=[case.pk])).content.decode()
    assert "Waiting for a supervisor" in page and PREDICATE in page and "Timeline" not in page
    client.force_login(people.supervisor)
    page = client.get(reverse("console:monitoring_case_detail", args=[case.pk])).content.decode()
    assert "Approve and open the case" in page
    client.post(reverse("console:monitoring_case_decide", args=[case.pk, "approve"]))
    case.refresh_from_db()
    assert case.state == CaseState.OPEN and case.approved_by == people.supervisor


def test_the_case_page_is_a_recorded_view_with_timeline_and_map(client, people):
    case = open_case(people)
    _item(case)
    client.force_login(people.investigator)
    page = client.get(reverse("console:monitoring_case_detail", args=[case.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert SCRIPT not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'id="places-table"' in body and "in a photo (EXIF)" in body and "39.79000" in body
    assert 'id="case-places"' in body and "vendor/leaflet/leaflet.js" in body
    view = AuditEntry.objects.get(action=policy.ACTION_CASE_VIEW)
    assert view.actor == people.investigator and view.justification == JUSTIFICATION


def test_search_preserve_share_and_close_from_the_page(client, people, web):
    case = open_case(people)
    item = _item(case, "Saw smoke by the mill")
    story = Story.objects.create(signature="s", title="s")
    MatchedPost.objects.create(source_kind="jetstream", remote_id="at://1", text="I heard shots",
                               author_handle="witness.bsky.social", posted_at=timezone.now(),
                               lat=39.7820, lon=-89.6500, story=story)  # fmt: skip
    client.force_login(people.investigator)
    at = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    found = client.post(reverse("console:monitoring_case_search", args=[case.pk]),
                        {"lat": "39.7817", "lon": "-89.6501", "at": at, "radius_m": "500",
                         "hours": "2", "justification": WHY})  # fmt: skip
    assert found.status_code == 200 and "witness.bsky.social" in found.content.decode()
    assert AuditEntry.objects.get(action=policy.ACTION_SEARCH).justification == WHY
    wide = client.post(reverse("console:monitoring_case_search", args=[case.pk]),
                       {"lat": "39.7817", "lon": "-89.6501", "at": at, "radius_m": "5000",
                        "hours": "2", "justification": WHY}, follow=True)  # fmt: skip
    assert "second person must approve" in wide.content.decode()
    assert Approval.objects.filter(kind=ApprovalKind.LOOKBACK).count() == 1
    client.post(reverse("console:monitoring_case_preserve", args=[case.pk, item.pk]))
    evidence = Evidence.objects.get()
    page = client.get(reverse("console:monitoring_case_detail", args=[case.pk])).content.decode()
    assert evidence.sha256 in page and "file intact" in page
    client.post(
        reverse("console:monitoring_case_share", args=[case.pk]),
        {"recipient": "County prosecutor", "purpose": WHY, "items": [item.pk]},
    )
    share = Approval.objects.get(kind=ApprovalKind.EXPORT)
    client.force_login(people.supervisor)
    page = client.get(reverse("console:monitoring_case_detail", args=[case.pk])).content.decode()
    assert f'id="approval-{share.pk}"' in page
    client.post(reverse("console:monitoring_case_approval_decide",
                        args=[case.pk, share.pk, "approve"]))  # fmt: skip
    assert Dissemination.objects.get().recipient == "County prosecutor"
    client.force_login(people.investigator)
    with committed():
        client.post(reverse("console:monitoring_case_close", args=[case.pk]),
                    {"reason": "Suspect charged; file passed on."})  # fmt: skip
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED
    page = client.get(reverse("console:monitoring_case_detail", args=[case.pk])).content.decode()
    assert "Timeline" not in page and "Closed" in page


def test_the_gate_refusal_shows_on_the_page(client, people, settings: Any):
    case = open_case(people)
    Case.objects.filter(pk=case.pk).update(review_by=timezone.now())
    client.force_login(people.investigator)
    page = client.get(reverse("console:monitoring_case_detail", args=[case.pk])).content.decode()
    assert "past its review date" in page and "Timeline" not in page
    assert AuditEntry.objects.filter(action=policy.ACTION_REFUSED_INPUT).count() == 1
