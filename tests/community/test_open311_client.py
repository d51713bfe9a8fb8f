"""An Open311 GeoReport v2 client written from the published specification
(http://wiki.open311.org/GeoReport_v2), talking HTTP to a live server.

Element and field names below come from the specification, not from the serializer: the
client discovers the endpoint, lists services in XML and JSON, posts a request as
form-encoded data with an API key, reads it back by id and by token, and lists requests.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from django.db import connection

from watchhouse.community.services.reports import api_key_create, report_services_default

pytestmark = pytest.mark.django_db(transaction=True)

SPEC = "GeoReport_v2"
# The spec's service list fields, and a service request's fields (GET Service Requests).
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords",
                  "group"}  # fmt: skip
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
}  # fmt: skip


class GeoReportClient:
    """The calls of GeoReport v2, as a third-party application would make them."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") + "/"
        self.http = requests.Session()
        self.endpoint = ""

    def discover(self) -> dict[str, Any]:
        answer = self.http.get(self.root + "discovery.json", timeout=10)
        answer.raise_for_status()
        document = answer.json()
        endpoint = next(e for e in document["endpoints"] if SPEC in e["specification"])
        self.endpoint = endpoint["url"]
        return endpoint

    def get(self, path: str, **params: str) -> requests.Response:
        return self.http.get(self.endpoint + path, params=params, timeout=10)

    def post_request(self, fmt: str, **fields: str) -> requests.Response:
        # "POST Service Request": application/x-www-form-urlencoded, as the spec says.
        return self.http.post(self.endpoint + f"requests.{fmt}", data=fields, timeout=10)


def _xml(response: requests.Response) -> ET.Element:
    assert response.headers["Content-Type"].startswith("text/xml")
    # The spec names ElementTree-parsable XML; the server is this test's own.
    return ET.fromstring(response.content)  # noqa: S314


@pytest.fixture
def api(
    transactional_db: None, live_server: Any, hoods: Any, make_staff: Any
) -> Iterator[tuple[GeoReportClient, str]]:
    report_services_default()
    _key, secret = api_key_create(actor=make_staff("dispatcher"), name="Neighbourhood app")
    client = GeoReportClient(live_server.url + "/open311/v2/")
    endpoint = client.discover()
    assert "application/json" in endpoint["formats"] and "text/xml" in endpoint["formats"]
    yield client, secret
    client.http.close()
    _server_done()


def _server_done(timeout: float = 5.0) -> None:
    """Wait until the live server's request threads have closed their database connections
    (they close just after answering), so the test database can be dropped."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)


def _new(client: GeoReportClient, key: str, **changes: str) -> requests.Response:
    fields = {
        "api_key": key,
        "service_code": "streetlight",
        "lat": "39.955",
        "long": "-89.355",
        "description": "The light at the mill bridge is out.",
        "email": "reporter@example.org",
        "first_name": "Ana",
        "last_name": "Lopez",
        "phone": "2175550100",
    }
    fields.update(changes)
    return client.post_request("json", **fields)


def test_services_in_xml_and_json(api: tuple[GeoReportClient, str]) -> None:
    client, _key = api
    root = _xml(client.get("services.xml"))
    assert root.tag == "services"
    services = root.findall("service")
    assert {s.findtext("service_code") for s in services} >= {"graffiti", "streetlight", "noise"}
    for service in services:
        assert {child.tag for child in service} >= SERVICE_FIELDS
        assert service.findtext("metadata") == "false"
        assert service.findtext("type") in ("realtime", "batch", "blackbox")
    listed = client.get("services.json").json()
    assert {s["service_code"] for s in listed} == {s.findtext("service_code") for s in services}
    assert all(s["metadata"] is False for s in listed)
    definition = client.get("services/graffiti.json").json()
    assert definition["service_code"] == "graffiti"
    assert definition["attributes"] == []


def test_post_then_read_back(api: tuple[GeoReportClient, str]) -> None:
    """A request posted with a key is read back by id, by token and in the list, and no
    answer carries the reporter's details."""
    client, key = api
    posted = _new(client, key)
    assert posted.status_code in (200, 201)
    created = posted.json()[0]
    request_id = created.get("service_request_id")
    token = created.get("token")
    assert request_id or token
    assert "service_notice" in created

    by_token = _xml(client.get(f"tokens/{token}.xml"))
    assert by_token.tag == "service_requests"
    assert by_token.find("request/service_request_id").text == request_id  # type: ignore[union-attr]

    [one] = client.get(f"requests/{request_id}.json").json()
    assert set(one) >= REQUEST_FIELDS
    assert one["service_request_id"] == request_id
    assert one["status"] == "open"
    assert one["service_code"] == "streetlight"
    assert one["description"] == "The light at the mill bridge is out."
    assert float(one["lat"]) == pytest.approx(39.955)
    assert float(one["long"]) == pytest.approx(-89.355)
    requested = datetime.fromisoformat(one["requested_datetime"])
    assert requested.utcoffset() is not None

    listed = client.get("requests.json", status="open").json()
    assert request_id in [r["service_request_id"] for r in listed]
    assert client.get("requests.json", status="closed").json() == []

    root = _xml(client.get("requests.xml", service_request_id=request_id))
    assert root.tag == "service_requests"
    [element] = root.findall("request")
    assert {child.tag for child in element} >= REQUEST_FIELDS
    assert element.findtext("status") == "open"

    everything = b"".join(
        client.get(path).content
        for path in (f"requests/{request_id}.json", f"requests/{request_id}.xml",
                     "requests.json", "requests.xml", f"tokens/{token}.json")
    )  # fmt: skip
    for secret in (b"reporter@example.org", b"Lopez", b"2175550100"):
        assert secret not in everything


