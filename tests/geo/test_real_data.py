"""Real boundary files and real incident points: the lookup equals a brute-force shapely check.

St. Louis neighbourhoods and wards, Vancouver neighbourhoods and Chicago's 77 community areas
are imported through the service; then 20,000 real incident points of each city are looked up
through the index and checked against ``covers``, polygon by polygon. The agencies' own
neighbourhood labels agree with the answers for nearly every point, which shows that axes and
coordinate systems were read right.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyproj
import pytest

from tests.geo.brute import brute_force
from tests.geo.conftest import db_counts
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.models import Area, AreaCell, Jurisdiction
from watchhouse.geo.points import point_h3
from watchhouse.geo.selectors import area_index, areas_at
from watchhouse.geo.services import area_import

pytestmark = [pytest.mark.django_db, pytest.mark.shared_data]

SAMPLE = 20_000


def _sample(lat: np.ndarray, lon: np.ndarray, *labels: np.ndarray) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(2026)
    keep = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon) & (lat != 0) & (lon != 0))
    chosen = rng.choice(keep, size=min(SAMPLE, keep.size), replace=False)
    return (lat[chosen], lon[chosen], *(np.asarray(label)[chosen] for label in labels))


def _check_against_brute_force(
    place: Jurisdiction, kind: str, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, list[Area]]:
    """Index answers (area ids) equal the brute-force answers; also for the H3 cell path."""
    areas = list(Area.objects.filter(jurisdiction=place, kind=kind).order_by("id"))
    index = area_index(kind=kind, jurisdiction=place)
    ours = index.lookup_ids(lat, lon)
    truth = brute_force([a.shape for a in areas], lat, lon)
    truth_ids = np.where(truth >= 0, np.array([a.pk for a in areas])[np.maximum(truth, 0)], -1)
    np.testing.assert_array_equal(ours, truth_ids)
    # The H3 candidate search (AreaCell), as alert recipients will use it, agrees too.
    cells = {
        a.pk: dict(AreaCell.objects.filter(area=a).values_list("cell", "interior")) for a in areas
    }
    for la, lo, expected in zip(lat[:300], lon[:300], ours[:300], strict=True):
        found = areas_at(lat=la, lon=lo, kinds=[kind]).get(kind, [])
        assert (found[0].pk if found else -1) == expected
    for la, lo, expected in zip(lat[:3000], lon[:3000], ours[:3000], strict=True):
        if expected >= 0:
            assert point_h3(la, lo) in cells[int(expected)]
    return ours, areas


def _agreement(ours: np.ndarray, areas: list[Area], labels: np.ndarray, attribute: str) -> float:
    by_id = {a.pk: getattr(a, attribute) for a in areas}
    named = np.array([by_id.get(int(i), "") for i in ours])
    return float(np.mean(named == labels))


def test_st_louis_neighbourhoods_and_wards(shared_data: Path):
    folder = shared_data / "crime" / "st-louis"
    report = area_import(
        actor=None,
        kind="neighbourhood",
        path=folder / "stl_neighborhoods.geojson",
        jurisdiction="St. Louis",
    )
    assert len(report.created) == 88
    assert report.warnings == [
        "feature 89 (neighborhood_name 'Unallocated - Awaiting CQR') has no geometry and was "
        "skipped."
    ]
    wards = area_import(
        actor=None, kind="ward", path=folder / "stl_wards.geojson", jurisdiction="St. Louis"
    )
    assert len(wards.created) == 14 and wards.warnings == []
    place = report.jurisdiction

    import pyarrow.parquet as pq

    table = pq.read_table(
        folder / "slmpd_baseline_2024_2026.parquet", columns=["lat", "lon", "nbhd_num"]
    )
    lat, lon, nbhd = _sample(
        table["lat"].to_numpy(zero_copy_only=False).astype(float),
        table["lon"].to_numpy(zero_copy_only=False).astype(float),
        table["nbhd_num"].to_numpy(zero_copy_only=False).astype(str),
    )
    ours, areas = _check_against_brute_force(place, "neighbourhood", lat, lon)
    assert (ours >= 0).mean() > 0.97
    # SLMPD's own neighbourhood number of an incident is mostly our area's code; the rest are
    # next door (SLMPD geocodes to its own, older lines than the 2020 census boundaries).
    assert _agreement(ours, areas, nbhd, "code") > 0.85
    ward_ids, _ = _check_against_brute_force(place, "ward", lat, lon)
    assert (ward_ids >= 0).mean() > 0.97


def test_vancouver_neighbourhoods_with_utm_points(shared_data: Path):
    folder = shared_data / "crime" / "vancouver"
    report = area_import(
        actor=None,
        kind="neighbourhood",
        path=folder / "vancouver_neighbourhoods.geojson",
        jurisdiction="Vancouver",
    )
    assert len(report.created) == 22
    with (folder / "crimedata_csv_AllNeighbourhoods_2020.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["X"] and float(r["X"]) != 0]
    x = np.array([float(r["X"]) for r in rows])
    y = np.array([float(r["Y"]) for r in rows])
    # VPD publishes UTM zone 10N; offences against a person come as 0/0 and were left out.
    lon, lat = pyproj.Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True).transform(
        x, y
    )
    lat, lon, names = _sample(
        np.asarray(lat), np.asarray(lon), np.array([r["NEIGHBOURHOOD"] for r in rows])
    )
    ours, areas = _check_against_brute_force(report.jurisdiction, "neighbourhood", lat, lon)
    # VPD names a few neighbourhoods differently (e.g. "Arbutus Ridge" vs "Arbutus-Ridge").
    comparable = np.isin(names, [a.name for a in areas])
    assert comparable.mean() > 0.7
    assert _agreement(ours[comparable], areas, names[comparable], "name") > 0.97


def test_chicago_community_areas_from_a_shapefile_without_prj(shared_data: Path):
    folder = shared_data / "crime" / "chicago"
    before = db_counts()
    with pytest.raises(
        InvalidInputError,
        match=r"Chicago77.shp: the file has no Chicago77.prj file, so its coordinate system is "
        r"unknown, and its coordinates \(x 1091138 to 1205199",
    ):
        area_import(
            actor=None, kind="neighbourhood", path=folder / "Chicago77.shp", jurisdiction="Chicago"
        )
    assert db_counts() == before
    report = area_import(
        actor=None,
        kind="neighbourhood",
        path=folder / "Chicago77.shp",
        jurisdiction="Chicago",
        crs="EPSG:3435",
    )
    assert len(report.created) == 77 and report.crs == "EPSG:3435"
    assert report.name_field == "COMMUNITY" and report.code_field == "AREA_NUMBE"
    with (folder / "rcrimeanalysis_crimes_2017_2019_sample.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["latitude"] and r["community_area"]]
    lat, lon, community = _sample(
        np.array([float(r["latitude"]) for r in rows]),
        np.array([float(r["longitude"]) for r in rows]),
        np.array([str(int(float(r["community_area"]))) for r in rows]),
    )
    ours, areas = _check_against_brute_force(report.jurisdiction, "neighbourhood", lat, lon)
    assert _agreement(ours, areas, community, "code") > 0.97
