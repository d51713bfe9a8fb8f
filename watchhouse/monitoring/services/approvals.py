"""Two-person approvals: one person asks, a supervisor who is someone else decides.

What an approval unlocks is done by the effect registered for its kind, in the transaction of
the decision, so "approved" and "done" can never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    ApprovalState,
    Case,
    RuleState,
    WatchRule,
)

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

Effect = Callable[[Approval, "User"], None]
_EFFECTS: dict[str, Effect] = {}


def approval_effect(kind: ApprovalKind) -> Callable[[Effect], Effect]:
    """Register what approving an approval of ``kind`` does (runs inside the decision)."""

    def register(effect: Effect) -> Effect:
        _EFFECTS[kind] = effect
        return effect

    return register


def approval_request(
    *,
    actor: User,
    kind: ApprovalKind,
    justification: str,
    request: dict[str, Any],
    case: Case | None = None,
    rule: WatchRule | None = None,
) -> Approval:
    """Record a request for a second person's approval; nothing it asks for happens yet.

    Runs inside the caller's transaction when there is one (the caller audits what it asked).
    """
    justification = justification.strip()
    if len(justification) < 20:
        raise InvalidInputError("Write a justification of at least 20 characters.")
    with transaction.atomic():
        approval = Approval.objects.create(
            kind=kind,
            case=case,
            rule=rule,
            request=request,
            justification=justification,
            requested_by=actor,
        )
        audit_record(
            actor=actor,
            action=policy.ACTION_APPROVAL_REQUEST,
            obj=approval,
            justification=justification,
            data={"kind": kind, "request": request, "case": case.number if case else None},
        )
    return approval


def approval_decide(*, actor: User, approval_id: int, approve: bool, note: str = "") -> Approval:
    """Approve (doing what was asked) or refuse a pending request; never by its requester."""
    require_role(actor, *policy.SUPERVISOR_ROLES, action="decide approvals")
    with transaction.atomic():
        approval = Approval.objects.select_for_update().get(pk=approval_id)
        if approval.state != ApprovalState.PENDING:
            raise InvalidInputError("This request has already been decided.")
        if approval.requested_by_id == actor.pk:
            raise NotPermittedError("A second person must decide a request you made.")
        if not approve and not note.strip():
            raise InvalidInputError("Say why the request is refused.")
        approval.state = ApprovalState.APPROVED if approve else ApprovalState.REFUSED
        approval.decided_by = actor
        approval.decided_at = timezone.now()
        approval.decision_note = note.strip()[:500]
        approval.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            action=policy.ACTION_APPROVAL_APPROVE if approve else policy.ACTION_APPROVAL_REFUSE,
            obj=approval,
            justification=approval.justification,
            data={"kind": approval.kind, "note": approval.decision_note},
        )
        if approve and approval.kind in _EFFECTS:
            _EFFECTS[approval.kind](approval, actor)
        elif not approve and approval.rule_id is not None:
            # A rule waiting on this request will never go live: say so where staff look.
            WatchRule.objects.filter(pk=approval.rule_id, state=RuleState.PENDING).update(
                state=RuleState.REFUSED, refused_reason=approval.decision_note
            )
    return approval
