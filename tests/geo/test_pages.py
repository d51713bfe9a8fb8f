"""Public area pages, the console's Areas section and the areas API."""

from __future__ import annotations

import io
import zipfile

import pyproj
import pytest
import shapely
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.geo.conftest import BOWTIE, block_features, collection, db_counts, feature, polygon
from watchhouse.accounts.services import api_token_create
from watchhouse.audit.models import AuditEntry
from watchhouse.geo.models import Area
from watchhouse.geo.services import area_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def blocks(blocks_file):
    area_import(actor=None, kind="neighbourhood", path=blocks_file, jurisdiction="Testville")
    area_import(actor=None, kind="ward", path=blocks_file, jurisdiction="Testville")


# Public pages


def test_list_page_links_every_area_and_draws_a_map(client, blocks):
    response = client.get(reverse("web:areas"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Neighbourhoods</h1>" in html
    for slug in ("north-west", "north-east", "south-west", "south-east"):
        assert f'href="/areas/neighbourhood/{slug}/"' in html
        assert f'href="/areas/ward/{slug}/"' in html
    assert html.count('role="img"') == 1
    assert "Map of the neighbourhoods of Testville" in html
    assert '<h3 id="testville-ward">Wards <small>(4)</small></h3>' in html
    assert html.count("<path ") == 4  # the overview map draws the neighbourhoods
    assert "<script" not in html.split("<main", 1)[1]


def test_list_page_without_areas(client):
    response = client.get(reverse("web:areas"))
    assert "No neighbourhoods have been published yet." in response.content.decode()


def test_area_page_draws_the_area_and_names_its_neighbours(client, blocks):
    response = client.get(
        reverse("web:area", kwargs={"kind": "neighbourhood", "slug": "north-west"})
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>North West</h1>" in html
    assert 'aria-labelledby="area-map-title area-map-desc"' in html
    assert html.count('class="current"') == 1
    assert "North West, shaded dark, and the 3 areas that border it." in html
    for name in ("North East", "South West", "South East"):
        assert f">{name}</a>" in html
    assert 'Ward: <a href="/areas/ward/north-west/">North West</a>' in html
    assert "<dt>Population</dt><dd>1,000</dd>" in html


@pytest.mark.parametrize("path", ["/areas/neighbourhood/atlantis/", "/areas/parish/north-west/"])
def test_unknown_areas_are_not_found(client, blocks, path):
    assert client.get(path).status_code == 404


# Console


def test_console_list_shows_counts_and_offers_import_to_admins(client, blocks, make_staff):
    client.force_login(make_staff("pio"))
    response = client.get(reverse("console:areas"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<caption>8 areas</caption>" in html
    assert reverse("console:area_import") not in html
    response = client.get(reverse("console:areas"), {"kind": "ward"})
    assert "<caption>4 areas</caption>" in response.content.decode()
    assert client.get(reverse("console:area_import")).status_code == 403
    client.force_login(make_staff("admin"))
    assert reverse("console:area_import") in client.get(reverse("console:areas")).content.decode()


def test_console_import_of_geojson_by_an_admin(client, make_staff, write_geojson):
    admin = make_staff("admin")
    client.force_login(admin)
    features = [*block_features(), feature(None, name="Unallocated")]
    upload = SimpleUploadedFile("beats.geojson", write_geojson(collection(*features)).read_bytes())
    response = client.post(
        reverse("console:area_import"),
        {"kind": "beat", "file": upload, "jurisdiction": "Testville"},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("console:areas")
    assert "Testville: 4 beats from beats.geojson" in html
    assert "feature 5 (name &#x27;Unallocated&#x27;) has no geometry and was skipped." in html
    assert Area.objects.filter(kind="beat").count() == 4
    assert AuditEntry.objects.get(action="geo.area_import").actor == admin


def test_console_import_of_a_zipped_shapefile(client, make_staff, write_shapefile):
    client.force_login(make_staff("admin"))
    shp = write_shapefile(
        [("Beat 101", shapely.box(-90.3, 38.6, -90.29, 38.61))],
        name="beats",
        prj=pyproj.CRS("EPSG:4326").to_wkt("WKT1_ESRI"),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            archive.write(shp.with_suffix(suffix), f"beats{suffix}")
    upload = SimpleUploadedFile("beats.zip", buffer.getvalue(), content_type="application/zip")
    response = client.post(reverse("console:area_import"), {"kind": "beat", "file": upload})
    assert response.status_code == 302
    assert Area.objects.get(kind="beat").name == "Beat 101"


def test_console_import_of_a_bad_file_shows_the_problem_and_changes_nothing(
    client, blocks, make_staff, write_geojson
):
    client.force_login(make_staff("admin"))
    before = db_counts()
    bad = write_geojson(collection(feature(polygon(BOWTIE), name="Bowtie")))
    upload = SimpleUploadedFile("wards.geojson", bad.read_bytes())
    response = client.post(reverse("console:area_import"), {"kind": "ward", "file": upload})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported." in html
    assert (
        "wards.geojson: feature 1 (name &#x27;Bowtie&#x27;) is not a valid polygon: "
        "self-intersection" in html
    )
    assert db_counts() == before
    lone = SimpleUploadedFile("wards.shp", b"\x00" * 100)
    response = client.post(reverse("console:area_import"), {"kind": "ward", "file": lone})
    assert response.status_code == 400
    assert "a .zip holding a shapefile" in response.content.decode()


# API


@pytest.fixture
def api(client, make_staff):
    _token, key = api_token_create(actor=None, user=make_staff("analyst"), name="tests")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


def test_api_lists_areas_and_returns_geojson(api, blocks):
    listed = api.get("/api/v1/areas", {"kind": "neighbourhood"}).json()
    assert [a["name"] for a in listed] == ["North East", "North West", "South East", "South West"]
    first = listed[1]
    assert first["jurisdiction"] == "testville" and first["code"] == "B1"
    assert first["bbox"] == pytest.approx([-90.30, 38.61, -90.29, 38.62])
    assert first["url"] == "/areas/neighbourhood/north-west/"
    feature_ = api.get("/api/v1/areas/neighbourhood/north-west").json()
    assert feature_["type"] == "Feature" and feature_["properties"]["name"] == "North West"
    assert shapely.geometry.shape(feature_["geometry"]).equals_exact(
        Area.objects.get(kind="neighbourhood", slug="north-west").shape, 0
    )
    assert api.get("/api/v1/areas/neighbourhood/atlantis").status_code == 404


def test_api_lookup_finds_areas_by_kind(api, blocks):
    body = api.get("/api/v1/areas/lookup", {"lat": 38.615, "lon": -90.29}).json()
    assert body["h3"]
    assert {k: [a["name"] for a in v] for k, v in body["areas"].items()} == {
        "neighbourhood": ["North West", "North East"],
        "ward": ["North West", "North East"],
    }
    only_wards = api.get("/api/v1/areas/lookup?lat=38.605&lon=-90.285&kind=ward").json()
    assert list(only_wards["areas"]) == ["ward"]
    assert api.get("/api/v1/areas/lookup", {"lat": 40.0, "lon": -90.0}).json()["areas"] == {}
    refused = api.get("/api/v1/areas/lookup", {"lat": 95, "lon": 0})
    assert refused.status_code == 422 and "lat" in refused.json()["detail"]


def test_api_needs_a_token(client, blocks):
    assert client.get("/api/v1/areas").status_code == 401
