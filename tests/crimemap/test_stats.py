"""Crime statistics: the methods on known numbers, and every count on the real St. Louis file
against DuckDB recomputing it from the raw parquet file.

The St. Louis file and its neighbourhoods are imported once for the module (rolled back at
its end) and the counts rebuilt with ``rollups_refresh``. DuckDB then starts again from the
raw rows (point in polygon with shapely, the import's conflict rule, the most serious
offence's category, the withheld NIBRS codes, the hundred-block rule) — sharing nothing with
the code under test but the documented rules.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import duckdb
import h3
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.conftest import need
from tests.crimemap.conftest import kept_for_module, row
from tests.crimemap.test_real_data import (
    CLEAN_SQL,
    CRIME,
    HOUSE_SQL,
    STL,
    WITHHELD_NIBRS,
    _stl_rows,
)
from watchhouse.crimemap import stats
from watchhouse.crimemap.categories import NIBRS, Category
from watchhouse.crimemap.models import CrimeCount, HundredBlock, Incident
from watchhouse.crimemap.rollups import rollups_refresh
from watchhouse.crimemap.services import incidents_import
from watchhouse.crimemap.states import IncidentState
from watchhouse.geo.models import Area
from watchhouse.geo.services import area_import

# The change test


def _e_test_brute(before: int, after: int) -> float:
    """The E-test's p-value by direct double summation over both Poisson counts."""
    total = before + after
    t_obs = abs(after - before) / math.sqrt(total)
    mean = total / 2
    top = int(mean + 15 * math.sqrt(mean) + 30)
    log_pmf = [k * math.log(mean) - mean - math.lgamma(k + 1) for k in range(top)]
    p = 0.0
    for k1 in range(top):
        for k2 in range(top):
            t = 0.0 if k1 + k2 == 0 else abs(k1 - k2) / math.sqrt(k1 + k2)
            if t >= t_obs - 1e-12:
                p += math.exp(log_pmf[k1] + log_pmf[k2])
    return p


@pytest.mark.parametrize(
    ("before", "after", "significant"),
    [
        (10, 20, False),
        (100, 200, True),
        (20, 10, False),
        (200, 100, True),
        (50, 52, False),
        (0, 7, True),
        (3, 0, False),
    ],
)
def test_the_change_test_tells_noise_from_change(before, after, significant):
    result = stats.poisson_change(before, after)
    assert result["significant"] is significant
    assert result["method"].startswith("E-test")
    assert result["p_value"] == pytest.approx(_e_test_brute(before, after), abs=2e-6)
    assert result["statistic"] == pytest.approx((after - before) / math.sqrt(before + after), 1e-3)


def test_no_change_is_never_significant():
    assert stats.poisson_change(0, 0)["p_value"] == 1.0
    assert stats.poisson_change(40, 40)["significant"] is False


# Hot spots and density on synthetic grids


def test_gi_star_finds_the_one_hot_cluster():
    centre = h3.latlng_to_cell(38.63, -90.24, 8)
    counts = dict.fromkeys(h3.grid_disk(centre, 6), 2)
    counts |= dict.fromkeys(h3.grid_disk(centre, 1), 25)
    result = stats.getis_ord(counts)
    z, p = result[centre]
    assert z > 2.5758 and p < 0.01
    hot = {cell for cell, (z, _p) in result.items() if z >= 1.96}
    assert centre in hot
    assert hot <= set(h3.grid_disk(centre, 2))
    far = set(h3.grid_disk(centre, 6)) - set(h3.grid_disk(centre, 3))
    assert all(result[cell][0] < 1.645 for cell in far)


def test_gi_star_equals_its_formula():
    centre = h3.latlng_to_cell(38.63, -90.24, 8)
    rng = np.random.default_rng(7)
    counts = {cell: int(rng.integers(0, 9)) for cell in h3.grid_disk(centre, 4)}
    result = stats.getis_ord(counts)
    cells = sorted(set().union(*(h3.grid_disk(c, 1) for c in counts)))
    x = np.array([counts.get(c, 0) for c in cells], dtype=float)
    n, mean, s = len(x), x.mean(), x.std()
    for cell in (centre, cells[0], cells[-1]):
        ring = [cells.index(c) for c in h3.grid_disk(cell, 1) if c in cells]
        w = len(ring)
        z = (x[ring].sum() - mean * w) / (s * math.sqrt((n * w - w * w) / (n - 1)))
        assert result[cell][0] == pytest.approx(z)


