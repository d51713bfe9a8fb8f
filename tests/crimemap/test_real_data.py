"""Every real incident file in ../shared/data/crime, imported once for the module, checked
against an independent computation over the same file.

The boundaries are imported through the geo service (St. Louis neighbourhoods and wards,
Vancouver neighbourhoods, Chicago's 77 community areas; West Yorkshire has none). Then the
four formats are imported, and for each file DuckDB (with shapely for point-in-polygon and
pyproj for Vancouver's UTM coordinates) recomputes from the raw file which rows must be
rejected and why, and the counts by area, hundred block, month and offence; the database must
agree, and so must the pre-aggregated counts by offence label (every offence counted, as
/api/v1/crime/offences serves them). The privacy rules are checked on every stored record.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import h3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest
from django.conf import settings
from django.db.models import Count, F, QuerySet
from django.utils.text import slugify

from tests.conftest import need
from tests.crimemap.conftest import kept_for_module
from tests.geo.brute import brute_force
from watchhouse.crimemap import stats
from watchhouse.crimemap.categories import NIBRS
from watchhouse.crimemap.models import ImportReport, Incident, IncidentSource, Offence
from watchhouse.crimemap.normalise import places_from_addresses
from watchhouse.crimemap.privacy import place_from_address
from watchhouse.crimemap.rollups import rollups_refresh
from watchhouse.crimemap.services import incidents_import
from watchhouse.geo.models import Area, Jurisdiction
from watchhouse.geo.services import area_import

pytestmark = [pytest.mark.django_db, pytest.mark.shared_data, pytest.mark.slow]

CRIME = Path(settings.WATCHHOUSE_SHARED_DATA) / "crime"
STL = CRIME / "st-louis" / "slmpd_baseline_2024_2026.parquet"
VANCOUVER = CRIME / "vancouver" / "crimedata_csv_AllNeighbourhoods_2020.csv"
CHICAGO = CRIME / "chicago" / "rcrimeanalysis_crimes_2017_2019_sample.csv"
WEST_YORKSHIRE = sorted((CRIME / "west-yorkshire").glob("*-street.csv"))
# The documented default policy, written out here: NIBRS codes shown at area level only.
WITHHELD_NIBRS = ("11A", "11B", "11C", "11D", "36A", "36B", "370", "64A", "64B", "90F", "90H")
# Chicago primary types the socrata-chicago format withholds (sexual offences, offences
# against children, stalking), besides every incident flagged domestic.
CHICAGO_WITHHELD = (
    "CRIM SEXUAL ASSAULT", "CRIMINAL SEXUAL ASSAULT", "SEX OFFENSE", "PUBLIC INDECENCY",
    "OBSCENITY", "OFFENSE INVOLVING CHILDREN", "STALKING", "DOMESTIC VIOLENCE",
)  # fmt: skip
# A house number at the start of a place, or of either side of an intersection ("1915",
# "805A", "5207-5209"; "3X" and "10XX" are blocks).
HOUSE_NUMBER = re.compile(r"(^|/\s*)\d+[A-WYZ]?(\s*-\s*\d+[A-Z]?)?\s")
# The hundred block the test expects of an address: its own normalisation, in SQL.
CLEAN_SQL = (
    "trim(regexp_replace(regexp_replace(upper({c}), '[.#''\"]', '', 'g'), '\\s+', ' ', 'g'))"
)
HOUSE_SQL = r"'^(\d+)[A-Z]?(\s*-\s*\d+[A-Z]?)?\s+(.*[A-Z].*)$'"
# A published hundred block as the public sees it: a stray house number becomes its block.
BLOCK_SQL = (
    f"case when regexp_matches({{c}}, '^\\d*X+\\s') then {{c}} "
    f"when regexp_matches({{c}}, {HOUSE_SQL}) then "
    f"(cast(regexp_extract({{c}}, {HOUSE_SQL}, 1) as bigint) // 100)::varchar || 'XX ' || "
    f"regexp_extract({{c}}, {HOUSE_SQL}, 3) else {{c}} end"
)


@pytest.fixture(scope="module")
def real(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Areas and incidents of every real file, imported once (rolled back at the end)."""
    need(CRIME.is_dir(), f"the shared crime data {CRIME} is not beside this checkout")
    with kept_for_module(django_db_blocker):
        for kind, name in (("neighbourhood", "stl_neighborhoods"), ("ward", "stl_wards")):
            area_import(
                actor=None, kind=kind, path=CRIME / "st-louis" / f"{name}.geojson",
                jurisdiction="St. Louis",
            )  # fmt: skip
        area_import(
            actor=None, kind="neighbourhood", jurisdiction="Vancouver",
            path=CRIME / "vancouver" / "vancouver_neighbourhoods.geojson",
        )  # fmt: skip
        area_import(
            actor=None, kind="neighbourhood", jurisdiction="Chicago", crs="EPSG:3435",
            path=CRIME / "chicago" / "Chicago77.shp",
        )  # fmt: skip
        reports = {
            "stl": incidents_import(
                actor=None, path=STL, format="stl-nibrs", jurisdiction="St. Louis"
            ),
            "vancouver": incidents_import(
                actor=None, path=VANCOUVER, format="vancouver", jurisdiction="Vancouver"
            ),
            "chicago": incidents_import(
                actor=None, path=CHICAGO, format="socrata-chicago", jurisdiction="Chicago"
            ),
            "west-yorkshire": [
                incidents_import(
                    actor=None, path=path, format="police-uk", jurisdiction="West Yorkshire"
                )
                for path in WEST_YORKSHIRE
            ],
        }
        yield reports


