"""Investigators working tips: triage, assignment, outcomes, priority, links, merging
duplicates, question templates, and rewards.

Every change of state goes through :func:`watchhouse.tips.states.check_transition` and writes
its audit entry in the same transaction as the change.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.roles import Role, require_role, second_factor_ok
from watchhouse.audit.services import audit_record
from watchhouse.core import crypto
from watchhouse.core.errors import IllegalTransitionError, InvalidInputError, NotPermittedError
from watchhouse.tips.models import (
    MessageKind,
    QuestionTemplate,
    RewardStatus,
    Tip,
    TipLink,
    TipMessage,
    TipPriority,
)
from watchhouse.tips.policy import REWARD_ROLES, require_investigator
from watchhouse.tips.services.intake import CODE_ALPHABET
from watchhouse.tips.states import TipOutcome, TipState, check_transition

if TYPE_CHECKING:
    from watchhouse.accounts.models import User
    from watchhouse.posts.models import Post

# Outcomes that earn no reward.
NO_REWARD_OUTCOMES = frozenset({TipOutcome.SPAM, TipOutcome.PRANK, TipOutcome.UNFOUNDED})
MAX_CASE_NUMBER = 40
MAX_REWARD = Decimal("1000000")
REWARD_PURPOSE = "reward"
# Roles that keep the question templates.
TEMPLATE_ROLES = (Role.SUPERVISOR, Role.INVESTIGATOR)
REWARD_CODE = re.compile(r"\bR-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\b")
REWARD_CODE_LENGTH = 12


def _locked(tip: Tip) -> Tip:
    """The tip's row, locked for this transaction, with its current values."""
    return Tip.objects.select_for_update().get(pk=tip.pk)


def _refresh(tip: Tip, locked: Tip, *fields: str) -> None:
    """Copy what a service changed on the locked row back to the caller's instance."""
    for field in fields:
        setattr(tip, field, getattr(locked, field))


def _priority(value: int | str) -> int:
    try:
        priority = int(value)
    except (TypeError, ValueError):
        priority = 0
    if priority not in TipPriority.values:
        raise InvalidInputError(_("Choose a priority from the list."))
    return priority


def tip_triage(*, actor: User, tip: Tip, priority: int | str | None = None) -> Tip:
    """Mark a new tip triaged (looked at and sorted), optionally with a priority."""
    require_investigator(actor, action="triage tips")
    new_priority = _priority(priority) if priority is not None else None
    with transaction.atomic():
        locked = _locked(tip)
        check_transition(locked.state, TipState.TRIAGED)
        locked.state = TipState.TRIAGED
        if locked.triaged_at is None:
            locked.triaged_at = timezone.now()
        if new_priority is not None:
            locked.priority = new_priority
        locked.save(update_fields=["state", "triaged_at", "priority"])
        audit_record(
            actor=actor, action="tips.triage", obj=locked, data={"priority": locked.priority}
        )
    _refresh(tip, locked, "state", "triaged_at", "priority")
    return tip


def tip_assign(*, actor: User, tip: Tip, assignee: User) -> Tip:
    """Give a tip to an investigator.

    A new or triaged tip becomes assigned (assigning is a triage decision too, so a new tip
    gets its triage time); an assigned or actioned tip keeps its state and changes hands.
    """
    require_investigator(actor, action="assign tips")
    if not (assignee.is_active and assignee.is_staff and assignee.has_any_role(Role.INVESTIGATOR)):
        raise InvalidInputError(
            _("%(name)s is not an active investigator; tips go to investigators only.")
            % {"name": assignee.get_username()}
        )
    with transaction.atomic():
        locked = _locked(tip)
        previous = locked.assignee_id
        if locked.state not in (TipState.ASSIGNED, TipState.ACTIONED):
            check_transition(locked.state, TipState.ASSIGNED)
            locked.state = TipState.ASSIGNED
        elif previous == assignee.pk:
            raise InvalidInputError(
                _("The tip is already assigned to %(name)s.") % {"name": assignee.get_username()}
            )
        if locked.triaged_at is None:
            locked.triaged_at = timezone.now()
        locked.assignee = assignee
        locked.save(update_fields=["state", "triaged_at", "assignee"])
        audit_record(
            actor=actor,
            action="tips.assign",
            obj=locked,
            data={"assignee": assignee.get_username(), "previous": previous},
        )
    _refresh(tip, locked, "state", "triaged_at", "assignee")
    return tip


