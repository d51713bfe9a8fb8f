"""Watch rules and their guardrails: too-broad rules, protected activity (with Unicode
evasion), supervisor overrides with a criminal nexus, watches on named accounts behind an open
case and a second person, validation messages, updates, switching off and expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    ApprovalState,
    Case,
    CaseState,
    RuleState,
    WatchRule,
)
from watchhouse.monitoring.protected_terms import protected_hits
from watchhouse.monitoring.services import rules as rules_module
from watchhouse.monitoring.services.approvals import approval_decide
from watchhouse.monitoring.services.rules import (
    ProtectedActivityError,
    TooBroadError,
    rule_create,
    rule_disable,
    rule_override_request,
    rule_update,
    rules_expire,
)

pytestmark = pytest.mark.django_db

PURPOSE = "Early warning of fires and explosions reported by residents."
NEXUS = "Case 2026-0099: threats to bomb the rally were posted; we look for the planned device."


@pytest.fixture
def analyst(make_staff: Any) -> Any:
    return make_staff("analyst")


@pytest.fixture
def supervisor(make_staff: Any) -> Any:
    return make_staff("supervisor")


@pytest.fixture
def investigator(make_staff: Any) -> Any:
    return make_staff("investigator")


def soon(days: int = 7) -> Any:
    return timezone.now() + timedelta(days=days)


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def make_case(opener: Any, state: str = CaseState.OPEN, number: str = "2026-0412") -> Case:
    return Case.objects.create(
        number=number, title="Missing person", justification="j" * 30, predicate="kidnapping",
        state=state, opened_by=opener,
    )  # fmt: skip


def test_plain_rule_is_active_at_once_and_audited(analyst: Any) -> None:
    """A rule of ordinary words is live at once, its phrases normalised, with no approver."""
    rule = rule_create(
        actor=analyst, name="Fires", purpose=PURPOSE, phrases=["  Structure FIRE ", "explosion"],
        languages=["EN", "es"], expires_at=soon(),
    )  # fmt: skip
    assert rule.state == RuleState.ACTIVE
    assert rule.approved_by is None
    assert rule.phrases == ["structure fire", "explosion"]
    assert rule.languages == ["en", "es"]
    assert rule.is_live()
    [entry] = entries(policy.ACTION_RULE_CREATE)
    assert entry.object_id == str(rule.pk)
    assert entry.actor == analyst
    assert entry.justification == PURPOSE


def test_only_analysts_and_supervisors_create_rules(make_staff: Any) -> None:
    """A dispatcher cannot create a watch rule."""
    with pytest.raises(NotPermittedError):
        rule_create(
            actor=make_staff("dispatcher"), name="Fires", purpose=PURPOSE, phrases=["fire"],
            expires_at=soon(),
        )  # fmt: skip
    assert not WatchRule.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": " "}, "Give the rule a name."),
        ({"purpose": "fires"}, "at least 20 characters"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expiry must be in the future"),
        ({"expires_at": timezone.now() + timedelta(days=91)}, "at most 90 days"),
        ({"phrases": ["ok", "fire"]}, "“ok” is too short"),
        ({"languages": ["xx"]}, "“xx” is not a known language code"),
        ({"lat": 39.95, "lon": -89.35, "radius_m": 10}, "between 50 m and 50 km"),
        ({"lat": 39.95, "lon": -89.35}, "needs a latitude, a longitude and a radius"),
        ({"min_score": 2.0}, "between 0 and 1"),
        ({"phrases": [f"word{i}" for i in range(501)]}, "at most 500 phrases"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(
    analyst: Any, changes: dict[str, Any], message: str
) -> None:
    """Each invalid field is named in the error; nothing is stored."""
    values: dict[str, Any] = {
        "name": "Fires", "purpose": PURPOSE, "phrases": ["fire"], "expires_at": soon(),
    }  # fmt: skip
    values.update(changes)
    with pytest.raises(InvalidInputError, match=message):
        rule_create(actor=analyst, **values)
    assert not WatchRule.objects.exists()


def test_rule_max_days_is_a_setting(analyst: Any, settings: Any) -> None:
    """The longest run follows WATCHHOUSE_MONITORING_RULE_MAX_DAYS."""
    settings.WATCHHOUSE_MONITORING_RULE_MAX_DAYS = 5
    with pytest.raises(InvalidInputError, match="at most 5 days"):
        rule_create(actor=analyst, name="F", purpose=PURPOSE, phrases=["fire"], expires_at=soon(6))


def test_bad_expression_names_the_problem(analyst: Any) -> None:
    """A broken expression is refused with where and what is wrong."""
    with pytest.raises(InvalidInputError, match=r"Expression error at character \d+"):
        rule_create(
            actor=analyst, name="F", purpose=PURPOSE, expression="fire AND (smoke OR",
            expires_at=soon(),
        )  # fmt: skip


def test_circle_outside_the_jurisdiction_is_refused(analyst: Any, tmp_path: Any) -> None:
    """With areas imported, a circle's centre must lie inside the jurisdiction."""
    from tests.alerts.conftest import town_create

    town_create(tmp_path)
    with pytest.raises(InvalidInputError, match="inside the jurisdiction"):
        rule_create(
            actor=analyst, name="F", purpose=PURPOSE, lat=51.5, lon=-0.12, radius_m=500,
            expires_at=soon(),
        )  # fmt: skip
    rule = rule_create(
        actor=analyst, name="F", purpose=PURPOSE, lat=39.955, lon=-89.355, radius_m=500,
        expires_at=soon(),
    )  # fmt: skip
    assert rule.radius_m == 500


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"languages": ["en"]}, "nothing to narrow it"),
        ({"min_score": 0.5}, "nothing to narrow it"),
        ({"phrases": ["the", "fire"]}, "“the”"),
        ({"phrases": ["RT via", "fire"]}, "“rt via”"),
        ({"phrases": ["of the"]}, "“of the”"),
        ({"phrases": ["http"]}, "“http”"),
        ({"expression": "fire OR NOT fire"}, "true for every post"),
        ({"expression": "(smoke AND fire) OR NOT smoke OR NOT fire"}, "true for every post"),
        ({"expression": "fire OR the"}, "true for every post"),
        ({"expression": "NOT drill"}, "nothing to narrow it"),
    ],
)
def test_too_broad_rules_are_refused_and_counted(
    analyst: Any, values: dict[str, Any], message: str
) -> None:
    """A rule that would match nearly every post is refused, and the refusal is audited."""
    with pytest.raises(TooBroadError, match=message):
        rule_create(actor=analyst, name="Wide", purpose=PURPOSE, expires_at=soon(), **values)
    assert not WatchRule.objects.exists()
    [entry] = entries(policy.ACTION_REFUSED_INPUT)
    assert entry.data["reason"] == "too broad"
    assert entry.actor == analyst