def _counts(queryset: QuerySet[Any], *fields: str) -> Counter[Any]:
    rows = queryset.values(*fields).annotate(n=Count("id")).values_list(*fields, "n")
    return Counter({tuple(r[:-1]) if len(fields) > 1 else r[0]: r[-1] for r in rows})


def _areas(jurisdiction: str, kind: str = "neighbourhood") -> list[Area]:
    return list(
        Area.objects.filter(jurisdiction__slug=slugify(jurisdiction), kind=kind).order_by("id")
    )


def _brute_names(areas: list[Area], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The name of the first area (by id) covering each point, '' for none."""
    found = brute_force([a.shape for a in areas], lat, lon)
    names = np.array([a.name for a in areas] + [""], dtype=object)
    return names[np.where(found >= 0, found, len(areas))]


def _incidents(source: str) -> QuerySet[Incident]:
    return Incident.objects.filter(source__slug=source)


def _month(queryset: QuerySet[Any], prefix: str = "") -> Counter[Any]:
    """Counts by (YYYY-MM of the local date, category or label)."""
    return Counter(
        {
            (f"{y:04d}-{m:02d}", label): n
            for y, m, label, n in queryset.values_list(
                f"{prefix}occurred_date__year", f"{prefix}occurred_date__month", "label_value"
            )
            .annotate(n=Count("id"))
            .order_by()
        }
    )


def _offences_by_label(source: str, expected: list[tuple[str | None, int]]) -> None:
    """The source's counts rebuilt, its offences by label over every date (each offence of
    an incident counted, withheld ones included) equal ``expected`` (label, count) rows of
    the raw file; the import keeps a label's first 200 characters and an empty one as ''."""
    found = IncidentSource.objects.get(slug=source)
    rollups_refresh(source_id=found.pk)
    every_day = stats.CrimeFilter(
        date(2000, 1, 1), date(2030, 12, 31), jurisdiction_id=found.jurisdiction_id
    )
    result = stats.stats_offences(every_day, limit=10**9)
    ours: Counter[str] = Counter()
    for r in result["rows"]:
        ours[r["label"]] += r["count"]
    want: Counter[str] = Counter()
    for label, n in expected:
        want[(label or "")[:200]] += n
    assert ours == want
    assert result["total"] == sum(want.values())


# St. Louis


