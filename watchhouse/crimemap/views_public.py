"""The public crime pages: the map with its filters and tables, a page per area, the methods.

Every page works without JavaScript: the filters are a GET form and each figure is also a
table. The map script adds the interactive map over the same public figures, read from the
JSON API. Figures come from :mod:`watchhouse.crimemap.stats`, which reads only public columns
and pre-aggregated counts; nothing here sees an exact address or point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import shapely
from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from watchhouse.crimemap import stats
from watchhouse.crimemap.categories import Category
from watchhouse.crimemap.digest import area_page_digests
from watchhouse.crimemap.privacy import privacy_policy
from watchhouse.crimemap.rollups import AREA_KINDS
from watchhouse.geo import selectors as geo_selectors
from watchhouse.geo.models import Area, AreaKind
from watchhouse.geo.svg import svg_map

# Hundred blocks listed in the table of blocks with the most incidents.
TOP_BLOCKS = 10
# Offences listed in the table of offences counted most often.
TOP_OFFENCES = 20
# The kind of area the map draws and the areas table lists, when there are areas of it.
MAP_KIND = AreaKind.NEIGHBOURHOOD
# Zoom level from which the map shows grouped points instead of hexagons.
POINTS_ZOOM = 15
# Boundary simplification for the map, in degrees (about a metre).
BOUNDARY_TOLERANCE = 1e-5
# Shades of the no-script map and the hours table (0 lightest).
SHADES = 5
WEEKDAYS = (
    gettext_lazy("Monday"), gettext_lazy("Tuesday"), gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"), gettext_lazy("Friday"), gettext_lazy("Saturday"),
    gettext_lazy("Sunday"),
)  # fmt: skip


class CrimeFilterForm(forms.Form):
    """The filters of the public pages: dates within the data's range, categories, area.

    Field names are the API's query parameters (``from``, ``to``, ``category``, ``area``), so
    the map script passes the form straight on.
    """

    def __init__(
        self,
        data: QueryDict,
        *,
        first: date | None,
        last: date | None,
        areas: list[Area] | None,
    ) -> None:
        if first and last and not (data.get("from") or data.get("to")):
            # Show the dates in force: the latest days of data.
            data = data.copy()
            data["from"] = max(first, last - timedelta(days=stats.DEFAULT_DAYS - 1)).isoformat()
            data["to"] = last.isoformat()
        super().__init__(data)
        self.first, self.last = first, last
        limits = {"type": "date"}
        if first and last:
            limits |= {"min": first.isoformat(), "max": last.isoformat()}
        self.fields["from"] = forms.DateField(
            label=_("From"), required=False, widget=forms.DateInput(attrs=limits)
        )
        self.fields["to"] = forms.DateField(
            label=_("To"), required=False, widget=forms.DateInput(attrs=limits)
        )
        self.fields["category"] = forms.MultipleChoiceField(
            label=_("Categories"),
            required=False,
            choices=Category.choices,
            widget=forms.CheckboxSelectMultiple,
            help_text=_("None ticked shows every category."),
        )
        if areas is not None:
            self.fields["area"] = forms.TypedChoiceField(
                label=_("Area"),
                required=False,
                coerce=int,
                empty_value=None,
                choices=[("", _("The whole jurisdiction")), *area_choices(areas)],
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from"), cleaned.get("to")
        if self.first and self.last:
            for name, day in (("from", start), ("to", end)):
                if day and not self.first <= day <= self.last:
                    self.add_error(
                        name,
                        _("Choose a date from %(first)s to %(last)s: the data covers only those.")
                        % {"first": self.first.isoformat(), "last": self.last.isoformat()},
                    )
        if start and end and start > end:
            self.add_error("to", _("The end date is before the start date."))
        return cleaned

    def crime_filter(self, *, area_id: int | None = None) -> stats.CrimeFilter:
        """The filter the form asks for, leaving out what is not valid; dates left empty
        take the latest days of data (:func:`watchhouse.crimemap.stats.crime_filter`). A
        combination the statistics refuse is reported as a form error, and the default
        filter is used instead."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        chosen_area = area_id if area_id is not None else data.get("area")
        try:
            return stats.crime_filter(
                date_from=data.get("from"),
                date_to=data.get("to"),
                categories=data.get("category") or (),
                area_id=chosen_area,
            )
        except stats.CrimeFilterError as exc:
            self.add_error(None, str(exc))
            return stats.crime_filter(area_id=area_id)