def test_narrowing_expression_with_not_is_accepted(analyst: Any) -> None:
    """``NOT drill`` is fine beside a phrase, and ``fire AND NOT drill`` on its own."""
    rule_create(
        actor=analyst, name="A", purpose=PURPOSE, phrases=["fire"], expression="NOT drill",
        expires_at=soon(),
    )  # fmt: skip
    rule = rule_create(
        actor=analyst, name="B", purpose=PURPOSE, expression="fire AND NOT drill",
        expires_at=soon(),
    )  # fmt: skip
    assert rule.state == RuleState.ACTIVE


@pytest.mark.parametrize(
    ("phrases", "expression", "term"),
    [
        (["protest downtown"], "", "protest"),
        (["fire"], "smoke AND (rally OR crowd)", "rally"),
        (["#BlackLivesMatter"], "", "black lives matter"),
        (["mezquita"], "", "mezquita"),
        (["Manifestacion"], "", "manifestación"),
        # Full-width letters, a zero-width space and Cyrillic look-alikes.
        (["Ｐｒｏｔｅｓｔ"], "", "protest"),
        (["pro\u200btest"], "", "protest"),
        (["\u0440r\u043et\u0435st"], "", "protest"),
        (["m\u043esque fire"], "", "mosque"),
    ],
)
def test_protected_terms_are_refused_in_any_disguise(
    analyst: Any, phrases: list[str], expression: str, term: str
) -> None:
    """Rules on protected activity are refused by default, however the words are written;
    the refusal names the term, says how to ask for an override, and is audited."""
    with pytest.raises(ProtectedActivityError, match="override") as caught:
        rule_create(
            actor=analyst, name="Crowds", purpose=PURPOSE, phrases=phrases,
            expression=expression, expires_at=soon(),
        )  # fmt: skip
    assert term in {h.term for h in caught.value.hits}
    assert term in str(caught.value)
    assert not WatchRule.objects.exists()
    [entry] = entries(policy.ACTION_RULE_REFUSE)
    assert term in [h["term"] for h in entry.data["hits"]]


