"""The public crime pages as a resident reads them without scripts: the map page with its
filters and tables, a page per area, and the methods every figure links to; never an exact
address."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from tests.crimemap.conftest import kept_for_module
from watchhouse.crimemap import demo as crime_demo
from watchhouse.crimemap.models import Incident
from watchhouse.crimemap.rollups import rollups_refresh_all
from watchhouse.geo import demo as geo_demo
from watchhouse.geo.models import Area
from watchhouse.geocode import demo as address_demo

pytestmark = pytest.mark.django_db


def load_demo() -> None:
    """The demo city, its addresses and incidents, with their counts built."""
    geo_demo.load(stdout=io.StringIO())
    address_demo.load(stdout=io.StringIO())
    crime_demo.load(stdout=io.StringIO())
    rollups_refresh_all()


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The demo data, loaded once for the module (rolled back at its end)."""
    with kept_for_module(django_db_blocker):
        load_demo()
        yield


def methods_anchors(html: str) -> set[str]:
    return set(re.findall(r'href="/crime/methods/#([\w-]+)"', html))


def test_pages_render_before_any_incident_is_imported(client):
    """A new install with no data shows empty tables, not an error. (First in the module:
    the module's demo data is loaded by the first test that asks for it.)"""
    response = client.get(reverse("crime:map"))
    assert response.status_code == 200
    assert response.context["summary"]["total"] == 0
    assert client.get(reverse("crime:methods")).status_code == 200


def test_map_page_shows_the_demo_figures_as_tables(client, demo):
    """The page renders the summary, trend, blocks and areas tables with the demo data."""
    response = client.get(reverse("crime:map"))
    assert response.status_code == 200
    html = response.content.decode()
    incidents = Incident.objects.filter(jurisdiction__name="Alderford")
    summary = response.context["summary"]
    assert 0 < summary["total"] <= incidents.count()
    assert f'<span class="value">{summary["total"]}</span>' in html
    assert "<caption>Incidents per period</caption>" in html
    assert sum(count for _, count in response.context["trend"]) == summary["total"]
    blocks = response.context["blocks"]
    assert blocks and all("XX " in b["block"] or "/" in b["block"] for b in blocks)
    assert f'<th scope="row">{blocks[0]["block"]}</th>' in html
    areas = response.context["areas_table"]
    assert areas and sum(row.count for row in areas) == summary["total"]
    first = areas[0]
    assert reverse("crime:area", kwargs={"area_id": first.id}) in html
    # The map script's hooks and the no-script map of shaded areas are there.
    assert 'id="crime-map"' in html and 'id="crime-map-fallback"' in html
    assert "/static/vendor/leaflet/leaflet.js" in html


def test_every_figure_links_to_how_it_was_computed(client, demo):
    """Summary, change test, map, trend, blocks and areas link to their methods sections,
    and each section exists on the methods page."""
    html = client.get(reverse("crime:map")).content.decode()
    linked = methods_anchors(html)
    assert {
        "counts",
        "change",
        "privacy",
        "map",
        "trend",
        "blocks",
        "areas",
        "concentration",
    } <= linked
    methods = client.get(reverse("crime:methods")).content.decode()
    for anchor in linked | {"hotspots", "density", "concentration", "hours"}:
        assert f'id="{anchor}"' in methods, anchor
    assert "Sexual offence" in methods  # a withheld category, from the policy in force


def test_no_exact_address_reaches_the_public_pages(client, demo):
    """Neither the map page nor an area page holds a house number the demo used."""
    exact = set(Incident.objects.exclude(exact_address="").values_list("exact_address", flat=True))
    assert exact
    area = Area.objects.filter(kind="neighbourhood").order_by("name").first()
    for url in (reverse("crime:map"), reverse("crime:area", kwargs={"area_id": area.pk})):
        html = client.get(url).content.decode().upper()
        leaked = [address for address in exact if address.upper() in html]
        assert leaked == [], (url, leaked[:3])


def test_filters_narrow_the_figures(client, demo):
    """Choosing one category counts only that category."""
    every = client.get(reverse("crime:map")).context["summary"]["total"]
    response = client.get(reverse("crime:map"), {"category": "burglary"})
    assert response.status_code == 200
    burglaries = response.context["summary"]["total"]
    assert 0 < burglaries < every
    assert 'value="burglary" id="id_category_6" checked' in response.content.decode()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "1999-01-01"}, "from", "the data covers only those"),
        ({"from": "not a date"}, "from", "Enter a valid date."),
        ({"category": "piracy"}, "category", "Select a valid choice."),
        ({"area": "999999"}, "area", "Select a valid choice."),
    ],
)
def test_bad_filters_are_reported_and_ignored(client, demo, query, field, message):
    """A filter that is not understood is named in an alert and the page still renders."""
    response = client.get(reverse("crime:map"), query)
    assert response.status_code == 200
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    html = response.content.decode()
    assert 'class="crime-errors" role="alert"' in html
    assert response.context["summary"]["total"] > 0


def test_end_before_start_is_refused(client, demo):
    """Dates the wrong way round are named, and the latest days of data are shown instead."""
    context = client.get(reverse("crime:map")).context
    first, last = context["first"], context["last"]
    response = client.get(reverse("crime:map"), {"from": last.isoformat(), "to": first.isoformat()})
    assert response.context["form"].errors["to"] == ["The end date is before the start date."]
    assert response.context["filter"].date_to == last
    assert "The end date is before the start date." in response.content.decode()


