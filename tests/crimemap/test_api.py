"""The public crime API at /api/v1/crime/: its contract, its privacy, its refusals."""

from __future__ import annotations

import csv
import io
import math
from datetime import date
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tests.crimemap.conftest import row
from watchhouse.crimemap import stats
from watchhouse.crimemap.rollups import rollups_refresh
from watchhouse.crimemap.services import incidents_import
from watchhouse.geo.models import Area

pytestmark = pytest.mark.django_db

URL = "/api/v1/crime"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def crime(grid, write_export, mapping_file) -> dict[str, Any]:
    """Six incidents in Grid City: four thefts on one block of North West, one elsewhere in
    South East, and one withheld dispute in North West (an area total only)."""
    path = write_export(
        [
            row("A", when="2026-03-01 14:30"),
            row("B", when="2026-03-02 09:10"),
            row("C", when="2026-03-09 22:05"),
            row("D", when="2026-02-20 01:00"),
            row(
                "E",
                when="2026-03-03 12:00",
                address="4601 Maryland Ave",
                lat="38.605",
                lon="-90.285",
                hood="South East",
            ),
            row("F", when="2026-03-04 18:00", code="NEIGHBOUR DISPUTE", label="DISPUTE"),
        ]
    )
    report = incidents_import(
        actor=None, path=path, format="mapping", mapping=mapping_file, jurisdiction="Grid City"
    )
    rollups_refresh(source_id=report.source_id)
    cache.clear()
    return {"north_west": Area.objects.get(name="North West").pk}


