"""Crime statistics for the public: counts, trends, change tests, hot spots, concentration.

Every function takes a :class:`CrimeFilter` (dates inclusive, categories, one area) and reads
only the pre-aggregated counts of :mod:`watchhouse.crimemap.rollups`, never incident rows —
except :func:`stats_points`, which reads public points through the date index, capped. Each
returns plain JSON-ready data (dates as ISO strings), the same the API at /api/v1/crime/ sends.

Privacy: withheld incidents count in totals by area, category and offence
(:func:`stats_summary`, :func:`stats_trend`, :func:`stats_areas`, :func:`stats_offences`) and
in no figure by block, street, cell, point or hour — the count tables they read never held
them.

Counts by offence (:func:`stats_offences`) are per offence: an incident with several offences
counts once under each, so they add up to more than the incidents.

Methods, returned beside each result:

- change: the E-test of Krishnamoorthy & Thomson (2004) for two Poisson counts over periods
  of equal length, exact (no normal approximation), two-sided, significant at 5%;
- hot spots: Getis-Ord Gi* (Getis & Ord 1992; Ord & Getis 1995) over H3 cells, neighbours
  the cell itself and its k-ring 1, binary weights; the study area is every cell with an
  incident and the ring around each (cells without incidents count as 0);
- density: a quartic (biweight) kernel, K(d) = 3/(π h²) · (1 − d²/h²)² for d < h, summed over
  the counts at the centres of H3 cells, evaluated at the centres of the cells within h;
- concentration: the share of hundred blocks (those with any public incident on record in the
  jurisdiction) that hold half the incidents of the period (Weisburd 2015).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import h3
import numpy as np
from django.db.models import Max, Min, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap.categories import Category, CrimesAgainst
from watchhouse.crimemap.models import (
    BlockCount,
    CellCount,
    CountSpan,
    CrimeCount,
    HourCount,
    Incident,
    OffenceCount,
    RollupCount,
)
from watchhouse.crimemap.states import IncidentState
from watchhouse.geo.models import Area, AreaKind, Jurisdiction

M = TypeVar("M", bound=RollupCount)
# Area kinds incidents are counted by.
AREA_KINDS = (AreaKind.NEIGHBOURHOOD, AreaKind.BEAT, AreaKind.DISTRICT, AreaKind.WARD)
# Days shown when no dates are given: the last 90 days of the data.
DEFAULT_DAYS = 90
SIGNIFICANCE = 0.05
HOTSPOT_RESOLUTION = 8
# Two-sided normal quantiles of the Gi* confidence classes, strongest first.
GI_CLASSES = ((99, 2.5758), (95, 1.9600), (90, 1.6449))
DENSITY_RESOLUTION = 9
# Bandwidth of the density kernel: about two rings of resolution 9 cells.
DENSITY_BANDWIDTH_M = 500.0
EARTH_RADIUS_M = 6_371_008.8
POINTS_LIMIT = 5000
BLOCKS_LIMIT = 50
OFFENCES_LIMIT = 50
# Points on the concentration curve (besides its start at 0, 0).
CURVE_POINTS = 100


class CrimeFilterError(InvalidInputError):
    """Dates, categories or an area that the statistics cannot be computed for."""


@dataclass(frozen=True)
class CrimeFilter:
    """What to count: local dates ``date_from`` to ``date_to`` inclusive, the categories
    (empty: all), one area (``None``: the whole jurisdiction), one jurisdiction (``None``:
    every one, as in an installation serving one city)."""

    date_from: date
    date_to: date
    categories: tuple[str, ...] = field(default=())
    area_id: int | None = None
    jurisdiction_id: int | None = None

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1


def _range_rows(jurisdiction_id: int | None) -> QuerySet[CrimeCount]:
    rows = CrimeCount.objects.filter(area__isnull=True, span=CountSpan.DAY)
    if jurisdiction_id is not None:
        rows = rows.filter(jurisdiction_id=jurisdiction_id)
    return rows


def stats_range(jurisdiction_id: int | None = None) -> dict[str, str] | None:
    """``{"first", "last"}``: the dates of the first and last incident on record, or None."""
    found = _range_rows(jurisdiction_id).aggregate(first=Min("day"), last=Max("day"))
    if found["first"] is None:
        return None
    return {"first": found["first"].isoformat(), "last": found["last"].isoformat()}


def crime_filter(
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    categories: Iterable[str] = (),
    area_id: int | None = None,
    jurisdiction_id: int | None = None,
) -> CrimeFilter:
    """A checked :class:`CrimeFilter`; missing dates default to the last
    :data:`DEFAULT_DAYS` days of the data. Raises :class:`CrimeFilterError` saying what is
    wrong: an unknown category or area, ``date_from`` after ``date_to``, or a span longer
    than the data's whole range."""
    known = set(Category.values)
    chosen = tuple(dict.fromkeys(c for c in categories if c))
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise CrimeFilterError(
            _("Unknown category %(names)s; the categories are %(known)s.")
            % {"names": ", ".join(unknown), "known": ", ".join(Category.values)}
        )
    if area_id is not None and not Area.objects.filter(pk=area_id).exists():
        raise CrimeFilterError(_("There is no area %(id)s.") % {"id": area_id})
    found = stats_range(jurisdiction_id)
    last = date.fromisoformat(found["last"]) if found else date.today()  # noqa: DTZ011 - no data: a local default
    first = date.fromisoformat(found["first"]) if found else last
    if date_to is None:
        date_to = last if date_from is None else max(date_from, last)
    if date_from is None:
        date_from = date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise CrimeFilterError(
            _("The start date %(start)s is after the end date %(end)s.")
            % {"start": date_from, "end": date_to}
        )
    longest = (last - first).days + 1
    if (date_to - date_from).days + 1 > max(longest, DEFAULT_DAYS):
        raise CrimeFilterError(
            _(
                "From %(start)s to %(end)s is longer than the data's whole range "
                "(%(first)s to %(last)s, %(days)s days)."
            )
            % {"start": date_from, "end": date_to, "first": first, "last": last, "days": longest}
        )
    return CrimeFilter(date_from, date_to, chosen, area_id, jurisdiction_id)


