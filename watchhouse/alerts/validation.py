"""Checking what a composer typed before anything is stored or sent.

Every check returns (or raises with) a message a dispatcher can act on; nothing here writes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import shapely
from django.conf import settings
from shapely.geometry.base import BaseGeometry

from watchhouse.alerts.models import WEA_LONG_LIMIT, WEA_SHORT_LIMIT, AlertArea, AreaShape
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.distance import circle_polygon
from watchhouse.geo.models import Area
from watchhouse.geo.points import InvalidPointError, point_check
from watchhouse.geo.selectors import jurisdiction_extent
from watchhouse.notify.channels.sms import sms_count

# Largest circle an alert may use, in metres (a county, not a state).
MAX_CIRCLE_RADIUS_M = 100_000.0
# Smallest circle, in metres (a building).
MIN_CIRCLE_RADIUS_M = 10.0
# Most vertices a drawn polygon may have (the IPAWS limit is 100 points).
MAX_POLYGON_POINTS = 100
# SMS texts must fit one segment: a multi-part text may arrive in pieces, out of order, or
# only partly during a network surge, and costs one message per part.
SMS_MAX_SEGMENTS = 1


@dataclass(frozen=True)
class InfoText:
    """The texts of one language, as typed."""

    language: str
    headline: str
    description: str
    instruction: str = ""
    sms_text: str = ""
    wea_short: str = ""
    wea_long: str = ""


@dataclass(frozen=True)
class AreaSpec:
    """An alert area as given: a GeoJSON polygon, a circle, or one of the jurisdiction's areas."""

    description: str = ""
    polygon_geojson: str = ""
    circle_lat: float | None = None
    circle_lon: float | None = None
    circle_radius_m: float | None = None
    area_id: int | None = None


def language_names() -> dict[str, str]:
    """The languages alerts may be written in (the site's languages), by code."""
    return {code: str(name) for code, name in settings.LANGUAGES}


def sms_effective_text(info: InfoText) -> str:
    """What a text message carries: the SMS text, or the headline when none was written."""
    return (info.sms_text or info.headline).strip()


def info_problems(info: InfoText) -> list[str]:
    """What is wrong with one language's texts (empty when nothing is)."""
    problems: list[str] = []
    names = language_names()
    label = names.get(info.language, info.language)
    if info.language not in names:
        problems.append(
            f"Unknown language {info.language!r}; alerts may be written in: "
            f"{', '.join(sorted(names))}."
        )
    if not info.headline.strip():
        problems.append(f"{label}: the headline is empty.")
    elif len(info.headline) > 160:
        problems.append(f"{label}: the headline has {len(info.headline)} characters; 160 at most.")
    if not info.description.strip():
        problems.append(f"{label}: the description is empty.")
    sms = sms_effective_text(info)
    if sms:
        count = sms_count(sms)
        if count.segments > SMS_MAX_SEGMENTS:
            problems.append(
                f"{label}: the text message needs {count.segments} parts "
                f"({count.characters} {count.encoding} characters); it must fit one "
                f"({count.per_segment} characters in {count.encoding})."
            )
    if len(info.wea_short) > WEA_SHORT_LIMIT:
        problems.append(
            f"{label}: the short WEA text has {len(info.wea_short)} characters; "
            f"{WEA_SHORT_LIMIT} at most."
        )
    if len(info.wea_long) > WEA_LONG_LIMIT:
        problems.append(
            f"{label}: the long WEA text has {len(info.wea_long)} characters; "
            f"{WEA_LONG_LIMIT} at most."
        )
    return problems


def infos_problems(infos: list[InfoText]) -> list[str]:
    """Problems of all languages together, including missing and repeated languages."""
    if not infos:
        return ["An alert needs its text in at least one language."]
    problems: list[str] = []
    seen: set[str] = set()
    for info in infos:
        if info.language in seen:
            problems.append(f"The language {info.language!r} is given twice.")
        seen.add(info.language)
        problems.extend(info_problems(info))
    return problems


