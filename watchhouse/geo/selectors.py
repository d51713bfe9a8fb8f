"""Reading jurisdictions and areas, and finding the areas that hold points."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import shapely
from django.db.models import Count, Max, QuerySet
from shapely.geometry.base import BaseGeometry

from watchhouse.geo.index import AreaIndex
from watchhouse.geo.models import Area, AreaCell, AreaKind, Jurisdiction
from watchhouse.geo.points import point_check, point_h3

# Columns a list of areas needs; the geometry stays in the database until a page draws it.
LIST_FIELDS = (
    "id", "jurisdiction", "kind", "name", "slug", "code", "population", "area_km2",
    "centroid_lat", "centroid_lon", "centroid_h3", "min_lat", "min_lon", "max_lat", "max_lon",
    "source_file", "updated_at",
)  # fmt: skip


def jurisdiction_list() -> QuerySet[Jurisdiction]:
    """Jurisdictions with the number of their areas (``area_count``), by name."""
    return Jurisdiction.objects.defer("boundary").annotate(area_count=Count("areas"))


def area_list(
    *, kind: str | None = None, jurisdiction: Jurisdiction | None = None
) -> QuerySet[Area]:
    """Areas without their geometry, by kind and name, with the jurisdiction loaded."""
    areas = Area.objects.select_related("jurisdiction").only(
        *LIST_FIELDS, "jurisdiction__name", "jurisdiction__slug"
    )
    if kind:
        areas = areas.filter(kind=kind)
    if jurisdiction is not None:
        areas = areas.filter(jurisdiction=jurisdiction)
    return areas.order_by("jurisdiction__name", "kind", "name")


def area_shape_list() -> QuerySet[Area]:
    """Every area with its geometry and no other detail, by kind and name, for drawing maps."""
    return Area.objects.only("id", "jurisdiction_id", "kind", "name", "geometry").order_by(
        "kind", "name"
    )


def jurisdiction_extent() -> BaseGeometry | None:
    """Where the agency serves: the union of every jurisdiction's boundary (None when no
    areas have been imported yet)."""
    boundaries = Jurisdiction.objects.values_list("boundary", flat=True)
    shapes = [shapely.from_wkb(bytes(wkb)) for wkb in boundaries if wkb is not None]
    return shapely.union_all(shapes) if shapes else None


def area_get(*, kind: str, slug: str) -> Area:
    """The area of ``kind`` with ``slug`` (in the first jurisdiction that has one).

    Raises ``Area.DoesNotExist``.
    """
    area = (
        Area.objects.select_related("jurisdiction")
        .filter(kind=kind, slug=slug)
        .order_by("jurisdiction_id")
        .first()
    )
    if area is None:
        raise Area.DoesNotExist(f"No {kind} called {slug!r}.")
    return area


def area_kind_counts(*, jurisdiction: Jurisdiction | None = None) -> dict[str, int]:
    """How many areas of each kind there are, in the order of :class:`AreaKind`."""
    areas = Area.objects.all()
    if jurisdiction is not None:
        areas = areas.filter(jurisdiction=jurisdiction)
    counts = dict(areas.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    return {kind: counts[kind] for kind in AreaKind.values if kind in counts}


def area_neighbours(area: Area, *, margin_deg: float = 1e-5) -> QuerySet[Area]:
    """Areas of every kind whose bounding boxes come within ``margin_deg`` of ``area``'s,
    geometry loaded, for drawing a map around it and finding the areas it borders."""
    return (
        Area.objects.filter(
            jurisdiction_id=area.jurisdiction_id,
            min_lat__lte=area.max_lat + margin_deg,
            max_lat__gte=area.min_lat - margin_deg,
            min_lon__lte=area.max_lon + margin_deg,
            max_lon__gte=area.min_lon - margin_deg,
        )
        .exclude(pk=area.pk)
        .order_by("kind", "name")
    )


def areas_at(
    *, lat: float, lon: float, kinds: Iterable[str] | None = None
) -> dict[str, list[Area]]:
    """The areas holding a point (edge included), by kind, each list ordered by id.

    One query: the point's H3 cell finds the candidate areas through :class:`AreaCell`;
    candidates whose cell lies wholly inside need no exact test, the rest get one.
    Raises :class:`~watchhouse.geo.points.InvalidPointError` for a point off the globe.
    """
    lat, lon = point_check(lat, lon)
    cells = AreaCell.objects.filter(cell=point_h3(lat, lon)).select_related("area")
    if kinds is not None:
        cells = cells.filter(area__kind__in=list(kinds))
    found: dict[str, list[Area]] = defaultdict(list)
    for row in sorted(cells, key=lambda c: c.area_id):
        if row.interior or row.area.covers_point(lat, lon):
            found[row.area.kind].append(row.area)
    return dict(found)


@dataclass(frozen=True)
class _CachedIndex:
    signature: tuple[Any, ...]
    index: AreaIndex


_index_cache: dict[tuple[str, int | None], _CachedIndex] = {}
_index_lock = threading.Lock()


def area_index(*, kind: str, jurisdiction: Jurisdiction | None = None) -> AreaIndex:
    """The :class:`AreaIndex` of the areas of ``kind`` (ids ascending, so the lowest id wins
    on shared edges); its ``lookup_ids`` gives area ids.

    Built once per process and reused while the areas are unchanged: one small query checks
    that, so an import in another process is seen at the next call.
    """
    areas = Area.objects.filter(kind=kind)
    if jurisdiction is not None:
        areas = areas.filter(jurisdiction=jurisdiction)
    summary = areas.aggregate(n=Count("id"), last=Max("id"), changed=Max("updated_at"))
    signature = (summary["n"], summary["last"], summary["changed"])
    key = (kind, jurisdiction.pk if jurisdiction is not None else None)
    cached = _index_cache.get(key)
    if cached is not None and cached.signature == signature:
        return cached.index
    with _index_lock:
        # Another thread may have built it while this one waited.
        cached = _index_cache.get(key)
        if cached is not None and cached.signature == signature:
            return cached.index
        rows = list(areas.order_by("id").values_list("id", "geometry"))
        shapes = [shapely.from_wkb(bytes(wkb)) for _, wkb in rows]
        index = AreaIndex(shapes, ids=[pk for pk, _ in rows])
        _index_cache[key] = _CachedIndex(signature=signature, index=index)
    return index


def area_index_forget() -> None:
    """Drop every cached index of this process (the next lookup rebuilds from the database)."""
    with _index_lock:
        _index_cache.clear()
