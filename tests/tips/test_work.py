"""Investigators working tips: each transition, its audit entry, who may do it, merging,
rewards that never reveal the tipster, and the weekly response-time figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from watchhouse.audit.models import AuditEntry
from watchhouse.core import crypto
from watchhouse.core.errors import IllegalTransitionError, InvalidInputError, NotPermittedError
from watchhouse.tips.models import MessageKind, QuestionTemplate, Tip, TipMessage
from watchhouse.tips.selectors import response_times_weekly
from watchhouse.tips.services import work
from watchhouse.tips.services.dialogue import tip_message_send
from watchhouse.tips.services.intake import tipster_dialogue_read

pytestmark = pytest.mark.django_db


def _entries(tip: Tip, action: str) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(object_type="tips.tip", object_id=str(tip.pk), action=action)
    )


def test_lifecycle_new_to_closed_with_audit(submit, investigator, make_staff) -> None:
    """Triage, assign, reassign, action and close each change the tip and are audited."""
    tip = submit().tip
    other = make_staff("investigator", username="det.chen")
    work.tip_triage(actor=investigator, tip=tip, priority=3)
    tip.refresh_from_db()
    assert (tip.state, tip.priority) == ("triaged", 3)
    assert tip.triaged_at is not None
    first_triage = tip.triaged_at

    work.tip_assign(actor=investigator, tip=tip, assignee=investigator)
    work.tip_assign(actor=investigator, tip=tip, assignee=other)
    tip.refresh_from_db()
    assert (tip.state, tip.assignee) == ("assigned", other)
    assert tip.triaged_at == first_triage
    assigns = _entries(tip, "tips.assign")
    assert [e.data["assignee"] for e in sorted(assigns, key=lambda e: e.seq)] == [
        "det.rivera",
        "det.chen",
    ]

    work.tip_action(actor=other, tip=tip)
    work.tip_close(actor=other, tip=tip, outcome="arrest")
    tip.refresh_from_db()
    assert (tip.state, tip.outcome) == ("closed", "arrest")
    assert tip.closed_at is not None
    for action in ("tips.triage", "tips.action", "tips.close"):
        assert len(_entries(tip, action)) == 1, action
    assert _entries(tip, "tips.close")[0].actor_label == "det.chen"


def test_illegal_transitions_raise_and_change_nothing(submit, investigator) -> None:
    tip = submit().tip
    with pytest.raises(IllegalTransitionError):
        work.tip_action(actor=investigator, tip=tip)
    with pytest.raises(IllegalTransitionError):
        work.tip_reopen(actor=investigator, tip=tip)
    work.tip_triage(actor=investigator, tip=tip)
    with pytest.raises(IllegalTransitionError):
        work.tip_triage(actor=investigator, tip=tip)
    work.tip_close(actor=investigator, tip=tip, outcome="useful")
    with pytest.raises(IllegalTransitionError):
        work.tip_close(actor=investigator, tip=tip, outcome="spam")
    with pytest.raises(IllegalTransitionError):
        work.tip_assign(actor=investigator, tip=tip, assignee=investigator)
    tip.refresh_from_db()
    assert (tip.state, tip.outcome) == ("closed", "useful")
    assert not _entries(tip, "tips.assign")


def test_closing_untriaged_spam_counts_as_triage_and_reopen_clears(submit, investigator) -> None:
    tip = submit().tip
    work.tip_close(actor=investigator, tip=tip, outcome="spam")
    tip.refresh_from_db()
    assert tip.triaged_at == tip.closed_at
    work.tip_reopen(actor=investigator, tip=tip)
    tip.refresh_from_db()
    assert (tip.state, tip.outcome, tip.closed_at) == ("triaged", "", None)
    assert _entries(tip, "tips.reopen")[0].data == {"outcome": "spam"}
    with pytest.raises(InvalidInputError, match="what the tip came to"):
        work.tip_close(actor=investigator, tip=tip, outcome="solved-it")


def test_assignee_must_be_an_active_investigator(submit, investigator, make_staff) -> None:
    tip = submit().tip
    analyst = make_staff("analyst", username="ana.lyst")
    gone = make_staff("investigator", username="retired", is_active=False)
    for person in (analyst, gone):
        with pytest.raises(InvalidInputError, match="not an active investigator"):
            work.tip_assign(actor=investigator, tip=tip, assignee=person)
    tip.refresh_from_db()
    assert tip.state == "new" and tip.assignee is None


@pytest.mark.parametrize("role", ["analyst", "pio", "supervisor"])
def test_other_roles_are_refused(submit, make_staff, role) -> None:
    tip = submit().tip
    person = make_staff(role)
    with pytest.raises(NotPermittedError):
        work.tip_triage(actor=person, tip=tip)
    with pytest.raises(NotPermittedError):
        work.tip_close(actor=person, tip=tip, outcome="spam")
    with pytest.raises(NotPermittedError):
        work.tip_merge(actor=person, duplicate=tip, into=submit().tip)
    tip.refresh_from_db()
    assert tip.state == "new"
    assert not AuditEntry.objects.filter(action__in=["tips.triage", "tips.close"]).exists()


def test_second_factor_is_required_when_mfa_is(submit, investigator, settings) -> None:
    """Without a session confirmed by the authenticator, an investigator is refused."""
    tip = submit().tip
    settings.WATCHHOUSE_MFA_REQUIRED = True
    with pytest.raises(NotPermittedError, match="authenticator"):
        work.tip_triage(actor=investigator, tip=tip)
    # django-otp marks a session's user verified; this is what its middleware sets.
    investigator.is_verified = lambda: True
    work.tip_triage(actor=investigator, tip=tip)
    tip.refresh_from_db()
    assert tip.state == "triaged"


def test_priority_and_links(submit, investigator) -> None:
    from watchhouse.posts.models import Post, PostKind

    tip = submit().tip
    work.tip_priority_set(actor=investigator, tip=tip, priority=4)
    tip.refresh_from_db()
    assert tip.priority == 4
    assert _entries(tip, "tips.priority_set")[0].data == {"priority": 4, "previous": 2}
    with pytest.raises(InvalidInputError):
        work.tip_priority_set(actor=investigator, tip=tip, priority=9)

    link = work.tip_link_add(actor=investigator, tip=tip, case_number=" 26-001234 ")
    assert link.case_number == "26-001234"
    with pytest.raises(InvalidInputError, match="already linked"):
        work.tip_link_add(actor=investigator, tip=tip, case_number="26-001234")
    with pytest.raises(InvalidInputError, match="one of the two"):
        work.tip_link_add(actor=investigator, tip=tip)
    appeal = Post.objects.create(
        kind=PostKind.APPEAL, title="Help us identify", slug="h", author=investigator
    )
    work.tip_link_add(actor=investigator, tip=tip, appeal=appeal)
    assert tip.links.count() == 2
    work.tip_link_remove(actor=investigator, link=link)
    assert list(tip.links.values_list("appeal_id", flat=True)) == [appeal.pk]
    assert len(_entries(tip, "tips.link_add")) == 2
    assert _entries(tip, "tips.link_remove")[0].data["case_number"] == "26-001234"


def test_merge_closes_the_duplicate_and_refuses_chains(submit, investigator) -> None:
    kept, dup, third = submit().tip, submit().tip, submit().tip
    with pytest.raises(InvalidInputError, match="itself"):
        work.tip_merge(actor=investigator, duplicate=kept, into=kept)
    work.tip_merge(actor=investigator, duplicate=dup, into=kept)
    dup.refresh_from_db()
    assert (dup.state, dup.outcome, dup.merged_into_id) == ("closed", "duplicate", kept.pk)
    assert list(kept.merged.all()) == [dup]
    assert _entries(dup, "tips.merge")[0].data["into"] == kept.pk
    assert _entries(kept, "tips.merge_receive")[0].data["duplicate"] == dup.pk
    # Into a tip already merged elsewhere, a tip merged already, a tip that has merges.
    with pytest.raises(InvalidInputError, match="merge into that one"):
        work.tip_merge(actor=investigator, duplicate=third, into=dup)
    with pytest.raises(InvalidInputError, match="already merged"):
        work.tip_merge(actor=investigator, duplicate=dup, into=third)
    with pytest.raises(InvalidInputError, match="merge the other way"):
        work.tip_merge(actor=investigator, duplicate=kept, into=third)
    with pytest.raises(InvalidInputError, match="merged into another"):
        work.tip_reopen(actor=investigator, tip=dup)
    third.refresh_from_db()
    assert third.state == "new" and third.merged_into is None


def test_question_templates(investigator, supervisor, make_staff) -> None:
    template = work.question_template_create(
        actor=supervisor, title="Vehicle", body="What colour was the car?"
    )
    work.question_template_update(
        actor=investigator, template=template, title="Vehicle", body="Colour and plate?"
    )
    work.question_template_deactivate(actor=investigator, template=template)
    template.refresh_from_db()
    assert (template.body, template.active) == ("Colour and plate?", False)
    actions = AuditEntry.objects.filter(object_type="tips.questiontemplate").order_by("seq")
    assert [e.action for e in actions] == [
        "tips.template_create",
        "tips.template_update",
        "tips.template_deactivate",
    ]
    with pytest.raises(NotPermittedError):
        work.question_template_create(actor=make_staff("pio"), title="x", body="y")
    with pytest.raises(InvalidInputError):
        work.question_template_create(actor=supervisor, title=" ", body="y")
    assert QuestionTemplate.objects.count() == 1


def test_reward_code_reaches_only_the_tipster(submit, investigator, supervisor) -> None:
    """The code is in the tipster's dialogue; the database holds only its keyed hash; the
    payer learns the amount and tip code, nothing about the tipster."""
    receipt = submit(contact="call 555-0101, ask for Sam", wants_reward=True)
    tip = receipt.tip
    work.tip_reward_approve(
        actor=supervisor, tip=tip, amount="250", instructions="Call Crime Stoppers."
    )
    tip.refresh_from_db()
    assert (tip.reward_status, tip.reward_amount) == ("approved", Decimal("250.00"))
    seen = [m.read_body() for m in tipster_dialogue_read(tip=tip)]
    assert len(seen) == 1 and "250" in seen[0] and "Call Crime Stoppers." in seen[0]
    code = work.REWARD_CODE.search(seen[0]).group(0)  # type: ignore[union-attr]
    assert tip.reward_code_hash == crypto.lookup_hash(code, purpose="reward")
    stored = TipMessage.objects.get(tip=tip, kind=MessageKind.TO_TIPSTER)
    assert code not in stored.body
    entry = _entries(tip, "tips.reward_approve")[0]
    assert code not in str(entry.data) and code not in entry.justification
    assert work.reward_code_mask(seen[0]).count("R-****-****-****") == 1

    with pytest.raises(InvalidInputError, match="already"):
        work.tip_reward_approve(actor=supervisor, tip=tip, amount="10", instructions="x")
    with pytest.raises(InvalidInputError, match="No reward has that code"):
        work.tip_reward_claim(actor=supervisor, code="R-2222-3333-4444")
    claim = work.tip_reward_claim(actor=supervisor, code=code.lower().replace("-", " "))
    assert claim == work.RewardClaim(amount=Decimal("250.00"), tip_code=tip.code)
    assert "Sam" not in repr(claim)
    tip.refresh_from_db()
    assert tip.reward_status == "paid" and tip.reward_paid_at is not None
    with pytest.raises(InvalidInputError, match="already paid"):
        work.tip_reward_claim(actor=supervisor, code=code)
    assert len(_entries(tip, "tips.reward_claim")) == 1


def test_reward_code_starting_with_r_is_whole_masked_and_claimable(
    submit, supervisor, monkeypatch
) -> None:
    """A code whose own first character is "R" is printed whole (not taken for the prefix),
    hidden from staff, and claimed typed with or without the leading "R-"."""
    monkeypatch.setattr(work.secrets, "choice", lambda alphabet: "R")
    tip = submit(contact="ask for Sam", wants_reward=True).tip
    work.tip_reward_approve(actor=supervisor, tip=tip, amount="75", instructions="Call us.")
    body = tipster_dialogue_read(tip=tip)[0].read_body()
    assert "R-RRRR-RRRR-RRRR" in body
    assert "RRRR" not in work.reward_code_mask(body)
    assert work.reward_code_format("rrrr rrrr rrrr") == "R-RRRR-RRRR-RRRR"
    claim = work.tip_reward_claim(actor=supervisor, code="RRRRRRRRRRRR")
    assert claim.amount == Decimal("75.00")


def test_no_reward_for_spam_and_not_for_analysts(submit, investigator, supervisor, make_staff):
    tip = submit().tip
    with pytest.raises(NotPermittedError):
        work.tip_reward_approve(actor=make_staff("analyst"), tip=tip, amount=5, instructions="x")
    with pytest.raises(InvalidInputError, match="amount"):
        work.tip_reward_approve(actor=supervisor, tip=tip, amount="-5", instructions="x")
    work.tip_close(actor=investigator, tip=tip, outcome="prank")
    with pytest.raises(InvalidInputError, match="no reward"):
        work.tip_reward_approve(actor=supervisor, tip=tip, amount=100, instructions="x")
    tip.refresh_from_db()
    assert tip.reward_status == "" and not tip.reward_code_hash
    assert not TipMessage.objects.filter(tip=tip).exists()


def test_response_times_per_week(submit, investigator, settings) -> None:
    """Medians and 90th percentiles in hours, per ISO week of receipt, on known times."""
    settings.TIME_ZONE = "UTC"
    start = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # Monday of 2026-W47
    tips = []
    for n, (triage_h, reply_h) in enumerate([(1, 2), (2, None), (3, 10), (10, None)]):
        with freeze_time(start + timedelta(hours=n)):
            tip = submit().tip
        received = start + timedelta(hours=n)
        with freeze_time(received + timedelta(hours=triage_h)):
            work.tip_triage(actor=investigator, tip=tip)
        if reply_h is not None:
            with freeze_time(received + timedelta(hours=reply_h)):
                tip_message_send(actor=investigator, tip=tip, body="When exactly?")
        tips.append(tip)
    with freeze_time(start + timedelta(days=7)):  # Monday of W48: one untriaged tip
        submit()
    weeks = response_times_weekly(weeks=3, today=date(2026, 11, 25))
    assert [w.week for w in weeks] == ["2026-W48", "2026-W47", "2026-W46"]
    this, last, before = weeks
    assert (this.received, this.untriaged, this.triage_median) == (1, 1, None)
    assert last.received == 4 and last.untriaged == 0
    assert last.triage_median == 2.5  # of 1, 2, 3, 10
    assert last.triage_p90 == 7.9  # 3 + (10 - 3) * 0.7
    assert (last.reply_median, last.reply_p90) == (6.0, 9.2)
    assert before.received == 0 and before.reply_median is None
