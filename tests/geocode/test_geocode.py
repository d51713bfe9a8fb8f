"""Address search: importing address files, the local geocoder, the public search endpoint,
subscribing by address, and the geopy providers' configuration."""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.alerts.conftest import committed
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.geocode import demo
from watchhouse.geocode.geocoder import (
    GeocoderUnavailableError,
    LocalGeocoder,
    address_normalise,
    geocode_search,
    geocoder_configured,
)
from watchhouse.geocode.models import AddressPoint
from watchhouse.geocode.services import address_import
from watchhouse.notify.models import SubscriptionPlace

pytestmark = pytest.mark.django_db

CSV = """address,lat,lon
1915 Olive Street,38.63211,-90.207689
1915 OLIVE ST,38.63213,-90.207691
1901 Olive St,38.6320,-90.2070
1999 Olive St,38.6325,-90.2090
3812 North Grand Boulevard,38.662032,-90.216058
Olive St / 19th St,38.6321,-90.2071
2000 Market St,not-a-number,-90.2
,38.6,-90.2
2100 Market St,95,-90.2
"""


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def addresses(tmp_path: Path) -> Path:
    path = tmp_path / "addresses.csv"
    path.write_text(CSV, encoding="utf-8")
    address_import(actor=None, path=path, format="csv")
    return path


def test_normalise_abbreviates_street_types_and_directionals():
    assert address_normalise("3812 North Grand Boulevard, St. Louis, MO 63107") == (
        "3812 N GRAND BLVD"
    )
    assert address_normalise(" 1915  olive street ") == "1915 OLIVE ST"
    assert address_normalise("3812 N. Grand Blvd.") == "3812 N GRAND BLVD"


def test_csv_import_deduplicates_and_reports_unreadable_rows(tmp_path: Path):
    path = tmp_path / "addresses.csv"
    path.write_text(CSV, encoding="utf-8")
    report = address_import(actor=None, path=path, format="csv")
    assert (report.rows, report.addresses, report.created, report.intersections) == (9, 4, 4, 1)
    assert report.problem_count == 3
    assert any(p.startswith("row 8:") and "number" in p for p in report.problems)
    assert any(p.startswith("row 9:") and "empty" in p for p in report.problems)
    assert any(p.startswith("row 10:") and "Latitude" in p for p in report.problems)
    olive = AddressPoint.objects.get(address="1915 OLIVE ST")
    assert olive.lat == pytest.approx(38.63212)  # the mean of the two rows
    assert (olive.house_number, olive.street, olive.h3 != "") == (1915, "OLIVE ST", True)
    entry = AuditEntry.objects.get(action="geocode.address_import")
    assert entry.data["created"] == 4
    assert entry.data["problems"] == 3
    again = address_import(actor=None, path=path, format="csv")
    assert (again.created, again.updated) == (0, 0)
    assert AddressPoint.objects.count() == 4