def test_post_by_address_in_xml(api: tuple[GeoReportClient, str]) -> None:
    from watchhouse.geocode.models import AddressPoint

    client, key = api
    AddressPoint.objects.create(address="120 MILL ST", house_number=120, street="MILL ST",
                                source="test", lat=39.956, lon=-89.354)  # fmt: skip
    answer = client.post_request(
        "xml", api_key=key, service_code="graffiti", address_string="120 Mill Street",
        description="Tags on the bridge.",
    )  # fmt: skip
    assert answer.status_code in (200, 201)
    root = _xml(answer)
    assert root.tag == "service_requests"
    request_id = root.findtext("request/service_request_id")
    [one] = client.get(f"requests/{request_id}.json").json()
    assert one["address"] == "120 Mill Street"
    assert float(one["lat"]) == pytest.approx(39.956)


def _errors(response: requests.Response) -> list[tuple[str, str]]:
    root = _xml(response)
    assert root.tag == "errors"
    return [
        (e.findtext("code") or "", e.findtext("description") or "") for e in root.findall("error")
    ]


def test_forged_or_missing_key_refused(api: tuple[GeoReportClient, str]) -> None:
    """A forged or missing key: 403 with an Open311 error, nothing stored."""
    from watchhouse.community.models import ServiceRequest

    client, key = api
    for fields in ({"api_key": key[:-3] + "xyz"}, {}):
        data = {"service_code": "graffiti", "lat": "39.955", "long": "-89.355",
                "description": "Tags.", **fields}  # fmt: skip
        answer = client.post_request("xml", **data)
        assert answer.status_code == 403
        [(code, description)] = _errors(answer)
        assert code == "403" and "api_key" in description
    forged = client.post_request("json", api_key="wh311_forged", service_code="graffiti",
                                 lat="39.955", long="-89.355", description="Tags.")  # fmt: skip
    assert forged.status_code == 403
    assert forged.json()[0]["code"] == 403
    assert not ServiceRequest.objects.exists()


def test_revoked_key_refused(api: tuple[GeoReportClient, str], make_staff: Any) -> None:
    from watchhouse.community.models import ApiKey
    from watchhouse.community.services.reports import api_key_revoke

    client, key = api
    api_key_revoke(actor=make_staff("pio"), api_key=ApiKey.objects.get())
    assert _new(client, key).status_code == 403


def test_unknown_service_and_request(api: tuple[GeoReportClient, str]) -> None:
    client, key = api
    answer = client.post_request("xml", api_key=key, service_code="potholes-on-mars",
                                 lat="39.955", long="-89.355", description="?")  # fmt: skip
    assert answer.status_code in (400, 404)
    [(code, _description)] = _errors(answer)
    assert code == str(answer.status_code)
    assert client.get("services/potholes-on-mars.xml").status_code == 404
    missing = client.get("requests/999999.json")
    assert missing.status_code == 404
    assert json.loads(missing.content)[0]["code"] == 404
    assert client.get("tokens/nope.xml").status_code == 404


def test_place_outside_refused(api: tuple[GeoReportClient, str]) -> None:
    client, key = api
    answer = _new(client, key, lat="41.0", long="-87.6")
    assert answer.status_code == 400
    assert "outside" in answer.json()[0]["description"]