def _stl_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``good``: the St. Louis rows the import must keep, with their row number."""
    table = pq.read_table(STL)
    lat = table["lat"].to_numpy(zero_copy_only=False)
    lon = table["lon"].to_numpy(zero_copy_only=False)
    inside = np.zeros(table.num_rows, dtype=bool)
    for kind in ("neighbourhood", "ward"):
        inside |= _brute_names(_areas("St. Louis", kind), lat, lon) != ""
    hood = _brute_names(_areas("St. Louis"), lat, lon)
    table = table.append_column("n", pa.array(np.arange(table.num_rows)))
    table = table.append_column("inside", pa.array(inside)).append_column("hood", pa.array(hood))
    con.register("raw", table)
    # Rows sharing an incident number must agree on time and point with the first such row.
    con.sql(
        """
        create table good as
        select * from (
            select *, first_value(date_time) over w as t0, first_value(lat) over w as la0,
                   first_value(lon) over w as lo0
            from raw where inside window w as (partition by "inc_#" order by n)
        ) where date_time = t0 and lat = la0 and lon = lo0
        """
    )


def test_st_louis_matches_an_independent_count(real):
    report = real["stl"]
    con = duckdb.connect()
    _stl_rows(con)
    (total,), (inside,), (good,), (incidents,) = (
        con.sql(q).fetchall()[0]
        for q in (
            "select count(*) from raw",
            "select count(*) from raw where inside",
            "select count(*) from good",
            'select count(distinct "inc_#") from good',
        )
    )
    assert (report.rows_read, report.rows_rejected) == (total, total - good)
    assert report.rejected_by_reason == {
        "outside_jurisdiction": total - inside, "conflicting_row": inside - good
    }  # fmt: skip
    assert report.incidents_created == incidents == _incidents("stl-nibrs").count()
    # Incidents with one offence hold it; only those with several have offence rows.
    several = _incidents("stl-nibrs").filter(offence_count__gt=1)
    stored = Offence.objects.filter(incident__source__slug="stl-nibrs")
    assert report.offences_written == good
    assert stored.count() == sum(several.values_list("offence_count", flat=True))
    assert good == stored.count() + _incidents("stl-nibrs").filter(offence_count=1).count()

    # Offences by month and category.
    expected: Counter[Any] = Counter()
    for month, code, n in con.sql(
        "select strftime(date_time, '%Y-%m'), nibrs_code, count(*) from good group by all"
    ).fetchall():
        expected[(month, NIBRS[code].category)] += n
    single = _incidents("stl-nibrs").filter(offence_count=1).annotate(label_value=F("category"))
    offences = stored.annotate(label_value=F("category"))
    assert _month(offences, "incident__") + _month(single) == expected

    # Incidents by neighbourhood: the first row of each incident, point in polygon.
    heads = con.sql(
        f"""
        select hood, address, bool_or(nibrs_code in {WITHHELD_NIBRS}) over (partition by "inc_#")
               as withheld,
               {CLEAN_SQL.format(c="address")} as clean
        from good qualify row_number() over (partition by "inc_#" order by n) = 1
        """
    )
    assert _counts(_incidents("stl-nibrs"), "neighbourhood__name") == Counter(
        {(hood or None): n for hood, n in heads.aggregate("hood, count(*)").fetchall()}
    )
    # Incidents by hundred block, for those shown on the public map.
    blocks = con.sql(
        f"""
        select (cast(regexp_extract(clean, {HOUSE_SQL}, 1) as bigint) // 100)::varchar || 'XX '
               || regexp_extract(clean, {HOUSE_SQL}, 3) as block, count(*)
        from heads where not withheld and regexp_matches(clean, {HOUSE_SQL})
              and not regexp_matches(clean, '/|&|@| AND ')
        group by all
        """
    ).fetchall()
    shown = _incidents("stl-nibrs").filter(public_place_kind="block")
    assert _counts(shown, "public_place") == Counter(dict(blocks))
    (withheld,) = heads.aggregate("count(*) filter (where withheld)").fetchall()[0]
    assert _incidents("stl-nibrs").filter(withheld=True).count() == withheld
    # Offences by label: every kept row is one offence.
    _offences_by_label(
        "stl-nibrs", con.sql("select offense, count(*) from good group by all").fetchall()
    )


# Vancouver


def test_vancouver_matches_an_independent_count(real):
    report = real["vancouver"]
    con = duckdb.connect()
    raw = con.sql(f"select * from read_csv('{VANCOUVER}', all_varchar=true)").to_arrow_table()
    x = np.array([float(v) if v else np.nan for v in raw["X"].to_pylist()])
    y = np.array([float(v) if v else np.nan for v in raw["Y"].to_pylist()])
    lon, lat = pyproj.Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True).transform(
        x, y
    )
    areas = _areas("Vancouver")
    hood = _brute_names(areas, np.asarray(lat), np.asarray(lon))
    by_slug = {slugify(a.name): a.name for a in areas}
    # The vancouver format names VPD's "Central Business District" as the file's "Downtown".
    by_slug["central-business-district"] = "Downtown"
    con.register("raw", raw.append_column("hood", pa.array(hood)))
    con.sql(
        """
        create table rows as select *,
            HUNDRED_BLOCK = 'OFFSET TO PROTECT PRIVACY' as marker,
            X is not null and Y is not null and not (X::double = 0 and Y::double = 0) as has_point,
            X::double = 0 and Y::double = 0 as zero
        from raw
        """
    )
    reasons = dict(
        con.sql(
            """
            select case when zero then 'zero_coordinates'
                        when has_point and hood = '' then 'outside_jurisdiction'
                        when not has_point and NEIGHBOURHOOD is null then 'no_location' end r,
                   count(*)
            from rows where not marker group by r having r is not null
            """
        ).fetchall()
    )
    assert report.rejected_by_reason == reasons
    con.sql(
        """
        create table good as select * from rows
        where marker or (has_point and hood <> '') or (not has_point and not zero
                                                         and NEIGHBOURHOOD is not null)
        """
    )
    (good,) = con.sql("select count(*) from good").fetchall()[0]
    assert report.incidents_created == good == _incidents("vancouver").count()
    month_type = con.sql(
        "select format('{:04d}-{:02d}', YEAR::int, MONTH::int), TYPE, count(*) from good "
        "group by all"
    ).fetchall()
    assert _month(_incidents("vancouver").annotate(label_value=F("offence_label"))) == Counter(
        {(m, t): n for m, t, n in month_type}
    )
    # Areas: the point's polygon, or for rows the source hid, the neighbourhood's name.
    expected: Counter[Any] = Counter()
    for marker, point_hood, label, n in con.sql(
        "select marker, hood, NEIGHBOURHOOD, count(*) from good group by all"
    ).fetchall():
        name = by_slug.get(slugify(label or "")) if marker else point_hood
        expected[name or None] += n
    assert _counts(_incidents("vancouver"), "neighbourhood__name") == expected
    # Hundred blocks and intersections as published (intersections' streets in order).
    expected_places: Counter[str] = Counter()
    for block, n in con.sql(
        f"""
        select {BLOCK_SQL.format(c=CLEAN_SQL.format(c="HUNDRED_BLOCK"))}, count(*) from good
        where not marker and TYPE <> 'Offence Against a Person'
              and HUNDRED_BLOCK <> 'X NK_LOC ST' group by all
        """
    ).fetchall():
        if "/" in block:
            block = " / ".join(sorted({p.strip() for p in block.split("/")}))
        expected_places[block] += n
    shown = _incidents("vancouver").exclude(public_place="")
    assert _counts(shown, "public_place") == expected_places
    # The source's hidden rows stay at area level, known to the day.
    (hidden,) = con.sql("select count(*) from good where marker").fetchall()[0]
    marked = _incidents("vancouver").filter(withheld_reason="source")
    assert marked.count() == hidden
    assert not marked.exclude(precision="day").exists()
    assert not marked.filter(exact_lat__isnull=False).exists()
    # Offences by label: one offence a row, labelled by its TYPE.
    _offences_by_label(
        "vancouver", con.sql("select TYPE, count(*) from good group by all").fetchall()
    )


# Chicago


def test_chicago_matches_an_independent_count(real):
    report = real["chicago"]
    con = duckdb.connect()
    raw = con.sql(f"select * from read_csv('{CHICAGO}')").to_arrow_table()
    hood = _brute_names(
        _areas("Chicago"),
        raw["latitude"].to_numpy(zero_copy_only=False),
        raw["longitude"].to_numpy(zero_copy_only=False),
    )
    con.register("raw", raw.append_column("hood", pa.array(hood)))
    (outside,) = con.sql("select count(*) from raw where hood = ''").fetchall()[0]
    assert report.rejected_by_reason == {"outside_jurisdiction": outside}
    con.sql(
        f"""
        create table good as select *, strptime(date, '%m/%d/%Y %H:%M') as t,
            domestic or primary_type in {CHICAGO_WITHHELD} as withheld
        from raw where hood <> ''
        """
    )
    (good,) = con.sql("select count(*) from good").fetchall()[0]
    assert report.incidents_created == good == _incidents("socrata-chicago").count()
    assert _counts(_incidents("socrata-chicago"), "neighbourhood__name") == Counter(
        dict(con.sql("select hood, count(*) from good group by all").fetchall())
    )
    expected = Counter(
        {
            (m, p): n
            for m, p, n in con.sql(
                "select strftime(t, '%Y-%m'), primary_type, count(*) from good group by all"
            ).fetchall()
        }
    )
    ours: Counter[Any] = Counter()
    for (month, label), n in _month(
        _incidents("socrata-chicago").annotate(label_value=F("offence_label"))
    ).items():
        ours[(month, label.split(": ", 1)[0])] += n
    assert ours == expected
    blocks = con.sql(
        f"select {BLOCK_SQL.format(c=CLEAN_SQL.format(c='block'))}, count(*) from good "
        "where not withheld group by all"
    ).fetchall()
    assert _counts(_incidents("socrata-chicago").filter(withheld=False), "public_place") == Counter(
        dict(blocks)
    )
    (withheld, domestic) = con.sql(
        "select count(*) filter (where withheld), count(*) filter (where domestic) from good"
    ).fetchall()[0]
    assert _incidents("socrata-chicago").filter(withheld=True).count() == withheld
    assert _incidents("socrata-chicago").filter(withheld_reason="domestic").count() <= domestic
    # Offences by label: one a row, "PRIMARY TYPE: DESCRIPTION" (empty parts left out).
    _offences_by_label(
        "socrata-chicago",
        con.sql(
            "select concat_ws(': ', primary_type, description), count(*) from good group by all"
        ).fetchall(),
    )


# West Yorkshire (police.uk)


def test_west_yorkshire_matches_an_independent_count(real):
    con = duckdb.connect()
    for path, report in zip(WEST_YORKSHIRE, real["west-yorkshire"], strict=True):
        (rows, no_point, no_id) = con.sql(
            f"""select count(*), count(*) filter (where Longitude is null),
                       count(*) filter (where "Crime ID" is null and Longitude is not null)
                from read_csv('{path}')"""
        ).fetchall()[0]
        assert (report.rows_read, report.rejected_by_reason) == (rows, {"no_location": no_point})
        assert report.incidents_created == rows - no_point
        assert report.warnings[0].startswith("The jurisdiction has no areas")
        month = path.name[:7]
        in_month = _incidents("police-uk").filter(occurred_date__startswith=month)
        assert in_month.filter(record_id__startswith="~").count() == no_id
    files = ", ".join(f"'{p}'" for p in WEST_YORKSHIRE)
    con.sql(f"create table good as select * from read_csv([{files}]) where Longitude is not null")
    assert _counts(_incidents("police-uk"), "area_label") == Counter(
        dict(con.sql('select "LSOA name", count(*) from good group by all').fetchall())
    )
    assert _month(_incidents("police-uk").annotate(label_value=F("offence_label"))) == Counter(
        {
            (m, t): n
            for m, t, n in con.sql(
                'select Month, "Crime type", count(*) from good group by all'
            ).fetchall()
        }
    )
    (violence,) = con.sql(
        """select count(*) from good where "Crime type" = 'Violence and sexual offences'"""
    ).fetchall()[0]
    assert _incidents("police-uk").filter(withheld=True).count() == violence
    assert not _incidents("police-uk").exclude(neighbourhood=None).exists()
    # Offences by label: one a row, labelled by its crime type.
    _offences_by_label(
        "police-uk", con.sql('select "Crime type", count(*) from good group by all').fetchall()
    )


# Every record of every file


def test_the_privacy_rules_hold_on_every_record(real):
    """Withheld incidents carry no public point, place or block; every other public point is
    its block's point, an offset point or (police.uk) the source's own anonymous point; no
    public place holds a house number."""
    checked = 0
    for record in Incident.objects.values(
        "withheld", "public_lat", "public_lon", "public_h3", "public_place", "public_place_kind",
        "block_id", "block__lat", "block__lon", "exact_lat", "exact_lon", "source__slug",
    ).iterator(chunk_size=5000):  # fmt: skip
        checked += 1
        place = record["public_place"]
        assert not HOUSE_NUMBER.search(place), place
        anonymised = record["source__slug"] == "police-uk"
        exact = (record["exact_lat"], record["exact_lon"])
        public = (record["public_lat"], record["public_lon"])
        if record["withheld"]:
            assert public == (None, None) and record["public_h3"] == ""
            assert place == "" and record["block_id"] is None
            continue
        if public[0] is None:
            assert exact[0] is None  # known only by its area
            continue
        assert public != exact or anonymised
        assert record["public_h3"] == h3.latlng_to_cell(public[0], public[1], 9)
        if anonymised:
            assert public == exact  # police.uk's own anonymous map point
        elif record["block_id"] is not None:
            assert public == (record["block__lat"], record["block__lon"])
        else:
            cell = h3.latlng_to_cell(exact[0], exact[1], 10)
            assert public == pytest.approx(h3.cell_to_latlng(cell))
    created = [real["stl"], real["vancouver"], real["chicago"], *real["west-yorkshire"]]
    assert checked == Incident.objects.count() == sum(r.incidents_created for r in created)
    assert checked > 200_000


def test_importing_a_real_file_again_changes_nothing(real):
    before = dict(_incidents("socrata-chicago").values_list("id", "updated_at"))
    again = incidents_import(
        actor=None, path=CHICAGO, format="socrata-chicago", jurisdiction="Chicago"
    )
    assert (again.incidents_created, again.incidents_updated, again.offences_written) == (0, 0, 0)
    assert again.incidents_unchanged == real["chicago"].incidents_created
    assert dict(_incidents("socrata-chicago").values_list("id", "updated_at")) == before


def test_a_corrected_real_record_updates_in_place_and_a_full_export_withdraws(real, tmp_path: Path):
    with CHICAGO.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first = rows[0]
    assert first["block"] == "024XX W LITHUANIAN PLAZA CT"
    first["block"] = "025XX W LITHUANIAN PLAZA CT"
    path = tmp_path / "corrected.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(first))
        writer.writeheader()
        writer.writerows(rows[:-10])
    before = _incidents("socrata-chicago").get(record_id=first["case_number"])
    report = incidents_import(
        actor=None, path=path, format="socrata-chicago", jurisdiction="Chicago",
        withdraw_missing=True,
    )  # fmt: skip
    missing = {r["case_number"] for r in rows[-10:]}
    gone = _incidents("socrata-chicago").filter(record_id__in=missing).exclude(state="withdrawn")
    rejected_among_missing = missing - set(
        _incidents("socrata-chicago")
        .filter(record_id__in=missing)
        .values_list("record_id", flat=True)
    )
    assert not gone.exists()
    assert report.incidents_withdrawn == len(missing) - len(rejected_among_missing)
    assert (report.incidents_created, report.incidents_updated) == (0, 1)
    after = _incidents("socrata-chicago").get(record_id=first["case_number"])
    assert after.pk == before.pk and after.public_place == "025XX W LITHUANIAN PLAZA CT"
    assert ImportReport.objects.filter(source__slug="socrata-chicago").count() == 2


def test_jurisdictions_and_their_areas(real):
    assert set(Jurisdiction.objects.values_list("slug", flat=True)) >= {
        "st-louis", "vancouver", "chicago", "west-yorkshire"
    }  # fmt: skip
    stl = _incidents("stl-nibrs")
    # Ward and neighbourhood lookups come from the same index answers as the brute force.
    assert stl.filter(ward__isnull=False).count() > 0.97 * stl.count()


def test_places_computed_in_arrow_equal_the_reference_rules():
    """The vectorised hundred-block rules give place_from_address's answer for every
    address and block of the real files, and for awkward spellings."""
    need(CRIME.is_dir(), f"the shared crime data {CRIME} is not beside this checkout")
    values = pq.read_table(STL, columns=["address"])["address"].to_pylist()
    for path, column in ((VANCOUVER, "HUNDRED_BLOCK"), (CHICAGO, "block")):
        values += [
            r[0]
            for r in duckdb.sql(
                f"select distinct \"{column}\" from read_csv('{path}', all_varchar=true)"
            ).fetchall()
        ]
    values += [
        "1915\xa0OLIVE ST", " 12  n. main st ", "20TH ST", "1234567890123456789 MAIN", None, "",
        "X NK_LOC ST", "1X ATHLETES WAY", "A ST AND B ST", "5207 - 5209 X AVE", "805a russell",
        "12\tMAIN ST", "2722 1/2 HOWARD ST", "3715 NATURAL BRIDGE @ FAIRGROUND PARK",
    ]  # fmt: skip
    unknown = frozenset({"X NK_LOC ST"})
    kinds, labels = places_from_addresses(pa.array(values, type=pa.string()), unknown=unknown)
    for value, kind, label in zip(values, kinds, labels, strict=True):
        expected = place_from_address(value, unknown=unknown)
        assert (kind, label) == (expected.kind, expected.label), value
