"""Pre-aggregated incident counts, rebuilt per source after each import.

Statistics never scan incident rows per request: they sum a few thousand rows of the count
tables of :mod:`watchhouse.crimemap.models` (:class:`CrimeCount`, :class:`BlockCount`,
:class:`CellCount`, :class:`HourCount`, :class:`OffenceCount`). Every table holds, for each
source:

- day rows (``span="day"``) and month rows (``span="month"``, ``day`` the first of the
  month), so that a range sums month rows for the whole months inside it and day rows only at
  its two ends;
- rows per category, and month rows for every category together (``category=""``) so that
  an unfiltered view reads one row per key and month. Day rows for every category together
  exist only where they are few (:class:`CrimeCount`, cells at resolutions 8 and 7);
  elsewhere the ends of a range sum the per-category day rows. :class:`OffenceCount` has no
  rows for every category together (an offence's label decides its category).

Areas: :class:`CrimeCount` has rows for the whole jurisdiction (``area`` empty) and rows per
area of each kind the jurisdiction has. The other tables carry one column per area kind
(neighbourhood, beat, district, ward), so one row serves the city and each of its areas;
their resolution 8 and 7 cells are for the whole jurisdiction only.

Withheld incidents count in :class:`CrimeCount` (area and category totals) and
:class:`OffenceCount` (offence totals, by area at most) and nowhere else.

Offences are counted one by one: an incident with one offence counts once, under its own
columns (category, NIBRS code, crimes-against group, label); an incident with several counts
once under each of its :class:`Offence` rows (every offence, the first included), on the
incident's date and in its areas.
Hours count only incidents timed to the minute, in the local time zone (``TIME_ZONE``).
Cells at resolutions 8 and 7 are summed from resolution 9 through :class:`CellParent`, and
days into months through :class:`CalendarDay`, both filled by Python, so that the database
needs neither H3 nor date functions (SQLite runs Django's date functions in Python, row by
row).

All of it is portable SQL: ``INSERT … SELECT … GROUP BY``, compiled by Django's ORM from the
incidents and written out by hand for the sums over count rows, in one transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Max, Min, Model, QuerySet, Sum, Value
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay

from watchhouse.core.pagecache import pages_changed
from watchhouse.crimemap.models import (
    BlockCount,
    CalendarDay,
    CellCount,
    CellParent,
    CountSpan,
    CrimeCount,
    HourCount,
    Incident,
    IncidentSource,
    Offence,
    OffenceCount,
    Precision,
)
from watchhouse.crimemap.states import IncidentState
from watchhouse.geo.models import Area, AreaKind

# Area kinds with a column on Incident, in the order their rows are built.
AREA_KINDS = (AreaKind.NEIGHBOURHOOD, AreaKind.BEAT, AreaKind.DISTRICT, AreaKind.WARD)
# Resolutions of the cell counts: 9 is the incidents' own, 8 and 7 are its parents.
CELL_RESOLUTIONS = (7, 8, 9)
# Prefix of the aliases of the compiled SELECT.
PREFIX = "k_"
COUNT = {f"{PREFIX}count": Count("id")}
ROLLUP_MODELS: tuple[type[Model], ...] = (
    CrimeCount,
    BlockCount,
    CellCount,
    HourCount,
    OffenceCount,
)


def _keyed(**columns: Any) -> dict[str, Any]:
    """Expressions named for the columns they fill (prefixed: an annotation may not take the
    name of a model field)."""
    return {f"{PREFIX}{name}": expression for name, expression in columns.items()}


def _insert_select(model: type[Model], rows: QuerySet[Any, Any]) -> None:
    """``INSERT INTO model (…) SELECT …``: ``rows`` is a ``values(**_keyed(…))`` queryset
    whose keys name the model's columns, in any order."""
    compiler = rows.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    columns = [alias.removeprefix(PREFIX) for _, _, alias in compiler.select]
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}", params)  # noqa: S608 - compiled


def _incidents(source: IncidentSource) -> QuerySet[Incident]:
    return Incident.objects.filter(source=source, state=IncidentState.ACTIVE).order_by()


def _kinds(source: IncidentSource) -> list[AreaKind]:
    """Area kinds the source's jurisdiction has (no rows are built for the others)."""
    present = set(
        Area.objects.filter(jurisdiction_id=source.jurisdiction_id)
        .values_list("kind", flat=True)
        .distinct()
    )
    return [k for k in AREA_KINDS if k in present]


def _base(source: IncidentSource, **keys: Any) -> dict[str, Any]:
    return _keyed(
        source_id=Value(source.pk),
        jurisdiction_id=Value(source.jurisdiction_id),
        span=Value(CountSpan.DAY.value),
        day=F("occurred_date"),
        category=F("category"),
        **keys,
    )


