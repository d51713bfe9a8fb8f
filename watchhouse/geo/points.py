"""H3 cells for stored points and for areas.

Every stored point carries its H3 cell at :data:`CELL_RESOLUTION`, and every area lists the
cells at that resolution it touches (:class:`~watchhouse.geo.models.AreaCell`), so the
database can find the areas a point may lie in, or the points an area may hold, by equality
on one indexed column, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import h3
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from watchhouse.core.errors import InvalidInputError

# Resolution 9: hexagons of about 0.1 km², edges of about 200 m — a few city blocks, fine
# enough that most cells of a neighbourhood lie wholly inside it.
CELL_RESOLUTION = 9
# Length of an H3 cell id in hex digits (15 for every resolution above 0).
CELL_ID_LENGTH = 16
# Degrees (about 0.1 m) by which a cell must clear an area's boundary to count as interior.
# H3 cell edges are great-circle arcs while area edges are straight in longitude/latitude;
# at resolution 9 the two differ by far less than this, so "interior" stays true for every
# point H3 assigns to the cell.
INTERIOR_MARGIN_DEG = 1e-6
METRES_PER_DEGREE_LAT = 111_320.0


class InvalidPointError(InvalidInputError):
    """A latitude/longitude pair outside the globe, or not a number."""


def point_check(lat: float, lon: float) -> tuple[float, float]:
    """Return ``(lat, lon)`` as floats, or raise :class:`InvalidPointError` saying what is wrong."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError) as exc:
        raise InvalidPointError(f"Latitude {lat!r} and longitude {lon!r} must be numbers.") from exc
    if not (math.isfinite(lat_f) and -90.0 <= lat_f <= 90.0):
        raise InvalidPointError(f"Latitude {lat!r} is outside -90..90.")
    if not (math.isfinite(lon_f) and -180.0 <= lon_f <= 180.0):
        raise InvalidPointError(f"Longitude {lon!r} is outside -180..180.")
    return lat_f, lon_f


def point_h3(lat: float, lon: float, *, resolution: int = CELL_RESOLUTION) -> str:
    """The H3 cell (hex id) holding the point; raises :class:`InvalidPointError` off the globe."""
    lat_f, lon_f = point_check(lat, lon)
    return str(h3.latlng_to_cell(lat_f, lon_f, resolution))


def points_h3(
    lats: Iterable[float], lons: Iterable[float], *, resolution: int = CELL_RESOLUTION
) -> list[str]:
    """H3 cells of many points, in order ('' for a point that is not on the globe)."""
    cells = []
    for lat, lon in zip(lats, lons, strict=True):
        try:
            cells.append(point_h3(lat, lon, resolution=resolution))
        except InvalidPointError:
            cells.append("")
    return cells


@dataclass(frozen=True)
class CoveringCell:
    """One H3 cell that an area touches; ``interior`` when the whole cell lies inside it."""

    cell: str
    interior: bool


def _cell_polygons(cells: list[str]) -> np.ndarray:
    """Cell outlines as shapely polygons in longitude/latitude."""
    return np.array(
        [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells],
        dtype=object,
    )


def polygon_cells(
    geometry: BaseGeometry, *, resolution: int = CELL_RESOLUTION
) -> list[CoveringCell]:
    """Every H3 cell that ``geometry`` (longitude/latitude) touches, sorted by cell id.

    Complete: any point of the geometry lies in one of the returned cells. A cell is
    ``interior`` only if it clears the boundary by :data:`INTERIOR_MARGIN_DEG`, so every point
    H3 assigns to an interior cell lies inside the geometry without an exact test.
    """
    if geometry.is_empty:
        return []
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    # Candidates: cells whose centre lies within 1.5 cell edges of the geometry. Any cell
    # that touches the geometry has its centre within one edge length (its circumradius), so
    # none is missed; degrees are measured at the widest longitude scale of the geometry.
    edge_m = h3.average_hexagon_edge_length(resolution, "m") * 1.5
    widest_lat = min(max(abs(min_lat), abs(max_lat)), 89.0)
    reach_deg = edge_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(widest_lat)))
    grown = shapely.buffer(geometry, reach_deg, quad_segs=4)
    candidates = sorted(h3.h3shape_to_cells(h3.geo_to_h3shape(grown), resolution))
    outlines = _cell_polygons(candidates)
    shapely.prepare(geometry)
    touching = shapely.dwithin(outlines, geometry, INTERIOR_MARGIN_DEG)
    inside = shapely.covers(geometry, outlines) & ~shapely.dwithin(
        outlines, geometry.boundary, INTERIOR_MARGIN_DEG
    )
    return [
        CoveringCell(cell=cell, interior=bool(interior))
        for cell, near, interior in zip(candidates, touching, inside, strict=True)
        if near
    ]
