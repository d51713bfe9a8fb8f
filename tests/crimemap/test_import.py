"""Importing incident files: the schema, idempotence, corrections, withdrawals, bad input."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.crimemap.conftest import grid_geojson, row
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.crimemap import store
from watchhouse.crimemap.mappings import MappingError, mapping_parse
from watchhouse.crimemap.models import (
    HundredBlock,
    ImportRejection,
    ImportReport,
    Incident,
    Offence,
)
from watchhouse.crimemap.selectors import incident_public_list
from watchhouse.crimemap.services import incidents_import
from watchhouse.geo.models import Jurisdiction
from watchhouse.geo.services import area_import

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _import(path: Path, mapping: Path, **kwargs: object) -> ImportReport:
    options: dict[str, object] = {"actor": None, "jurisdiction": "Grid City", **kwargs}
    return incidents_import(path=path, format="mapping", mapping=mapping, **options)  # type: ignore[arg-type]


def _counts() -> tuple[int, int, int, int, int]:
    return (
        Incident.objects.count(),
        Offence.objects.count(),
        HundredBlock.objects.count(),
        ImportReport.objects.count(),
        AuditEntry.objects.count(),
    )


def test_rows_become_incidents_with_offences_in_one_schema(grid, write_export, mapping_file):
    path = write_export(
        [
            row("A1"),
            row("A1", code="13A", label="ASSAULT 1ST DEGREE", gun="Y"),
            row("B2", address="1921 Olive St", lat="38.6151", lon="-90.2951", code="290",
                label="PROPERTY DAMAGE"),
        ]
    )  # fmt: skip
    report = _import(path, mapping_file)
    assert (report.rows_read, report.incidents_created, report.offences_written) == (3, 2, 3)
    assert report.summary.startswith("export.csv (mapping test-rms): 3 rows read, 0 skipped")
    a1 = Incident.objects.get(record_id="A1")
    # 14:30 in Chicago in March (CST, UTC-6).
    assert a1.occurred_at == dt.datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
    assert (a1.precision, a1.occurred_date, a1.occurred_until) == (
        "minute",
        dt.date(2026, 3, 1),
        None,
    )
    # The most serious offence names the incident; each offence keeps its own coding.
    assert (a1.category, a1.nibrs_code, a1.crimes_against) == ("assault", "13A", "person")
    assert (a1.offence_label, a1.offence_count, a1.firearm, a1.domestic) == (
        "ASSAULT 1ST DEGREE",
        2,
        True,
        False,
    )
    offences = list(
        a1.offences.values_list("position", "category", "nibrs_code", "label", "firearm")
    )
    assert offences == [
        (0, "theft", "23H", "STEALING", False),
        (1, "assault", "13A", "ASSAULT 1ST DEGREE", True),
    ]
    assert (a1.exact_address, a1.exact_lat, a1.exact_lon) == ("1915 Olive St", 38.615, -90.295)
    assert (a1.public_place, a1.public_place_kind, a1.withheld) == ("19XX OLIVE ST", "block", False)
    assert a1.neighbourhood.name == "North West" and a1.area_label == "North West"
    # Both incidents are on one block: its point is the mean of their two points.
    block = HundredBlock.objects.get()
    assert (block.name, block.point_count) == ("19XX OLIVE ST", 2)
    assert block.lat == pytest.approx(38.61505) and block.lon == pytest.approx(-90.29505)
    assert (a1.public_lat, a1.public_lon, a1.block_id) == (block.lat, block.lon, block.pk)
    entry = AuditEntry.objects.get(action="crimemap.incidents_import")
    assert entry.object_id == str(report.pk)
    assert entry.data["created"] == 2 and entry.data["rows_read"] == 3


def test_importing_the_same_file_again_changes_nothing(grid, write_export, mapping_file):
    path = write_export([row("A1"), row("A1", code="13B"), row("B2", code="290")])
    first = _import(path, mapping_file)
    stamps = dict(Incident.objects.values_list("record_id", "updated_at"))
    offence_ids = sorted(Offence.objects.values_list("id", flat=True))
    again = _import(path, mapping_file)
    assert (again.incidents_created, again.incidents_updated, again.incidents_unchanged) == (
        0, 0, 2
    )  # fmt: skip
    assert again.offences_written == 0 and first.offences_written == 3
    assert dict(Incident.objects.values_list("record_id", "updated_at")) == stamps
    assert sorted(Offence.objects.values_list("id", flat=True)) == offence_ids
    assert ImportReport.objects.count() == 2


def test_digests_made_batch_by_batch_as_incidents_are_written_recognise_them_again(
    grid, write_export, mapping_file, monkeypatch
):
    # The digests of new incidents are made as each batch is written; those of stored ones
    # when the file is sorted out, all at once. Batches of 2 split incidents with several
    # offences from their neighbours.
    rows = [
        row("A1"), row("A1", code="13A", label="ASSAULT 1ST DEGREE", gun="Y"), row("B2"),
        row("C3", code="290", label="PROPERTY DAMAGE"), row("C3", code="13B"),
        row("C3", code="23F", label="THEFT FROM VEHICLE"), row("D4", code="290"),
        row("E5", address="1921 Olive St", lat="38.6151", lon="-90.2951"),
    ]  # fmt: skip
    monkeypatch.setattr(store, "COPY_BATCH_ROWS", 2)
    monkeypatch.setattr("watchhouse.crimemap.services.WRITE_BATCH", 2)
    first = _import(write_export(rows), mapping_file)
    assert (first.incidents_created, first.offences_written) == (5, 8)
    monkeypatch.undo()
    again = _import(write_export(rows, name="again.csv"), mapping_file)
    assert (again.incidents_created, again.incidents_updated, again.incidents_unchanged) == (
        0, 0, 5
    )  # fmt: skip
    # One offence of C3 relabelled: C3 alone has changed.
    rows[5] = row("C3", code="23F", label="THEFT FROM A VEHICLE")
    changed = _import(write_export(rows, name="changed.csv"), mapping_file)
    assert (changed.incidents_updated, changed.incidents_unchanged) == (1, 4)
    assert Incident.objects.get(report=changed).record_id == "C3"


def test_a_corrected_record_updates_its_incident_in_place(grid, write_export, mapping_file):
    _import(write_export([row("A1"), row("A1", code="13B"), row("B2", code="290")]), mapping_file)
    before = dict(Incident.objects.values_list("record_id", "id"))
    corrected = write_export(
        [row("A1", when="2026-03-02 09:00"), row("B2", code="290")], name="corrected.csv"
    )
    report = _import(corrected, mapping_file)
    assert (report.incidents_created, report.incidents_updated, report.incidents_unchanged) == (
        0, 1, 1
    )  # fmt: skip
    a1 = Incident.objects.get(record_id="A1")
    assert a1.pk == before["A1"] and a1.report_id == report.pk
    assert a1.occurred_at == dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    # One offence is all on the incident: its earlier offence rows are gone.
    assert not a1.offences.exists()
    assert (a1.offence_count, a1.category, a1.nibrs_code) == (1, "theft", "23H")
    assert Incident.objects.count() == 2


def test_withdraw_missing_withdraws_what_a_full_export_no_longer_holds(
    grid, write_export, mapping_file
):
    _import(write_export([row("A1"), row("B2"), row("C3")]), mapping_file)
    report = _import(
        write_export([row("A1"), row("C3")], name="full.csv"), mapping_file, withdraw_missing=True
    )
    assert (report.incidents_withdrawn, report.incidents_unchanged) == (1, 2)
    b2 = Incident.objects.get(record_id="B2")
    assert b2.state == "withdrawn" and b2.withdrawn_at is not None
    assert {i["id"] for i in incident_public_list(jurisdiction=grid)} == set(
        Incident.objects.filter(record_id__in=["A1", "C3"]).values_list("id", flat=True)
    )
    # Without the flag, a partial file withdraws nothing; a record that comes back is active.
    back = _import(write_export([row("B2")], name="back.csv"), mapping_file)
    assert (back.incidents_updated, back.incidents_withdrawn) == (1, 0)
    assert Incident.objects.get(record_id="B2").state == "active"
    with pytest.raises(InvalidInputError, match="cannot be combined with --since"):
        _import(
            write_export([row("A1")], name="x.csv"), mapping_file, withdraw_missing=True,
            since=dt.date(2026, 1, 1),
        )  # fmt: skip


def test_since_imports_only_rows_from_that_local_date_on(grid, write_export, mapping_file):
    path = write_export([row("OLD", when="2026-02-28 23:59"), row("NEW", when="2026-03-01 00:00")])
    report = _import(path, mapping_file, since=dt.date(2026, 3, 1))
    assert (report.rows_skipped, report.incidents_created, report.since) == (
        1, 1, dt.date(2026, 3, 1)
    )  # fmt: skip
    assert list(Incident.objects.values_list("record_id", flat=True)) == ["NEW"]


def test_bad_rows_are_rejected_with_reasons_and_the_rest_imports(grid, write_export, mapping_file):
    path = write_export(
        [
            row("OK1"),  # line 2
            row("T1", when="2026-13-45 25:00"),  # 3: not a date
            row("T2", when=""),  # 4: no time
            row("Z1", lat="0", lon="0"),  # 5: 0, 0
            row("O1", lat="40.0", lon="-90.0"),  # 6: outside every area
            row("C1", lat="north", lon="-90.295"),  # 7: not a number
            row("U1", code="ZZZ"),  # 8: unknown offence
            row("E1", code=""),  # 9: no offence
            row("N1", lat="", lon="", hood=""),  # 10: nowhere at all
            row("OK1", when="2026-03-01 15:00"),  # 11: same id, another time
            row("OK1", code="13B"),  # 12: a second offence of OK1: fine
            row("L1", lat="", lon="", hood="South East"),  # 13: area only: fine
        ]
    )
    report = _import(path, mapping_file)
    assert report.rejected_by_reason == {
        "bad_time": 1, "missing_time": 1, "zero_coordinates": 1, "outside_jurisdiction": 1,
        "bad_coordinates": 1, "unknown_offence": 1, "no_offence": 1, "no_location": 1,
        "conflicting_row": 1,
    }  # fmt: skip
    assert (report.rows_read, report.rows_rejected, report.incidents_created) == (12, 9, 2)
    kept = {
        r.row: (r.record_id, r.reason, r.detail)
        for r in ImportRejection.objects.filter(report=report)
    }
    assert kept[3] == (
        "T1",
        "bad_time",
        "id T1: when '2026-13-45 25:00' is not a time in the format",
    )
    assert kept[5][1:] == ("zero_coordinates", "id Z1: the point is 0, 0")
    assert kept[8][2] == "id U1: offence 'ZZZ' is not in the mapping"
    assert kept[11][1] == "conflicting_row"
    assert sorted(kept) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    ok1 = Incident.objects.get(record_id="OK1")
    assert ok1.offence_count == 2
    area_only = Incident.objects.get(record_id="L1")
    assert area_only.neighbourhood.name == "South East"
    assert (area_only.exact_lat, area_only.public_lat) == (None, None)


def test_a_repeated_id_in_a_one_row_per_incident_format_is_rejected(grid, tmp_path: Path):
    header = (
        "case_number,date,block,primary_type,fbi_code,description,domestic,latitude,"
        "longitude,community_area\n"
    )
    path = tmp_path / "chicago.csv"
    path.write_text(
        header
        + "JA1,3/1/2026 14:30,019XX W OLIVE ST,THEFT,6,RETAIL,false,38.615,-90.295,1\n"
        + "JA1,3/2/2026 14:30,019XX W OLIVE ST,THEFT,6,RETAIL,false,38.615,-90.295,1\n"
        + "JA2,3/2/2026 14:30,019XX W OLIVE ST,THEFT,6,RETAIL,true,38.615,-90.295,1\n",
        encoding="utf-8",
    )
    report = incidents_import(actor=None, path=path, format="socrata-chicago")
    assert report.rejected_by_reason == {"duplicate_id": 1}
    assert report.rejections.get().row == 3
    assert Incident.objects.get(record_id="JA1").offence_label == "THEFT: RETAIL"
    # Chicago's own hundred block is kept as published; domestic incidents are withheld.
    assert Incident.objects.get(record_id="JA1").public_place == "019XX W OLIVE ST"
    ja2 = Incident.objects.get(record_id="JA2")
    assert (ja2.domestic, ja2.withheld_reason, ja2.public_place, ja2.public_lat) == (
        True, "domestic", "", None
    )  # fmt: skip


def test_wrong_files_and_missing_columns_change_nothing(
    grid, write_export, mapping_file, tmp_path: Path, shared_data: Path
):
    before = _counts()
    export = write_export([row("A1")])
    with pytest.raises(
        InvalidInputError, match=r"export.csv is not a parquet file, and the stl-nibrs"
    ):
        incidents_import(actor=None, path=export, format="stl-nibrs")
    parquet = shared_data / "crime" / "st-louis" / "slmpd_baseline_2024_2026.parquet"
    with pytest.raises(
        InvalidInputError,
        match=r"slmpd_baseline_2024_2026.parquet is a parquet file, and the vancouver format "
        r"reads CSV files. It looks like a stl-nibrs file \(--format stl-nibrs\).",
    ):
        incidents_import(actor=None, path=parquet, format="vancouver")
    with pytest.raises(
        InvalidInputError,
        match=r"export.csv is not a police-uk file: missing columns Crime ID, Month, Location, "
        r"Longitude, Latitude, LSOA name, LSOA code, Crime type \(it has: case, when",
    ):
        incidents_import(actor=None, path=export, format="police-uk")
    chicago = shared_data / "crime" / "chicago" / "rcrimeanalysis_crimes_2017_2019_sample.csv"
    with pytest.raises(InvalidInputError, match=r"It looks like a socrata-chicago file"):
        incidents_import(actor=None, path=chicago, format="vancouver")
    partial = tmp_path / "partial.csv"
    partial.write_text("case,when\nA1,2026-03-01 14:30\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="missing columns address, lon, lat, hood"):
        _import(partial, mapping_file)
    with pytest.raises(InvalidInputError, match="no such file"):
        _import(tmp_path / "nope.csv", mapping_file)
    assert _counts() == before


def test_a_failure_while_writing_leaves_nothing_half_written(
    grid, write_export, mapping_file, monkeypatch
):
    before = _counts()
    seen = []
    rows_insert, tables_insert = store.rows_insert, store.tables_insert

    def failing(original):  # type: ignore[no-untyped-def]
        def insert(model, fields, rows, **options):  # type: ignore[no-untyped-def]
            if model is Incident:
                seen.append(_counts())
                raise RuntimeError("disk full")
            return original(model, fields, rows, **options)

        return insert

    monkeypatch.setattr(store, "rows_insert", failing(rows_insert))
    monkeypatch.setattr(store, "tables_insert", failing(tables_insert))
    with pytest.raises(RuntimeError, match="disk full"):
        # A1 has two offences: the incidents are written last, after them and the blocks.
        _import(write_export([row("A1"), row("A1", code="13B"), row("B2")]), mapping_file)
    # The offences, the blocks, the report were written when the incidents failed.
    [(_, offences, blocks, reports, _)] = seen
    assert (offences, reports) == (before[1] + 2, before[3] + 1) and blocks > before[2]
    assert _counts() == before


def test_offences_find_their_incidents_when_another_writer_takes_ids_meanwhile(
    grid, write_export, mapping_file, monkeypatch
):
    """An import takes its incidents' ids before it stores any (their offences go first),
    so a writer that takes an id while it runs cannot take one of them, and every offence
    still belongs to its own incident. On PostgreSQL the other writer takes the sequence's
    next value in the middle of the import; on SQLite no other connection can write while an
    import's transaction holds the database, so it writes just before."""
    from django.db import connection

    from watchhouse.crimemap.models import IncidentSource

    other = IncidentSource.objects.create(
        jurisdiction=grid, slug="other", name="Other", format="mapping"
    )

    def foreign() -> None:
        Incident.objects.create(
            jurisdiction=grid, source=other, record_id="Z9",
            occurred_at=dt.datetime(2026, 3, 1, tzinfo=UTC), precision="minute",
            occurred_date=dt.date(2026, 3, 1), category="theft", offence_label="STEALING",
            offence_count=1, digest=0,
        )  # fmt: skip

    ids_reserve = store.ids_reserve

    def reserve_then_write(model, count):  # type: ignore[no-untyped-def]
        taken = ids_reserve(model, count)
        if model is Incident:
            foreign()
        return taken

    if connection.vendor == "postgresql":
        monkeypatch.setattr(store, "ids_reserve", reserve_then_write)
    else:
        foreign()
    report = _import(
        write_export(
            [
                row("A1"), row("A1", code="13B", label="ASSAULT"), row("B2"),
                row("C3", code="290", label="DAMAGE"), row("C3", code="13B", label="ASSAULT"),
            ]
        ),
        mapping_file,
    )  # fmt: skip
    assert (report.incidents_created, report.offences_written) == (3, 5)
    ids = dict(Incident.objects.values_list("record_id", "id"))
    ours = [ids["A1"], ids["B2"], ids["C3"]]
    assert ours == sorted(ours) and ids["Z9"] not in ours
    labels = {
        record_id: list(
            Offence.objects.filter(incident__record_id=record_id).values_list("label", flat=True)
        )
        for record_id in ("A1", "B2", "C3", "Z9")
    }
    assert labels == {
        "A1": ["STEALING", "ASSAULT"], "B2": [], "C3": ["DAMAGE", "ASSAULT"], "Z9": [],
    }  # fmt: skip


