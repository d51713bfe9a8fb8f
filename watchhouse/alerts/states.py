"""The lifecycle of an alert message, as an explicit transition table."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.core.errors import IllegalTransitionError


class AlertState(models.TextChoices):
    """Where an alert message is in its life."""

    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    ISSUED = "issued", _("Issued")
    UPDATED = "updated", _("Superseded by an update")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    DISCARDED = "discarded", _("Discarded")


TRANSITIONS: dict[str, frozenset[str]] = {
    AlertState.DRAFT: frozenset(
        {AlertState.PENDING_APPROVAL, AlertState.ISSUED, AlertState.DISCARDED}
    ),
    # Returning a draft to its author sends it back to DRAFT.
    AlertState.PENDING_APPROVAL: frozenset({AlertState.APPROVED, AlertState.DRAFT}),
    AlertState.APPROVED: frozenset({AlertState.ISSUED, AlertState.DRAFT}),
    AlertState.ISSUED: frozenset({AlertState.UPDATED, AlertState.CANCELLED, AlertState.EXPIRED}),
    # A superseded message ends with the message that superseded it.
    AlertState.UPDATED: frozenset({AlertState.CANCELLED, AlertState.EXPIRED}),
    AlertState.CANCELLED: frozenset(),
    AlertState.EXPIRED: frozenset(),
    AlertState.DISCARDED: frozenset(),
}

# States in which a message has gone out and is public.
SENT_STATES = frozenset(
    {AlertState.ISSUED, AlertState.UPDATED, AlertState.CANCELLED, AlertState.EXPIRED}
)
# States in which the text may still change.
EDITABLE_STATES = frozenset({AlertState.DRAFT})


def transition_check(current: str, target: str) -> None:
    """Raise :class:`IllegalTransitionError` unless ``current`` may become ``target``."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(
            f"An alert that is {AlertState(current).label.lower()} cannot become "
            f"{AlertState(target).label.lower()}."
        )
