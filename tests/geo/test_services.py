"""area_import: stores areas and cells, audits, is idempotent; bad input changes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command

from tests.geo.conftest import (
    BOWTIE,
    block_features,
    collection,
    db_counts,
    feature,
    polygon,
    square,
)
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.geo.models import Area, AreaCell, Jurisdiction
from watchhouse.geo.points import point_h3
from watchhouse.geo.selectors import area_index, area_index_forget, areas_at
from watchhouse.geo.services import area_import

pytestmark = pytest.mark.django_db


def _import(path, actor=None, **kwargs):
    kwargs.setdefault("kind", "neighbourhood")
    kwargs.setdefault("jurisdiction", "Testville")
    return area_import(actor=actor, path=path, **kwargs)


def test_import_stores_areas_cells_and_an_audit_entry(
    blocks_file, make_staff, django_capture_on_commit_callbacks
):
    admin = make_staff("admin")
    with django_capture_on_commit_callbacks() as callbacks:
        report = _import(blocks_file, actor=admin)
    assert report.created == ["North West", "North East", "South West", "South East"]
    assert report.summary.startswith("Testville: 4 neighbourhoods from blocks.geojson (EPSG:4326")
    assert "4 created, 0 updated, 0 unchanged; 0 warnings." in report.summary
    # Follow-up work: cached indexes are dropped once the import commits.
    assert [c.__name__ for c in callbacks] == ["area_index_forget"]

    place = Jurisdiction.objects.get(slug="testville")
    area = Area.objects.get(jurisdiction=place, kind="neighbourhood", slug="north-west")
    assert (area.name, area.code, area.population, area.source_file, area.source_feature) == (
        "North West",
        "B1",
        1000,
        "blocks.geojson",
        1,
    )
    assert (area.min_lon, area.min_lat, area.max_lon, area.max_lat) == pytest.approx(
        (-90.30, 38.61, -90.29, 38.62)
    )
    assert (area.centroid_lat, area.centroid_lon) == pytest.approx((38.615, -90.295))
    assert area.centroid_h3 == point_h3(38.615, -90.295)
    assert area.area_km2 == pytest.approx(1.113 * 0.869, rel=0.01)
    assert shapely.hausdorff_distance(area.shape, shapely.box(-90.30, 38.61, -90.29, 38.62)) < 1e-9
    assert (place.min_lon, place.min_lat, place.max_lon, place.max_lat) == pytest.approx(
        (-90.30, 38.60, -90.28, 38.62)
    )
    boundary = shapely.from_wkb(bytes(place.boundary))
    assert shapely.hausdorff_distance(boundary, shapely.box(-90.30, 38.60, -90.28, 38.62)) < 1e-9

    cells = AreaCell.objects.filter(area=area)
    assert cells.filter(interior=True).exists() and cells.filter(interior=False).exists()
    assert area.centroid_h3 in set(cells.values_list("cell", flat=True))

    entry = AuditEntry.objects.get(action="geo.area_import")
    assert entry.actor == admin
    assert (entry.object_type, entry.object_id) == ("geo.jurisdiction", str(place.pk))
    assert entry.data["kind"] == "neighbourhood" and entry.data["source"] == "blocks.geojson"
    assert entry.data["created"] == report.created and entry.data["unchanged"] == 0


def test_reimport_is_idempotent_and_changes_update_in_place(blocks_file, write_geojson):
    _import(blocks_file)
    ids = dict(Area.objects.values_list("slug", "id"))
    cells_before = AreaCell.objects.count()

    again = _import(blocks_file)
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], 4)
    assert AreaCell.objects.count() == cells_before
    assert AuditEntry.objects.filter(action="geo.area_import").count() == 2
    assert AuditEntry.objects.first().data["unchanged"] == 4

    features = block_features()
    features[0]["geometry"] = polygon(square(-90.30, 38.61, 0.005))
    features.append(feature(polygon(square(-90.28, 38.60)), name="East End"))
    changed = _import(write_geojson(collection(*features), "blocks.geojson"))
    assert (changed.created, changed.updated, len(changed.unchanged)) == (
        ["East End"],
        ["North West"],
        3,
    )
    assert dict(Area.objects.exclude(slug="east-end").values_list("slug", "id")) == ids
    north_west = Area.objects.get(slug="north-west")
    assert north_west.max_lat == pytest.approx(38.615)
    assert not AreaCell.objects.filter(
        area=north_west, cell=point_h3(38.619, -90.291), interior=True
    ).exists()
    assert Jurisdiction.objects.get().max_lon == pytest.approx(-90.27)


BAD_FILES = {
    "malformed JSON": (
        '{"type": "FeatureCollection", "features": [',
        {},
        "the file is not valid JSON",
    ),
    "self-intersecting polygon": (
        collection(*block_features(), feature(polygon(BOWTIE), name="Bowtie")),
        {},
        r"feature 5 \(name 'Bowtie'\) is not a valid polygon: self-intersection",
    ),
    "empty polygon": (
        collection(*block_features(), feature(polygon([]), name="Void")),
        {},
        r"feature 5 \(name 'Void'\) has an empty polygon",
    ),
    "unknown CRS": (
        collection(*block_features(), crs={"type": "name", "properties": {"name": "EPSG:999999"}}),
        {},
        "'EPSG:999999', which PROJ does not know",
    ),
    "missing name field": (
        collection(*block_features()),
        {"name_field": "NBHD"},
        "has no field 'NBHD' for the area name; its fields are: name, code, population",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_raise_a_clear_error_and_change_nothing(
    case, blocks_file, write_geojson, make_staff
):
    _import(blocks_file)
    before = db_counts()
    north_west = Area.objects.get(slug="north-west")
    document, options, message = BAD_FILES[case]
    # The bad file would also move a block if it were accepted.
    if isinstance(document, dict):
        document["features"][0]["geometry"] = polygon(square(-90.30, 38.61, 0.002))
    path = write_geojson(document, "blocks.geojson")
    with pytest.raises(InvalidInputError, match=message) as caught:
        _import(path, actor=make_staff("admin"), **options)
    assert str(caught.value).startswith("blocks.geojson: ")
    assert db_counts() == before
    assert bytes(Area.objects.get(slug="north-west").geometry) == bytes(north_west.geometry)


def test_shapefile_missing_dbf_changes_nothing(write_shapefile):
    path = write_shapefile([("Block", shapely.box(-90.3, 38.6, -90.29, 38.61))], name="beats")
    path.with_suffix(".dbf").unlink()
    before = db_counts()
    with pytest.raises(
        InvalidInputError, match="beats.shp: the shapefile has no beats.dbf beside it"
    ):
        _import(path, kind="beat")
    assert db_counts() == before


def test_only_admins_import(blocks_file, make_staff):
    before = db_counts()
    for roles in (("pio",), ("supervisor", "analyst")):
        with pytest.raises(NotPermittedError, match="to import areas: Administrator"):
            _import(blocks_file, actor=make_staff(*roles))
    inactive = make_staff("admin", is_active=False)
    with pytest.raises(NotPermittedError, match="Only active staff may import areas"):
        _import(blocks_file, actor=inactive)
    assert db_counts() == before


def test_kind_and_jurisdiction_choice(blocks_file, settings):
    with pytest.raises(InvalidInputError, match="Unknown area kind 'parish'"):
        _import(blocks_file, kind="parish")
    settings.WATCHHOUSE_AGENCY_NAME = "Metro Police"
    report = area_import(actor=None, kind="ward", path=blocks_file)
    assert report.jurisdiction.name == "Metro Police"
    # With one jurisdiction, it is used; with two, the caller must say which.
    assert (
        area_import(actor=None, kind="beat", path=blocks_file).jurisdiction == report.jurisdiction
    )
    _import(blocks_file, jurisdiction="Elsewhere")
    with pytest.raises(InvalidInputError, match=r"several jurisdictions \(elsewhere, metro-police"):
        area_import(actor=None, kind="district", path=blocks_file)
    with pytest.raises(InvalidInputError, match="has no letters or digits"):
        _import(blocks_file, jurisdiction="!!!")


def test_areas_at_uses_cells_and_is_exact_on_edges(blocks_file, django_assert_num_queries):
    _import(blocks_file)
    _import(blocks_file, kind="ward")
    with django_assert_num_queries(1):
        found = areas_at(lat=38.61, lon=-90.29)
    assert {k: [a.name for a in v] for k, v in found.items()} == {
        "neighbourhood": ["North West", "North East", "South West", "South East"],
        "ward": ["North West", "North East", "South West", "South East"],
    }
    assert [a.name for a in areas_at(lat=38.605, lon=-90.285, kinds=["ward"])["ward"]] == [
        "South East"
    ]
    assert areas_at(lat=38.70, lon=-90.29) == {}
    with pytest.raises(InvalidInputError, match="Latitude 91"):
        areas_at(lat=91, lon=0)


def test_cells_are_complete_and_interior_cells_are_inside(blocks_file):
    """Every point of an area lies in one of its cells; points of interior cells are inside."""
    _import(blocks_file)
    rng = np.random.default_rng(5)
    for area in Area.objects.all():
        cells = dict(AreaCell.objects.filter(area=area).values_list("cell", "interior"))
        lat = rng.uniform(area.min_lat, area.max_lat, 500)
        lon = rng.uniform(area.min_lon, area.max_lon, 500)
        for la, lo in zip(lat, lon, strict=True):
            cell = point_h3(la, lo)
            if area.covers_point(la, lo):
                assert cell in cells
            if cells.get(cell):
                assert area.covers_point(la, lo)


def test_area_index_is_cached_until_areas_change(blocks_file, write_geojson):
    area_index_forget()
    _import(blocks_file)
    first = area_index(kind="neighbourhood")
    assert area_index(kind="neighbourhood") is first
    ids = first.lookup_ids([38.615, 38.61, 38.5], [-90.295, -90.29, -90.29])
    north_west = Area.objects.get(slug="north-west").pk
    assert ids.tolist() == [north_west, north_west, -1]
    _import(
        write_geojson(
            collection(feature(polygon(square(-90.30, 38.50)), name="South Point")), "more.geojson"
        )
    )
    rebuilt = area_index(kind="neighbourhood")
    assert rebuilt is not first
    assert rebuilt.lookup_ids([38.505], [-90.295]).tolist() == [
        Area.objects.get(slug="south-point").pk
    ]


def test_command_prints_the_report_and_fails_clearly(blocks_file, write_geojson, capsys):
    features = [*block_features(), feature(None, name="Unallocated")]
    path = write_geojson(collection(*features), "stl.geojson")
    call_command(
        "import-areas", "--kind", "neighbourhood", "--jurisdiction", "Testville", str(path)
    )
    out, err = capsys.readouterr()
    assert "Testville: 4 neighbourhoods from stl.geojson" in out
    assert "Warning: feature 5 (name 'Unallocated') has no geometry and was skipped." in err
    before = db_counts()
    bad = write_geojson(
        json.dumps(collection(feature(polygon(BOWTIE), name="Bowtie"))), "bad.geojson"
    )
    with pytest.raises(
        CommandError, match=r"bad.geojson: feature 1 \(name 'Bowtie'\) is not a valid polygon"
    ):
        call_command("import-areas", "--kind", "ward", str(bad))
    assert db_counts() == before