def area_choices(areas: list[Area]) -> list[tuple[str, list[tuple[int, str]]]]:
    """Areas grouped by kind, for a select with option groups."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for area in areas:
        groups.setdefault(area.get_kind_display(), []).append((area.pk, area.name))
    return list(groups.items())


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int


@dataclass(frozen=True)
class Chart:
    """A bar chart of counts over time as plain numbers for an inline SVG."""

    width: int
    height: int
    bars: list[Bar]
    most: int
    first_label: str
    last_label: str


def trend_chart(points: list[tuple[str, int]], *, width: int = 720, height: int = 200) -> Chart:
    """Bars for ``(label, count)`` points, scaled to the largest count."""
    top, bottom = 16, 20
    most = max((count for _, count in points), default=0)
    step = width / max(len(points), 1)
    usable = height - top - bottom
    bars = []
    for n, (label, count) in enumerate(points):
        tall = usable * count / most if most else 0
        bars.append(
            Bar(
                x=round(n * step + step * 0.1, 1),
                y=round(top + usable - tall, 1),
                width=round(step * 0.8, 1),
                height=round(tall, 1),
                label=label,
                count=count,
            )
        )
    return Chart(
        width=width,
        height=height,
        bars=bars,
        most=most,
        first_label=points[0][0] if points else "",
        last_label=points[-1][0] if points else "",
    )


def trend_interval(f: stats.CrimeFilter) -> str:
    """Days for up to two months, weeks for up to a year, months beyond."""
    span = (f.date_to - f.date_from).days + 1
    if span <= 62:
        return "day"
    return "week" if span <= 366 else "month"


def shade(count: int, most: int) -> int:
    """Which of :data:`SHADES` shades a count gets against the largest one."""
    return min(SHADES - 1, int(SHADES * count / most)) if most else 0


def filter_query(f: stats.CrimeFilter) -> str:
    """The query string of the API (and of the pages) for a filter."""
    query = QueryDict(mutable=True)
    query["from"] = f.date_from.isoformat()
    query["to"] = f.date_to.isoformat()
    query.setlist("category", list(f.categories))
    if f.area_id is not None:
        query["area"] = str(f.area_id)
    return query.urlencode()


def tiles_origin() -> str:
    """The scheme and host of the configured tile server ('' for none)."""
    url = settings.WATCHHOUSE_CRIME_TILES_URL
    if not url:
        return ""
    # Tile servers spread load over sub-domains ({s}): allow any of them.
    parts = urlsplit(url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}"


def allow_tiles(response: HttpResponse) -> HttpResponse:
    """Let the page load images from the tile server, when one is configured."""
    origin = tiles_origin()
    if origin:
        response._csp_update = {"img-src": [origin]}  # type: ignore[attr-defined]
    return response


def map_kind() -> str:
    """The kind of area the map draws and the areas table lists: :data:`MAP_KIND`, or else
    the first kind incidents are counted by that has areas."""
    kinds = set(geo_selectors.area_kind_counts())
    if MAP_KIND in kinds:
        return MAP_KIND
    return next((k.value for k in AREA_KINDS if k in kinds), MAP_KIND)


def map_areas(kind: str) -> list[Area]:
    """The areas of ``kind`` with their geometry, for drawing."""
    return list(geo_selectors.area_shape_list().filter(kind=kind))


def counted(area: Area) -> bool:
    """Whether incidents are counted by areas of this one's kind (custom areas are not)."""
    return area.kind in {k.value for k in AREA_KINDS}


def data_range() -> tuple[date | None, date | None]:
    """The first and last day with incidents (None, None before any import)."""
    found = stats.stats_range()
    if found is None:
        return None, None
    return date.fromisoformat(found["first"]), date.fromisoformat(found["last"])


@dataclass(frozen=True)
class AreaRow:
    id: int
    name: str
    count: int
    rate: float | None  # per 1,000 residents, where the population is known


def area_rows(f: stats.CrimeFilter, kind: str, areas: list[Area]) -> list[AreaRow]:
    """The areas table: each area of ``kind`` with its count and rate, most first."""
    population = {a.pk: a.population for a in areas}
    rows = []
    for row in stats.stats_areas(f, kind)["rows"]:
        people = population.get(row["id"])
        rate = 1000 * row["count"] / people if people else None
        rows.append(AreaRow(row["id"], row["name"], row["count"], rate))
    return rows


def summary_figures(f: stats.CrimeFilter, first: date | None) -> dict[str, Any]:
    """The statistics' summary with the change against the period before as a percentage
    (None when that period had no incidents), and whether the data reaches back to the
    period before and to a year earlier (``first`` is the first day of data)."""
    summary = stats.stats_summary(f)
    before = summary["previous"]["total"]
    summary["change_percent"] = 100 * (summary["total"] - before) / before if before else None
    summary["previous_from"] = date.fromisoformat(summary["previous"]["from"])
    summary["previous_to"] = date.fromisoformat(summary["previous"]["to"])
    # A period before the first day of data has no counts to compare with, not zero crime.
    summary["previous_covered"] = first is not None and summary["previous_from"] >= first
    summary["last_year_covered"] = (
        first is not None and date.fromisoformat(summary["last_year"]["from"]) >= first
    )
    if not summary["previous_covered"]:
        summary["change_percent"] = None
    concentration = stats.stats_concentration(f)
    summary["half_on_blocks"] = (
        100 * concentration["blocks_share_for_half"] if concentration["incidents"] else None
    )
    return summary


def trend_figures(f: stats.CrimeFilter) -> tuple[list[tuple[str, int]], Chart]:
    """The trend's periods with their totals, and its chart."""
    series = stats.stats_trend(f, trend_interval(f))["series"]
    points = [(p["period"], p["total"]) for p in series]
    return points, trend_chart(points)


