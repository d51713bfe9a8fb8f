"""Who an alert reaches: matching subscriptions by geometry, category, quiet hours.

Candidates come from the database by plain numbers (a point place's circle bounding box
against the alert's, area ids, the place's H3 cell); only candidates whose cell is not wholly
inside the alert area get an exact test, vectorised with shapely.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time

import h3
import numpy as np
import pyproj
import shapely
from django.db.models import Count, QuerySet
from django.utils import timezone
from shapely.geometry.base import BaseGeometry

from watchhouse.geo.models import Area
from watchhouse.geo.points import CELL_RESOLUTION, METRES_PER_DEGREE_LAT, polygon_cells
from watchhouse.notify.models import (
    MAX_RADIUS_M,
    Delivery,
    Endpoint,
    PlaceKind,
    Subscription,
    SubscriptionPlace,
    SubscriptionStatus,
)

# Ids per query in ``__in`` lookups (SQLite allows 999 parameters on older builds).
CHUNK = 900
# Degrees by which an alert's box is grown before it is compared with the boxes of point
# places. Those boxes are computed on a sphere, while the exact test measures on the WGS84
# ellipsoid, where a degree of latitude is up to 0.7 % shorter: 0.7 % of the largest radius
# (10 miles) is about 0.001 degrees, so no place the area reaches is left out.
BOX_MARGIN_DEG = 0.002
# Share by which a cell's circumradius is grown in :func:`reach_ring`: H3 draws cell edges as
# straight lines on its icosahedron faces, which the projection bends by far less than this.
RING_SLACK = 0.05


@dataclass(frozen=True)
class Recipient:
    """One endpoint an alert goes to."""

    endpoint_id: int
    subscription_id: int
    channel: str
    language: str


@dataclass(frozen=True)
class Reach:
    """How many subscriptions and messages per channel an alert would reach now."""

    subscriptions: int
    messages: dict[str, int]
    quiet: int

    @property
    def total_messages(self) -> int:
        return sum(self.messages.values())


def chunks(values: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    """``values`` in lists of at most ``size``."""
    batch: list[int] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def in_quiet_hours(start: time | None, end: time | None, at: datetime) -> bool:
    """True when local time ``at`` falls in the quiet hours from ``start`` to ``end``."""
    if start is None or end is None or start == end:
        return False
    now = timezone.localtime(at).time()
    if start < end:
        return start <= now < end
    return now >= start or now < end


def _local_metres(shape: BaseGeometry) -> pyproj.Transformer:
    centre = shape.centroid
    return pyproj.Transformer.from_crs(
        "EPSG:4326",
        f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m",
        always_xy=True,
    )


def points_reached(
    shape: BaseGeometry,
    lats: np.ndarray,
    lons: np.ndarray,
    radii_m: np.ndarray,
    *,
    inside_known: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask: the circles (centre, radius) that the alert area comes within.

    A centre inside the area always matches; the others match when their distance to the
    area (measured in an azimuthal equidistant projection centred on the area) is at most
    the radius.
    """
    hit = np.zeros(lats.size, dtype=bool) if inside_known is None else inside_known.copy()
    todo = np.flatnonzero(~hit)
    if todo.size:
        shapely.prepare(shape)
        hit[todo] = shapely.intersects_xy(shape, lons[todo], lats[todo])
    todo = np.flatnonzero(~hit)
    if todo.size:
        transformer = _local_metres(shape)
        shape_m = shapely.transform(
            shape, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
        x, y = transformer.transform(lons[todo], lats[todo])
        shapely.prepare(shape_m)
        hit[todo] = shapely.dwithin(shape_m, shapely.points(x, y), radii_m[todo])
    return hit


@dataclass(frozen=True, slots=True)
class RingCell:
    """An H3 cell near an alert area, with bounds on how far its points are from the area:
    every point H3 assigns to ``cell`` is at least ``near_m`` and at most ``far_m`` metres
    from the area, as :func:`points_reached` measures."""

    cell: str
    near_m: float
    far_m: float


def reach_ring(
    shape: BaseGeometry, *, exclude: Iterable[str] = (), max_radius_m: float = MAX_RADIUS_M
) -> list[RingCell]:
    """The H3 cells (at :data:`~watchhouse.geo.points.CELL_RESOLUTION`) some point of which
    lies within ``max_radius_m`` of ``shape``, but not those in ``exclude`` (the cells wholly
    inside it), with distance bounds.

    A circle place whose radius is at least its cell's ``far_m`` surely reaches the area and
    one whose radius is below ``near_m`` surely does not: only the radii in between need the
    exact test. The bounds come from the distance of the cell's centre to the area plus or
    minus the cell's circumradius (its farthest vertex, with :data:`RING_SLACK` to spare), all
    in the projection :func:`points_reached` measures in, so the triangle inequality makes
    them hold for every point of the cell.
    """
    transformer = _local_metres(shape)
    shape_m = shapely.transform(
        shape, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    edge_m = h3.average_hexagon_edge_length(CELL_RESOLUTION, "m")
    # Cells with any point within the radius have their centre within radius + circumradius
    # (at most about two average edges at this resolution).
    grown_m = shapely.buffer(shape_m, max_radius_m + 3 * edge_m, quad_segs=8)
    inverse = pyproj.enums.TransformDirection.INVERSE
    grown = shapely.transform(
        grown_m,
        lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1], direction=inverse)),
    )
    skip = set(exclude)
    cells = [c for c in h3.h3shape_to_cells(h3.geo_to_h3shape(grown), CELL_RESOLUTION)
             if c not in skip]  # fmt: skip
    if not cells:
        return []
    centres = np.array([h3.cell_to_latlng(c) for c in cells])
    cx, cy = transformer.transform(centres[:, 1], centres[:, 0])
    # Circumradii by the local flat-earth approximation, exact to far better than the slack
    # over a few hundred metres.
    outlines = [h3.cell_to_boundary(c) for c in cells]
    owner = np.repeat(np.arange(len(cells)), [len(o) for o in outlines])
    corners = np.array([corner for outline in outlines for corner in outline])
    dy = (corners[:, 0] - centres[owner, 0]) * METRES_PER_DEGREE_LAT
    dx = (corners[:, 1] - centres[owner, 1]) * METRES_PER_DEGREE_LAT
    dx *= np.cos(np.radians(centres[owner, 0]))
    radii = np.zeros(len(cells))
    np.maximum.at(radii, owner, np.hypot(dx, dy))
    radii = radii * (1 + RING_SLACK) + 1.0
    shapely.prepare(shape_m)
    centre_distance = shapely.distance(shape_m, shapely.points(cx, cy))
    near = np.maximum(centre_distance - radii, 0.0)
    far = centre_distance + radii
    return [
        RingCell(cell, float(n), float(f))
        for cell, n, f in zip(cells, near, far, strict=True)
        if n <= max_radius_m
    ]