def _crime_rows(source: IncidentSource) -> None:
    """Day rows of :class:`CrimeCount` per category: the jurisdiction's, then each area's."""
    incidents = _incidents(source)
    whole = _keyed(area_id=Value(None, output_field=IntegerField()), area_kind=Value(""))
    _insert_select(CrimeCount, incidents.values(**_base(source), **whole).annotate(**COUNT))
    for kind in _kinds(source):
        rows = incidents.filter(**{f"{kind.value}__isnull": False})
        by_area = _keyed(area_id=F(f"{kind.value}_id"), area_kind=Value(kind.value))
        _insert_select(CrimeCount, rows.values(**_base(source), **by_area).annotate(**COUNT))


def _area_rows(
    model: type[Model], source: IncidentSource, rows: QuerySet[Incident], **keys: Any
) -> None:
    """Day rows per category of a table with one column per area kind."""
    areas = _keyed(**{f"{kind.value}_id": F(f"{kind.value}_id") for kind in AREA_KINDS})
    _insert_select(model, rows.values(**_base(source, **keys), **areas).annotate(**COUNT))


def _offence_rows(source: IncidentSource) -> None:
    """Day rows of :class:`OffenceCount` per offence and category: the incidents with one
    offence by their own columns, then the offence rows of those with several."""
    areas = [kind.value for kind in AREA_KINDS]
    single = _incidents(source).filter(offence_count__lte=1)
    _area_rows(
        OffenceCount,
        source,
        single,
        nibrs_code=F("nibrs_code"),
        crimes_against=F("crimes_against"),
        label=F("offence_label"),
    )
    several = Offence.objects.filter(
        incident__source=source,
        incident__state=IncidentState.ACTIVE,
        incident__offence_count__gt=1,
    ).order_by()
    keys = _keyed(
        source_id=Value(source.pk),
        jurisdiction_id=Value(source.jurisdiction_id),
        span=Value(CountSpan.DAY.value),
        day=F("incident__occurred_date"),
        category=F("category"),
        nibrs_code=F("nibrs_code"),
        crimes_against=F("crimes_against"),
        label=F("label"),
        **{f"{a}_id": F(f"incident__{a}_id") for a in areas},
    )
    _insert_select(OffenceCount, several.values(**keys).annotate(**COUNT))


def _calendar(source: IncidentSource) -> None:
    """Record the month of every day the source has counts for, where not yet known."""
    found = CrimeCount.objects.filter(source=source, span=CountSpan.DAY).aggregate(
        first=Min("day"), last=Max("day")
    )
    if found["first"] is None:
        return
    days = []
    day = found["first"]
    while day <= found["last"]:
        days.append(CalendarDay(day=day, month=day.replace(day=1)))
        day += timedelta(days=1)
    CalendarDay.objects.bulk_create(days, batch_size=1000, ignore_conflicts=True)


def _derived_rows(
    model: type[Model],
    source: IncidentSource,
    key_fields: list[str],
    *,
    every_day: bool,
    every_category: bool = True,
) -> None:
    """From the source's day rows per category: month rows per category and (unless not
    ``every_category``) for every category together, and (``every_day``) day rows for every
    category together."""
    quote = connection.ops.quote_name
    columns = [
        str(getattr(model._meta.get_field(f), "column", f))
        for f in ["source", "jurisdiction", *key_fields]
    ]
    keys = ", ".join(f"t.{quote(c)}" for c in columns)
    names = ", ".join(quote(c) for c in columns)
    table = quote(model._meta.db_table)
    calendar = quote(CalendarDay._meta.db_table)
    statements: list[tuple[str, list[Any]]] = [
        # Month rows per category, then for every category.
        (
            f"SELECT {keys}, %s, c.month, t.category, SUM(t.count) FROM {table} t "  # noqa: S608 - our names
            f"JOIN {calendar} c ON c.day = t.day WHERE t.source_id = %s AND t.span = %s "
            f"GROUP BY {keys}, c.month, t.category",
            [CountSpan.MONTH.value, source.pk, CountSpan.DAY.value],
        ),
    ]
    if every_category:
        statements.append(
            (
                f"SELECT {keys}, %s, c.month, %s, SUM(t.count) FROM {table} t "  # noqa: S608 - our names
                f"JOIN {calendar} c ON c.day = t.day WHERE t.source_id = %s AND t.span = %s "
                f"GROUP BY {keys}, c.month",
                [CountSpan.MONTH.value, "", source.pk, CountSpan.DAY.value],
            )
        )
    if every_day:
        statements.append(
            (
                f"SELECT {keys}, %s, t.day, %s, SUM(t.count) FROM {table} t "  # noqa: S608 - our names
                f"WHERE t.source_id = %s AND t.span = %s GROUP BY {keys}, t.day",
                [CountSpan.DAY.value, "", source.pk, CountSpan.DAY.value],
            )
        )
    with connection.cursor() as cursor:
        for select, params in statements:
            cursor.execute(
                f"INSERT INTO {table} ({names}, span, day, category, count) {select}",  # noqa: S608 - our names
                params,
            )