def test_bad_files_change_nothing(tmp_path: Path, make_staff):
    path = tmp_path / "a.csv"
    path.write_text("street,latitude,longitude\n1 Main St,1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="missing columns address, lat, lon"):
        address_import(actor=None, path=path, format="csv")
    with pytest.raises(InvalidInputError, match="Unknown address format 'shapefile'"):
        address_import(actor=None, path=path, format="shapefile")
    with pytest.raises(InvalidInputError, match="not a readable parquet file"):
        address_import(actor=None, path=path, format="stl-nibrs")
    with pytest.raises(NotPermittedError):
        address_import(actor=make_staff("dispatcher"), path=path, format="csv")
    assert AddressPoint.objects.count() == 0
    assert not AuditEntry.objects.filter(action="geocode.address_import").exists()


def test_command_lists_skipped_rows(tmp_path: Path):
    path = tmp_path / "addresses.csv"
    path.write_text(CSV, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import-addresses", str(path), "--format", "csv", stdout=out, stderr=err)
    assert "4 addresses (4 new, 0 updated)" in out.getvalue()
    assert "Skipped row 8" in err.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text("address,lat\n1 Main St,1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing column"):
        call_command("import-addresses", str(bad), "--format", "csv", stdout=out, stderr=err)


def test_local_geocoder_exact_nearest_and_street(addresses: Path):
    geocoder = LocalGeocoder()
    (exact,) = geocoder.search("1915 Olive Street, St. Louis MO")
    assert exact.label == "1915 OLIVE ST"
    assert exact.lat == pytest.approx(38.63212)
    (near,) = geocoder.search("1990 olive st")
    assert near.label == "1999 OLIVE ST (nearest to 1990)"
    (street,) = geocoder.search("Olive Street")
    assert street.label == "OLIVE ST"
    assert 38.632 < street.lat < 38.6325
    (prefix,) = geocoder.search("3812 grand")
    assert prefix.label == "3812 N GRAND BLVD"
    assert geocoder.search("3812 n grand") == geocoder.search("3812 North Grand Blvd")
    assert geocoder.search("12 Nowhere Lane") == []


def test_search_endpoint_answers_and_limits_floods(client, addresses: Path, settings):
    settings.WATCHHOUSE_GEOCODE_RATE_LIMIT = 3
    url = reverse("geocode:search")
    response = client.get(url, {"q": "1915 olive"})
    assert response.status_code == 200
    body = response.json()
    assert body["results"][0] == {
        "label": "1915 OLIVE ST", "lat": 38.63212, "lon": -90.20769, "source": "local"
    }  # fmt: skip
    assert client.get(url, {"q": "ol"}).json()["results"] == []
    assert client.get(url, {"q": "<script>"}).json()["results"] == []
    refused = client.get(url, {"q": "1915 olive"})
    assert refused.status_code == 429
    assert "Too many" in refused.json()["error"]


def test_subscribing_by_address_places_the_point(client, addresses: Path):
    form = {"address": "1915 Olive Street", "radius": "0.25", "categories": ["alert"],
            "language": "en", "email": "neighbour@example.org"}  # fmt: skip
    with committed():
        response = client.post(reverse("notify:subscribe"), form)
    assert response.status_code == 200, response.content.decode()
    place = SubscriptionPlace.objects.get()
    assert (place.kind, place.label) == ("point", "1915 OLIVE ST")
    assert (place.lat, place.lon) == pytest.approx((38.63212, -90.20769))
    unknown = client.post(reverse("notify:subscribe"), {**form, "address": "12 Nowhere Lane"})
    assert unknown.status_code == 400
    assert "No such address was found" in unknown.content.decode()
    assert SubscriptionPlace.objects.count() == 1


def test_geopy_provider_without_geopy_is_a_clear_error_and_search_falls_back(
    addresses: Path, settings, caplog, monkeypatch
):
    # As on a deployment without the optional package, whether or not it is installed here.
    monkeypatch.setitem(sys.modules, "geopy", None)
    monkeypatch.setitem(sys.modules, "geopy.geocoders", None)
    settings.WATCHHOUSE_GEOCODER = "nominatim"
    with pytest.raises(GeocoderUnavailableError, match="geopy is not installed"):
        geocoder_configured()
    (found,) = geocode_search("1915 Olive St")
    assert found.source == "local"
    assert "geopy is not installed" in caplog.text
    settings.WATCHHOUSE_GEOCODER = "bing"
    with pytest.raises(GeocoderUnavailableError, match="Unknown WATCHHOUSE_GEOCODER 'bing'"):
        geocoder_configured()


def test_demo_addresses_lie_in_alderford_and_load_once():
    out = StringIO()
    demo.load(stdout=out)
    count = AddressPoint.objects.count()
    assert count > 5000
    assert "Demo addresses" in out.getvalue()
    (main,) = LocalGeocoder().search("1100 Main Street")
    assert main.lat == pytest.approx(39.95, abs=0.01)
    demo.load(stdout=out)
    assert AddressPoint.objects.count() == count
    assert AuditEntry.objects.filter(action="geocode.address_import").count() == 2


@pytest.mark.shared_data
def test_st_louis_incident_file(shared_data: Path, client):
    path = shared_data / "crime" / "st-louis" / "slmpd_baseline_2024_2026.parquet"
    report = address_import(actor=None, path=path, format="stl-nibrs")
    assert report.rows > 90_000
    assert report.addresses > 30_000
    assert report.created == report.addresses
    assert AddressPoint.objects.count() == report.addresses
    (found,) = LocalGeocoder().search("4601 Maryland Avenue", limit=1)
    assert found.label == "4601 MARYLAND AVE"
    assert (found.lat, found.lon) == pytest.approx((38.644655, -90.259113), abs=1e-4)
    (grand,) = LocalGeocoder().search("3812 North Grand Blvd, St. Louis, MO", limit=1)
    assert grand.lat == pytest.approx(38.662032, abs=1e-4)
    response = client.get(reverse("geocode:search"), {"q": "1915 Olive"})
    assert response.json()["results"][0]["label"].startswith("1915 OLIVE ST")