def _get(client: Client, path: str, **params: Any) -> Any:
    response = client.get(f"{URL}/{path}", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_range_and_categories_need_no_token(client, crime):
    assert _get(client, "range") == {"first": "2026-02-20", "last": "2026-03-09"}
    categories = _get(client, "categories")
    assert {"code": "theft", "label": "Theft"} in categories
    assert len(categories) == len(stats.Category.choices)


def test_the_summary_counts_withheld_incidents_in_its_totals(client, crime):
    summary = _get(client, "summary", **MARCH)
    assert (summary["from"], summary["to"], summary["total"]) == ("2026-03-01", "2026-03-31", 5)
    assert summary["by_category"] == [
        {"category": "theft", "label": "Theft", "count": 4},
        {"category": "public_order", "label": "Public order", "count": 1},
    ]
    assert summary["previous"] == {"from": "2026-01-29", "to": "2026-02-28", "total": 1}
    assert summary["last_year"] == {"from": "2025-03-01", "to": "2025-03-31", "total": 0}
    for key, vs in (("change", "previous"), ("change_last_year", "last_year")):
        change = summary[key]
        assert change["vs"] == vs and change["method"].startswith("E-test")
        assert {"statistic", "p_value", "significant"} <= set(change)
    assert summary["change"]["significant"] is False
    assert "E-test" in summary["how"]
    thefts = _get(client, "summary", category=["theft"], area=crime["north_west"], **MARCH)
    assert thefts["total"] == 3


def test_the_default_period_is_the_last_90_days_of_the_data(client, crime):
    summary = _get(client, "summary")
    assert (summary["from"], summary["to"]) == ("2025-12-10", "2026-03-09")
    assert summary["total"] == 6


def test_trends_by_day_week_and_month(client, crime):
    month = _get(client, "trend", interval="month", **{"from": "2026-02-01", "to": "2026-03-31"})
    assert month["interval"] == "month"
    assert month["series"] == [
        {"period": "2026-02", "counts": {"theft": 1}, "total": 1},
        {"period": "2026-03", "counts": {"public_order": 1, "theft": 4}, "total": 5},
    ]
    week = _get(client, "trend", interval="week", **MARCH)
    assert [s["period"] for s in week["series"]][:2] == ["2026-W09", "2026-W10"]
    assert sum(s["total"] for s in week["series"]) == 5
    day = _get(client, "trend", interval="day", **MARCH)
    assert len(day["series"]) == 31 and day["series"][1] == {
        "period": "2026-03-02",
        "counts": {"theft": 1},
        "total": 1,
    }


def test_blocks_streets_and_areas(client, crime):
    blocks = _get(client, "blocks", limit=50, **MARCH)
    assert blocks == {
        "rows": [
            {"block": "19XX OLIVE ST", "street": "OLIVE ST", "count": 3},
            {"block": "46XX MARYLAND AVE", "street": "MARYLAND AVE", "count": 1},
        ]
    }
    assert _get(client, "blocks", limit=1, **MARCH)["rows"][0]["count"] == 3
    assert _get(client, "streets", **MARCH)["rows"][0] == {"street": "OLIVE ST", "count": 3}
    areas = _get(client, "areas", kind="neighbourhood", **MARCH)["rows"]
    assert areas[0] == {
        "id": crime["north_west"],
        "name": "North West",
        "kind": "neighbourhood",
        "count": 4,
    }
    assert [a["count"] for a in areas] == [4, 1, 0, 0]


def test_hexbins_and_points_never_show_withheld_incidents(client, crime):
    hexbins = _get(client, "hexbins", resolution=9, **MARCH)
    assert hexbins["type"] == "FeatureCollection"
    assert sum(f["properties"]["count"] for f in hexbins["features"]) == 4
    feature = hexbins["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    ring = feature["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7
    points = _get(client, "points", bbox="-90.31,38.59,-90.27,38.63", **MARCH)
    assert points["truncated"] is False
    assert len(points["features"]) == 4
    assert {f["properties"]["category"] for f in points["features"]} == {"theft"}
    assert set(points["features"][0]["properties"]) >= {"category", "label", "date", "block"}
    lon, lat = points["features"][0]["geometry"]["coordinates"]
    assert -90.31 < lon < -90.27 and 38.59 < lat < 38.63
    capped = _get(client, "points", limit=2, **MARCH)
    assert capped["truncated"] is True and len(capped["features"]) == 2
    assert _get(client, "points", bbox="-80,30,-79,31", **MARCH)["features"] == []


def test_points_as_csv_are_an_attachment(client, crime):
    response = client.get(f"{URL}/points", {"format": "csv", **MARCH})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 4 and rows[0]["block"] in {"19XX OLIVE ST", "46XX MARYLAND AVE"}


def test_hours_hotspots_density_and_concentration(client, crime):
    hours = _get(client, "hours", **MARCH)["cells"]
    assert len(hours) == 168
    # Sunday 1 March 14:30, Monday 2 March 09:10 (local time).
    assert {(c["weekday"], c["hour"]) for c in hours if c["count"]} == {
        (6, 14),
        (0, 9),
        (0, 22),
        (1, 12),
    }
    hotspots = _get(client, "hotspots", resolution=8, **MARCH)
    assert hotspots["method"] == "Getis-Ord Gi*"
    assert hotspots["parameters"]["resolution"] == 8
    assert hotspots["features"]["type"] == "FeatureCollection"
    assert {"z", "p", "class"} <= set(hotspots["features"]["features"][0]["properties"])
    density = _get(client, "density", **MARCH)
    assert density["method"] == "quartic kernel"
    assert density["parameters"]["bandwidth_m"] > 0
    assert density["cells"] and {"cell", "density"} == set(density["cells"][0])
    # Three incidents at one cell centre, none other within 500 m: 3 × 3/(π h²) there.
    peak = max(c["density"] for c in density["cells"])
    assert peak == pytest.approx(3 * 3 / (math.pi * 0.5**2), abs=1e-3)
    concentration = _get(client, "concentration", **MARCH)
    assert concentration["blocks_share_for_half"] == 0.5
    assert concentration["curve"][0] == [0.0, 0.0] and concentration["curve"][-1] == [1.0, 1.0]
    assert concentration["how"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-03-10", "to": "2026-03-01"}, "after the end date"),
        ({"from": "2016-01-01", "to": "2026-03-01"}, "longer than the data's whole range"),
        ({"from": "1 March"}, "is not a date"),
        ({"category": "bicycles"}, "Unknown category bicycles"),
        ({"area": "999999"}, "There is no area 999999"),
        ({"jurisdiction": "atlantis"}, "no jurisdiction 'atlantis'"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(client, crime, params, message):
    response = client.get(f"{URL}/summary", params)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_a_bad_bbox_is_refused(client, crime):
    response = client.get(f"{URL}/points", {"bbox": "1,2,3"})
    assert response.status_code == 400
    assert "minlon,minlat,maxlon,maxlat" in response.json()["detail"]


def test_one_client_asking_too_often_is_slowed_down(client, crime, settings):
    settings.WATCHHOUSE_CRIME_API_RATE_LIMIT = 3
    assert [client.get(f"{URL}/categories").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_figures_read_one_query_of_counts(crime, django_assert_num_queries):
    f = stats.crime_filter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    with django_assert_num_queries(1):
        stats.stats_blocks(f)
    with django_assert_num_queries(1):
        stats.stats_hexbins(f, 8)
    with django_assert_num_queries(3):
        stats.stats_summary(f)


def test_the_openapi_document_lists_the_public_crime_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for name in ("range", "summary", "trend", "blocks", "areas", "hexbins", "points", "hours",
                 "hotspots", "density", "concentration"):  # fmt: skip
        assert f"/api/v1/crime/{name}" in paths
    assert "security" not in paths["/api/v1/crime/summary"]["get"]