def test_reserved_ids_are_the_values_the_sequence_gave_even_when_not_consecutive(grid):
    """On PostgreSQL the reserved ids are the sequence's values: shown with a sequence that
    steps by 7, where (as when another session takes values in between) no value follows
    the one before. The first values taken are left unused, and the next ones come back,
    run by run. On SQLite they are the rowids after the largest."""
    from django.db import connection

    from watchhouse.crimemap.models import IncidentSource

    existing = Incident.objects.create(
        jurisdiction=grid, source=IncidentSource.objects.create(
            jurisdiction=grid, slug="s", name="S", format="mapping"
        ), record_id="Z9", occurred_at=dt.datetime(2026, 3, 1, tzinfo=UTC), precision="minute",
        occurred_date=dt.date(2026, 3, 1), category="theft", offence_label="STEALING",
        offence_count=1, digest=0,
    )  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence('crimemap_incident', 'id')")
            (sequence,) = cursor.fetchone()
            cursor.execute(f"SELECT last_value FROM {sequence}")
            (start,) = cursor.fetchone()
            cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 7")
            try:
                taken = store.ids_reserve(Incident, 4).tolist()
            finally:
                cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 1")
        assert start == existing.pk
        assert taken == [start + 7 * k for k in (5, 6, 7, 8)]
    else:
        taken = store.ids_reserve(Incident, 4).tolist()
        assert taken == [existing.pk + 1, existing.pk + 2, existing.pk + 3, existing.pk + 4]
    assert store.ids_reserve(Incident, 0).tolist() == []