@require_GET
def crime_map(request: HttpRequest) -> HttpResponse:
    first, last = data_range()
    areas = [a for a in geo_selectors.area_list() if counted(a)]
    form = CrimeFilterForm(request.GET, first=first, last=last, areas=areas)
    f = form.crime_filter()
    trend, chart = trend_figures(f)
    kind = map_kind()
    areas_table = area_rows(f, kind, [a for a in areas if a.kind == kind])
    counts = {row.id: row.count for row in areas_table}
    most = max(counts.values(), default=0)
    fallback = svg_map(
        (
            a.shape,
            f"crime-shade-{shade(counts.get(a.pk, 0), most)}",
            _("%(name)s: %(count)s incidents") % {"name": a.name, "count": counts.get(a.pk, 0)},
        )
        for a in map_areas(kind)
    )
    extent = geo_selectors.jurisdiction_extent()
    bounds = ",".join(f"{n:.5f}" for n in extent.bounds) if extent is not None else ""
    context = {
        "form": form,
        "filter": f,
        "first": first,
        "last": last,
        "summary": summary_figures(f, first),
        "trend": trend,
        "chart": chart,
        "blocks": stats.stats_blocks(f, TOP_BLOCKS)["rows"],
        "offences": stats.stats_offences(f, TOP_OFFENCES)["rows"],
        "areas_table": areas_table,
        "fallback": fallback,
        "bounds": bounds,
        "query": filter_query(f),
        "tiles": settings.WATCHHOUSE_CRIME_TILES_URL,
        "tiles_attribution": settings.WATCHHOUSE_CRIME_TILES_ATTRIBUTION,
        "points_zoom": POINTS_ZOOM,
    }
    return allow_tiles(render(request, "crimemap/map.html", context))


@require_GET
def crime_area(request: HttpRequest, area_id: int) -> HttpResponse:
    area = geo_selectors.area_list().filter(pk=area_id).first()
    if area is None or not counted(area):
        raise Http404("No such area, or incidents are not counted by areas of its kind.")
    first, last = data_range()
    form = CrimeFilterForm(request.GET, first=first, last=last, areas=None)
    f = form.crime_filter(area_id=area.pk)
    trend, chart = trend_figures(f)
    return render(
        request,
        "crimemap/area.html",
        {
            "area": area,
            "form": form,
            "filter": f,
            "first": first,
            "last": last,
            "summary": summary_figures(f, first),
            "trend": trend,
            "chart": chart,
            "blocks": stats.stats_blocks(f, TOP_BLOCKS)["rows"],
            "hours": hours_rows(stats.stats_hours(f)["cells"]),
            "hour_labels": [f"{h:02d}" for h in range(24)],
            "query": filter_query(f),
            "digests": area_page_digests(area),
        },
    )


def area_section(area: Area, query: QueryDict) -> dict[str, Any]:
    """What the public area page shows of an area's crime: its summary for the latest
    :data:`~watchhouse.crimemap.stats.DEFAULT_DAYS` days of data (no summary before any data)."""
    if not counted(area):
        return {"area": area, "counted": False}
    first, last = data_range()
    if last is None:
        return {"area": area, "counted": True, "summary": None}
    form = CrimeFilterForm(query, first=first, last=last, areas=None)
    f = form.crime_filter(area_id=area.pk)
    return {
        "area": area,
        "counted": True,
        "filter": f,
        "summary": summary_figures(f, first),
        "digests": area_page_digests(area),
    }


@dataclass(frozen=True)
class HoursRow:
    day: str
    cells: list[tuple[int, int]]  # (count, shade) per hour
    total: int


def hours_rows(cells: list[dict[str, int]]) -> list[HoursRow]:
    """A weekday × hour table (Monday first) with a shade for each cell."""
    matrix = [[0] * 24 for _ in range(7)]
    for cell in cells:
        matrix[cell["weekday"]][cell["hour"]] = cell["count"]
    most = max((n for row in matrix for n in row), default=0)
    return [
        HoursRow(str(WEEKDAYS[d]), [(n, shade(n, most)) for n in row], sum(row))
        for d, row in enumerate(matrix)
    ]


@require_GET
def crime_methods(request: HttpRequest) -> HttpResponse:
    policy = privacy_policy()
    withheld = [label for value, label in Category.choices if value in policy.withheld_categories]
    return render(
        request,
        "crimemap/methods.html",
        {"policy": policy, "withheld": withheld, "points_zoom": POINTS_ZOOM},
    )


@require_GET
def crime_boundaries(request: HttpRequest) -> HttpResponse:
    """The map's areas as GeoJSON, simplified to about a metre."""
    features = []
    for area in map_areas(map_kind()):
        shape = shapely.simplify(area.shape, BOUNDARY_TOLERANCE, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shape),
                "properties": {
                    "id": area.pk,
                    "name": area.name,
                    "kind": area.kind,
                    "url": reverse("crime:area", kwargs={"area_id": area.pk}),
                },
            }
        )
    body = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    return HttpResponse(body, content_type="application/geo+json")