def tip_action(*, actor: User, tip: Tip) -> Tip:
    """Record that the assigned investigator has acted on the tip."""
    require_investigator(actor, action="work tips")
    with transaction.atomic():
        locked = _locked(tip)
        check_transition(locked.state, TipState.ACTIONED)
        locked.state = TipState.ACTIONED
        locked.save(update_fields=["state"])
        audit_record(actor=actor, action="tips.action", obj=locked)
    _refresh(tip, locked, "state")
    return tip


def _outcome(value: str) -> str:
    if value not in TipOutcome.values:
        raise InvalidInputError(_("Choose what the tip came to."))
    return value


def _close(locked: Tip, outcome: str) -> None:
    now = timezone.now()
    check_transition(locked.state, TipState.CLOSED)
    locked.state = TipState.CLOSED
    locked.outcome = outcome
    locked.closed_at = now
    # Closing a tip nobody triaged (spam, say) is its triage decision.
    if locked.triaged_at is None:
        locked.triaged_at = now


def tip_close(*, actor: User, tip: Tip, outcome: str) -> Tip:
    """Close an open tip with what it came to."""
    require_investigator(actor, action="close tips")
    outcome = _outcome(outcome)
    with transaction.atomic():
        locked = _locked(tip)
        _close(locked, outcome)
        locked.save(update_fields=["state", "outcome", "closed_at", "triaged_at"])
        audit_record(actor=actor, action="tips.close", obj=locked, data={"outcome": outcome})
    _refresh(tip, locked, "state", "outcome", "closed_at", "triaged_at")
    return tip


def tip_reopen(*, actor: User, tip: Tip) -> Tip:
    """Reopen a closed tip; it goes back to triaged without an outcome."""
    require_investigator(actor, action="reopen tips")
    with transaction.atomic():
        locked = _locked(tip)
        if locked.merged_into_id is not None:
            raise InvalidInputError(
                _("This tip was merged into another; work on that tip instead.")
            )
        if locked.state != TipState.CLOSED:
            # new -> triaged is allowed too, but that is triage, not reopening.
            raise IllegalTransitionError(_("Only a closed tip can be reopened."))
        check_transition(locked.state, TipState.TRIAGED)
        previous = locked.outcome
        locked.state = TipState.TRIAGED
        locked.outcome = ""
        locked.closed_at = None
        locked.save(update_fields=["state", "outcome", "closed_at"])
        audit_record(actor=actor, action="tips.reopen", obj=locked, data={"outcome": previous})
    _refresh(tip, locked, "state", "outcome", "closed_at")
    return tip


def tip_priority_set(*, actor: User, tip: Tip, priority: int | str) -> Tip:
    """Change how urgent a tip is."""
    require_investigator(actor, action="set the priority of tips")
    value = _priority(priority)
    with transaction.atomic():
        locked = _locked(tip)
        previous = locked.priority
        locked.priority = value
        locked.save(update_fields=["priority"])
        audit_record(
            actor=actor,
            action="tips.priority_set",
            obj=locked,
            data={"priority": value, "previous": previous},
        )
    _refresh(tip, locked, "priority")
    return tip


def tip_link_add(
    *, actor: User, tip: Tip, case_number: str = "", appeal: Post | None = None
) -> TipLink:
    """Tie a tip to a case number or to an appeal (one of the two)."""
    from watchhouse.posts.models import PostKind

    require_investigator(actor, action="link tips")
    case_number = case_number.strip().upper()
    if bool(case_number) == (appeal is not None):
        raise InvalidInputError(_("Give a case number or choose an appeal (one of the two)."))
    if len(case_number) > MAX_CASE_NUMBER:
        raise InvalidInputError(
            _("A case number is at most %(n)d characters.") % {"n": MAX_CASE_NUMBER}
        )
    if appeal is not None and appeal.kind not in (PostKind.APPEAL, PostKind.MISSING):
        raise InvalidInputError(_("Only appeals and missing-person posts can be linked."))
    with transaction.atomic():
        existing = TipLink.objects.filter(tip=tip)
        if case_number and existing.filter(case_number=case_number).exists():
            raise InvalidInputError(_("The tip is already linked to that case."))
        if appeal is not None and existing.filter(appeal=appeal).exists():
            raise InvalidInputError(_("The tip is already linked to that appeal."))
        link = TipLink.objects.create(
            tip=tip, case_number=case_number, appeal=appeal, created_by=actor
        )
        audit_record(
            actor=actor,
            action="tips.link_add",
            obj=tip,
            data={
                "link": link.pk,
                "case_number": case_number,
                "appeal": appeal.pk if appeal else None,
            },
        )
    return link