def test_ordinary_phrases_with_a_listed_word_are_not_protected(analyst: Any) -> None:
    """ "lightning strike" and "Union Station" are emergencies and places, not activism."""
    rule = rule_create(
        actor=analyst, name="Storm", purpose=PURPOSE,
        phrases=["lightning strike", "flooding at union station"], expires_at=soon(),
    )  # fmt: skip
    assert rule.state == RuleState.ACTIVE
    assert [h.term for h in protected_hits(["a strike at the plant"])] == ["strike"]


def test_named_activists_are_on_the_list(analyst: Any, settings: Any) -> None:
    """Names the agency adds are refused like the published terms."""
    settings.WATCHHOUSE_MONITORING_PROTECTED_NAMES = ["Jordan Q. Organiser"]
    with pytest.raises(ProtectedActivityError) as caught:
        rule_create(
            actor=analyst, name="N", purpose=PURPOSE, phrases=["jordan q organiser"],
            expires_at=soon(),
        )  # fmt: skip
    assert caught.value.hits[0].group == "named person"


def test_override_needs_a_nexus_and_another_supervisor(analyst: Any, make_staff: Any) -> None:
    """An override is PENDING until a supervisor other than the requester approves; then it
    is live, on the record with who overrode it."""
    boss, other_boss = make_staff("supervisor"), make_staff("supervisor")
    with pytest.raises(InvalidInputError, match="criminal nexus"):
        rule_override_request(
            actor=analyst, name="Rally threat", purpose=PURPOSE, phrases=["rally bomb"],
            nexus="because", expires_at=soon(),
        )  # fmt: skip
    rule = rule_override_request(
        actor=boss, name="Rally threat", purpose=PURPOSE, phrases=["rally bomb"], nexus=NEXUS,
        expires_at=soon(),
    )  # fmt: skip
    assert rule.state == RuleState.PENDING
    assert not rule.is_live()
    approval = Approval.objects.get(rule=rule)
    assert approval.kind == ApprovalKind.RULE_OVERRIDE
    assert approval.justification == NEXUS
    with pytest.raises(NotPermittedError):
        approval_decide(actor=boss, approval_id=approval.pk, approve=True)
    with pytest.raises(NotPermittedError):
        approval_decide(actor=analyst, approval_id=approval.pk, approve=True)
    rule.refresh_from_db()
    assert rule.state == RuleState.PENDING

    approval_decide(actor=other_boss, approval_id=approval.pk, approve=True)
    rule.refresh_from_db()
    assert rule.state == RuleState.ACTIVE
    assert rule.override_by == other_boss
    assert rule.approved_by == other_boss
    assert rule.override_nexus == NEXUS
    [entry] = entries(policy.ACTION_RULE_OVERRIDE)
    assert entry.actor == other_boss
    assert entry.data["terms"] == ["rally"]