def _cell_parents(source: IncidentSource) -> None:
    """Record the parents of every resolution 9 cell of the source not yet known."""
    cells = set(
        _incidents(source).exclude(public_h3="").values_list("public_h3", flat=True).distinct()
    )
    known = set(CellParent.objects.filter(cell__in=cells).values_list("cell", flat=True))
    CellParent.objects.bulk_create(
        [
            CellParent(
                cell=cell,
                parent8=str(h3.cell_to_parent(cell, 8)),
                parent7=str(h3.cell_to_parent(cell, 7)),
            )
            for cell in sorted(cells - known)
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


def _parent_cells(source: IncidentSource) -> None:
    """Resolution 8 and 7 day rows for the whole jurisdiction, summed from the resolution 9
    ones (must run before the month rows are derived)."""
    table = connection.ops.quote_name(CellCount._meta.db_table)
    parents = connection.ops.quote_name(CellParent._meta.db_table)
    for resolution in (8, 7):
        column = f"parent{resolution}"
        sql = (
            f"INSERT INTO {table} (source_id, jurisdiction_id, span, day, category, "  # noqa: S608 - our names
            f"resolution, cell, count) "
            f"SELECT c.source_id, c.jurisdiction_id, c.span, c.day, c.category, "
            f"%s, p.{column}, SUM(c.count) FROM {table} c JOIN {parents} p ON p.cell = c.cell "
            f"WHERE c.source_id = %s AND c.resolution = 9 AND c.span = %s "
            f"GROUP BY c.source_id, c.jurisdiction_id, c.span, c.day, c.category, p.{column}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [resolution, source.pk, CountSpan.DAY.value])


def _every_day_cells(source: IncidentSource) -> None:
    """Day rows for every category together at resolutions 8 and 7 (city-wide maps read
    them at the ends of a range)."""
    days = CellCount.objects.filter(
        source=source, span=CountSpan.DAY, resolution__in=(7, 8)
    ).exclude(category="")
    fields = ["source_id", "jurisdiction_id", "resolution", "cell"]
    every = _keyed(span=Value(CountSpan.DAY.value), day=F("day"), category=Value(""))
    _insert_select(
        CellCount,
        days.order_by()
        .values(**_keyed(**{f: F(f) for f in fields}), **every)
        .annotate(**_keyed(count=Sum("count"))),
    )


def rollups_refresh(*, source_id: int) -> dict[str, int]:
    """Rebuild every count of one source from its active incidents, in one transaction;
    return the number of rows each table now holds for it."""
    source = IncidentSource.objects.get(pk=source_id)
    zone = ZoneInfo(settings.TIME_ZONE)
    with transaction.atomic():
        for model in ROLLUP_MODELS:
            model._default_manager.filter(source=source).delete()
        public = _incidents(source).filter(withheld=False)
        _crime_rows(source)
        _area_rows(BlockCount, source, public.filter(block__isnull=False), block_id=F("block_id"))
        _cell_parents(source)
        _area_rows(
            CellCount,
            source,
            public.exclude(public_h3=""),
            resolution=Value(9),
            cell=F("public_h3"),
        )
        _parent_cells(source)
        _area_rows(
            HourCount,
            source,
            public.filter(precision=Precision.MINUTE),
            weekday=ExtractIsoWeekDay("occurred_at", tzinfo=zone) - 1,
            hour=ExtractHour("occurred_at", tzinfo=zone),
        )
        _offence_rows(source)
        areas = [kind.value for kind in AREA_KINDS]
        _calendar(source)
        _derived_rows(CrimeCount, source, ["area", "area_kind"], every_day=True)
        _derived_rows(BlockCount, source, ["block", *areas], every_day=False)
        _derived_rows(CellCount, source, ["resolution", "cell", *areas], every_day=False)
        _every_day_cells(source)
        _derived_rows(HourCount, source, ["weekday", "hour", *areas], every_day=False)
        _derived_rows(
            OffenceCount,
            source,
            ["nibrs_code", "crimes_against", "label", *areas],
            every_day=False,
            every_category=False,
        )
        # Area pages show these counts.
        pages_changed("crime")
        return {
            model.__name__: model._default_manager.filter(source=source).count()
            for model in ROLLUP_MODELS
        }


def rollups_refresh_all() -> dict[str, int]:
    """Rebuild the counts of every source; return the rows of each table in total."""
    totals: dict[str, int] = {}
    for source_id in IncidentSource.objects.order_by("pk").values_list("pk", flat=True):
        for name, rows in rollups_refresh(source_id=source_id).items():
            totals[name] = totals.get(name, 0) + rows
    return totals