def tip_link_remove(*, actor: User, link: TipLink) -> None:
    """Undo a link between a tip and a case or appeal."""
    require_investigator(actor, action="unlink tips")
    with transaction.atomic():
        tip = link.tip
        data = {"link": link.pk, "case_number": link.case_number, "appeal": link.appeal_id}
        link.delete()
        audit_record(actor=actor, action="tips.link_remove", obj=tip, data=data)


def tip_merge(*, actor: User, duplicate: Tip, into: Tip) -> Tip:
    """Close ``duplicate`` as a duplicate of ``into``; the kept tip lists it and its files.

    Refused when the two are the same tip, when ``into`` was itself merged elsewhere, when
    ``duplicate`` is already merged, or when other tips are merged into ``duplicate``
    (merges never chain).
    """
    require_investigator(actor, action="merge tips")
    if duplicate.pk == into.pk:
        raise InvalidInputError(_("A tip cannot be merged into itself."))
    with transaction.atomic():
        # Lock in id order, so two merges of the same pair cannot deadlock.
        rows = {t.pk: t for t in Tip.objects.select_for_update().filter(
            pk__in=[duplicate.pk, into.pk]
        ).order_by("pk")}  # fmt: skip
        dup, kept = rows[duplicate.pk], rows[into.pk]
        if kept.merged_into_id is not None:
            raise InvalidInputError(
                _("Tip %(code)s was itself merged into another tip; merge into that one.")
                % {"code": kept.code}
            )
        if dup.merged_into_id is not None:
            raise InvalidInputError(
                _("Tip %(code)s is already merged into another tip.") % {"code": dup.code}
            )
        if Tip.objects.filter(merged_into=dup).exists():
            raise InvalidInputError(
                _("Other tips are merged into %(code)s; merge the other way round.")
                % {"code": dup.code}
            )
        _close(dup, TipOutcome.DUPLICATE)
        dup.merged_into = kept
        dup.save(update_fields=["state", "outcome", "closed_at", "triaged_at", "merged_into"])
        audit_record(
            actor=actor, action="tips.merge", obj=dup, data={"into": kept.pk, "code": kept.code}
        )
        audit_record(
            actor=actor,
            action="tips.merge_receive",
            obj=kept,
            data={"duplicate": dup.pk, "code": dup.code},
        )
    _refresh(duplicate, dup, "state", "outcome", "closed_at", "triaged_at", "merged_into")
    return duplicate


# --- Question templates ----------------------------------------------------------------------


def _template_fields(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise InvalidInputError(_("A template needs a title and the question."))
    if len(title) > 100:
        raise InvalidInputError(_("A title is at most 100 characters."))
    if len(body) > 5000:
        raise InvalidInputError(_("A question is at most 5000 characters."))
    return title, body


def question_template_create(*, actor: User, title: str, body: str) -> QuestionTemplate:
    """Add a question investigators can send with one choice."""
    require_role(actor, *TEMPLATE_ROLES, action="keep question templates")
    title, body = _template_fields(title, body)
    with transaction.atomic():
        template = QuestionTemplate.objects.create(title=title, body=body)
        audit_record(actor=actor, action="tips.template_create", obj=template)
    return template


def question_template_update(
    *, actor: User, template: QuestionTemplate, title: str, body: str
) -> QuestionTemplate:
    """Change a template's title and question (and make it active again)."""
    require_role(actor, *TEMPLATE_ROLES, action="keep question templates")
    title, body = _template_fields(title, body)
    with transaction.atomic():
        template.title, template.body, template.active = title, body, True
        template.save(update_fields=["title", "body", "active"])
        audit_record(actor=actor, action="tips.template_update", obj=template)
    return template


def question_template_deactivate(*, actor: User, template: QuestionTemplate) -> QuestionTemplate:
    """Take a template out of the list offered when writing to a tipster."""
    require_role(actor, *TEMPLATE_ROLES, action="keep question templates")
    with transaction.atomic():
        template.active = False
        template.save(update_fields=["active"])
        audit_record(actor=actor, action="tips.template_deactivate", obj=template)
    return template


# --- Rewards ---------------------------------------------------------------------------------


def _require_rewarder(actor: User | None, action: str) -> None:
    require_role(actor, *REWARD_ROLES, action=action)
    if not second_factor_ok(actor):
        raise NotPermittedError(
            f"Confirm your authenticator code before you {action}: rewards are handled only "
            "in sessions signed in with the second factor."
        )


def reward_code_format(raw: str) -> str:
    """A reward code as printed (R-XXXX-XXXX-XXXX), from what a person typed, with or
    without the leading "R" (which a code's own first character may also be)."""
    clean = "".join(c for c in raw.upper() if c.isalnum())
    if len(clean) > REWARD_CODE_LENGTH and clean.startswith("R"):
        clean = clean[1:]
    return "R-" + "-".join(clean[i : i + 4] for i in range(0, len(clean), 4))


def reward_code_mask(text: str) -> str:
    """``text`` with any reward code hidden: staff read the dialogue, but a reward code is for
    the tipster's eyes only."""
    return REWARD_CODE.sub("R-****-****-****", text)


def _reward_code() -> str:
    return reward_code_format(
        "R" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(REWARD_CODE_LENGTH))
    )


