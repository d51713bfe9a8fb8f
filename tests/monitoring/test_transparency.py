"""The public transparency page: monthly counts from the audit log (in the agency's calendar
months), the kinds of rules in force, the deny-list, and that nothing on it names a person,
a post or a case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    Case,
    CaseState,
    Match,
    MatchedPost,
    SourceKind,
    Story,
)
from watchhouse.monitoring.selectors.transparency import (
    deny_list_public,
    rule_kinds_in_force,
    transparency_months,
)
from watchhouse.monitoring.services.approvals import approval_decide
from watchhouse.monitoring.services.rules import rule_create, rule_override_request

pytestmark = pytest.mark.django_db

PURPOSE = "Early warning of fires and explosions reported by residents."
NEXUS = "Case 2026-0099: bomb threats against the rally were posted by a named suspect."
HANDLE = "@witness.smith@social.example"
POST_TEXT = "Smoke pouring out of the warehouse on 5th"
CASE_NUMBER = "2026-0412"
SECRET_NAME = "Jordan Q. Organiser"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def count(action: str, *, actor: Any) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action=action, object_type="test", object_id=1)


def test_months_count_each_action_in_its_local_calendar_month(make_staff: Any) -> None:
    """Watches, refusals and overrides made through the services, and searches, exports and
    purges, land in the month they happened in the agency's time zone (Chicago): 03:00 UTC
    on 1 February is still January there."""
    analyst, boss, other = make_staff("analyst"), make_staff("supervisor"), make_staff("supervisor")
    with freeze_time(at(2026, 1, 10)):
        rule_create(actor=analyst, name="F", purpose=PURPOSE, phrases=["fire"],
                    expires_at=timezone.now() + timedelta(days=5))  # fmt: skip
        with pytest.raises(InvalidInputError):
            rule_create(actor=analyst, name="P", purpose=PURPOSE, phrases=["protest"],
                        expires_at=timezone.now() + timedelta(days=5))  # fmt: skip
        count(policy.ACTION_SEARCH, actor=analyst)
    with freeze_time(at(2026, 2, 1, hour=3)):
        count(policy.ACTION_EXPORT, actor=analyst)
    with freeze_time(at(2026, 2, 14)):
        rule = rule_override_request(
            actor=analyst, name="Rally threat", purpose=PURPOSE, phrases=["rally bomb"],
            nexus=NEXUS, expires_at=timezone.now() + timedelta(days=5),
        )  # fmt: skip
        with pytest.raises(NotPermittedError):
            approval_decide(actor=analyst, approval_id=Approval.objects.get(rule=rule).pk,
                            approve=True)  # fmt: skip
        approval_decide(actor=other, approval_id=Approval.objects.get(rule=rule).pk, approve=True)
        count(policy.ACTION_CASE_PURGE, actor=boss)
        count(policy.ACTION_SEARCH, actor=analyst)
        count(policy.ACTION_SEARCH, actor=analyst)
        count(policy.ACTION_APPROVAL_REFUSE, actor=boss)
    with freeze_time(at(2026, 2, 20)):
        rows = transparency_months(3)
    assert [r.month for r in rows] == [date(2026, 2, 1), date(2026, 1, 1), date(2025, 12, 1)]
    feb, jan, dec = rows
    assert (jan.watches, jan.refusals, jan.searches, jan.exports) == (1, 1, 1, 1)
    assert (jan.approvals, jan.overrides, jan.purges) == (0, 0, 0)
    assert (feb.watches, feb.approvals, feb.overrides, feb.purges) == (1, 1, 1, 1)
    assert (feb.searches, feb.refusals, feb.exports) == (2, 1, 0)
    assert dec.watches == dec.searches == dec.refusals == 0


def test_rule_kinds_count_live_rules_only(make_staff: Any) -> None:
    """Only live rules count, a rule in each of its kinds; pending ones do not."""
    analyst, boss = make_staff("analyst"), make_staff("supervisor")
    until = timezone.now() + timedelta(days=5)
    rule_create(actor=analyst, name="A", purpose=PURPOSE, phrases=["fire"], languages=["es"],
                expires_at=until)  # fmt: skip
    rule_create(actor=analyst, name="B", purpose=PURPOSE, lat=39.95, lon=-89.35, radius_m=400,
                expires_at=until)  # fmt: skip
    pending = rule_override_request(
        actor=analyst, name="C", purpose=PURPOSE, phrases=["rally bomb"], nexus=NEXUS,
        expires_at=until,
    )  # fmt: skip
    kinds = rule_kinds_in_force()
    assert (kinds.total, kinds.phrase, kinds.place, kinds.language, kinds.override) == (
        2, 1, 1, 1, 0,
    )  # fmt: skip
    approval_decide(actor=boss, approval_id=Approval.objects.get(rule=pending).pk, approve=True)
    kinds = rule_kinds_in_force()
    assert (kinds.total, kinds.phrase, kinds.override, kinds.person_centred) == (3, 2, 1, 0)


def test_deny_list_published_without_the_agencys_names(settings: Any) -> None:
    """Every group is published with its terms, except named people: a count only."""
    settings.WATCHHOUSE_MONITORING_PROTECTED_NAMES = [SECRET_NAME, "A. N. Other"]
    groups = {g.group: g for g in deny_list_public()}
    assert "protest" in groups["protest"].terms
    assert "mezquita" in groups["religious"].terms
    assert groups["named person"].terms == []
    assert groups["named person"].named == 2


def test_public_page_shows_counts_and_never_people_posts_or_cases(
    client: Any, make_staff: Any, settings: Any
) -> None:
    """The page renders for anyone with the policy, the figures and the deny-list, and holds
    no author handle, post text, case number, rule content or protected name."""
    settings.WATCHHOUSE_MONITORING_PROTECTED_NAMES = [SECRET_NAME]
    analyst, boss = make_staff("analyst"), make_staff("supervisor")
    case = Case.objects.create(
        number=CASE_NUMBER, title="Missing person", justification="j" * 30,
        predicate="kidnapping", state=CaseState.OPEN, opened_by=boss,
    )  # fmt: skip
    rule = rule_create(
        actor=analyst, name="Warehouse watch", purpose=PURPOSE, phrases=["warehouse smoke"],
        expires_at=timezone.now() + timedelta(days=5),
    )  # fmt: skip
    rule_create(
        actor=analyst, name="Her accounts", purpose=PURPOSE, authors=[HANDLE], case_id=case.pk,
        expires_at=timezone.now() + timedelta(days=5),
    )  # fmt: skip
    with pytest.raises(InvalidInputError):
        rule_create(actor=analyst, name="Vigil", purpose=PURPOSE, phrases=["vigil"],
                    expires_at=timezone.now() + timedelta(days=5))  # fmt: skip
    story = Story.objects.create(signature="s", title=POST_TEXT)
    post = MatchedPost.objects.create(
        source_kind=SourceKind.FILE, remote_id="1", author_handle=HANDLE, text=POST_TEXT,
        posted_at=timezone.now(), story=story,
    )  # fmt: skip
    Match.objects.create(post=post, rule=rule)

    response = client.get(reverse("monitoring:transparency"))
    assert response.status_code == 200
    assert "max-age=300" in response["Cache-Control"]
    page = response.content.decode()
    assert "No face recognition." in page
    assert "No fake or covert accounts." in page
    month = transparency_months(1)[0]
    assert (month.watches, month.refusals) == (2, 1)
    assert "<td>2</td>" in page and "<td>1</td>" in page
    assert "synagogue" in page
    assert "1 person is on this list; we do not publish names." in page
    for secret in (
        HANDLE,
        "witness.smith",
        POST_TEXT,
        CASE_NUMBER,
        "warehouse smoke",
        "Warehouse watch",
        "Her accounts",
        SECRET_NAME,
        analyst.username,
    ):
        assert secret not in page, secret  # fmt: skip


def test_footer_links_to_the_page(client: Any) -> None:
    """Every public page's footer leads to the monitoring policy."""
    page = client.get(reverse("rumors:list")).content.decode()
    assert reverse("monitoring:transparency") in page