def candidate_bounds(shape: BaseGeometry) -> tuple[float, float, float, float]:
    """``shape``'s bounds grown by :data:`BOX_MARGIN_DEG`, to compare with places' boxes."""
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    widen = BOX_MARGIN_DEG / max(math.cos(math.radians(max(abs(min_lat), abs(max_lat)))), 0.01)
    return (min_lon - widen, min_lat - BOX_MARGIN_DEG, max_lon + widen, max_lat + BOX_MARGIN_DEG)


def areas_touching(shape: BaseGeometry) -> list[int]:
    """Ids of the jurisdiction's areas that ``shape`` reaches into."""
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    candidates = Area.objects.filter(
        min_lat__lte=max_lat, max_lat__gte=min_lat, min_lon__lte=max_lon, max_lon__gte=min_lon
    ).values_list("id", "geometry")
    shapely.prepare(shape)
    return [pk for pk, wkb in candidates if shape.intersects(shapely.from_wkb(bytes(wkb)))]


def subscriptions_matching(
    shape: BaseGeometry,
    *,
    category: str,
    at: datetime | None = None,
    interior_cells: set[str] | None = None,
) -> tuple[dict[int, str], set[int]]:
    """Active subscriptions that want ``category`` and follow a place the area reaches.

    Returns their languages by id, and the ids held back by quiet hours (never for Alerts).
    ``interior_cells`` are H3 cells wholly inside the area (computed when not given).
    """
    at = at or timezone.now()
    if interior_cells is None:
        interior_cells = {c.cell for c in polygon_cells(shape) if c.interior}
    live = {
        "subscription__status": SubscriptionStatus.ACTIVE,
        f"subscription__want_{category}": True,
    }
    fields = ("subscription_id", "subscription__language", "subscription__quiet_start",
              "subscription__quiet_end")  # fmt: skip
    found: dict[int, tuple[str, time | None, time | None]] = {}

    def keep(rows: Iterable[tuple[int, str, time | None, time | None]]) -> None:
        for sub_id, language, start, end in rows:
            found[sub_id] = (language, start, end)

    keep(SubscriptionPlace.objects.filter(kind=PlaceKind.JURISDICTION, **live).values_list(*fields))
    for ids in chunks(areas_touching(shape)):
        keep(
            SubscriptionPlace.objects.filter(
                kind=PlaceKind.AREA, area_id__in=ids, **live
            ).values_list(*fields)
        )
    min_lon, min_lat, max_lon, max_lat = candidate_bounds(shape)
    points = list(
        SubscriptionPlace.objects.filter(
            kind=PlaceKind.POINT, min_lat__lte=max_lat, max_lat__gte=min_lat,
            min_lon__lte=max_lon, max_lon__gte=min_lon, **live,
        ).order_by().values_list(*fields, "lat", "lon", "radius_m", "h3")
    )  # fmt: skip
    if points:
        lats = np.fromiter((p[4] for p in points), dtype=float, count=len(points))
        lons = np.fromiter((p[5] for p in points), dtype=float, count=len(points))
        radii = np.fromiter((p[6] for p in points), dtype=float, count=len(points))
        inside = np.fromiter(
            (p[7] in interior_cells for p in points), dtype=bool, count=len(points)
        )
        reached = points_reached(shape, lats, lons, radii, inside_known=inside)
        keep(p[:4] for p, hit in zip(points, reached, strict=True) if hit)
    languages: dict[int, str] = {}
    quiet: set[int] = set()
    for sub_id, (language, start, end) in found.items():
        if category != "alert" and in_quiet_hours(start, end, at):
            quiet.add(sub_id)
        else:
            languages[sub_id] = language
    return languages, quiet


