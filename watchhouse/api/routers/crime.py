"""Public crime statistics at /api/v1/crime/: no token, rate-limited per client address.

Every endpoint but ``range`` and ``categories`` takes the same filters (:class:`CrimeQuery`):
``from`` and ``to`` (local dates, inclusive; by default the last 90 days of the data),
``category`` (repeatable), ``area`` (an area id) and ``jurisdiction`` (a slug; by default
every one). A filter that cannot be met is a 400 whose ``detail`` says why. The figures come
from :mod:`watchhouse.crimemap.stats`, which documents each method; fixed shapes are typed
(``*Out`` schemas) so that /api/v1/openapi.json documents them, GeoJSON ones are plain dicts.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from watchhouse.crimemap import stats
from watchhouse.crimemap.categories import Category
from watchhouse.geo.models import AreaKind, Jurisdiction
from watchhouse.notify.ratelimit import client_hit

# Responses are written with their public names (``from`` and ``to`` are aliases).
router = Router(tags=["crime"], auth=None, by_alias=True)


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


class CrimeQuery(Schema):
    """The filters every figure takes (``from`` is a Python keyword, hence the aliases)."""

    date_from: str | None = Field(None, alias="from", description="First local date, YYYY-MM-DD.")
    date_to: str | None = Field(
        None, alias="to", description="Last local date, YYYY-MM-DD (inclusive)."
    )
    category: list[str] | None = Field(None, description="Only these categories (repeatable).")
    area: int | None = Field(None, description="Only this area (an id from /api/v1/areas).")
    jurisdiction: str | None = Field(None, description="Only this jurisdiction (its slug).")


def _jurisdiction_id(slug: str | None) -> int | None:
    if not slug:
        return None
    return Jurisdiction.objects.filter(slug=slug).values_list("pk", flat=True).first()


def _filter(request: HttpRequest, filters: CrimeQuery) -> stats.CrimeFilter:
    _limit(request)
    jurisdiction_id = _jurisdiction_id(filters.jurisdiction)
    if filters.jurisdiction and jurisdiction_id is None:
        raise HttpError(400, f"There is no jurisdiction {filters.jurisdiction!r}.")
    try:
        return stats.crime_filter(
            date_from=_date(filters.date_from, "from"),
            date_to=_date(filters.date_to, "to"),
            categories=filters.category or (),
            area_id=filters.area,
            jurisdiction_id=jurisdiction_id,
        )
    except stats.CrimeFilterError as exc:
        raise HttpError(400, str(exc)) from exc


def _run(compute: Any, *args: Any) -> Any:
    try:
        return compute(*args)
    except stats.CrimeFilterError as exc:
        raise HttpError(400, str(exc)) from exc


# The filters as query parameters, flattened from CrimeQuery under their public names.
FILTERS = Query(...)
LIMIT = Query(stats.BLOCKS_LIMIT, ge=1, le=1000)


# Responses whose shape is fixed (GeoJSON ones stay plain dicts).


class RangeOut(Schema):
    first: date
    last: date


class CategoryOut(Schema):
    code: str
    label: str


class CategoryCountOut(Schema):
    category: str
    label: str
    count: int


class PeriodTotalOut(Schema):
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    total: int


class ChangeOut(Schema):
    vs: Literal["previous", "last_year"]
    method: str
    before: int
    after: int
    statistic: float = Field(description="(after − before) / √(after + before).")
    p_value: float = Field(description="Two-sided, exact.")
    significant: bool = Field(description="At 5%.")


class SummaryOut(Schema):
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    total: int
    by_category: list[CategoryCountOut]
    previous: PeriodTotalOut
    last_year: PeriodTotalOut
    change: ChangeOut
    change_last_year: ChangeOut
    how: str


class TrendPeriodOut(Schema):
    period: str = Field(description="YYYY-MM-DD, YYYY-Www or YYYY-MM.")
    counts: dict[str, int] = Field(description="By category.")
    total: int


class TrendOut(Schema):
    interval: Literal["day", "week", "month"]
    series: list[TrendPeriodOut]


class BlockOut(Schema):
    block: str
    street: str
    count: int


class BlocksOut(Schema):
    rows: list[BlockOut]


class StreetOut(Schema):
    street: str
    count: int


class StreetsOut(Schema):
    rows: list[StreetOut]


class AreaCountOut(Schema):
    id: int
    name: str
    kind: str
    count: int


class AreasOut(Schema):
    rows: list[AreaCountOut]


class OffenceOut(Schema):
    nibrs_code: str = Field(description="Empty where the source gives none.")
    label: str = Field(description="The source's own label.")
    category: str
    category_label: str
    crimes_against: str = Field(description="person, property, society, or empty.")
    crimes_against_label: str
    count: int


class OffencesOut(Schema):
    total: int = Field(description="Every offence of the period, not only the rows listed.")
    rows: list[OffenceOut]
    how: str


class HourOut(Schema):
    weekday: int = Field(description="0 is Monday.")
    hour: int
    count: int


class HoursOut(Schema):
    cells: list[HourOut]


class DensityCellOut(Schema):
    cell: str
    density: float


class DensityOut(Schema):
    method: str
    parameters: dict[str, Any]
    cells: list[DensityCellOut]


class ConcentrationOut(Schema):
    curve: list[tuple[float, float]] = Field(description="(share of blocks, share of incidents)")
    blocks_share_for_half: float
    blocks: int
    incidents: int
    how: str


@router.get("/range", response=RangeOut, summary="The first and last dates of the data")
def crime_range(
    request: HttpRequest,
    jurisdiction: str | None = Query(None, description="Only this jurisdiction (its slug)."),
) -> dict[str, Any]:
    _limit(request)
    found = stats.stats_range(_jurisdiction_id(jurisdiction))
    if found is None:
        raise HttpError(404, "There are no incidents yet.")
    return found


@router.get("/categories", response=list[CategoryOut], summary="The public categories")
def crime_categories(request: HttpRequest) -> list[dict[str, str]]:
    _limit(request)
    return [{"code": str(value), "label": str(label)} for value, label in Category.choices]


@router.get(
    "/summary",
    response=SummaryOut,
    summary="Totals by category, with change tests against earlier periods",
)
def crime_summary(request: HttpRequest, filters: CrimeQuery = FILTERS) -> dict[str, Any]:
    return _run(stats.stats_summary, _filter(request, filters))


@router.get("/trend", response=TrendOut, summary="Counts by day, week or month and category")
def crime_trend(
    request: HttpRequest,
    interval: Literal["day", "week", "month"] = "month",
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    return _run(stats.stats_trend, _filter(request, filters), interval)


@router.get("/blocks", response=BlocksOut, summary="Hundred blocks with the most public incidents")
def crime_blocks(
    request: HttpRequest, limit: int = LIMIT, filters: CrimeQuery = FILTERS
) -> dict[str, Any]:
    return _run(stats.stats_blocks, _filter(request, filters), limit)


@router.get("/streets", response=StreetsOut, summary="Streets with the most public incidents")
def crime_streets(
    request: HttpRequest, limit: int = LIMIT, filters: CrimeQuery = FILTERS
) -> dict[str, Any]:
    return _run(stats.stats_streets, _filter(request, filters), limit)


@router.get("/areas", response=AreasOut, summary="Incidents in each area of one kind")
def crime_areas(
    request: HttpRequest,
    kind: AreaKind = AreaKind.NEIGHBOURHOOD,
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    return _run(stats.stats_areas, _filter(request, filters), kind)


@router.get(
    "/offences",
    response=OffencesOut,
    summary="Offences by the source's label, NIBRS code and category (each offence counted)",
)
def crime_offences(
    request: HttpRequest,
    limit: int = Query(stats.OFFENCES_LIMIT, ge=1, le=1000),
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    return _run(stats.stats_offences, _filter(request, filters), limit)


@router.get("/hexbins", summary="Public incidents by H3 cell, as GeoJSON")
def crime_hexbins(
    request: HttpRequest,
    resolution: int = Query(8, ge=7, le=9, description="H3 resolution."),
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    f = _filter(request, filters)
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
    filters: CrimeQuery = FILTERS,
) -> Any:
    f = _filter(request, filters)
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


@router.get("/hours", response=HoursOut, summary="Public incidents by weekday (0 Monday) and hour")
def crime_hours(
    request: HttpRequest,
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    f = _filter(request, filters)
    return _run(stats.stats_hours, f)


@router.get("/hotspots", summary="Getis-Ord Gi* hot spots over H3 cells")
def crime_hotspots(
    request: HttpRequest,
    resolution: int = Query(stats.HOTSPOT_RESOLUTION, ge=7, le=9, description="H3 resolution."),
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    f = _filter(request, filters)
    return _run(stats.stats_hotspots, f, resolution)


@router.get(
    "/density", response=DensityOut, summary="Kernel density of public incidents (quartic kernel)"
)
def crime_density(
    request: HttpRequest,
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    f = _filter(request, filters)
    return _run(stats.stats_density, f)


@router.get(
    "/concentration",
    response=ConcentrationOut,
    summary="How concentrated incidents are on few blocks",
)
def crime_concentration(
    request: HttpRequest,
    filters: CrimeQuery = FILTERS,
) -> dict[str, Any]:
    f = _filter(request, filters)
    return _run(stats.stats_concentration, f)