# Reading the count tables


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _span_parts(date_from: date, date_to: date) -> tuple[tuple[date, date] | None, list[Q]]:
    """The whole months inside the range (first and last month start), and the day ranges
    at its ends."""
    months: list[date] = []
    start = _month_start(date_from)
    if start < date_from:
        start = _next_month(start)
    while _next_month(start) - timedelta(days=1) <= date_to:
        months.append(start)
        start = _next_month(start)
    if not months:
        return None, [Q(day__gte=date_from, day__lte=date_to)]
    ends = []
    if date_from < months[0]:
        ends.append(Q(day__gte=date_from, day__lt=months[0]))
    end = _next_month(months[-1])
    if end <= date_to:
        ends.append(Q(day__gte=end, day__lte=date_to))
    return (months[0], months[-1]), ends


def _span_q(date_from: date, date_to: date, *, month_category: Q, day_category: Q) -> Q:
    """Month rows for the whole months in the range, day rows for the days at its ends."""
    months, ends = _span_parts(date_from, date_to)
    parts = []
    if months is not None:
        parts.append(
            Q(span=CountSpan.MONTH, day__gte=months[0], day__lte=months[1]) & month_category
        )
    parts.extend(Q(span=CountSpan.DAY) & end & day_category for end in ends)
    query = parts[0]
    for part in parts[1:]:
        query |= part
    return query


def _area_column(area_id: int) -> str:
    kind = Area.objects.filter(pk=area_id).values_list("kind", flat=True).first()
    if kind not in {k.value for k in AREA_KINDS}:
        raise CrimeFilterError(_("Incidents are not counted by areas of this kind."))
    return f"{kind}_id"