def live_endpoints(subscription_ids: Iterable[int]) -> list[tuple[int, int, str]]:
    """``(endpoint, subscription, channel)`` of the confirmed, enabled endpoints of the
    subscriptions, one per channel and address (the lowest id), so a person who subscribed
    twice still gets one message per channel."""
    best: dict[tuple[str, str], tuple[int, int, str]] = {}
    for ids in chunks(sorted(subscription_ids)):
        rows = Endpoint.objects.filter(
            subscription_id__in=ids, confirmed_at__isnull=False, disabled_at__isnull=True
        ).values_list("id", "subscription_id", "channel", "address")
        for pk, sub_id, channel, address in rows:
            key = (channel, address.lower() if channel == "email" else address)
            if key not in best or pk < best[key][0]:
                best[key] = (pk, sub_id, channel)
    return sorted(best.values())


def alert_reach(shape: BaseGeometry, *, category: str, at: datetime | None = None) -> Reach:
    """How many subscriptions and messages per channel an alert to ``shape`` would reach."""
    languages, quiet = subscriptions_matching(shape, category=category, at=at)
    endpoints = live_endpoints(languages)
    counts = Counter(channel for _, _, channel in endpoints)
    return Reach(subscriptions=len(languages), messages=dict(counts), quiet=len(quiet))


def delivery_counts(alert_id: int) -> dict[str, dict[str, int]]:
    """Deliveries of an alert by channel, then status."""
    table: dict[str, dict[str, int]] = {}
    rows = (
        Delivery.objects.filter(alert_id=alert_id)
        .values_list("channel", "status")
        .annotate(n=Count("id"))
        .order_by("channel", "status")
    )
    for channel, status, n in rows:
        table.setdefault(channel, {})[status] = n
    return table


def delivery_list(alert_id: int) -> QuerySet[Delivery]:
    """An alert's deliveries, oldest first (addresses are not loaded)."""
    return Delivery.objects.filter(alert_id=alert_id).order_by("id")


def subscription_get(public_id: str) -> Subscription:
    """The subscription with its places (areas loaded) and endpoints; raises DoesNotExist."""
    return Subscription.objects.prefetch_related("places__area", "endpoints").get(
        public_id=public_id
    )