# The real St. Louis file


@pytest.fixture(scope="module")
def stl(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """St. Louis neighbourhoods, wards and incidents with their counts, and the raw rows in
    DuckDB (table ``heads``: the first row of each kept incident, with its category)."""
    need(CRIME.is_dir(), f"the shared crime data {CRIME} is not beside this checkout")
    with kept_for_module(django_db_blocker):
        for kind, name in (("neighbourhood", "stl_neighborhoods"), ("ward", "stl_wards")):
            area_import(
                actor=None,
                kind=kind,
                path=CRIME / "st-louis" / f"{name}.geojson",
                jurisdiction="St. Louis",
            )
        report = incidents_import(
            actor=None, path=STL, format="stl-nibrs", jurisdiction="St. Louis"
        )
        rollups_refresh(source_id=report.source_id)
        con = duckdb.connect()
        _stl_rows(con)
        order = {c: i for i, c in enumerate(Category.values)}
        con.execute("create table rank (code varchar, category varchar, r int)")
        con.executemany(
            "insert into rank values (?, ?, ?)",
            [(code, info.category, order[info.category]) for code, info in NIBRS.items()],
        )
        con.sql(
            f"""
            create table heads as
            with ranked as (
                select g.*, k.category, k.r,
                       bool_or(g.nibrs_code in {WITHHELD_NIBRS}) over i as withheld,
                       min(k.r) over i as best,
                       row_number() over (partition by "inc_#" order by n) as pos
                from good g join rank k on k.code = g.nibrs_code
                window i as (partition by "inc_#")
            )
            select "inc_#" as id, cast(date_time as date) as day, date_time, hood, address,
                   withheld, {CLEAN_SQL.format(c="address")} as clean,
                   (select category from rank where r = best limit 1) as category
            from ranked where pos = 1
            """
        )
        yield {"report": report, "con": con, "jurisdiction_id": report.source.jurisdiction_id}


def _filter(stl: dict[str, Any], first: date, last: date, **kwargs: Any) -> stats.CrimeFilter:
    return stats.crime_filter(
        date_from=first, date_to=last, jurisdiction_id=stl["jurisdiction_id"], **kwargs
    )


def _window(stl: dict[str, Any]) -> tuple[date, date]:
    """A 90-day window ending mid-month, so both month and day rows are summed."""
    found = stats.stats_range(stl["jurisdiction_id"])
    assert found is not None
    last = date.fromisoformat(found["last"]) - timedelta(days=45)
    return last - timedelta(days=89), last


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_the_range_is_the_first_and_last_incident_date(stl):
    first, last = stl["con"].sql("select min(day), max(day) from heads").fetchall()[0]
    found = stats.stats_range(stl["jurisdiction_id"])
    assert found == {"first": first.isoformat(), "last": last.isoformat()}


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_counts_by_neighbourhood_match_duckdb(stl):
    first, last = _window(stl)
    expected = Counter(
        dict(
            stl["con"]
            .execute(
                "select hood, count(*) from heads where day between ? and ? and hood <> '' "
                "group by hood",
                [first, last],
            )
            .fetchall()
        )
    )
    rows = stats.stats_areas(_filter(stl, first, last), "neighbourhood")["rows"]
    assert Counter({r["name"]: r["count"] for r in rows if r["count"]}) == expected
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    # Theft alone, in one neighbourhood, through the area filter of the summary.
    name, n = expected.most_common(1)[0]
    area = Area.objects.get(kind="neighbourhood", name=name, jurisdiction__slug="st-louis")
    (thefts,) = (
        stl["con"]
        .execute(
            "select count(*) from heads where day between ? and ? and hood = ? and category = ?",
            [first, last, name, "theft"],
        )
        .fetchall()[0]
    )
    summary = stats.stats_summary(_filter(stl, first, last, area_id=area.pk, categories=["theft"]))
    assert summary["total"] == thefts
    assert stats.stats_summary(_filter(stl, first, last, area_id=area.pk))["total"] == n


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_counts_by_month_and_category_match_duckdb(stl):
    found = stats.stats_range(stl["jurisdiction_id"])
    first, last = date.fromisoformat(found["first"]), date.fromisoformat(found["last"])
    expected = Counter(
        {
            (m, c): n
            for m, c, n in stl["con"]
            .sql("select strftime(day, '%Y-%m'), category, count(*) from heads group by all")
            .fetchall()
        }
    )
    trend = stats.stats_trend(_filter(stl, first, last), "month")
    got = Counter({(s["period"], c): n for s in trend["series"] for c, n in s["counts"].items()})
    assert got == expected
    assert sum(s["total"] for s in trend["series"]) == stl["report"].incidents_created
    summary = stats.stats_summary(_filter(stl, first, last))
    assert summary["total"] == stl["report"].incidents_created
    by_category = Counter(
        dict(stl["con"].sql("select category, count(*) from heads group by all").fetchall())
    )
    assert {r["category"]: r["count"] for r in summary["by_category"]} == by_category


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_weekly_and_daily_trends_add_up_to_the_days(stl):
    first, last = _window(stl)
    expected = dict(
        stl["con"]
        .execute(
            "select day, count(*) from heads where day between ? and ? group by day",
            [first, last],
        )
        .fetchall()
    )
    daily = stats.stats_trend(_filter(stl, first, last), "day")["series"]
    assert len(daily) == 90
    assert {s["period"]: s["total"] for s in daily if s["total"]} == {
        d.isoformat(): n for d, n in expected.items()
    }
    weekly = stats.stats_trend(_filter(stl, first, last), "week")["series"]
    assert sum(s["total"] for s in weekly) == sum(expected.values())


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_counts_by_hundred_block_match_duckdb_and_hold_no_withheld_incident(stl):
    first, last = _window(stl)
    expected = Counter(
        dict(
            stl["con"]
            .execute(
                f"""
                select (cast(regexp_extract(clean, {HOUSE_SQL}, 1) as bigint) // 100)::varchar
                       || 'XX ' || regexp_extract(clean, {HOUSE_SQL}, 3), count(*)
                from heads where not withheld and regexp_matches(clean, {HOUSE_SQL})
                     and not regexp_matches(clean, '/|&|@| AND ') and day between ? and ?
                group by all
                """,
                [first, last],
            )
            .fetchall()
        )
    )
    blocks = set(HundredBlock.objects.filter(kind="block").values_list("name", flat=True))
    rows = stats.stats_blocks(_filter(stl, first, last), limit=100_000)["rows"]
    assert Counter({r["block"]: r["count"] for r in rows if r["block"] in blocks}) == expected
    top = rows[0]
    assert top["count"] == max(expected.values())
    assert top["street"] == top["block"].split(" ", 1)[1]
    # Withheld incidents have no block: every block figure adds up to public incidents only.
    public = Incident.objects.filter(
        source=stl["report"].source,
        withheld=False,
        block__isnull=False,
        occurred_date__gte=first,
        occurred_date__lte=last,
    ).count()
    assert sum(r["count"] for r in rows) == public
    streets = stats.stats_streets(_filter(stl, first, last), limit=100_000)["rows"]
    assert sum(r["count"] for r in streets) == public


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_cells_and_hours_hold_only_public_incidents(stl):
    first, last = _window(stl)
    con = stl["con"]
    (withheld,) = con.execute(
        "select count(*) from heads where withheld and day between ? and ?", [first, last]
    ).fetchall()[0]
    assert withheld > 0
    f = _filter(stl, first, last)
    summary = stats.stats_summary(f)
    shown = Incident.objects.filter(
        source=stl["report"].source,
        withheld=False,
        occurred_date__gte=first,
        occurred_date__lte=last,
    ).exclude(public_h3="")
    cells9 = Counter(shown.values_list("public_h3", flat=True))
    for resolution in (7, 8, 9):
        hexbins = stats.stats_hexbins(f, resolution)["features"]
        got = Counter({x["properties"]["cell"]: x["properties"]["count"] for x in hexbins})
        expected: Counter[str] = Counter()
        for cell, n in cells9.items():
            expected[str(h3.cell_to_parent(cell, resolution))] += n
        assert got == expected
        assert sum(got.values()) <= summary["total"] - withheld
    withheld_cells = Incident.objects.filter(withheld=True).exclude(public_h3="")
    assert not withheld_cells.exists()
    # Hours: public incidents timed to the minute, by local weekday and hour.
    expected_hours = Counter(
        {
            (w, h): n
            for w, h, n in con.execute(
                "select isodow(date_time) - 1, hour(date_time), count(*) from heads "
                "where not withheld and day between ? and ? group by all",
                [first, last],
            ).fetchall()
        }
    )
    cells = stats.stats_hours(f)["cells"]
    assert len(cells) == 168
    assert Counter({(c["weekday"], c["hour"]): c["count"] for c in cells if c["count"]}) == (
        expected_hours
    )


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_hot_spots_density_and_concentration_on_real_data(stl):
    first, last = _window(stl)
    f = _filter(stl, first, last)
    hotspots = stats.stats_hotspots(f)
    assert hotspots["method"] == "Getis-Ord Gi*"
    features = hotspots["features"]["features"]
    hottest = max(features, key=lambda x: x["properties"]["z"])
    assert hottest["properties"]["class"] == "hot-99"
    assert {"z", "p", "class"} <= set(hottest["properties"])
    density = stats.stats_density(f)
    assert density["parameters"]["bandwidth_m"] == stats.DENSITY_BANDWIDTH_M
    assert max(c["density"] for c in density["cells"]) > 0
    # Weisburd: half the public incidents on few blocks.
    counts = sorted(
        (r["count"] for r in stats.stats_blocks(f, limit=100_000)["rows"]), reverse=True
    )
    on_record = len(
        set(
            HundredBlock.objects.filter(
                incidents__withheld=False, incidents__state=IncidentState.ACTIVE
            ).values_list("id", flat=True)
        )
    )
    needed = int(np.searchsorted(np.cumsum(counts), sum(counts) / 2)) + 1
    concentration = stats.stats_concentration(f)
    assert concentration["blocks_share_for_half"] == pytest.approx(needed / on_record, abs=1e-4)
    assert concentration["blocks_share_for_half"] < 0.5
    assert concentration["curve"][0] == [0.0, 0.0] and concentration["curve"][-1][1] == 1.0


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.slow
def test_filters_that_cannot_be_met_say_why(stl):
    first, last = _window(stl)
    with pytest.raises(stats.CrimeFilterError, match="after the end date"):
        _filter(stl, last, first)
    with pytest.raises(stats.CrimeFilterError, match="longer than the data's whole range"):
        _filter(stl, first - timedelta(days=3000), last)
    with pytest.raises(stats.CrimeFilterError, match="Unknown category bicycles"):
        _filter(stl, first, last, categories=["bicycles"])
    default = stats.crime_filter(jurisdiction_id=stl["jurisdiction_id"])
    assert default.days == stats.DEFAULT_DAYS
    assert default.date_to.isoformat() == stats.stats_range(stl["jurisdiction_id"])["last"]


# Refreshing


@pytest.mark.django_db
def test_refresh_rebuilds_and_leaves_withdrawn_incidents_out(grid, write_export, mapping_file):
    path = write_export([row("A"), row("B", when="2026-03-02 10:00"), row("C")])
    report = incidents_import(
        actor=None, path=path, format="mapping", mapping=mapping_file, jurisdiction="Grid City"
    )
    first = rollups_refresh(source_id=report.source_id)
    assert rollups_refresh(source_id=report.source_id) == first
    f = stats.crime_filter(
        date_from=date(2026, 3, 1), date_to=date(2026, 3, 31), jurisdiction_id=grid.pk
    )
    assert stats.stats_summary(f)["total"] == 3
    Incident.objects.filter(record_id="B").update(state=IncidentState.WITHDRAWN)
    rollups_refresh(source_id=report.source_id)
    assert stats.stats_summary(f)["total"] == 2
    assert not CrimeCount.objects.filter(jurisdiction=grid, day=date(2026, 3, 2)).exists()


@pytest.mark.django_db
def test_the_command_rebuilds_every_source(grid, write_export, mapping_file):
    path = write_export([row("A"), row("B", when="2026-03-02 10:00")])
    incidents_import(
        actor=None, path=path, format="mapping", mapping=mapping_file, jurisdiction="Grid City"
    )
    CrimeCount.objects.filter(jurisdiction=grid).delete()
    out = io.StringIO()
    call_command("crime-rollups", stdout=out)
    assert "Counts rebuilt" in out.getvalue()
    f = stats.crime_filter(
        date_from=date(2026, 3, 1), date_to=date(2026, 3, 31), jurisdiction_id=grid.pk
    )
    assert stats.stats_summary(f)["total"] == 2
    with pytest.raises(CommandError, match="no source 'nowhere'"):
        call_command("crime-rollups", source="nowhere")