def _rows(
    model: type[M],
    f: CrimeFilter,
    *,
    by_category: bool = False,
    days_only: bool = False,
    resolution: int | None = None,
) -> QuerySet[M]:
    """The rows of ``model`` that add up to the filter's figures: per category when
    ``by_category`` or when categories are chosen, else the every-category rows (summing
    the per-category day rows where a table keeps no every-category day rows)."""
    rows = model._default_manager.all()
    if model is CrimeCount:
        rows = rows.filter(area_id=f.area_id) if f.area_id else rows.filter(area__isnull=True)
    elif f.area_id:
        rows = rows.filter(**{_area_column(f.area_id): f.area_id})
    if resolution is not None:
        rows = rows.filter(resolution=resolution)
    if f.jurisdiction_id is not None:
        rows = rows.filter(jurisdiction_id=f.jurisdiction_id)
    every_day = model is CrimeCount or (model is CellCount and resolution in (7, 8))
    if f.categories:
        month_category = day_category = Q(category__in=f.categories)
    elif by_category:
        month_category = day_category = ~Q(category="")
    else:
        month_category = Q(category="")
        day_category = Q(category="") if every_day else ~Q(category="")
    if days_only:
        return rows.filter(
            Q(span=CountSpan.DAY, day__gte=f.date_from, day__lte=f.date_to) & day_category
        ).order_by()
    query = _span_q(
        f.date_from, f.date_to, month_category=month_category, day_category=day_category
    )
    return rows.filter(query).order_by()


def _total(f: CrimeFilter) -> int:
    return int(_rows(CrimeCount, f).aggregate(n=Sum("count"))["n"] or 0)


# The change test


def _poisson_pmf(mean: float, size: int) -> np.ndarray:
    """P(K = k) for k in 0..size-1 of a Poisson variable, computed in logs."""
    k = np.arange(size, dtype=float)
    if mean <= 0:
        pmf = np.zeros(size)
        pmf[0] = 1.0
        return pmf
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, size, dtype=float)))))
    return np.exp(k * math.log(mean) - mean - log_factorial)


def poisson_change(before: int, after: int) -> dict[str, Any]:
    """Whether ``after`` differs from ``before`` by more than chance, for two counts over
    periods of equal length: the E-test of Krishnamoorthy & Thomson (2004), two-sided.

    The statistic is T = (after − before) / √(after + before). Under the null both counts
    are Poisson with the pooled mean m = (before + after) / 2; the p-value is
    P(|T(K1, K2)| ≥ |T_obs|) summed exactly over K1, K2 ~ Poisson(m). T falls as the other
    count grows, so for each K1 the tail of K2 is found in closed form (a quadratic in √s).
    """
    total = before + after
    result = {"method": "E-test (Krishnamoorthy & Thomson 2004)", "before": before, "after": after}
    if total == 0 or before == after:
        return {**result, "statistic": 0.0, "p_value": 1.0, "significant": False}
    t_obs = abs(after - before) / math.sqrt(total)
    mean = total / 2
    size = int(mean + 12 * math.sqrt(mean) + 30)
    pmf = _poisson_pmf(mean, size)
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    k1 = np.arange(size, dtype=float)
    # T(k1, k2) = (k1 − k2)/√(k1 + k2) ≥ t  ⇔  s + t√s − 2k1 ≤ 0 with s = k1 + k2.
    root = (-t_obs + np.sqrt(t_obs * t_obs + 8 * k1)) / 2
    high = np.floor(root * root - k1 + 1e-9)  # k2 ≤ high gives T ≥ t_obs
    root = (t_obs + np.sqrt(t_obs * t_obs + 8 * k1)) / 2
    low = np.ceil(root * root - k1 - 1e-9)  # k2 ≥ low gives T ≤ −t_obs
    below = np.where(high >= 0, cdf[np.clip(high, 0, size - 1).astype(int)], 0.0)
    above = np.where(low <= 0, 1.0, 1.0 - cdf[np.clip(low - 1, 0, size - 1).astype(int)])
    # T(0, 0) is 0: that pair is in neither tail.
    tails = below + above
    tails[0] -= pmf[0] if high[0] >= 0 else 0.0
    p = float(min(1.0, max(0.0, float(np.dot(pmf, tails)))))
    statistic = (after - before) / math.sqrt(total)
    return {
        **result,
        "statistic": round(statistic, 4),
        "p_value": round(p, 6),
        "significant": p < SIGNIFICANCE,
    }