def _amount(value: Decimal | str | int) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise InvalidInputError(_("Give the reward as an amount, such as 250.00.")) from None
    if not amount.is_finite() or amount <= 0 or amount >= MAX_REWARD:
        raise InvalidInputError(_("Give the reward as an amount, such as 250.00."))
    return amount.quantize(Decimal("0.01"))


def tip_reward_approve(
    *, actor: User, tip: Tip, amount: Decimal | str | int, instructions: str
) -> Tip:
    """Approve a reward and tell the tipster, in their dialogue, the amount, their reward
    code and how to claim it.

    Only the code's keyed hash is stored: the tipster's message is the only place the code
    exists, so whoever pays learns nothing but that the code is genuine.
    """
    _require_rewarder(actor, "approve rewards")
    value = _amount(amount)
    instructions = instructions.strip()
    if not instructions:
        raise InvalidInputError(_("Say how the tipster claims the reward."))
    if len(instructions) > 2000:
        raise InvalidInputError(_("The instructions are at most 2000 characters."))
    with transaction.atomic():
        locked = _locked(tip)
        if locked.outcome in NO_REWARD_OUTCOMES:
            raise InvalidInputError(
                _("A tip closed as %(outcome)s earns no reward.")
                % {"outcome": TipOutcome(locked.outcome).label.lower()}
            )
        if locked.merged_into_id is not None:
            raise InvalidInputError(_("Approve the reward on the tip this one was merged into."))
        if locked.reward_status:
            raise InvalidInputError(_("A reward was already approved for this tip."))
        code = _reward_code()
        locked.reward_status = RewardStatus.APPROVED
        locked.reward_amount = value
        locked.reward_code_hash = crypto.lookup_hash(code, purpose=REWARD_PURPOSE)
        locked.save(update_fields=["reward_status", "reward_amount", "reward_code_hash"])
        body = _(
            "A reward of %(amount)s has been approved for your tip. Your reward code is "
            "%(code)s. Keep it secret: whoever holds it can claim the reward.\n\n"
            "How to claim it: %(instructions)s"
        ) % {"amount": value, "code": code, "instructions": instructions}
        message = TipMessage.objects.create(
            tip=locked, kind=MessageKind.TO_TIPSTER, body=crypto.seal(body), author=actor
        )
        audit_record(
            actor=actor,
            action="tips.reward_approve",
            obj=locked,
            data={"amount": str(value), "message": message.pk},
        )
    _refresh(tip, locked, "reward_status", "reward_amount", "reward_code_hash")
    return tip


@dataclass(frozen=True)
class RewardClaim:
    """What the person paying a reward learns: the amount, and the tip it was for."""

    amount: Decimal
    tip_code: str


def tip_reward_claim(*, actor: User, code: str) -> RewardClaim:
    """Mark the reward of ``code`` paid and say how much to pay.

    Refuses an unknown code or one already paid. Nothing about the tipster is returned.
    """
    _require_rewarder(actor, "pay rewards")
    formatted = reward_code_format(code)
    digest = crypto.lookup_hash(formatted, purpose=REWARD_PURPOSE)
    with transaction.atomic():
        tip = Tip.objects.select_for_update().filter(reward_code_hash=digest).first()
        if tip is None:
            raise InvalidInputError(
                _("No reward has that code. Check it with the person claiming it.")
            )
        if tip.reward_status == RewardStatus.PAID:
            raise InvalidInputError(
                _("That reward was already paid on %(date)s; it cannot be paid twice.")
                % {"date": timezone.localtime(tip.reward_paid_at).strftime("%Y-%m-%d")}
                if tip.reward_paid_at
                else _("That reward was already paid; it cannot be paid twice.")
            )
        tip.reward_status = RewardStatus.PAID
        tip.reward_paid_at = timezone.now()
        tip.save(update_fields=["reward_status", "reward_paid_at"])
        audit_record(
            actor=actor,
            action="tips.reward_claim",
            obj=tip,
            data={"amount": str(tip.reward_amount)},
        )
    return RewardClaim(amount=tip.reward_amount or Decimal(0), tip_code=tip.code)
