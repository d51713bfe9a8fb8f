"""The lifecycle of a tip, as an explicit transition table.

new → triaged → assigned → actioned → closed. A tip can be closed from any open state (spam is
closed straight from new) and a closed tip can be reopened to triaged.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.core.errors import IllegalTransitionError


class TipState(models.TextChoices):
    """Where a tip is in the investigators' work."""

    NEW = "new", _("New")
    TRIAGED = "triaged", _("Triaged")
    ASSIGNED = "assigned", _("Assigned")
    ACTIONED = "actioned", _("Actioned")
    CLOSED = "closed", _("Closed")


class TipOutcome(models.TextChoices):
    """What a closed tip came to."""

    SPAM = "spam", _("Spam")
    PRANK = "prank", _("Prank")
    DUPLICATE = "duplicate", _("Duplicate")
    UNFOUNDED = "unfounded", _("Unfounded")
    USEFUL = "useful", _("Useful")
    LED_TO_ARREST = "arrest", _("Led to arrest")


TRANSITIONS: dict[str, frozenset[str]] = {
    TipState.NEW: frozenset({TipState.TRIAGED, TipState.ASSIGNED, TipState.CLOSED}),
    TipState.TRIAGED: frozenset({TipState.ASSIGNED, TipState.CLOSED}),
    TipState.ASSIGNED: frozenset({TipState.ACTIONED, TipState.CLOSED}),
    TipState.ACTIONED: frozenset({TipState.CLOSED}),
    TipState.CLOSED: frozenset({TipState.TRIAGED}),
}

# States an investigator still has to work.
OPEN_STATES = frozenset({TipState.NEW, TipState.TRIAGED, TipState.ASSIGNED, TipState.ACTIONED})


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransitionError` unless a tip may go from ``current`` to ``target``."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(
            f"A tip that is {TipState(current).label.lower()} cannot become "
            f"{TipState(target).label.lower()}."
        )