def _period(f: CrimeFilter, date_from: date, date_to: date) -> CrimeFilter:
    return replace(f, date_from=date_from, date_to=date_to)


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _labels() -> dict[str, str]:
    return {str(value): str(label) for value, label in Category.choices}


def stats_summary(f: CrimeFilter) -> dict[str, Any]:
    """Totals of the period by category, against the period just before it (same length)
    and the same dates a year earlier, each with the change test."""
    labels = _labels()
    by_category = sorted(
        (
            (row["category"], int(row["n"]))
            for row in _rows(CrimeCount, f, by_category=True)
            .values("category")
            .annotate(n=Sum("count"))
        ),
        key=lambda item: (-item[1], item[0]),
    )
    total = sum(n for _c, n in by_category)
    previous = _period(f, f.date_from - timedelta(days=f.days), f.date_from - timedelta(days=1))
    last_year = _period(f, _year_before(f.date_from), _year_before(f.date_to))
    before, year_ago = _total(previous), _total(last_year)
    return {
        "from": f.date_from.isoformat(),
        "to": f.date_to.isoformat(),
        "total": total,
        "by_category": [
            {"category": c, "label": labels.get(c, c), "count": n} for c, n in by_category
        ],
        "previous": {
            "from": previous.date_from.isoformat(),
            "to": previous.date_to.isoformat(),
            "total": before,
        },
        "last_year": {
            "from": last_year.date_from.isoformat(),
            "to": last_year.date_to.isoformat(),
            "total": year_ago,
        },
        "change": {"vs": "previous", **poisson_change(before, total)},
        "change_last_year": {"vs": "last_year", **poisson_change(year_ago, total)},
        "how": _(
            "Incidents whose local date falls in the period, withdrawn ones left out. Each "
            "change is tested with the E-test of Krishnamoorthy and Thomson (2004) for two "
            "Poisson counts over periods of equal length: significant means a change that "
            "large would happen by chance less than one time in twenty."
        ),
    }


def _period_label(day: date, interval: str) -> str:
    if interval == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if interval == "week":
        year, week, _weekday = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return day.isoformat()


def _period_starts(f: CrimeFilter, interval: str) -> Iterator[date]:
    """A day in each period of the range, in order."""
    day = f.date_from
    if interval == "month":
        day = _month_start(day)
    elif interval == "week":
        day -= timedelta(days=day.weekday())
    while day <= f.date_to:
        yield max(day, f.date_from)
        day = (
            _next_month(day)
            if interval == "month"
            else day + timedelta(days=7 if interval == "week" else 1)
        )


def stats_trend(f: CrimeFilter, interval: str = "month") -> dict[str, Any]:
    """Counts by day, ISO week (``2025-W03``) or month (``2025-01``) and category, every
    period of the range listed (zeros included)."""
    if interval not in {"day", "week", "month"}:
        raise CrimeFilterError(_("The interval must be day, week or month."))
    rows = _rows(CrimeCount, f, by_category=True, days_only=interval != "month")
    series: dict[str, dict[str, int]] = {
        _period_label(day, interval): {} for day in _period_starts(f, interval)
    }
    for day, category, n in (
        rows.values("day", "category").annotate(n=Sum("count")).values_list("day", "category", "n")
    ):
        counts = series[_period_label(max(day, f.date_from), interval)]
        counts[category] = counts.get(category, 0) + int(n)
    return {
        "interval": interval,
        "series": [
            {
                "period": period,
                "counts": dict(sorted(counts.items())),
                "total": sum(counts.values()),
            }
            for period, counts in series.items()
        ],
    }


