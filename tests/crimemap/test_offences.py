"""Counts by offence: the rollup, /api/v1/crime/offences and the "By offence" table of the map
page, each against a count of the test's own rows in plain Python.

Every row of the test export is one offence (rows sharing a case are one incident with several
offences), so the expected counts are the rows themselves, grouped by label with the NIBRS code,
category and crimes-against group written out below, independently of the import's tables.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.crimemap.conftest import MAPPING, row
from watchhouse.crimemap import stats
from watchhouse.crimemap.models import Incident, OffenceCount
from watchhouse.crimemap.rollups import rollups_refresh
from watchhouse.crimemap.services import incidents_import
from watchhouse.geo.models import Area

pytestmark = pytest.mark.django_db

URL = "/api/v1/crime/offences"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
# The test mapping with more offences: (category, NIBRS code) of each code.
OFFENCES_TOML = """
"BURGLARY" = { category = "burglary", nibrs = "220" }
"ASSAULT" = { category = "assault", nibrs = "13B" }
"""
# What each code is, written out for the expected counts: category, NIBRS code, against.
CODES = {
    "THEFT": ("theft", "23H", "property"),
    "BURGLARY": ("burglary", "220", "property"),
    "ASSAULT": ("assault", "13B", "person"),
    "NEIGHBOUR DISPUTE": ("public_order", "", ""),
}
SOUTH_EAST = {
    "address": "4601 Maryland Ave",
    "lat": "38.605",
    "lon": "-90.285",
    "hood": "South East",
}
# Eight incidents, eleven offences, February to April 2026. C has two offences, D three (one a
# dispute, which withholds D); F is a withheld dispute alone.
ROWS = [
    row("A", when="2026-03-01 14:30"),
    row("B", when="2026-03-02 09:10"),
    row("C", when="2026-03-09 22:05", code="BURGLARY", label="BURGLARY - RESIDENCE"),
    row("C", when="2026-03-09 22:05"),
    row("D", when="2026-03-15 01:00", code="ASSAULT", label="ASSAULT 2ND", **SOUTH_EAST),
    row("D", when="2026-03-15 01:00", code="NEIGHBOUR DISPUTE", label="DISPUTE", **SOUTH_EAST),
    row("D", when="2026-03-15 01:00", label="STEALING FROM PERSON", **SOUTH_EAST),
    row("E", when="2026-02-20 01:00", **SOUTH_EAST),
    row("F", when="2026-03-04 18:00", code="NEIGHBOUR DISPUTE", label="DISPUTE"),
    row("G", when="2026-04-02 10:00", code="BURGLARY", label="BURGLARY - RESIDENCE", **SOUTH_EAST),
    row("H", when="2026-02-27 23:00", code="ASSAULT", label="ASSAULT 2ND"),
]


def expected(
    rows: list[dict[str, str]],
    start: str,
    end: str,
    *,
    hood: str | None = None,
    categories: tuple[str, ...] = (),
) -> Counter[tuple[str, str, str, str]]:
    """Offences by (NIBRS code, label, category, against) among ``rows`` whose date is from
    ``start`` to ``end``, in ``hood`` and of ``categories`` when given."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for r in rows:
        category, nibrs, against = CODES[r["code"]]
        if not start <= r["when"][:10] <= end:
            continue
        if (hood and r["hood"] != hood) or (categories and category not in categories):
            continue
        counts[(nibrs, r["label"], category, against)] += 1
    return counts


def found(rows: list[dict[str, Any]]) -> Counter[tuple[str, str, str, str]]:
    return Counter(
        {
            (r["nibrs_code"], r["label"], r["category"], r["crimes_against"]): r["count"]
            for r in rows
        }
    )


def _import(path: Path, mapping: Path, **options: Any) -> int:
    report = incidents_import(
        actor=None, path=path, format="mapping", mapping=mapping, jurisdiction="Grid City",
        **options,
    )  # fmt: skip
    rollups_refresh(source_id=report.source_id)
    cache.clear()
    return report.source_id


@pytest.fixture
def offence_mapping(tmp_path: Path) -> Path:
    path = tmp_path / "test-rms.toml"
    path.write_text(MAPPING + OFFENCES_TOML, encoding="utf-8")
    return path


@pytest.fixture
def offences(grid, write_export, offence_mapping) -> Path:
    """The rows imported into Grid City and their counts built; returns the export."""
    path = write_export(ROWS)
    _import(path, offence_mapping)
    assert Incident.objects.count() == len({r["case"] for r in ROWS})
    return path


def _get(client: Client, **params: Any) -> Any:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-01", "2026-03-31"),  # one whole month
        ("2026-02-25", "2026-04-05"),  # a month and days at both ends
        ("2026-03-02", "2026-03-15"),  # days only
        ("2026-02-01", "2026-04-30"),  # every row
    ],
)
def test_counts_by_offence_equal_a_count_of_the_rows(client, offences, start, end):
    """Every offence counts once, those of multi-offence and withheld incidents included."""
    result = _get(client, **{"from": start, "to": end})
    want = expected(ROWS, start, end)
    assert found(result["rows"]) == want
    assert result["total"] == sum(want.values())
    counts = [r["count"] for r in result["rows"]]
    assert counts == sorted(counts, reverse=True)
    assert "Each offence counts once" in result["how"]


