"""Distances and radii on the earth, for one point or many (numpy arrays) at once.

The earth is taken as a sphere of the mean radius: distances are within 0.5 % of the
ellipsoidal (geodesic) answer, and :func:`circle_polygon` uses the same sphere as
:func:`haversine_m`, so a point is inside the circle polygon whenever it is within the radius.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import shapely

# Mean earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
METRES_PER_MILE = 1609.344


def miles_to_metres(miles: float) -> float:
    """Statute miles in metres."""
    return miles * METRES_PER_MILE


def metres_to_miles(metres: float) -> float:
    """Metres in statute miles."""
    return metres / METRES_PER_MILE


@overload
def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float: ...
@overload
def haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray: ...
def haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in metres; scalars give a float, arrays broadcast to an array."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    distance = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return float(distance) if np.ndim(distance) == 0 else distance


def within_radius(lats: Any, lons: Any, *, lat: float, lon: float, radius_m: float) -> np.ndarray:
    """Boolean mask of the points (arrays) within ``radius_m`` of (``lat``, ``lon``), edge included.

    A cheap latitude band rejects most far points before the exact haversine test.
    """
    lats = np.asarray(lats, dtype=float)
    lons = np.asarray(lons, dtype=float)
    band = np.degrees(radius_m / EARTH_RADIUS_M) * 1.000001
    mask = np.abs(lats - lat) <= band
    candidates = np.flatnonzero(mask)
    if candidates.size:
        near = haversine_m(lat, lon, lats[candidates], lons[candidates]) <= radius_m
        mask[candidates] = near
    return mask


def destination(lat: float, lon: float, *, bearing_deg: Any, distance_m: float) -> tuple[Any, Any]:
    """Latitude and longitude reached from a point along ``bearing_deg`` (one or many)."""
    phi1, lmb1 = np.radians(lat), np.radians(lon)
    theta = np.radians(bearing_deg)
    delta = distance_m / EARTH_RADIUS_M
    phi2 = np.arcsin(np.sin(phi1) * np.cos(delta) + np.cos(phi1) * np.sin(delta) * np.cos(theta))
    lmb2 = lmb1 + np.arctan2(
        np.sin(theta) * np.sin(delta) * np.cos(phi1), np.cos(delta) - np.sin(phi1) * np.sin(phi2)
    )
    lon2 = (np.degrees(lmb2) + 540.0) % 360.0 - 180.0
    return np.degrees(phi2), lon2


def circle_polygon(
    lat: float, lon: float, radius_m: float, *, segments: int = 64
) -> shapely.Polygon:
    """A polygon (longitude/latitude) that covers every point within ``radius_m`` of the centre.

    Its vertices lie slightly beyond the radius (by 1/cos(π/segments), plus 0.1 % because
    edges are straight in longitude/latitude rather than on the sphere) so that the edges
    between them stay outside the circle: an alert sent to the polygon reaches everyone in the
    radius, and at most 0.25 % farther with 64 segments. Circles crossing the antimeridian or
    a pole are not supported.
    """
    if not radius_m > 0 or segments < 8:
        raise ValueError("The radius must be positive and the circle needs at least 8 segments.")
    bearings = np.linspace(0.0, 360.0, segments, endpoint=False)
    reach = radius_m / np.cos(np.pi / segments) * 1.001
    lats, lons = destination(lat, lon, bearing_deg=bearings, distance_m=reach)
    return shapely.Polygon(np.column_stack([lons, lats]))