def test_only_analysts_and_administrators_import(grid, write_export, mapping_file, make_staff):
    path = write_export([row("A1")])
    with pytest.raises(NotPermittedError):
        _import(path, mapping_file, actor=make_staff("dispatcher"))
    assert not Incident.objects.exists()
    analyst = make_staff("analyst")
    report = _import(path, mapping_file, actor=analyst)
    assert report.actor == analyst
    assert AuditEntry.objects.get(action="crimemap.incidents_import").actor == analyst


def test_mapping_files_are_checked_and_problems_named():
    with pytest.raises(MappingError) as caught:
        mapping_parse(
            'name = "x"\nreader = "xlsx"\ntime_zone = "Mars/Olympus"\n[columns]\ntime = "t"\n'
            '[offences]\n"A" = { category = "jaywalking" }\n"B" = { nibrs = "999" }\n',
            source="bad.toml",
        )
    message = str(caught.value)
    assert message.startswith("bad.toml: the mapping is not valid:")
    for expected in (
        "'reader' must be one of csv, parquet, not 'xlsx'.",
        "'time_zone' 'Mars/Olympus' is not an IANA time zone",
        "[columns] offence is missing",
        "[offences] 'A': category 'jaywalking' is not one of homicide,",
        "[offences] 'B': '999' is not a NIBRS offence code.",
    ):
        assert expected in message
    with pytest.raises(MappingError, match="not valid TOML"):
        mapping_parse("name = ", source="broken.toml")


