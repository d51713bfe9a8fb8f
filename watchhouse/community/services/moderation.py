"""Moderation within the published policy: hide (with a reason), restore, delete (unlawful
content only), dismiss flags; and the profiling filter's list of terms.

Every decision is a :class:`ModerationDecision` row and an audit entry, written in one
transaction with the change. Hiding keeps the words (the author still sees them, marked hidden
with the reason); deletion blanks them and is kept for content that is itself unlawful
(threats, doxxing, child abuse material), because removing lawful speech from an official
forum is a constitutional question in the US (*Lindke v. Freed*, 2024).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.community.models import (
    UNLAWFUL_REASONS,
    Comment,
    Discussion,
    ModerationAction,
    ModerationDecision,
    ModerationReason,
    ProfilingTerm,
    Visibility,
)
from watchhouse.community.policy import MODERATOR_ROLES
from watchhouse.community.services.conversation import Item, public_changed
from watchhouse.community.text import profiling_terms_default
from watchhouse.core.errors import InvalidInputError

NOTE_MAX = 2000


def _locked(item: Item) -> Item:
    if not isinstance(item, Comment | Discussion):
        raise InvalidInputError(_("Only comments and discussions are moderated."))
    return type(item).objects.select_for_update().get(pk=item.pk)


def _note(note: str, *, required: bool = False) -> str:
    value = (note or "").strip()
    if required and not value:
        raise InvalidInputError(_("Write a note saying why: it is kept with the decision."))
    if len(value) > NOTE_MAX:
        raise InvalidInputError(
            _("The note is too long (at most %(n)d characters).") % {"n": NOTE_MAX}
        )
    return value


def _decide(
    *, actor: User | None, item: Item, action: str, reason: str, note: str
) -> ModerationDecision:
    decision = ModerationDecision.objects.create(
        comment=item if isinstance(item, Comment) else None,
        discussion=item if isinstance(item, Discussion) else None,
        action=action,
        reason=reason,
        note=note,
        actor=actor,
    )
    audit_record(
        actor=actor,
        action=f"community.moderation_{action}",
        obj=item,
        data={"decision": decision.pk, "reason": reason, "visibility": item.visibility},
        justification=note,
    )
    public_changed(item)
    return decision


def _copy(item: Item, locked: Item) -> None:
    for field in ("visibility", "hidden_reason", "body"):
        setattr(item, field, getattr(locked, field))


def moderation_hide(*, actor: User, item: Item, reason: str, note: str = "") -> ModerationDecision:
    """Hide a comment or discussion for a reason of the published policy: the public sees a
    placeholder naming the reason, the author sees their words marked hidden with it."""
    require_role(actor, *MODERATOR_ROLES, action="moderate the community")
    if reason not in ModerationReason.values:
        raise InvalidInputError(_("Choose a reason from the moderation policy."))
    note = _note(note)
    with transaction.atomic():
        locked = _locked(item)
        if locked.visibility not in (Visibility.VISIBLE, Visibility.PENDING):
            raise InvalidInputError(_("This is already hidden or deleted."))
        locked.visibility, locked.hidden_reason = Visibility.HIDDEN, reason
        locked.save(update_fields=["visibility", "hidden_reason"])
        decision = _decide(
            actor=actor, item=locked, action=ModerationAction.HIDE, reason=reason, note=note
        )
    _copy(item, locked)
    return decision


def moderation_restore(*, actor: User, item: Item, note: str) -> ModerationDecision:
    """Show a hidden (or hidden-pending-review) item again; the note saying why is required."""
    require_role(actor, *MODERATOR_ROLES, action="moderate the community")
    note = _note(note, required=True)
    with transaction.atomic():
        locked = _locked(item)
        if locked.visibility not in (Visibility.PENDING, Visibility.HIDDEN):
            raise InvalidInputError(
                _("Deleted content cannot be restored: its text is gone.")
                if locked.visibility == Visibility.DELETED
                else _("This is not hidden.")
            )
        locked.visibility, locked.hidden_reason = Visibility.VISIBLE, ""
        locked.save(update_fields=["visibility", "hidden_reason"])
        decision = _decide(
            actor=actor, item=locked, action=ModerationAction.RESTORE, reason="", note=note
        )
    _copy(item, locked)
    return decision


def moderation_delete(
    *, actor: User, item: Item, reason: str, note: str = ""
) -> ModerationDecision:
    """Delete unlawful content: its text is blanked everywhere (the decision and the audit
    entry keep the reason, not the words). Any other reason is refused: hide instead."""
    require_role(actor, *MODERATOR_ROLES, action="moderate the community")
    if reason not in UNLAWFUL_REASONS:
        raise InvalidInputError(
            _(
                "Deletion is only for unlawful content (a threat, doxxing, child abuse "
                "material). For anything else, hide it with a reason from the policy: hidden "
                "words stay on record and can be restored."
            )
        )
    note = _note(note)
    with transaction.atomic():
        locked = _locked(item)
        if locked.visibility == Visibility.DELETED:
            raise InvalidInputError(_("This is already deleted."))
        locked.visibility, locked.hidden_reason, locked.body = Visibility.DELETED, reason, ""
        fields = ["visibility", "hidden_reason", "body"]
        if isinstance(locked, Discussion):
            locked.title = locked.behaviour = locked.clothing = locked.person_description = ""
            fields += ["title", "behaviour", "clothing", "person_description"]
        locked.save(update_fields=fields)
        # The flags' notes may quote the words: they go too.
        locked.flags.update(note="")
        decision = _decide(
            actor=actor, item=locked, action=ModerationAction.DELETE, reason=reason, note=note
        )
    _copy(item, locked)
    return decision


def moderation_dismiss(*, actor: User, item: Item, note: str = "") -> ModerationDecision:
    """Review the flags on a visible item and keep it visible (its flags stop counting towards
    an automatic hide)."""
    require_role(actor, *MODERATOR_ROLES, action="moderate the community")
    note = _note(note)
    with transaction.atomic():
        locked = _locked(item)
        if locked.visibility != Visibility.VISIBLE:
            raise InvalidInputError(
                _("This is hidden: restore it (with a note) or keep it hidden.")
            )
        return _decide(
            actor=actor, item=locked, action=ModerationAction.DISMISS, reason="", note=note
        )


def profiling_term_add(*, actor: User | None, term: str, note: str = "") -> ProfilingTerm:
    """Add a word or phrase to the profiling filter (or switch a deactivated one back on).
    ``actor`` None is the installation's own seeding."""
    if actor is not None:
        require_role(actor, *MODERATOR_ROLES, action="tune the profiling filter")
    value = " ".join((term or "").split()).lower()
    if not value or len(value) > 60:
        raise InvalidInputError(_("A term is one word or a short phrase (up to 60 characters)."))
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = ProfilingTerm.objects.create(term=value, note=(note or "").strip()[:200])
        except IntegrityError:
            row = ProfilingTerm.objects.select_for_update().get(term=value)
            if row.active:
                raise InvalidInputError(_("This term is already in the list.")) from None
            row.active = True
            row.save(update_fields=["active"])
        audit_record(actor=actor, action="community.profiling_term_add", obj=row,
                     data={"term": row.term})  # fmt: skip
    return row


def profiling_term_deactivate(*, actor: User, term: ProfilingTerm) -> ProfilingTerm:
    """Stop checking for ``term`` (kept in the list, switched off)."""
    require_role(actor, *MODERATOR_ROLES, action="tune the profiling filter")
    with transaction.atomic():
        row = ProfilingTerm.objects.select_for_update().get(pk=term.pk)
        row.active = False
        row.save(update_fields=["active"])
        audit_record(actor=actor, action="community.profiling_term_deactivate", obj=row,
                     data={"term": row.term})  # fmt: skip
    return row


def profiling_terms_seed(*, actor: User | None = None) -> int:
    """Add the default profiling terms that are not in the list yet (staff's deactivations
    are kept); returns how many were added. ``actor`` None: a new installation or the demo."""
    if actor is not None:
        require_role(actor, *MODERATOR_ROLES, action="tune the profiling filter")
    added = 0
    with transaction.atomic():
        existing = set(ProfilingTerm.objects.values_list("term", flat=True))
        for term, note in profiling_terms_default():
            if term not in existing:
                ProfilingTerm.objects.create(term=term, note=note)
                added += 1
        if added:
            audit_record(actor=actor, action="community.profiling_terms_seed",
                         data={"added": added})  # fmt: skip
    return added
