"""The lifecycle of an imported incident, as an explicit transition table.

An incident is active while its source publishes it. A full export that no longer holds it
(``import-incidents --withdraw-missing``) withdraws it; if a later export holds it again it
becomes active again. Withdrawn incidents are kept for staff and left out of public pages.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.core.errors import IllegalTransitionError


class IncidentState(models.TextChoices):
    """Whether the source still publishes an incident."""

    ACTIVE = "active", _("Active")
    WITHDRAWN = "withdrawn", _("Withdrawn by the source")


TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentState.ACTIVE: frozenset({IncidentState.WITHDRAWN}),
    IncidentState.WITHDRAWN: frozenset({IncidentState.ACTIVE}),
}


def transition_check(current: str, target: str) -> None:
    """Raise :class:`IllegalTransitionError` unless ``current`` may become ``target``."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(
            f"An incident that is {IncidentState(current).label.lower()} cannot become "
            f"{IncidentState(target).label.lower()}."
        )