def test_the_command_prints_the_report_and_the_rejected_rows(grid, write_export, mapping_file):
    path = write_export([row("A1"), row("T1", when="soon")])
    out, err = StringIO(), StringIO()
    call_command(
        "import-incidents", str(path), "--format", "mapping", "--mapping", str(mapping_file),
        "--jurisdiction", "Grid City", stdout=out, stderr=err,
    )  # fmt: skip
    report = ImportReport.objects.get()
    assert out.getvalue().startswith(f"Report {report.pk}: export.csv (mapping test-rms): 2 rows")
    assert "Rejected 1 rows: bad_time" in err.getvalue()
    assert "row 3: id T1: when 'soon' is not a time in the format" in err.getvalue()
    listing = StringIO()
    call_command("import-incidents", "--list-formats", stdout=listing)
    assert listing.getvalue().splitlines()[0] == (
        "stl-nibrs: St. Louis Metropolitan Police NIBRS export (parquet)"
    )
    shown = StringIO()
    call_command("import-incidents", "--show-format", "vancouver", stdout=shown)
    assert 'marker_values = ["OFFSET TO PROTECT PRIVACY"]' in shown.getvalue()
    with pytest.raises(CommandError, match="argument --since: 'yesterday' is not a date"):
        call_command("import-incidents", str(path), "--format", "vancouver", "--since", "yesterday")
    with pytest.raises(CommandError, match="missing column"):
        call_command("import-incidents", str(path), "--format", "vancouver", stderr=err)