def test_override_of_a_rule_without_protected_terms_is_refused(analyst: Any) -> None:
    """Overrides are for protected activity only."""
    with pytest.raises(InvalidInputError, match="names no protected activity"):
        rule_override_request(
            actor=analyst, name="F", purpose=PURPOSE, phrases=["fire"], nexus=NEXUS,
            expires_at=soon(),
        )  # fmt: skip


def test_watch_on_accounts_needs_an_open_case(investigator: Any, supervisor: Any) -> None:
    """Without a case, or with one not open, a watch on named accounts is refused and the
    refusal counted."""
    values: dict[str, Any] = {
        "name": "Her accounts", "purpose": PURPOSE, "authors": ["@missing@social.example"],
        "expires_at": soon(),
    }  # fmt: skip
    with pytest.raises(NotPermittedError, match="open case"):
        rule_create(actor=investigator, **values)
    requested = make_case(investigator, CaseState.REQUESTED, number="2026-0001")
    with pytest.raises(NotPermittedError, match="open case"):
        rule_create(actor=investigator, case_id=requested.pk, **values)
    assert not WatchRule.objects.exists()
    refusals = entries(policy.ACTION_REFUSED_INPUT)
    assert [e.data["reason"] for e in refusals] == ["no open case", "no open case"]


def test_watch_on_accounts_waits_for_a_second_person(
    investigator: Any, supervisor: Any, make_staff: Any
) -> None:
    """A watch on named accounts in an open case is PENDING with a WATCH_ACCOUNT approval
    naming the rule; the second person's approval makes it live."""
    case = make_case(supervisor)
    rule = rule_create(
        actor=investigator, name="Her accounts", purpose=PURPOSE,
        authors=["@missing@social.example"], case_id=case.pk, expires_at=soon(),
    )  # fmt: skip
    assert rule.state == RuleState.PENDING
    approval = Approval.objects.get(rule=rule)
    assert approval.kind == ApprovalKind.WATCH_ACCOUNT
    assert approval.case == case
    assert approval.state == ApprovalState.PENDING
    assert entries(policy.ACTION_APPROVAL_REQUEST)

    # The requester cannot approve their own watch, nor can a non-supervisor.
    with pytest.raises(NotPermittedError):
        approval_decide(actor=investigator, approval_id=approval.pk, approve=True)
    rule.refresh_from_db()
    assert rule.state == RuleState.PENDING
    assert not rule.is_live()

    # The case service's WATCH_ACCOUNT effect hands approvals naming a rule to the rules
    # service (rule_activate_from_approval).
    approval_decide(actor=supervisor, approval_id=approval.pk, approve=True)
    rule.refresh_from_db()
    assert rule.state == RuleState.ACTIVE
    assert rule.is_live()
    assert rule.approved_by == supervisor
    [entry] = entries(rules_module.ACTION_RULE_ACTIVATE)
    assert entry.actor == supervisor
    assert entry.data["authors"] == ["@missing@social.example"]


def test_activation_refused_when_the_case_closed(investigator: Any, supervisor: Any) -> None:
    """A watch whose case closed before approval cannot go live."""
    case = make_case(supervisor)
    rule = rule_create(
        actor=investigator, name="Her accounts", purpose=PURPOSE, authors=["@m@x.example"],
        case_id=case.pk, expires_at=soon(),
    )  # fmt: skip
    Case.objects.filter(pk=case.pk).update(state=CaseState.CLOSED)
    approval = Approval.objects.get(rule=rule)
    with pytest.raises(InvalidInputError, match="no longer open"):
        approval_decide(actor=supervisor, approval_id=approval.pk, approve=True)
    rule.refresh_from_db()
    assert rule.state == RuleState.PENDING
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING


def test_material_change_of_an_overridden_rule_needs_approval_again(
    analyst: Any, make_staff: Any
) -> None:
    """Changing what an approved override watches sends it back to PENDING with a new
    request; renaming it does not."""
    boss = make_staff("supervisor")
    rule = rule_override_request(
        actor=analyst, name="Rally threat", purpose=PURPOSE, phrases=["rally bomb"], nexus=NEXUS,
        expires_at=soon(),
    )  # fmt: skip
    approval_decide(actor=boss, approval_id=Approval.objects.get(rule=rule).pk, approve=True)
    same = {"purpose": PURPOSE, "phrases": ["rally bomb"], "expires_at": rule.expires_at}
    rule = rule_update(actor=analyst, rule_id=rule.pk, name="Rally bomb threat", **same)
    assert rule.state == RuleState.ACTIVE
    same["phrases"] = ["rally bomb", "rally gun"]
    rule = rule_update(actor=analyst, rule_id=rule.pk, name="Rally bomb threat", **same)
    assert rule.state == RuleState.PENDING
    assert rule.override_by is None
    assert Approval.objects.filter(rule=rule, state=ApprovalState.PENDING).count() == 1
    assert [e.data["material"] for e in entries(rules_module.ACTION_RULE_UPDATE)] == [
        False,
        True,
    ]


def test_change_while_pending_supersedes_the_open_request(analyst: Any, make_staff: Any) -> None:
    """A rule changed while its override waits gets a fresh request; the old one can no
    longer be approved."""
    rule = rule_override_request(
        actor=analyst, name="Rally threat", purpose=PURPOSE, phrases=["rally bomb"], nexus=NEXUS,
        expires_at=soon(),
    )  # fmt: skip
    old = Approval.objects.get(rule=rule)
    rule_update(
        actor=analyst, rule_id=rule.pk, name="Rally threat", purpose=PURPOSE,
        phrases=["rally bomb", "rally pipe bomb"], expires_at=rule.expires_at,
    )  # fmt: skip
    old.refresh_from_db()
    assert old.state == ApprovalState.REFUSED
    with pytest.raises(InvalidInputError, match="already been decided"):
        approval_decide(actor=make_staff("supervisor"), approval_id=old.pk, approve=True)
    new = Approval.objects.get(rule=rule, state=ApprovalState.PENDING)
    assert new.kind == ApprovalKind.RULE_OVERRIDE
    assert entries(rules_module.ACTION_RULE_UPDATE)[0].data["superseded"] == [old.pk]


def test_plain_rule_changed_to_protected_terms_is_refused(analyst: Any) -> None:
    """An update cannot slip protected activity into a plain rule."""
    rule = rule_create(
        actor=analyst, name="F", purpose=PURPOSE, phrases=["fire"], expires_at=soon()
    )
    with pytest.raises(ProtectedActivityError):
        rule_update(
            actor=analyst, rule_id=rule.pk, name="F", purpose=PURPOSE,
            phrases=["fire", "vigil"], expires_at=soon(),
        )  # fmt: skip
    rule.refresh_from_db()
    assert rule.phrases == ["fire"]
    [entry] = entries(policy.ACTION_RULE_REFUSE)
    assert entry.object_id == str(rule.pk)


def test_disable_and_expire(analyst: Any) -> None:
    """A switched-off rule is not live; a rule past its expiry is switched off by the
    system, on the record."""
    off = rule_create(actor=analyst, name="A", purpose=PURPOSE, phrases=["fire"], expires_at=soon())
    rule_disable(actor=analyst, rule_id=off.pk, reason="Fire season is over")
    off.refresh_from_db()
    assert off.state == RuleState.DISABLED
    assert entries(rules_module.ACTION_RULE_DISABLE)[0].justification == "Fire season is over"

    old = rule_create(
        actor=analyst, name="B", purpose=PURPOSE, phrases=["flood"], expires_at=soon(1)
    )
    WatchRule.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    old.refresh_from_db()
    assert not old.is_live()
    assert rules_expire() == 1
    old.refresh_from_db()
    assert old.state == RuleState.DISABLED
    [entry] = entries(rules_module.ACTION_RULE_EXPIRE)
    assert entry.actor is None
    assert entry.actor_label == "system"
    assert rules_expire() == 0
