"""Where a post is about: the jurisdiction's own place names found in its text, and the
coordinates it carries.

The :class:`Gazetteer` holds three kinds of names, all normalised with
:func:`~watchhouse.monitoring.normalise.normalise_text` and searched with one Aho-Corasick
automaton, accepted only on word boundaries (so "main st" is not found in "domain st"):

- areas (neighbourhoods, beats, wards...) by name, at their centroid;
- streets of the address index, at the mean of their address points. Only names that cannot be
  everyday words are used: a street with a type ("olive st", "grand boulevard") or of at least
  two words ("martin luther king"). A bare one-word name ("broadway", "market") is skipped: in
  posts it is far more often a word than a street. Each street is known by its stored form
  ("n grand blvd"), with the directional dropped ("grand blvd") and with the type and
  directional written out ("north grand boulevard", "grand boulevard");
- the agency's landmarks by name and aliases.

Where names collide, a landmark wins over an area, and an area over a street.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import ahocorasick  # type: ignore[import-not-found]
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from watchhouse.geo.index import NO_AREA, AreaIndex
from watchhouse.monitoring.normalise import normalise_text

# Stored USPS abbreviation → the word people write (the inverse of the geocoder's table).
_STREET_TYPES = {
    "aly": "alley", "ave": "avenue", "blvd": "boulevard", "cir": "circle", "ct": "court",
    "dr": "drive", "expy": "expressway", "fwy": "freeway", "hwy": "highway", "ln": "lane",
    "pkwy": "parkway", "pl": "place", "plz": "plaza", "rd": "road", "sq": "square",
    "st": "street", "ter": "terrace", "trl": "trail", "way": "way",
}  # fmt: skip
_DIRECTIONALS = {
    "n": "north", "s": "south", "e": "east", "w": "west",
    "ne": "northeast", "nw": "northwest", "se": "southeast", "sw": "southwest",
}  # fmt: skip
# Shortest name looked for: shorter ones ("ne", "5") are everywhere in ordinary text.
_MIN_NAME_CHARS = 3
_PRIORITY = {"landmark": 0, "area": 1, "street": 2}


@dataclasses.dataclass(frozen=True, slots=True)
class Place:
    """A place a post names or carries; ``area_id`` is the area holding its point, if any."""

    name: str
    kind: str  # area | street | landmark | coordinates | exif
    lat: float
    lon: float
    area_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "area_id": self.area_id,
        }


def is_word_boundary(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` is not part of a longer word (letters and digits)."""
    return (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum()
    )


def street_variants(street: str) -> list[str]:
    """The normalised ways a post may write a street stored as ``street`` ("N GRAND BLVD"),
    or [] when the name is too likely to be an everyday word (see the module docstring)."""
    words = normalise_text(street).split()
    if not words:
        return []
    direction = words[0] if words[0] in _DIRECTIONALS and len(words) > 1 else ""
    body = words[1:] if direction else words
    typed = len(body) > 1 and body[-1] in _STREET_TYPES
    if not typed and len(body) < 2:
        return []
    bodies = [body]
    if typed:
        bodies.append([*body[:-1], _STREET_TYPES[body[-1]]])
    variants = []
    for form in bodies:
        variants.append(" ".join(form))
        if direction:
            variants.append(" ".join([direction, *form]))
            variants.append(" ".join([_DIRECTIONALS[direction], *form]))
    return list(dict.fromkeys(v for v in variants if len(v) >= _MIN_NAME_CHARS))