def test_area_page_shows_its_statistics(client, demo):
    """An area's page has its summary, trend, blocks and the weekday × hour table."""
    area = Area.objects.filter(kind="neighbourhood").order_by("name").first()
    response = client.get(reverse("crime:area", kwargs={"area_id": area.pk}))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Crime in {area.name}" in html
    assert (
        response.context["summary"]["total"]
        == Incident.objects.filter(
            neighbourhood=area,
            occurred_date__gte=response.context["filter"].date_from,
            occurred_date__lte=response.context["filter"].date_to,
        ).count()
    )
    hours = response.context["hours"]
    assert len(hours) == 7 and all(len(row.cells) == 24 for row in hours)
    assert {"change", "hours", "blocks", "trend"} <= methods_anchors(html)
    assert area.get_absolute_url() in html


def test_public_area_page_links_to_its_crime_page(client, demo):
    area = Area.objects.filter(kind="neighbourhood").order_by("name").first()
    html = client.get(area.get_absolute_url()).content.decode()
    assert reverse("crime:area", kwargs={"area_id": area.pk}) in html
    assert "incidents from" in html


def test_unknown_area_is_not_found(client, demo):
    assert client.get(reverse("crime:area", kwargs={"area_id": 999999})).status_code == 404


def test_boundaries_are_geojson_of_the_neighbourhoods(client, demo):
    response = client.get(reverse("crime:boundaries"))
    assert response["Content-Type"] == "application/geo+json"
    document = response.json()
    names = {f["properties"]["name"] for f in document["features"]}
    assert names == set(Area.objects.filter(kind="neighbourhood").values_list("name", flat=True))
    assert document["features"][0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_tile_server_is_allowed_only_when_configured(client, demo, settings):
    """With no tile server the page loads images from this site only; a configured one is
    added to the CSP and handed to the map."""
    response = client.get(reverse("crime:map"))
    assert "tile.example.org" not in response["Content-Security-Policy"]
    settings.WATCHHOUSE_CRIME_TILES_URL = "https://tile.example.org/{z}/{x}/{y}.png"
    response = client.get(reverse("crime:map"))
    assert "https://tile.example.org" in response["Content-Security-Policy"]
    assert 'data-tiles="https://tile.example.org/{z}/{x}/{y}.png"' in response.content.decode()


def test_pages_read_counts_in_a_bounded_number_of_queries(
    client, demo, django_assert_max_num_queries
):
    """The pages read the pre-aggregated counts in a fixed number of queries, whatever the
    number of incidents, areas or categories chosen."""
    area = Area.objects.filter(kind="neighbourhood").order_by("name").first()
    with django_assert_max_num_queries(16):
        client.get(reverse("crime:map"), {"category": ["burglary", "theft", "robbery"]})
    # 6 of them are the digests of the last week and month (3 each).
    with django_assert_max_num_queries(24):
        client.get(reverse("crime:area", kwargs={"area_id": area.pk}))


def test_custom_areas_have_no_crime_page(client, demo, tmp_path):
    """Incidents are not counted by custom areas: their public page has no crime section and
    asks for no statistics, and their crime page is not found."""
    import json

    from watchhouse.geo.services import area_import

    path = tmp_path / "custom.geojson"
    square = [[-89.36, 39.95], [-89.35, 39.95], [-89.35, 39.96], [-89.36, 39.96], [-89.36, 39.95]]
    feature = {
        "type": "Feature",
        "properties": {"name": "Festival Grounds"},
        "geometry": {"type": "Polygon", "coordinates": [square]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    area_import(actor=None, kind="custom", path=path, jurisdiction="Alderford")
    area = Area.objects.get(name="Festival Grounds")
    html = client.get(area.get_absolute_url()).content.decode()
    assert 'id="crime-title"' not in html
    assert client.get(reverse("crime:area", kwargs={"area_id": area.pk})).status_code == 404
    response = client.get(reverse("crime:map"), {"area": area.pk})
    assert "Select a valid choice." in " ".join(response.context["form"].errors["area"])


def test_area_filter_counts_what_the_area_page_counts(client, demo):
    """Choosing an area on the map page gives the figures of that area's own page."""
    area = Area.objects.filter(kind="neighbourhood").order_by("name").first()
    filtered = client.get(reverse("crime:map"), {"area": area.pk, "category": "theft"})
    own = client.get(reverse("crime:area", kwargs={"area_id": area.pk}), {"category": "theft"})
    assert filtered.context["form"].errors == {}
    assert filtered.context["summary"]["total"] == own.context["summary"]["total"]
    assert filtered.context["blocks"] == own.context["blocks"]
    assert f'<option value="{area.pk}" selected>' in filtered.content.decode()


@pytest.mark.parametrize(
    ("p_value", "shown"), [(0.00001, "(p &lt; 0.001)"), (0.0312, "(p = 0.031)")]
)
def test_a_tiny_p_value_is_shown_as_below_a_thousandth(p_value, shown):
    """A change test's p-value too small to print with three decimals reads "p < 0.001",
    never "p = 0.000"."""
    from datetime import date

    from django.template.loader import render_to_string

    summary = {
        "total": 120, "previous_covered": True, "previous": {"total": 60},
        "previous_from": date(2026, 1, 1), "previous_to": date(2026, 3, 31),
        "change_percent": 100.0, "change": {"significant": True, "p_value": p_value},
        "last_year_covered": False, "half_on_blocks": None, "by_category": [],
    }  # fmt: skip
    html = render_to_string(
        "crimemap/_summary.html",
        {
            "summary": summary,
            "filter": {"date_from": date(2026, 4, 1), "date_to": date(2026, 6, 29)},
        },
    )
    assert shown in html
    assert "0.000" not in html
