"""What the public may see of an incident: the privacy policy and the rules that apply it.

The public never sees an exact address or an exact point. Every incident keeps its exact
location for staff (read only through the audited analyst selector
:func:`watchhouse.crimemap.selectors.incident_exact_get`) and gets a public place and point
computed at import:

================================  =====================  ===============================
the incident                      public place           public point
================================  =====================  ===============================
withheld (see below)              none                   none: area totals only
at an address or hundred block    the hundred block      the block's representative point
at an intersection                the intersection       its representative point
on a street with no number        the street             an offset point (below)
from police.uk (points already    the source's label     the source's point
anonymised by the source)
with no street known              none                   an offset point
with no point, only an area       the place, if any      none: area totals only
================================  =====================  ===============================

- A hundred block is the house number's hundreds and the street: "4601 MARYLAND AVE" becomes
  "46XX MARYLAND AVE" (a number below 100 gives "0XX"); blocks a source publishes itself
  ("10XX ALBERNI ST", "024XX W LITHUANIAN PLAZA CT") are kept as they are. Intersections lose
  any house number too.
- A block's (or an intersection's) representative point is the mean of the exact points of its
  incidents seen at import. While those are fewer than ``block_min_points`` distinct points it
  is the block's offset point instead, so a block with one house in it does not show the house.
- An offset point is the centre of the H3 cell (resolution :data:`OFFSET_RESOLUTION`, about
  65 m across) holding the exact point: close enough to show the street, never the door.
- Withheld incidents show no location finer than their area: no public point, no public
  place, no hundred block, so they count only in area totals. An incident is withheld when any
  of its offences is in a withheld category or has a withheld NIBRS code, when it is flagged
  domestic, when the format's offence table says ``withhold = true`` for its offence, or when
  the source itself has hidden its location (Vancouver's "OFFSET TO PROTECT PRIVACY" rows).

The policy comes from the ``WATCHHOUSE_CRIME_PRIVACY`` setting (a dict); any key it leaves out
keeps the default in :data:`DEFAULT_POLICY`: sexual offences, offences against family and
children, and domestic incidents are withheld.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import h3
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap.categories import NIBRS, Category

# Resolution of the H3 cell whose centre is an offset point (edges of about 66 m).
OFFSET_RESOLUTION = 10
DEFAULT_POLICY: dict[str, Any] = {
    # Categories never shown finer than the area.
    "withheld_categories": [Category.SEX_OFFENCE.value, Category.FAMILY_OFFENCE.value],
    # NIBRS codes never shown finer than the area (victims could be identified): sexual
    # offences, incest, statutory rape, pornography and voyeurism, human trafficking, and
    # nonviolent family offences (child neglect among them).
    "withheld_nibrs": [
        "11A", "11B", "11C", "11D", "36A", "36B", "370", "64A", "64B", "90F", "90H",
    ],
    # Incidents the source flags as domestic are withheld.
    "withhold_domestic": True,
    # Distinct exact points a block needs before its mean becomes its public point.
    "block_min_points": 2,
}  # fmt: skip


class WithheldReason(models.TextChoices):
    """Why an incident shows no location finer than its area."""

    NONE = "", _("Not withheld")
    SOURCE = "source", _("The source hid the location")
    OFFENCE = "offence", _("The format withholds this offence")
    CATEGORY = "category", _("Withheld category")
    NIBRS = "nibrs", _("Withheld NIBRS offence")
    DOMESTIC = "domestic", _("Domestic incident")


class PlaceKind(models.TextChoices):
    """What a public place label names."""

    BLOCK = "block", _("Hundred block")
    INTERSECTION = "intersection", _("Intersection")
    STREET = "street", _("Street")
    LABEL = "label", _("The source's place label")
    NONE = "", _("No street known")


@dataclass(frozen=True)
class PrivacyPolicy:
    """The policy in force (see the module docstring)."""

    withheld_categories: frozenset[str]
    withheld_nibrs: frozenset[str]
    withhold_domestic: bool
    block_min_points: int


def privacy_policy() -> PrivacyPolicy:
    """The policy from settings, each missing key taking its default; raises
    :class:`InvalidInputError` naming a setting that is not understood."""
    given = settings.WATCHHOUSE_CRIME_PRIVACY
    unknown = sorted(set(given) - set(DEFAULT_POLICY))
    if unknown:
        raise InvalidInputError(
            f"WATCHHOUSE_CRIME_PRIVACY has unknown keys {', '.join(unknown)}; known keys are "
            f"{', '.join(DEFAULT_POLICY)}."
        )
    merged = {**DEFAULT_POLICY, **given}
    categories = frozenset(str(c) for c in merged["withheld_categories"])
    bad = sorted(categories - set(Category.values))
    codes = frozenset(str(c).upper() for c in merged["withheld_nibrs"])
    bad += sorted(codes - set(NIBRS))
    if bad:
        raise InvalidInputError(
            f"WATCHHOUSE_CRIME_PRIVACY names unknown categories or NIBRS codes: {', '.join(bad)}."
        )
    return PrivacyPolicy(
        withheld_categories=categories,
        withheld_nibrs=codes,
        withhold_domestic=bool(merged["withhold_domestic"]),
        block_min_points=max(1, int(merged["block_min_points"])),
    )


@dataclass(frozen=True)
class Place:
    """The public side of a source's address: a label without any house number."""

    kind: str  # a PlaceKind value
    label: str  # what the public sees ('' for none)

    @property
    def is_block(self) -> bool:
        """True for places with a representative point of their own (blocks, intersections)."""
        return self.kind in (PlaceKind.BLOCK, PlaceKind.INTERSECTION)