def block_street(name: str) -> str:
    """The street of a hundred block ("46XX MARYLAND AVE" → "MARYLAND AVE"); an
    intersection is its own street."""
    number, _space, rest = name.partition(" ")
    if rest and number.rstrip("X").isdigit() and number.endswith("X"):
        return rest
    return name


def _block_counts(f: CrimeFilter) -> Any:
    """Rows ``{block_id, block__name, n}`` of the period, most first."""
    return (
        _rows(BlockCount, f)
        .values("block_id", "block__name")
        .annotate(n=Sum("count"))
        .order_by("-n", "block__name")
    )


def stats_blocks(f: CrimeFilter, limit: int = BLOCKS_LIMIT) -> dict[str, Any]:
    """The hundred blocks with the most public incidents, most first."""
    return {
        "rows": [
            {
                "block": row["block__name"],
                "street": block_street(row["block__name"]),
                "count": int(row["n"]),
            }
            for row in _block_counts(f)[:limit]
        ]
    }


def stats_streets(f: CrimeFilter, limit: int = BLOCKS_LIMIT) -> dict[str, Any]:
    """Streets (their hundred blocks summed) with the most public incidents, most first."""
    streets: dict[str, int] = defaultdict(int)
    for row in _block_counts(f):
        streets[block_street(row["block__name"])] += int(row["n"])
    ranked = sorted(streets.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return {"rows": [{"street": s, "count": n} for s, n in ranked]}


def stats_areas(f: CrimeFilter, kind: str = AreaKind.NEIGHBOURHOOD) -> dict[str, Any]:
    """Every area of ``kind`` with its incidents (withheld ones included), most first."""
    if kind not in AreaKind.values:
        raise CrimeFilterError(
            _("Unknown area kind %(kind)s; the kinds are %(known)s.")
            % {"kind": kind, "known": ", ".join(AreaKind.values)}
        )
    rows = CrimeCount.objects.filter(area_kind=kind)
    if f.jurisdiction_id is not None:
        rows = rows.filter(jurisdiction_id=f.jurisdiction_id)
    category = Q(category__in=f.categories) if f.categories else Q(category="")
    counts = dict(
        rows.filter(_span_q(f.date_from, f.date_to, month_category=category, day_category=category))
        .order_by()
        .values("area_id")
        .annotate(n=Sum("count"))
        .values_list("area_id", "n")
    )
    areas = Area.objects.filter(kind=kind)
    if f.jurisdiction_id is not None:
        areas = areas.filter(jurisdiction_id=f.jurisdiction_id)
    listed = [
        {"id": pk, "name": name, "kind": str(kind), "count": int(counts.get(pk, 0))}
        for pk, name in areas.values_list("pk", "name")
    ]
    return {"rows": sorted(listed, key=lambda r: (-r["count"], r["name"]))}


def stats_offences(f: CrimeFilter, limit: int = OFFENCES_LIMIT) -> dict[str, Any]:
    """Offences by the source's label (with NIBRS code, category and crimes-against group),
    most first, at most ``limit``; ``total`` counts every offence of the period, withheld
    incidents' included. Each offence of an incident counts once: see ``how``."""
    labels = _labels()
    against = {str(value): str(label) for value, label in CrimesAgainst.choices}
    found = sorted(
        (
            (int(n), label, code, category, crimes_against)
            for code, label, category, crimes_against, n in _rows(OffenceCount, f, by_category=True)
            .values("nibrs_code", "label", "category", "crimes_against")
            .annotate(n=Sum("count"))
            .values_list("nibrs_code", "label", "category", "crimes_against", "n")
        ),
        key=lambda row: (-row[0], row[1], row[2], row[3]),
    )
    return {
        "total": sum(row[0] for row in found),
        "rows": [
            {
                "nibrs_code": code,
                "label": label,
                "category": category,
                "category_label": labels.get(category, category),
                "crimes_against": crimes_against,
                "crimes_against_label": against.get(crimes_against, crimes_against),
                "count": n,
            }
            for n, label, code, category, crimes_against in found[: max(limit, 0)]
        ],
        "how": _(
            "Offences whose incident's local date falls in the period, withdrawn incidents "
            "left out and withheld ones included. Each offence counts once: an incident with "
            "several offences counts under each of them, so these counts add up to more than "
            "the incidents. Offences are listed by the source's own label, with the NIBRS code "
            "and category it was mapped to."
        ),
    }


def _cell_counts(f: CrimeFilter, resolution: int) -> dict[str, int]:
    """Public incidents by cell; within an area, resolution 9 cells summed to their parents
    (resolution 8 and 7 rows are kept for the whole jurisdiction only)."""
    if resolution not in (7, 8, 9):
        raise CrimeFilterError(_("The resolution must be 7, 8 or 9."))
    read = 9 if f.area_id else resolution
    counts: dict[str, int] = defaultdict(int)
    for cell, n in (
        _rows(CellCount, f, resolution=read)
        .values("cell")
        .annotate(n=Sum("count"))
        .values_list("cell", "n")
    ):
        key = cell if read == resolution else str(h3.cell_to_parent(cell, resolution))
        counts[key] += int(n)
    return dict(counts)


@lru_cache(maxsize=100_000)
def _hexagon(cell: str) -> dict[str, Any]:
    """The cell's outline as a GeoJSON Polygon (longitude, latitude; ring closed). Cached and
    shared between results: never modified."""
    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def stats_hexbins(f: CrimeFilter, resolution: int = 8) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the H3 cells holding public incidents, with counts."""
    counts = _cell_counts(f, resolution)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": cell,
                "geometry": _hexagon(cell),
                "properties": {"cell": cell, "count": n},
            }
            for cell, n in sorted(counts.items())
        ],
    }


def stats_points(
    f: CrimeFilter,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = POINTS_LIMIT,
) -> dict[str, Any]:
    """Public points of public incidents in ``bbox`` (min lon, min lat, max lon, max lat),
    newest first, at most ``limit``; ``truncated`` when there were more."""
    limit = max(1, min(limit, POINTS_LIMIT))
    rows = Incident.objects.filter(
        state=IncidentState.ACTIVE,
        withheld=False,
        public_lat__isnull=False,
        occurred_date__gte=f.date_from,
        occurred_date__lte=f.date_to,
    )
    # The jurisdiction leads the date index: name every one when no one is chosen.
    jurisdictions = (
        [f.jurisdiction_id]
        if f.jurisdiction_id is not None
        else list(Jurisdiction.objects.values_list("pk", flat=True))
    )
    rows = rows.filter(jurisdiction_id__in=jurisdictions)
    if f.categories:
        rows = rows.filter(category__in=f.categories)
    if f.area_id is not None:
        rows = rows.filter(**{_area_column(f.area_id): f.area_id})
    if bbox is not None:
        west, south, east, north = bbox
        if west > east or south > north:
            raise CrimeFilterError(_("The bbox must be min lon, min lat, max lon, max lat."))
        rows = rows.filter(
            public_lon__gte=west,
            public_lon__lte=east,
            public_lat__gte=south,
            public_lat__lte=north,
        )
    labels = _labels()
    found = list(
        rows.order_by("-occurred_date", "-id").values_list(
            "id",
            "public_lat",
            "public_lon",
            "category",
            "offence_label",
            "occurred_date",
            "public_place",
        )[: limit + 1]
    )
    return {
        "points": [
            {
                "id": pk,
                "lat": lat,
                "lon": lon,
                "category": category,
                "category_label": labels.get(category, category),
                "label": label,
                "date": day.isoformat(),
                "block": place,
            }
            for pk, lat, lon, category, label, day, place in found[:limit]
        ],
        "truncated": len(found) > limit,
    }


def stats_hours(f: CrimeFilter) -> dict[str, Any]:
    """Public incidents timed to the minute by local weekday (0 Monday) and hour; all 168."""
    counts = {
        (weekday, hour): int(n)
        for weekday, hour, n in _rows(HourCount, f)
        .values("weekday", "hour")
        .annotate(n=Sum("count"))
        .values_list("weekday", "hour", "n")
    }
    return {
        "cells": [
            {"weekday": w, "hour": h, "count": counts.get((w, h), 0)}
            for w in range(7)
            for h in range(24)
        ]
    }


def getis_ord(counts: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Gi* z-score and two-sided p-value of every cell of the study area: the cells of
    ``counts`` and their k-ring 1 (absent cells count 0); neighbours are the cell itself and
    its ring, with binary weights."""
    cells = set(counts)
    for cell in counts:
        cells.update(h3.grid_disk(cell, 1))
    order = sorted(cells)
    n = len(order)
    if n < 3:
        return dict.fromkeys(order, (0.0, 1.0))
    x = np.array([counts.get(c, 0) for c in order], dtype=float)
    index = {c: i for i, c in enumerate(order)}
    mean = x.mean()
    s = math.sqrt(max((x * x).mean() - mean * mean, 0.0))
    result: dict[str, tuple[float, float]] = {}
    for cell in order:
        neighbours = [index[c] for c in h3.grid_disk(cell, 1) if c in index]
        w = len(neighbours)
        if s == 0:
            result[cell] = (0.0, 1.0)
            continue
        numerator = x[neighbours].sum() - mean * w
        denominator = s * math.sqrt((n * w - w * w) / (n - 1))
        z = numerator / denominator if denominator > 0 else 0.0
        p = math.erfc(abs(z) / math.sqrt(2))
        result[cell] = (z, p)
    return result


def _gi_class(z: float) -> tuple[str, int]:
    for confidence, threshold in GI_CLASSES:
        if abs(z) >= threshold:
            return (f"hot-{confidence}" if z > 0 else f"cold-{confidence}"), confidence
    return "not-significant", 0


def stats_hotspots(f: CrimeFilter, resolution: int = HOTSPOT_RESOLUTION) -> dict[str, Any]:
    """Getis-Ord Gi* over H3 cells: z, p and confidence class (hot or cold at 90, 95 or 99%)
    of each cell of the study area, as a GeoJSON FeatureCollection."""
    counts = _cell_counts(f, resolution)
    features = []
    for cell, (z, p) in getis_ord(counts).items():
        name, confidence = _gi_class(z)
        features.append(
            {
                "type": "Feature",
                "id": cell,
                "geometry": _hexagon(cell),
                "properties": {
                    "cell": cell,
                    "count": counts.get(cell, 0),
                    "z": round(z, 4),
                    "p": round(p, 6),
                    "class": name,
                    "confidence": confidence,
                },
            }
        )
    return {
        "method": "Getis-Ord Gi*",
        "parameters": {
            "grid": "H3",
            "resolution": resolution,
            "neighbours": "k-ring 1 and the cell itself",
            "weights": "binary",
            "study_area": "cells with incidents and their k-ring 1",
            "classes": {f"{c}%": t for c, t in GI_CLASSES},
            "test": "two-sided normal",
        },
        "features": {"type": "FeatureCollection", "features": features},
    }


def _distances_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distances (haversine) in metres, pair by pair."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def stats_density(
    f: CrimeFilter, resolution: int = DENSITY_RESOLUTION, bandwidth_m: float = DENSITY_BANDWIDTH_M
) -> dict[str, Any]:
    """Kernel density (incidents per km²) at the centres of the H3 cells within the bandwidth
    of any public incident, with a quartic kernel over the cell centres' counts."""
    counts = _cell_counts(f, resolution)
    edge = h3.average_hexagon_edge_length(resolution, unit="m")
    rings = max(1, math.ceil(bandwidth_m / (edge * math.sqrt(3))))
    # One ring more than the bandwidth needs: hexagons are not all the same size.
    sources = sorted(counts)
    pairs = [(i, t) for i, c in enumerate(sources) for t in h3.grid_disk(c, rings + 1)]
    targets = sorted({t for _i, t in pairs})
    index = {t: j for j, t in enumerate(targets)}
    source_at = np.array([h3.cell_to_latlng(c) for c in sources]).reshape(-1, 2)
    target_at = np.array([h3.cell_to_latlng(t) for t in targets]).reshape(-1, 2)
    i = np.array([p[0] for p in pairs], dtype=int)
    j = np.array([index[p[1]] for p in pairs], dtype=int)
    h_km = bandwidth_m / 1000.0
    d = _distances_m(source_at[i, 0], source_at[i, 1], target_at[j, 0], target_at[j, 1]) / 1000
    weights = np.array([counts[c] for c in sources], dtype=float)[i]
    kernel = np.where(d < h_km, 3.0 / (math.pi * h_km * h_km) * (1 - (d / h_km) ** 2) ** 2, 0.0)
    density = np.bincount(j, weights=weights * kernel, minlength=len(targets))
    cells = [
        {"cell": t, "density": round(float(v), 4)}
        for t, v in zip(targets, density, strict=True)
        if v > 0
    ]
    return {
        "method": "quartic kernel",
        "parameters": {
            "bandwidth_m": bandwidth_m,
            "grid": "H3",
            "resolution": resolution,
            "kernel": "K(d) = 3/(π h²) (1 − d²/h²)² for d < h",
            "unit": "incidents per km²",
            "distance": "great-circle between cell centres",
        },
        "cells": cells,
    }


