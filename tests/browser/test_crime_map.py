"""The public crime map as a resident uses it: with no tile server the map still draws the
areas and the counts, a filter changes what it shows, the download takes what is on screen,
the tables carry the same figures, and the pages pass axe in English and Spanish."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_alerts_a11y import audit, pages_in  # noqa: F401 - a fixture
from watchhouse.crimemap import demo as crime_demo
from watchhouse.crimemap.models import Incident
from watchhouse.crimemap.rollups import rollups_refresh_all
from watchhouse.geo import demo as geo_demo
from watchhouse.geo.models import Area
from watchhouse.geocode import demo as address_demo

STATUS_COUNT = re.compile(r"(\d+)")


@pytest.fixture
def crime_demo_data() -> list[Area]:
    """The demo city with its incidents and counts; its neighbourhoods."""
    geo_demo.load(stdout=io.StringIO())
    address_demo.load(stdout=io.StringIO())
    crime_demo.load(stdout=io.StringIO())
    rollups_refresh_all()
    return list(Area.objects.filter(kind="neighbourhood"))


def watch(page: Any, live_server: Any) -> dict[str, list[str]]:
    """Record the page's console errors and every address it asks for."""
    seen: dict[str, list[str]] = {"errors": [], "requested": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: seen["requested"].append(r.url))
    return seen


def shown_count(page: Any) -> int:
    """The number of incidents the map says it shows."""
    text = page.locator("#crime-map-status").text_content() or ""
    found = STATUS_COUNT.search(text)
    assert found, text
    return int(found.group(1))


def test_map_draws_areas_and_hexagons_with_no_tile_server(page, live_server, crime_demo_data):
    """No base map is configured: the map draws the neighbourhoods and hexagon counts, asks
    nothing of any other site, and logs no error."""
    seen = watch(page, live_server)
    page.goto(reverse("crime:map"))
    box = page.locator("#crime-map")
    expect(box).to_have_attribute("data-layer", "hexbins")
    expect(page.locator("path.crime-boundary")).to_have_count(len(crime_demo_data))
    assert page.locator("path.crime-hex").count() > 0
    assert page.locator("img.leaflet-tile").count() == 0
    # The shaded drawing for readers without scripts gives way to the live map.
    expect(page.locator("#crime-map-fallback")).to_have_count(0)
    public = Incident.objects.filter(withheld=False).count()
    assert 0 < shown_count(page) <= public
    # Hot spots are drawn on request, and said in words.
    page.get_by_label("Show hot spots (Gi*)").check()
    expect(page.locator("#hotspots-status")).to_have_text(
        re.compile(r"^\d+ hot spots and \d+ cold spots")
    )
    hot = int(box.get_attribute("data-hotspots"))
    assert page.locator("path.crime-hot").count() == hot
    assert seen["errors"] == []
    offsite = [u for u in seen["requested"] if not u.startswith(live_server.url + "/")]
    assert offsite == []


def test_filter_change_updates_the_map_and_the_download(page, live_server, crime_demo_data):
    """Ticking one category redraws the map with fewer incidents and the download links
    carry the category and the part of the map on screen."""
    page.goto(reverse("crime:map"))
    expect(page.locator("#crime-map")).to_have_attribute("data-layer", "hexbins")
    every = shown_count(page)
    page.get_by_label("Burglary").check()
    expect(page.locator("#crime-map-status")).not_to_have_text(re.compile(rf"^{every} "))
    burglaries = shown_count(page)
    assert 0 < burglaries < every
    href = page.locator("#download-csv").get_attribute("href")
    assert "category=burglary" in href and "format=csv" in href
    bbox = re.search(r"bbox=([-\d.%C,]+)", href)
    assert bbox, href
    # The download holds block-level places only, each within the filters.
    response = page.request.get(href)
    assert response.ok
    rows = list(csv.DictReader(io.StringIO(response.text())))
    assert len(rows) == burglaries
    assert {r["category"] for r in rows} == {"burglary"}
    assert all(re.match(r"^\d+XX |.+ / .+", r["block"]) for r in rows if r["block"])
    # Applying the filters reloads the tables with the same figures.
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"category=burglary"))
    expect(page.get_by_label("Burglary")).to_be_checked()


def test_zooming_in_shows_grouped_points_and_narrows_the_download(
    page, live_server, crime_demo_data
):
    """Close in, the map shows incidents at their public points; the download follows the
    smaller part of the map on screen."""
    page.goto(reverse("crime:map"))
    box = page.locator("#crime-map")
    expect(box).to_have_attribute("data-layer", "hexbins")
    wide = page.locator("#download-geojson").get_attribute("href")
    zoom_in = page.get_by_role("button", name="Zoom in")
    for _ in range(6):
        if box.get_attribute("data-layer") == "points":
            break
        zoom_in.click()
        page.wait_for_timeout(400)
    expect(box).to_have_attribute("data-layer", "points")
    assert page.locator("path.crime-point").count() > 0
    close = page.locator("#download-geojson").get_attribute("href")
    assert close != wide and "bbox=" in close


def test_tables_carry_the_figures_without_scripts(new_context, live_server, crime_demo_data):
    """With JavaScript off the page still has the filters, the summary, the shaded map and
    the tables of trend, blocks and areas, each area linking to its own page."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto(reverse("crime:map"))
    expect(page.locator("#crime-map-fallback")).to_be_visible()
    areas = page.get_by_role("table").filter(has_text="Per 1,000 residents")
    expect(areas.locator("tbody tr")).to_have_count(len(crime_demo_data))
    page.get_by_label("Robbery").check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"category=robbery"))
    first = areas.locator("tbody a").first
    name = first.text_content()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Crime in {name}")
    expect(page.get_by_role("table").filter(has_text="Monday")).to_be_visible()


@pytest.mark.parametrize("language", ["en", "es"])
def test_crime_pages_have_no_serious_accessibility_violations(
    pages_in,  # noqa: F811 - the fixture imported above
    crime_demo_data,
    axe_script,
    language,
):
    """axe-core finds nothing serious on the map page (map drawn), an area's page, and the
    methods page."""
    strict, audited = pages_in(language)
    area = crime_demo_data[0]
    urls = [
        reverse("crime:map"),
        reverse("crime:area", kwargs={"area_id": area.pk}),
        reverse("crime:methods"),
    ]
    violations = {}
    for url in urls:
        bad = audit(strict, audited, url, language, axe_script)
        if bad:
            violations[url] = bad
    assert violations == {}
    strict.goto(reverse("crime:map"))
    expect(strict.locator("#crime-map")).to_have_attribute("data-layer", "hexbins")