def test_vancouver_rows_hidden_by_the_source_import_at_neighbourhood_level(tmp_path: Path):
    boundaries = tmp_path / "grid.geojson"
    boundaries.write_text(json.dumps(grid_geojson()), encoding="utf-8")
    area_import(actor=None, kind="neighbourhood", path=boundaries, jurisdiction="Grid Van")
    # UTM zone 10N coordinates are read as such: these are in no square near St. Louis.
    path = tmp_path / "van.csv"
    path.write_text(
        "TYPE,YEAR,MONTH,DAY,HOUR,MINUTE,HUNDRED_BLOCK,NEIGHBOURHOOD,X,Y\n"
        "Offence Against a Person,2020,2,29,0,0,OFFSET TO PROTECT PRIVACY,North East,0,0\n"
        "Mischief,2020,2,30,1,5,10XX ALBERNI ST,North East,491059.48,5459122.41\n"
        "Mischief,2020,6,19,3,40,10XX ALBERNI ST,North East,491059.48,5459122.41\n",
        encoding="utf-8",
    )
    report = incidents_import(actor=None, path=path, format="vancouver", jurisdiction="Grid Van")
    assert report.rejected_by_reason == {"bad_time": 1, "outside_jurisdiction": 1}
    hidden = Incident.objects.get()
    assert (hidden.withheld, hidden.withheld_reason, hidden.category) == (True, "source", "assault")
    assert (hidden.exact_lat, hidden.public_lat, hidden.public_place) == (None, None, "")
    assert hidden.neighbourhood.name == "North East"
    # The source blanks the time of these rows, so only the day is known.
    assert (hidden.precision, hidden.occurred_date) == ("day", dt.date(2020, 2, 29))
    assert hidden.occurred_at == dt.datetime(2020, 2, 29, 8, 0, tzinfo=UTC)
    assert hidden.occurred_until == dt.datetime(2020, 3, 1, 8, 0, tzinfo=UTC)


