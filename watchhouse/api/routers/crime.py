"""Public crime statistics at /api/v1/crime/: no token, rate-limited per client address.

Every endpoint but ``range`` and ``categories`` takes the same filters: ``from`` and ``to``
(local dates, inclusive; by default the last 90 days of the data), ``category`` (repeatable),
``area`` (an area id) and ``jurisdiction`` (a slug; by default every one). A filter that
cannot be met is a 400 whose ``detail`` says why. The figures come from
:mod:`watchhouse.crimemap.stats`, which documents each method.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from ninja.errors import HttpError

from watchhouse.crimemap import stats
from watchhouse.crimemap.categories import Category
from watchhouse.geo.models import AreaKind, Jurisdiction
from watchhouse.notify.ratelimit import client_hit

router = Router(tags=["crime"], auth=None)


def _limit(request: HttpRequest) -> None:
    """429 once one client address asks too often."""
    limit = settings.WATCHHOUSE_CRIME_API_RATE_LIMIT
    window = settings.WATCHHOUSE_CRIME_API_RATE_WINDOW_SECONDS
    if not client_hit(
        "crime-api", str(request.META.get("REMOTE_ADDR", "")), limit=limit, window_seconds=window
    ):
        raise HttpError(429, "Too many requests from this address; wait a minute.")


def _date(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise HttpError(400, f"'{name}' {text!r} is not a date such as 2026-01-31.") from exc


def _filter(
    request: HttpRequest,
    date_from: str | None,
    date_to: str | None,
    category: list[str] | None,
    area: int | None,
    jurisdiction: str | None,
) -> stats.CrimeFilter:
    _limit(request)
    jurisdiction_id = None
    if jurisdiction:
        jurisdiction_id = (
            Jurisdiction.objects.filter(slug=jurisdiction).values_list("pk", flat=True).first()
        )
        if jurisdiction_id is None:
            raise HttpError(400, f"There is no jurisdiction {jurisdiction!r}.")
    try:
        return stats.crime_filter(
            date_from=_date(date_from, "from"),
            date_to=_date(date_to, "to"),
            categories=category or (),
            area_id=area,
            jurisdiction_id=jurisdiction_id,
        )
    except stats.CrimeFilterError as exc:
        raise HttpError(400, str(exc)) from exc


def _run(compute: Any, *args: Any) -> Any:
    try:
        return compute(*args)
    except stats.CrimeFilterError as exc:
        raise HttpError(400, str(exc)) from exc


# The common filters, spelled once (``from`` is a Python keyword, hence the aliases).
FROM = Query(None, alias="from", description="First local date, YYYY-MM-DD.")
TO = Query(None, alias="to", description="Last local date, YYYY-MM-DD (inclusive).")
CATEGORY = Query(None, description="Only these categories (repeatable).")
AREA = Query(None, description="Only this area (an id from /api/v1/areas).")
JURISDICTION = Query(None, description="Only this jurisdiction (its slug).")


@router.get("/range", summary="The first and last dates of the data")
def crime_range(request: HttpRequest, jurisdiction: str | None = JURISDICTION) -> dict[str, Any]:
    _limit(request)
    jurisdiction_id = (
        Jurisdiction.objects.filter(slug=jurisdiction).values_list("pk", flat=True).first()
        if jurisdiction
        else None
    )
    found = stats.stats_range(jurisdiction_id)
    if found is None:
        raise HttpError(404, "There are no incidents yet.")
    return found


@router.get("/categories", summary="The public categories")
def crime_categories(request: HttpRequest) -> list[dict[str, str]]:
    _limit(request)
    return [{"code": str(value), "label": str(label)} for value, label in Category.choices]


@router.get("/summary", summary="Totals by category, with change tests against earlier periods")
def crime_summary(
    request: HttpRequest,
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_summary, f)


@router.get("/trend", summary="Counts by day, week or month and category")
def crime_trend(
    request: HttpRequest,
    interval: Literal["day", "week", "month"] = "month",
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_trend, f, interval)


@router.get("/blocks", summary="Hundred blocks with the most public incidents")
def crime_blocks(
    request: HttpRequest,
    limit: int = Query(stats.BLOCKS_LIMIT, ge=1, le=1000),
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_blocks, f, limit)


@router.get("/streets", summary="Streets with the most public incidents")
def crime_streets(
    request: HttpRequest,
    limit: int = Query(stats.BLOCKS_LIMIT, ge=1, le=1000),
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_streets, f, limit)


@router.get("/areas", summary="Incidents in each area of one kind")
def crime_areas(
    request: HttpRequest,
    kind: AreaKind = AreaKind.NEIGHBOURHOOD,
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_areas, f, kind)


@router.get("/hexbins", summary="Public incidents by H3 cell, as GeoJSON")
def crime_hexbins(
    request: HttpRequest,
    resolution: int = Query(8, ge=7, le=9, description="H3 resolution."),
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_hexbins, f, resolution)


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise HttpError(400, "'bbox' must be minlon,minlat,maxlon,maxlat.") from exc
    return west, south, east, north


@router.get("/points", summary="Public points of public incidents, as GeoJSON or CSV")
def crime_points(
    request: HttpRequest,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat"),
    limit: int = Query(stats.POINTS_LIMIT, ge=1, le=stats.POINTS_LIMIT),
    format: Literal["geojson", "csv"] = "geojson",
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> Any:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    found = _run(stats.stats_points, f, _bbox(bbox), limit)
    columns = ["id", "date", "category", "category_label", "label", "block", "lat", "lon"]
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(found["points"])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        name = f"incidents-{f.date_from}-{f.date_to}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return {
        "type": "FeatureCollection",
        "truncated": found["truncated"],
        "features": [
            {
                "type": "Feature",
                "id": p["id"],
                "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                "properties": {k: p[k] for k in columns if k not in {"lat", "lon"}},
            }
            for p in found["points"]
        ],
    }


@router.get("/hours", summary="Public incidents by weekday (0 Monday) and hour")
def crime_hours(
    request: HttpRequest,
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_hours, f)


@router.get("/hotspots", summary="Getis-Ord Gi* hot spots over H3 cells")
def crime_hotspots(
    request: HttpRequest,
    resolution: int = Query(stats.HOTSPOT_RESOLUTION, ge=7, le=9, description="H3 resolution."),
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_hotspots, f, resolution)


@router.get("/density", summary="Kernel density of public incidents (quartic kernel)")
def crime_density(
    request: HttpRequest,
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_density, f)


@router.get("/concentration", summary="How concentrated incidents are on few blocks")
def crime_concentration(
    request: HttpRequest,
    date_from: str | None = FROM,
    date_to: str | None = TO,
    category: list[str] | None = CATEGORY,
    area: int | None = AREA,
    jurisdiction: str | None = JURISDICTION,
) -> dict[str, Any]:
    f = _filter(request, date_from, date_to, category, area, jurisdiction)
    return _run(stats.stats_concentration, f)