class Gazetteer:
    """The jurisdiction's place names and extent, ready for many posts a second."""

    def __init__(
        self,
        *,
        areas: Sequence[tuple[int, str, float, float, BaseGeometry]] = (),
        streets: Iterable[tuple[str, float, float]] = (),
        landmarks: Iterable[tuple[str, Sequence[str], float, float]] = (),
        extent: BaseGeometry | None = None,
    ) -> None:
        """``areas``: (id, name, centroid lat, centroid lon, geometry); ``streets``: (stored
        name, lat, lon); ``landmarks``: (name, aliases, lat, lon); ``extent``: the
        jurisdiction's boundary (default: the union of the areas)."""
        named: dict[str, tuple[int, Place]] = {}

        def add(key: str, place: Place) -> None:
            if len(key) < _MIN_NAME_CHARS:
                return
            rank = _PRIORITY[place.kind]
            if key not in named or rank < named[key][0]:
                named[key] = (rank, place)

        self.area_index = (
            AreaIndex([a[4] for a in areas], ids=[a[0] for a in areas]) if areas else None
        )
        for area_id, name, lat, lon, _geometry in areas:
            add(normalise_text(name), Place(name, "area", lat, lon, area_id))
        for street, lat, lon in streets:
            place = Place(street, "street", lat, lon, self.area_at(lat, lon))
            for variant in street_variants(street):
                add(variant, place)
        for name, aliases, lat, lon in landmarks:
            place = Place(name, "landmark", lat, lon, self.area_at(lat, lon))
            for alias in [name, *aliases]:
                add(normalise_text(alias), place)
        if extent is None and areas:
            extent = shapely.union_all([a[4] for a in areas])
        self.extent = extent
        if extent is not None:
            shapely.prepare(extent)
        self.names = len(named)
        self._automaton: Any = None
        if named:
            automaton = ahocorasick.Automaton()
            for key, (_rank, place) in named.items():
                automaton.add_word(key, (len(key), place))
            automaton.make_automaton()
            self._automaton = automaton

    @classmethod
    def from_database(cls) -> Gazetteer:
        """The gazetteer of every area, street and landmark in the database."""
        from django.db.models import Avg

        from watchhouse.geo.models import Area
        from watchhouse.geo.selectors import jurisdiction_extent
        from watchhouse.geocode.models import AddressPoint
        from watchhouse.monitoring.models import Landmark

        areas = [
            (pk, name, lat, lon, shapely.from_wkb(bytes(wkb)))
            for pk, name, lat, lon, wkb in Area.objects.order_by("id").values_list(
                "id", "name", "centroid_lat", "centroid_lon", "geometry"
            )
        ]
        streets = [
            (row["street"], row["lat"], row["lon"])
            for row in AddressPoint.objects.filter(lat__isnull=False, lon__isnull=False)
            .values("street")
            .annotate(lat=Avg("lat"), lon=Avg("lon"))
            .order_by("street")
        ]
        landmarks = [
            (lm.name, [a for a in lm.aliases if isinstance(a, str)], lm.lat, lm.lon)
            for lm in Landmark.objects.all()
        ]
        return cls(areas=areas, streets=streets, landmarks=landmarks, extent=jurisdiction_extent())

    def extract(self, text_norm: str) -> list[Place]:
        """The places named in normalised text, each once, in order of first mention; a name
        inside a longer one ("Riverside" in "Riverside Mall") is the longer one only."""
        if self._automaton is None or not text_norm:
            return []
        spans = [
            (end + 1 - length, end + 1, place)
            for end, (length, place) in self._automaton.iter(text_norm)
            if is_word_boundary(text_norm, end + 1 - length, end + 1)
        ]
        found: dict[Place, None] = {}
        for start, stop, place in sorted(spans, key=lambda s: (s[0], s[0] - s[1])):
            inside = any(
                a <= start and stop <= b and (b - a) > (stop - start) for a, b, _p in spans
            )
            if not inside:
                found[place] = None
        return list(found)

    def has_name(self, text_norm: str) -> bool:
        """Whether the text names any place (cheaper than :meth:`extract`: stops at the first)."""
        if self._automaton is None:
            return False
        for end, (length, _place) in self._automaton.iter(text_norm):
            if is_word_boundary(text_norm, end + 1 - length, end + 1):
                return True
        return False

    def in_jurisdiction(self, lat: float, lon: float) -> bool:
        """Whether the point lies inside the jurisdiction (edge included)."""
        if self.extent is None:
            return False
        return bool(shapely.intersects_xy(self.extent, lon, lat))

    def area_at(self, lat: float, lon: float) -> int | None:
        """The id of the area holding the point (lowest id where areas overlap), or None."""
        if self.area_index is None:
            return None
        found = int(self.area_index.lookup_ids(np.array([lat]), np.array([lon]))[0])
        return None if found == NO_AREA else found

    def carried(self, lat: float, lon: float, *, kind: str = "coordinates") -> Place:
        """A place for coordinates a post carries (or an image's EXIF shows)."""
        return Place(f"{lat:.5f}, {lon:.5f}", kind, lat, lon, self.area_at(lat, lon))

    def is_local(self, place: Place) -> bool:
        """Whether the place is in the jurisdiction: every named place is; coordinates are
        when they fall inside its extent."""
        if place.kind in ("area", "street", "landmark"):
            return True
        return place.area_id is not None or self.in_jurisdiction(place.lat, place.lon)