def test_police_uk_months_places_and_anonymous_points(tmp_path: Path):
    path = tmp_path / "2016-07-street.csv"
    path.write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Crime type,Last outcome category,Context\n"
        "abc1,2016-07,WYP,WYP,-1.550626,53.597400,On or near Swithen Hill,E01007359,"
        "Barnsley 005C,Burglary,,\n"
        ",2016-07,WYP,WYP,-1.550626,53.597400,On or near Swithen Hill,E01007359,"
        "Barnsley 005C,Anti-social behaviour,,\n"
        ",2016-07,WYP,WYP,,,No Location,,,Anti-social behaviour,,\n",
        encoding="utf-8",
    )
    report = incidents_import(
        actor=None, path=path, format="police-uk", jurisdiction="West Yorkshire"
    )
    assert Jurisdiction.objects.filter(slug="west-yorkshire").exists()
    assert report.rejected_by_reason == {"no_location": 1}
    assert report.warnings[0].startswith("The jurisdiction has no areas")
    burglary = Incident.objects.get(record_id="abc1")
    assert (burglary.precision, burglary.occurred_date) == ("month", dt.date(2016, 7, 1))
    assert burglary.occurred_at == dt.datetime(2016, 6, 30, 23, 0, tzinfo=UTC)  # BST
    assert burglary.occurred_until == dt.datetime(2016, 7, 31, 23, 0, tzinfo=UTC)
    # police.uk points are already anonymous map points: shown as they are.
    assert (burglary.public_lat, burglary.public_lon) == (53.5974, -1.550626)
    assert (burglary.public_place, burglary.public_place_kind) == (
        "On or near Swithen Hill", "label"
    )  # fmt: skip
    assert (burglary.area_label, burglary.area_code, burglary.neighbourhood) == (
        "Barnsley 005C", "E01007359", None
    )  # fmt: skip
    asb = Incident.objects.exclude(record_id="abc1").get()
    assert asb.record_id.startswith("~") and asb.category == "anti_social_behaviour"
    # Derived ids are the same on every import of the same file.
    again = incidents_import(
        actor=None, path=path, format="police-uk", jurisdiction="West Yorkshire"
    )
    assert (again.incidents_created, again.incidents_unchanged) == (0, 2)