def test_offences_outnumber_incidents(client, offences):
    """March holds five incidents (the summary's total) but eight offences."""
    summary = client.get("/api/v1/crime/summary", MARCH).json()
    result = _get(client, **MARCH)
    assert (summary["total"], result["total"]) == (5, 8)
    rows = {(r["nibrs_code"], r["label"]): r for r in result["rows"]}
    assert rows[("23H", "STEALING")] == {
        "nibrs_code": "23H",
        "label": "STEALING",
        "category": "theft",
        "category_label": "Theft",
        "crimes_against": "property",
        "crimes_against_label": "Property",
        "count": 3,
    }
    # The withheld incidents' offences count (statistics, not locations).
    assert rows[("", "DISPUTE")]["count"] == 2
    assert rows[("", "DISPUTE")]["crimes_against_label"] == "Not stated"


def test_counts_by_offence_within_an_area_and_categories(client, offences):
    north_west = Area.objects.get(name="North West").pk
    result = _get(client, area=north_west, **MARCH)
    assert found(result["rows"]) == expected(ROWS, "2026-03-01", "2026-03-31", hood="North West")
    # An offence's own category decides, not its incident's (D is an assault incident).
    result = _get(client, category=["theft", "public_order"], **MARCH)
    assert found(result["rows"]) == expected(
        ROWS, "2026-03-01", "2026-03-31", categories=("theft", "public_order")
    )
    assert ("23H", "STEALING FROM PERSON", "theft", "property") in found(result["rows"])
    result = _get(client, jurisdiction="grid-city", area=north_west, category="burglary", **MARCH)
    assert found(result["rows"]) == Counter(
        {("220", "BURGLARY - RESIDENCE", "burglary", "property"): 1}
    )


def test_the_limit_shortens_the_list_not_the_total(client, offences):
    result = _get(client, limit=2, **MARCH)
    assert len(result["rows"]) == 2
    assert result["total"] == 8
    assert result["rows"][0]["label"] == "STEALING"


def test_withdrawn_incidents_leave_the_counts(client, offences, write_export, offence_mapping):
    """A full export without D withdraws it, and the rebuilt counts lose its three offences."""
    rest = [r for r in ROWS if r["case"] != "D"]
    _import(write_export(rest, "full.csv"), offence_mapping, withdraw_missing=True)
    result = _get(client, **MARCH)
    assert found(result["rows"]) == expected(rest, "2026-03-01", "2026-03-31")
    assert result["total"] == 5


def test_offence_counts_are_read_in_one_query(offences, django_assert_num_queries):
    f = stats.crime_filter(date_from=date(2026, 2, 25), date_to=date(2026, 4, 5))
    with django_assert_num_queries(1):
        stats.stats_offences(f)
    # Month rows replace the day rows of whole months.
    assert OffenceCount.objects.filter(span="month", day=date(2026, 3, 1)).exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-03-10", "to": "2026-03-01"}, "after the end date"),
        ({"from": "2016-01-01", "to": "2026-03-01"}, "longer than the data's whole range"),
        ({"from": "1 March"}, "'from' '1 March' is not a date such as 2026-01-31."),
        ({"to": "31/03/2026"}, "'to' '31/03/2026' is not a date"),
        ({"category": "bicycles"}, "Unknown category bicycles"),
        ({"area": "999999"}, "There is no area 999999."),
        ({"jurisdiction": "atlantis"}, "There is no jurisdiction 'atlantis'."),
    ],
)
def test_bad_filters_are_refused_with_a_reason(client, offences, params, message):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_the_openapi_document_describes_the_offence_counts(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"][URL]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"from", "to", "category", "area", "jurisdiction", "limit"} <= names
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/OffencesOut"}
    row_schema = document["components"]["schemas"]["OffenceOut"]["properties"]
    assert {"nibrs_code", "label", "category", "crimes_against", "count"} <= set(row_schema)
    summary = document["components"]["schemas"]["SummaryOut"]["properties"]
    assert {"from", "to", "total", "by_category"} <= set(summary)


def test_the_map_page_lists_offences(client, offences):
    """The page's "By offence" table holds the offences of the filters on screen, most first."""
    response = client.get(reverse("crime:map"), MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h2 id="offences-title">By offence</h2>' in html
    want = expected(ROWS, "2026-03-01", "2026-03-31")
    assert f"<caption>The {len(want)} offences counted most often</caption>" in html
    assert (
        '<tr><td>23H</td><th scope="row">STEALING</th><td>Theft</td><td class="number">3</td></tr>'
    ) in html
    assert '<tr><td>–</td><th scope="row">DISPUTE</th><td>Public order</td>' in html
    assert found(response.context["offences"]) == want
    burglaries = client.get(reverse("crime:map"), {"category": "burglary", **MARCH})
    assert found(burglaries.context["offences"]) == expected(
        ROWS, "2026-03-01", "2026-03-31", categories=("burglary",)
    )
    assert "<caption>The offence counted most often</caption>" in burglaries.content.decode()


def test_the_map_page_says_when_no_offence_matches(client, grid):
    html = client.get(reverse("crime:map")).content.decode()
    assert '<h2 id="offences-title">By offence</h2>' in html
    assert "No offences match these filters." in html