def _polygon_from_geojson(text: str) -> shapely.Polygon:
    try:
        document: Any = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"The polygon is not valid GeoJSON: {exc}.") from exc
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if not isinstance(document, dict) or document.get("type") != "Polygon":
        raise InvalidInputError("Give the area as a GeoJSON Polygon.")
    rings = document.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise InvalidInputError("The polygon is empty.")
    if len(rings) > 1:
        raise InvalidInputError("CAP polygons cannot have holes; draw the area without them.")
    ring = rings[0]
    if not isinstance(ring, list) or len(ring) < 4:
        raise InvalidInputError("The polygon is empty: it needs at least three corners.")
    points: list[tuple[float, float]] = []
    for position in ring:
        if not isinstance(position, list | tuple) or len(position) < 2:
            raise InvalidInputError("Each corner of the polygon must be [longitude, latitude].")
        try:
            lat, lon = point_check(position[1], position[0])
        except InvalidPointError as exc:
            raise InvalidInputError(f"A corner of the polygon is off the globe: {exc}") from exc
        points.append((lon, lat))
    if points[0] != points[-1]:
        raise InvalidInputError("The polygon is not closed: its last corner must be its first.")
    if len(points) - 1 > MAX_POLYGON_POINTS:
        raise InvalidInputError(
            f"The polygon has {len(points) - 1} corners; {MAX_POLYGON_POINTS} at most."
        )
    polygon = shapely.Polygon(points)
    if polygon.is_empty or len(set(points)) < 3:
        raise InvalidInputError("The polygon is empty: it needs at least three corners.")
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        raise InvalidInputError(f"The polygon crosses itself ({reason}); redraw it.")
    if polygon.is_empty or polygon.area <= 0:
        raise InvalidInputError("The polygon is empty: its corners enclose no area.")
    return polygon


def area_build(spec: AreaSpec) -> AlertArea:
    """An unsaved :class:`AlertArea` for ``spec``; raises InvalidInputError saying what is wrong."""
    given = [
        bool(spec.polygon_geojson.strip()),
        spec.circle_radius_m is not None,
        spec.area_id is not None,
    ]
    if sum(given) != 1:
        raise InvalidInputError(
            "Give each alert area as exactly one of: a polygon, a circle, or an area."
        )
    area = AlertArea(description=spec.description.strip()[:200])
    geometry: BaseGeometry
    if spec.polygon_geojson.strip():
        geometry = _polygon_from_geojson(spec.polygon_geojson)
        area.shape = AreaShape.POLYGON
        area.polygon_geojson = json.dumps(shapely.geometry.mapping(geometry))
        area.description = area.description or "Drawn area"
    elif spec.circle_radius_m is not None:
        try:
            lat, lon = point_check(spec.circle_lat, spec.circle_lon)  # type: ignore[arg-type]
        except InvalidPointError as exc:
            raise InvalidInputError(f"The circle's centre is wrong: {exc}") from exc
        radius = float(spec.circle_radius_m)
        if not (math.isfinite(radius) and MIN_CIRCLE_RADIUS_M <= radius <= MAX_CIRCLE_RADIUS_M):
            raise InvalidInputError(
                f"The circle's radius must be between {MIN_CIRCLE_RADIUS_M:.0f} m and "
                f"{MAX_CIRCLE_RADIUS_M / 1000:.0f} km."
            )
        geometry = circle_polygon(lat, lon, radius)
        area.shape = AreaShape.CIRCLE
        area.circle_lat, area.circle_lon, area.circle_radius_m = lat, lon, radius
        area.description = area.description or f"Within {radius:.0f} m of {lat:.5f}, {lon:.5f}"
    else:
        geo_area = Area.objects.filter(pk=int(spec.area_id or 0)).first()
        if geo_area is None:
            raise InvalidInputError(f"There is no area with id {spec.area_id}.")
        geometry = geo_area.shape
        area.shape = AreaShape.AREA
        area.geo_area = geo_area
        area.description = area.description or geo_area.name
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    area.geometry = shapely.to_wkb(geometry, output_dimension=2, byte_order=1)
    area.min_lat, area.min_lon, area.max_lat, area.max_lon = min_lat, min_lon, max_lat, max_lon
    return area


def alert_geometry(specs: list[AreaSpec]) -> BaseGeometry:
    """All of ``specs`` as one geometry (longitude/latitude).

    Raises InvalidInputError saying what is wrong when there is no area, when one of them is
    wrong, or when together they lie wholly outside the jurisdiction (an area reaching past
    its edge is fine: danger does not stop at the city limit).
    """
    if not specs:
        raise InvalidInputError("Choose an area, or draw a polygon or a circle, first.")
    union = shapely.union_all([area_build(spec).shapely_geometry for spec in specs])
    extent = jurisdiction_extent()
    if extent is not None and not union.intersects(extent):
        raise InvalidInputError(
            "The area lies wholly outside the jurisdiction; draw it where the agency serves."
        )
    return union


def areas_union(areas: list[AlertArea]) -> BaseGeometry:
    """All of an alert's areas as one geometry (longitude/latitude)."""
    return shapely.union_all([a.shapely_geometry for a in areas])