def test_identical_rows_of_a_source_without_ids_are_separate_incidents(tmp_path: Path):
    path = tmp_path / "2016-07-street.csv"
    line = (
        ",2016-07,WYP,WYP,-1.550626,53.597400,On or near Swithen Hill,E01007359,"
        "Barnsley 005C,Anti-social behaviour,,\n"
    )
    path.write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Crime type,Last outcome category,Context\n" + line * 3,
        encoding="utf-8",
    )
    report = incidents_import(actor=None, path=path, format="police-uk", jurisdiction="WY")
    assert report.incidents_created == 3
    ids = sorted(Incident.objects.values_list("record_id", flat=True))
    assert ids[1:] == [f"{ids[0]}-1", f"{ids[0]}-2"]


def _stored(source: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    skip = {"id", "source", "report", "created_at", "updated_at"}
    fields = [f.attname for f in Incident._meta.concrete_fields if f.name not in skip]
    incidents = list(
        Incident.objects.filter(source__slug=source)
        .order_by("record_id")
        .values_list("record_id", *fields)
    )
    offences = list(
        Offence.objects.filter(incident__source__slug=source)
        .order_by("incident__record_id", "position")
        .values_list(
            "incident__record_id", "position", "category", "nibrs_code", "crimes_against",
            "label", "firearm", "withheld",
        )
    )  # fmt: skip
    return incidents, offences


def test_rows_written_column_by_column_store_what_rows_written_one_by_one_do(
    grid, write_export, mapping_file, monkeypatch
):
    # On PostgreSQL incidents, offences and blocks go through a binary COPY of Arrow
    # columns; every value (quotes, commas, NULLs, floats, times, dates, flags, small
    # integers) reads back the same as when the same rows are written as Python tuples.
    path = write_export(
        [
            row("A1"),
            row("A1", code="13A", label='ASSAULT "1ST", DEGREE', gun="Y"),
            row("B2", address="1921 Olive St", lat="38.61512345678901", lon="-90.2951",
                code="290", label="PROPERTY DAMAGE\nSECOND LINE"),
            row("C3", address="", code="290", label="", gun=""),
        ]
    )  # fmt: skip
    _import(path, mapping_file, source="columns")
    monkeypatch.setattr(store, "copies_columns", lambda: False)
    _import(path, mapping_file, source="tuples")
    columns, tuples = _stored("columns"), _stored("tuples")
    assert len(columns[0]) == 3 and len(columns[1]) == 2
    assert columns == tuples


def test_missing_values_are_stored_as_null_whatever_stands_in_for_them(
    grid, write_export, mapping_file, monkeypatch
):
    # On SQLite NULLs and flags are bound as values of the column's kind (-1, "", NaN, 1/0)
    # and the statement turns them back: the database holds NULL, and an import, a
    # correction and an update of block points store what binding None and True/False does.
    from django.db import connection

    rows = [
        row("A1", gun=""),
        row("A1", code="13A", label="ASSAULT", gun="Y"),
        row("B2", address="", lat="", lon="", hood="South East", gun=""),
        row("C3", code="NEIGHBOUR DISPUTE", label="DISPUTE", dv=""),
    ]
    path = write_export(rows)
    corrected = write_export([row("B2", address="", lat="", lon="", gun="Y")], name="b2.csv")
    for source in ("bound", "none"):
        if source == "none":
            monkeypatch.setattr(store, "stand_ins", lambda: False)
        _import(path, mapping_file, source=source)
        _import(corrected, mapping_file, source=source)
    bound, none = _stored("bound"), _stored("none")
    assert bound == none
    table = connection.ops.quote_name(Incident._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT record_id, firearm IS NULL, domestic IS NULL, occurred_until IS NULL,"  # noqa: S608 - test's own names
            f" exact_lat IS NULL, public_lat IS NULL, block_id IS NULL, beat_id IS NULL,"
            f" neighbourhood_id IS NULL, withheld FROM {table} WHERE source_id ="
            f" (SELECT id FROM crimemap_incidentsource WHERE slug = %s) ORDER BY record_id",
            ["bound"],
        )
        stored = [(r[0], *(bool(v) for v in r[1:])) for r in cursor.fetchall()]
    assert stored == [
        ("A1", False, False, True, False, False, False, True, False, False),
        ("B2", False, False, True, True, True, True, True, False, False),
        ("C3", False, True, True, False, True, True, True, False, True),
    ]
    a1 = Incident.objects.get(source__slug="bound", record_id="A1")
    assert (a1.firearm, a1.domestic, a1.withheld) == (True, False, False)
    assert list(a1.offences.values_list("firearm", "withheld")) == [(None, False), (True, False)]


@pytest.mark.django_db(transaction=True)
def test_sqlite_copies_an_imports_log_into_the_database_file_after_the_commit(
    grid, write_export, mapping_file, monkeypatch
):
    import sqlite3

    from django.db import connection

    threads = []

    def started(name: str):  # type: ignore[no-untyped-def]
        # By now the import has committed: another connection sees its incidents.
        with closing(sqlite3.connect(name)) as other:
            (seen,) = other.execute("SELECT count(*) FROM crimemap_incident").fetchone()
        threads.append((seen, original(name)))
        return threads[-1][1]

    original = store.checkpoint_later
    monkeypatch.setattr(store, "checkpoint_later", started)
    report = _import(write_export([row("A1"), row("B2"), row("C3")]), mapping_file)
    assert report.incidents_created == 3
    if connection.vendor != "sqlite":
        assert threads == []  # PostgreSQL checkpoints in its own processes
        return
    [(seen, thread)] = threads
    assert seen == 3
    thread.join(timeout=30)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (1000,)  # the connection's own setting is back
        # Far fewer pages than the automatic checkpoint waits for, yet all are copied.
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, logged, copied = cursor.fetchone()
    assert busy == 0 and 0 < logged < 1000 and copied == logged


def test_rows_written_column_by_column_must_refer_to_rows_that_exist(grid):
    """Incidents' and offences' references have no database constraint (PostgreSQL would
    check them row by row): on PostgreSQL the COPY path checks each distinct one itself; on
    SQLite an import's transaction holds the database from its start, so nothing it read can
    be deleted under it."""
    import sqlite3

    import pyarrow as pa
    from django.db import IntegrityError, connection, transaction

    if not store.copies_columns():
        assert connection.vendor == "sqlite"
        other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
        try:
            with transaction.atomic():
                Incident.objects.exists()  # a read only, as an import starts
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("DELETE FROM geo_area WHERE id = -1")
        finally:
            other.close()
        return

    from watchhouse.crimemap.services import OFFENCE_FIELDS

    missing = (Incident.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    table = pa.table(
        {
            "incident": pa.array([missing], pa.int64()), "position": pa.array([0], pa.int64()),
            "category": ["theft"], "nibrs_code": ["23H"], "crimes_against": ["property"],
            "label": ["THEFT"], "firearm": pa.array([None], pa.bool_()), "withheld": [False],
        }
    )  # fmt: skip

    def write() -> None:
        with transaction.atomic():
            store.rows_insert(Offence, OFFENCE_FIELDS, table)
            connection.check_constraints()  # the deferred checks, as at commit

    with pytest.raises(IntegrityError):
        write()
    assert not Offence.objects.exists()