def stats_concentration(f: CrimeFilter) -> dict[str, Any]:
    """The concentration curve of public incidents over hundred blocks: points (share of
    blocks, share of incidents) with blocks ranked most first, and the share of blocks
    holding half the incidents."""
    counts = np.array([int(row["n"]) for row in _block_counts(f)], dtype=float)
    blocks = BlockCount.objects.filter(span=CountSpan.MONTH, category="")
    if f.area_id is not None:
        blocks = blocks.filter(**{_area_column(f.area_id): f.area_id})
    if f.jurisdiction_id is not None:
        blocks = blocks.filter(jurisdiction_id=f.jurisdiction_id)
    on_record = max(blocks.values("block_id").distinct().count(), len(counts))
    total = counts.sum()
    how = _(
        "Hundred blocks ranked by their public incidents in the period, most first; the curve "
        "gives the share of blocks (of every block with a public incident on record) against "
        "the share of incidents they hold. Withheld incidents have no block and are left out."
    )
    if total == 0 or on_record == 0:
        return {
            "curve": [[0.0, 0.0]],
            "blocks_share_for_half": 0.0,
            "blocks": on_record,
            "incidents": 0,
            "how": how,
        }
    cumulative = np.concatenate(([0.0], np.cumsum(counts))) / total
    shares = np.arange(len(cumulative)) / on_record
    half = int(np.searchsorted(cumulative, 0.5 - 1e-12))
    picks = np.unique(np.linspace(0, len(cumulative) - 1, CURVE_POINTS + 1).round().astype(int))
    curve = [[round(float(shares[i]), 5), round(float(cumulative[i]), 5)] for i in picks]
    if curve[-1][0] < 1.0:
        curve.append([1.0, 1.0])
    return {
        "curve": curve,
        "blocks_share_for_half": round(float(shares[half]), 5),
        "blocks": on_record,
        "incidents": int(total),
        "how": how,
    }
