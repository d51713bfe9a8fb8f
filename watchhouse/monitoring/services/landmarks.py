"""Landmarks the agency names for place extraction: a school, a stadium, a mall.

They join the areas and streets of the gazetteer; the stream processor rebuilds its
gazetteer when they change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import Landmark

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Not in policy.py's transparency actions: a landmark is configuration, not a watch.
ACTION_LANDMARK_SAVE = "monitoring.landmark.save"
ACTION_LANDMARK_DELETE = "monitoring.landmark.delete"


def _clean_aliases(aliases: Sequence[str], name: str) -> list[str]:
    seen: list[str] = []
    for alias in aliases:
        alias = " ".join(alias.split())
        if alias and alias.casefold() != name.casefold() and alias not in seen:
            seen.append(alias[:200])
    return seen


def landmark_save(
    *,
    actor: User,
    name: str,
    lat: float,
    lon: float,
    aliases: Sequence[str] = (),
    landmark_id: int | None = None,
) -> Landmark:
    """Create a landmark, or change the one ``landmark_id`` names; audited.

    Raises :class:`InvalidInputError` (changing nothing) for an empty or taken name or
    coordinates off the globe.
    """
    require_role(actor, *policy.ANALYST_ROLES, action="change landmarks")
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InvalidInputError("Give the landmark a name of at most 200 characters.")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInputError("Latitude must be within ±90 and longitude within ±180.")
    with transaction.atomic():
        taken = Landmark.objects.filter(name__iexact=name)
        if landmark_id is not None:
            taken = taken.exclude(pk=landmark_id)
        if taken.exists():
            raise InvalidInputError(f"There is already a landmark called “{name}”.")
        if landmark_id is None:
            landmark = Landmark(name=name)
        else:
            landmark = Landmark.objects.select_for_update().get(pk=landmark_id)
            landmark.name = name
        landmark.lat, landmark.lon = lat, lon
        landmark.aliases = _clean_aliases(aliases, name)
        landmark.save()
        audit_record(
            actor=actor,
            action=ACTION_LANDMARK_SAVE,
            obj=landmark,
            data={"name": name, "lat": lat, "lon": lon, "aliases": landmark.aliases},
        )
    return landmark


def landmark_delete(*, actor: User, landmark_id: int) -> None:
    """Remove a landmark from the gazetteer; audited with what it was."""
    require_role(actor, *policy.ANALYST_ROLES, action="change landmarks")
    with transaction.atomic():
        landmark = Landmark.objects.select_for_update().filter(pk=landmark_id).first()
        if landmark is None:
            raise InvalidInputError("That landmark no longer exists.")
        audit_record(
            actor=actor,
            action=ACTION_LANDMARK_DELETE,
            obj=landmark,
            data={"name": landmark.name, "lat": landmark.lat, "lon": landmark.lon},
        )
        landmark.delete()