NO_PLACE = Place(PlaceKind.NONE, "")
# A hundred block as sources publish it: "10XX", "024XX", "0000X", "8X", "X".
_BLOCK = re.compile(r"(\d*X+)\s+(.*[A-Z].*)")
# A house number (with a letter, or a range) and the street: "805A RUSSELL BLVD",
# "5207-5209 LOUGHBOROUGH AVE", "630O VERMONT AVE".
_HOUSE = re.compile(r"(\d+)[A-Z]?(?:\s*-\s*\d+[A-Z]?)?\s+(.*[A-Z].*)")
_INTERSECTION = re.compile(r"\s*(?:/|&|@|\bAND\b)\s*")
_DROP = re.compile(r"[.#'\"]")
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", _DROP.sub("", text.upper())).strip()


def _street(part: str) -> str:
    """A street name without the house number or block a part of an intersection may carry."""
    for pattern in (_BLOCK, _HOUSE):
        match = pattern.fullmatch(part)
        if match:
            return match.group(2)
    return part


def place_from_address(text: str | None, *, unknown: frozenset[str] = frozenset()) -> Place:
    """The public place of an address or hundred-block text (see the module docstring).

    ``unknown`` holds (cleaned) values that mean "no place known", such as Vancouver's
    "X NK_LOC ST". A text with no letters (a bare number) names no street.
    """
    if not text:
        return NO_PLACE
    cleaned = _clean(text)
    if not cleaned or cleaned in unknown or not re.search("[A-Z]", cleaned):
        return NO_PLACE
    if _INTERSECTION.search(cleaned):
        parts = [p for p in (_street(p.strip()) for p in _INTERSECTION.split(cleaned)) if p]
        streets = sorted({p for p in parts if re.search("[A-Z]", p)})
        if len(streets) >= 2:
            return Place(PlaceKind.INTERSECTION, " / ".join(streets))
        return Place(PlaceKind.STREET, streets[0]) if streets else NO_PLACE
    if _BLOCK.fullmatch(cleaned):
        return Place(PlaceKind.BLOCK, cleaned)
    house = _HOUSE.fullmatch(cleaned)
    if house:
        return Place(PlaceKind.BLOCK, f"{int(house.group(1)) // 100}XX {house.group(2)}")
    return Place(PlaceKind.STREET, cleaned)


def place_from_label(text: str | None, *, unknown: frozenset[str] = frozenset()) -> Place:
    """A source's own public place label ("On or near Swithen Hill"), used as given unless
    it starts with a house number, which is dropped as from an address."""
    if not text:
        return NO_PLACE
    label = _SPACES.sub(" ", text).strip()
    if not label or _clean(label) in unknown:
        return NO_PLACE
    if _HOUSE.fullmatch(_clean(label)):
        return place_from_address(label, unknown=unknown)
    return Place(PlaceKind.LABEL, label[:200])


def offset_point(lat: float, lon: float) -> tuple[float, float]:
    """The centre of the H3 cell (at :data:`OFFSET_RESOLUTION`) holding the point."""
    centre_lat, centre_lon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, OFFSET_RESOLUTION))
    return float(centre_lat), float(centre_lon)
