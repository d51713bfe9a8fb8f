"""The composer's live reach (a JSON endpoint), its map of the areas, several drawn polygons,
and its counters counting as a phone does."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.alerts.conftest import BOWTIE, point, square, subscribe
from tests.alerts.test_console import _form
from watchhouse.alerts.models import Alert, AlertArea
from watchhouse.audit.models import AuditEntry
from watchhouse.geo.svg import Projection
from watchhouse.notify.models import Subscription
from watchhouse.notify.services import Choices, PlaceSpec, subscription_create

pytestmark = pytest.mark.django_db

REACH = reverse("console:alert_reach")
# Old Mill is the square from (-89.36, 39.95) to (-89.35, 39.96); this polygon lies inside it.
INSIDE_OLD_MILL = square(-89.358, 39.952, 0.006)
INSIDE_LINDEN_HILL = square(-89.348, 39.942, 0.006)
BOTH = {
    "type": "MultiPolygon",
    "coordinates": [INSIDE_OLD_MILL["coordinates"], INSIDE_LINDEN_HILL["coordinates"]],
}


def _reach(client, **data):
    return client.post(REACH, {"category": "advisory", **data})


@pytest.fixture
def residents(town):
    """Who lives where: e-mail and browser push in Old Mill, one asleep there (quiet hours),
    one there wanting only traffic news, and e-mail in Linden Hill."""
    mill = (39.955, -89.355)
    now = timezone.localtime()
    subscribe(point(*mill), email="mill@example.org")
    place = PlaceSpec(kind="point", lat=mill[0], lon=mill[1], radius_m=402.336)
    subscription_create(
        choices=Choices(categories=frozenset({"advisory"}), places=(place,)),
        push={"endpoint": "https://push.example.org/send/1", "keys": {"p256dh": "k", "auth": "a"}},
    )
    subscribe(point(*mill), email="asleep@example.org",
              quiet_start=(now - timedelta(hours=1)).time(),
              quiet_end=(now + timedelta(hours=1)).time())  # fmt: skip
    subscribe(point(*mill), email="traffic@example.org", categories=("traffic",))
    subscribe(point(39.945, -89.345), email="linden@example.org")
    return town


def test_anonymous_and_other_roles_get_no_reach(client, make_staff, residents):
    polygon = json.dumps(INSIDE_OLD_MILL)
    anonymous = _reach(client, polygon_geojson=polygon)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.url
    client.force_login(make_staff("analyst"))
    refused = _reach(client, polygon_geojson=polygon)
    assert refused.status_code == 403 and "subscriptions" not in refused.content.decode()
    client.force_login(make_staff("dispatcher"))
    assert client.get(REACH).status_code == 405


def test_the_reach_counts_subscriptions_and_messages_per_channel(client, make_staff, residents):
    """Subscriptions and messages by channel, with those held back by quiet hours."""
    client.force_login(make_staff("pio"))
    response = _reach(client, polygon_geojson=json.dumps(INSIDE_OLD_MILL))
    assert response.status_code == 200
    data = response.json()
    assert (data["subscriptions"], data["messages"], data["total_messages"], data["quiet"]) == (
        2, {"email": 1, "push": 1}, 2, 1
    )  # fmt: skip
    assert data["text"] == (
        "Reaches 2 subscriptions with 2 messages: E-mail 1, Browser notification 1. "
        "1 held back by quiet hours."
    )
    # Two drawn polygons (a MultiPolygon) reach both neighbourhoods.
    data = _reach(client, polygon_geojson=json.dumps(BOTH)).json()
    assert (data["subscriptions"], data["messages"]) == (3, {"email": 2, "push": 1})
    # The category decides too; an area of the jurisdiction is an area like any other.
    data = _reach(client, category="traffic", area_ids=[residents["Old Mill"].pk]).json()
    assert (data["subscriptions"], data["messages"], data["quiet"]) == (1, {"email": 1}, 0)
    data = _reach(client, circle_lat="39.945", circle_lon="-89.345", circle_radius_m="200").json()
    assert (data["subscriptions"], data["messages"]) == (1, {"email": 1})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"polygon_geojson": json.dumps(BOWTIE)}, "The polygon crosses itself"),
        ({}, "Choose an area, or draw a polygon or a circle, first."),
        ({"polygon_geojson": json.dumps({"type": "Polygon", "coordinates": [
            [[-89.36, 39.95], [-89.35, 39.95], [-89.36, 39.95]]]})},
         "The polygon is empty"),
        ({"polygon_geojson": "{not json"}, "The polygon is not valid GeoJSON"),
        ({"circle_lat": "40.5", "circle_lon": "-88.0", "circle_radius_m": "500"},
         "The area lies wholly outside the jurisdiction"),
        ({"circle_lat": "39.955", "circle_lon": "-89.355", "circle_radius_m": "2"},
         "The circle's radius must be between 10 m and 100 km."),
        ({"circle_lat": "north", "circle_lon": "-89.355", "circle_radius_m": "200"},
         "Circle centre latitude: Enter a number."),
        ({"area_ids": ["999999"]}, "Areas: Select a valid choice."),
    ],
    ids=["crosses", "empty", "two-corners", "not-json", "outside", "radius", "nan", "no-area"],
)  # fmt: skip
def test_a_bad_area_gets_a_clear_error_and_changes_nothing(
    client, make_staff, residents, data, message
):
    client.force_login(make_staff("dispatcher"))
    before = (Alert.objects.count(), AlertArea.objects.count(), AuditEntry.objects.count(),
              Subscription.objects.count())  # fmt: skip
    response = _reach(client, **data)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message), response.json()
    after = (Alert.objects.count(), AlertArea.objects.count(), AuditEntry.objects.count(),
             Subscription.objects.count())  # fmt: skip
    assert after == before


def test_an_area_reaching_past_the_jurisdictions_edge_is_fine(client, make_staff, residents):
    client.force_login(make_staff("dispatcher"))
    across = square(-89.365, 39.952, 0.01)  # half in Old Mill, half outside the town
    assert _reach(client, polygon_geojson=json.dumps(across)).status_code == 200


def test_the_composer_without_scripts_refuses_an_area_outside_the_jurisdiction(
    client, make_staff, residents
):
    client.force_login(make_staff("dispatcher"))
    far = {"circle_lat": "40.5", "circle_lon": "-88.0", "circle_radius_m": "500"}
    response = client.post(reverse("console:alert_new"), {**_form(**far), "save": "1"})
    assert response.status_code == 400
    assert "wholly outside the jurisdiction" in response.content.decode()
    assert not Alert.objects.exists()


def test_several_drawn_polygons_are_saved_as_areas_and_come_back_together(
    client, make_staff, residents
):
    """A MultiPolygon from the drawing tool becomes one alert area per polygon; editing the
    draft shows them as one MultiPolygon again."""
    client.force_login(make_staff("dispatcher"))
    fields = _form(circle_lat="", circle_lon="", circle_radius_m="",
                   polygon_geojson=json.dumps(BOTH))  # fmt: skip
    saved = client.post(reverse("console:alert_new"), {**fields, "save": "1"})
    alert = Alert.objects.get()
    assert saved.status_code == 302
    stored = [json.loads(a.polygon_geojson) for a in alert.areas.order_by("id")]
    assert [a["coordinates"] for a in stored] == BOTH["coordinates"]
    assert {a.shape for a in alert.areas.all()} == {"polygon"}
    page = client.get(reverse("console:alert_edit", kwargs={"pk": alert.pk}))
    field = re.search(r'<textarea name="polygon_geojson"[^>]*>\s*(.*?)</textarea>',
                      page.content.decode(), re.S)  # fmt: skip
    assert field is not None
    shown = json.loads(field.group(1).replace("&quot;", '"'))
    assert shown == BOTH


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_map_carries_its_projection_for_the_drawing_tool(
    client, make_staff, residents, language
):
    """Every area is on the map with its id, and the projection's numbers are written out in
    full (never with a decimal comma), so a click turns back into longitude/latitude."""
    client.cookies["django_language"] = language
    client.force_login(make_staff("dispatcher"))
    page = client.get(reverse("console:alert_new")).content.decode()
    ids = {int(i) for i in re.findall(r'data-area-id="(\d+)"', page)}
    assert ids == {a.pk for a in residents.values()}
    numbers = {
        name: float(value)
        for name, value in re.findall(r'data-(min-lon|max-lat|squash|scale)="([-0-9.e]+)"', page)
    }
    assert set(numbers) == {"min-lon", "max-lat", "squash", "scale"}
    west, south, east, north = -89.36, 39.94, -89.34, 39.96
    expected = Projection((west, south, east, north), 0.03)
    assert numbers == {"min-lon": expected.min_lon, "max-lat": expected.max_lat,
                       "squash": expected.squash, "scale": expected.scale}  # fmt: skip
    x, y = expected.xy(-89.355, 39.955)
    assert expected.lonlat(x, y) == pytest.approx((-89.355, 39.955), abs=1e-12)
    assert 'id="composer-config"' in page and "alerts/composer.js" in page


def test_the_server_counts_extension_characters_as_two_septets(client, make_staff):
    client.force_login(make_staff("pio"))
    sms = "Closed [1st-3rd] €5 fine"  # 24 characters, 27 septets
    preview = client.post(reverse("console:alert_new"),
                          {**_form(en_sms_text=sms), "preview": "1"})  # fmt: skip
    assert "27 / 160" in preview.content.decode()
    emoji = "Closed \U0001f6a7"  # UCS-2: 7 + 2 units, one part of 70
    preview = client.post(reverse("console:alert_new"),
                          {**_form(en_sms_text=emoji), "preview": "1"})  # fmt: skip
    assert "9 / 70" in preview.content.decode()
