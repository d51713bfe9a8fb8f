"""Recipient resolution: geometry, categories, quiet hours, languages, one message per
person and channel; equal to a brute-force count over thousands of random subscriptions."""

from __future__ import annotations

import json
from datetime import time, timedelta

import numpy as np
import pytest
import shapely
from django.utils import timezone

from tests.alerts.conftest import circle, drain, info, point, queued, subscribe
from watchhouse.alerts.services import alert_issue, alert_issue_update
from watchhouse.alerts.validation import AreaSpec, area_build
from watchhouse.audit.models import AuditEntry
from watchhouse.geo.distance import haversine_m
from watchhouse.notify.models import (
    Delivery,
    Endpoint,
    PlaceKind,
    Subscription,
    SubscriptionPlace,
)
from watchhouse.notify.selectors import alert_reach, subscriptions_matching
from watchhouse.notify.services import PlaceSpec, _place_build, deliveries_create

pytestmark = pytest.mark.django_db

# An irregular five-sided alert area across the town's middle.
PENTAGON = {"type": "Polygon", "coordinates": [[
    [-89.357, 39.944], [-89.343, 39.946], [-89.341, 39.956], [-89.350, 39.962],
    [-89.359, 39.953], [-89.357, 39.944]]]}  # fmt: skip


def _issue(make_alert, make_staff, **kwargs):
    pio = make_staff("pio")
    return alert_issue(actor=pio, alert=make_alert(pio, **kwargs))


def test_deliveries_are_written_once_per_person_and_channel(
    make_alert, make_staff, django_capture_on_commit_callbacks
):
    """Inside the circle: a delivery; outside: none; a person with two matching places or
    two subscriptions of the same address gets one; re-running writes nothing new."""
    near = subscribe(point(39.955, -89.355), point(39.9551, -89.3551), email="near@example.org")
    subscribe(point(39.9552, -89.3552), email="NEAR@example.org")  # same person again
    far = subscribe(point(39.90, -89.30), email="far@example.org")
    unconfirmed = subscribe(point(39.955, -89.355), email="later@example.org", confirmed=False)
    alert = _issue(make_alert, make_staff)
    with django_capture_on_commit_callbacks(execute=True):
        report = deliveries_create(alert_id=alert.pk)
    assert (report.subscriptions, report.created) == (2, 1)
    delivery = Delivery.objects.get()
    assert (delivery.subscription_id, delivery.channel, delivery.status) == (
        near.pk,
        "email",
        "queued",
    )
    assert delivery.idempotency_key == f"{alert.pk}:{delivery.endpoint_id}"
    assert not Delivery.objects.filter(subscription__in=[far, unconfirmed]).exists()
    entry = AuditEntry.objects.get(action="notify.deliveries_create")
    assert entry.data["created"] == 1 and entry.actor_id is None
    assert queued("send_deliveries_task") == [[[delivery.pk]]]
    with django_capture_on_commit_callbacks(execute=True):
        again = deliveries_create(alert_id=alert.pk)
    assert again.created == 0 and Delivery.objects.count() == 1


def test_categories_quiet_hours_and_languages(make_alert, make_staff):
    """Only wanted categories; quiet hours hold back all but Alerts; each gets their
    language when the alert has it."""
    here = point(39.955, -89.355)
    now = timezone.localtime()
    quiet = {"quiet_start": (now - timedelta(hours=1)).time(),
             "quiet_end": (now + timedelta(hours=1)).time()}  # fmt: skip
    wants_traffic = subscribe(here, categories=("traffic",))
    sleeping = subscribe(here, categories=("advisory", "alert"), **quiet)
    spanish = subscribe(here, language="es")
    awake = subscribe(here, **{"quiet_start": time(3, 0), "quiet_end": time(3, 0)})
    shape = area_build(circle()).shapely_geometry
    languages, held = subscriptions_matching(shape, category="advisory")
    assert set(languages) == {spanish.pk, awake.pk} and held == {sleeping.pk}
    assert languages[spanish.pk] == "es"
    languages, held = subscriptions_matching(shape, category="alert")
    assert set(languages) == {sleeping.pk, spanish.pk, awake.pk} and held == set()
    languages, _ = subscriptions_matching(shape, category="traffic")
    assert set(languages) == {wants_traffic.pk}
    alert = _issue(make_alert, make_staff,
                   infos=[info(), info(language="es", headline="Calle Main cerrada")])  # fmt: skip
    deliveries_create(alert_id=alert.pk)
    assert dict(Delivery.objects.values_list("subscription_id", "language")) == {
        spanish.pk: "es",
        awake.pk: "en",
    }


def test_area_and_jurisdiction_places(make_alert, make_staff, town):
    """A neighbourhood place matches when the alert area reaches into it; the whole
    jurisdiction always matches."""
    in_old_mill = subscribe(PlaceSpec(kind="area", area_id=town["Old Mill"].pk))
    in_linden = subscribe(PlaceSpec(kind="area", area_id=town["Linden Hill"].pk))
    everywhere = subscribe(PlaceSpec(kind="jurisdiction"))
    shape = area_build(circle(39.955, -89.355, 200)).shapely_geometry  # inside Old Mill
    languages, _ = subscriptions_matching(shape, category="alert")
    assert set(languages) == {in_old_mill.pk, everywhere.pk}
    assert in_linden.pk not in languages
    reach = alert_reach(shape, category="alert")
    assert (reach.subscriptions, reach.messages, reach.total_messages) == (2, {"email": 2}, 2)


def test_an_update_reaches_everyone_the_alert_reached(make_alert, make_staff):
    """The all-clear goes to everyone the first message went to, even if its area shrank."""
    pio = make_staff("pio")
    edge = subscribe(point(39.9575, -89.355))  # about 280 m north of the centre
    centre = subscribe(point(39.955, -89.355))
    first = alert_issue(actor=pio, alert=make_alert(pio, areas=[circle(radius_m=400)]))
    deliveries_create(alert_id=first.pk)
    Delivery.objects.update(status="sent", sent_at=timezone.now())
    update = alert_issue_update(
        actor=pio, alert=first, infos=[info(headline="All clear")], areas=[circle(radius_m=10)]
    )
    deliveries_create(alert_id=update.pk)
    assert set(Delivery.objects.filter(alert=update).values_list("subscription_id", flat=True)) == {
        edge.pk,
        centre.pk,
    }


def _brute_force(shape, lats, lons, radii):
    """Reached when the centre is inside, or the haversine distance to a densified boundary
    is within the radius; None when too close to call (within 1 %)."""
    outline = shapely.segmentize(shape.boundary, 0.00003)
    coords = shapely.get_coordinates(outline)
    answers = []
    for lat, lon, radius in zip(lats, lons, radii, strict=True):
        if shape.covers(shapely.Point(lon, lat)):
            answers.append(True)
            continue
        distance = float(np.min(haversine_m(lat, lon, coords[:, 1], coords[:, 0])))
        answers.append(None if abs(distance - radius) < 0.01 * radius else distance <= radius)
    return answers


def test_resolution_equals_brute_force_on_random_subscriptions(town):
    """Over 3,000 random point, area and jurisdiction places, the matching subscriptions are
    exactly those a brute-force shapely/haversine test finds."""
    rng = np.random.default_rng(7)
    n = 3000
    lats = rng.uniform(39.80, 40.10, n)
    lons = rng.uniform(-89.55, -89.15, n)
    radii = rng.uniform(402.4, 16000.0, n)
    kinds = rng.choice(["point"] * 8 + ["area", "jurisdiction"], n)
    area_ids = [a.pk for a in town.values()]
    subs = Subscription.objects.bulk_create(
        Subscription(status="active", want_alert=True) for _ in range(n)
    )
    places = []
    for sub, kind, lat, lon, radius in zip(subs, kinds, lats, lons, radii, strict=True):
        spec = (
            PlaceSpec(kind="point", lat=lat, lon=lon, radius_m=radius)
            if kind == "point"
            else PlaceSpec(kind=str(kind), area_id=int(rng.choice(area_ids)))
        )
        place = _place_build(spec)
        place.subscription = sub
        places.append(place)
    SubscriptionPlace.objects.bulk_create(places)
    shape = area_build(AreaSpec(polygon_geojson=json.dumps(PENTAGON))).shapely_geometry
    languages, _ = subscriptions_matching(shape, category="alert")
    area_hit = {a.pk: a.shape.intersects(shape) for a in town.values()}
    expected, unsure = set(), 0
    point_places = [(p.subscription.pk, p) for p in places if p.kind == PlaceKind.POINT]
    brute = _brute_force(
        shape,
        [p.lat for _, p in point_places],
        [p.lon for _, p in point_places],
        [p.radius_m for _, p in point_places],
    )
    for (sub_id, _), answer in zip(point_places, brute, strict=True):
        if answer is None:
            unsure += 1
            languages.pop(sub_id, None)
        elif answer:
            expected.add(sub_id)
    for place in places:
        if place.kind == PlaceKind.JURISDICTION or (
            place.kind == PlaceKind.AREA and area_hit[place.area_id]
        ):
            expected.add(place.subscription.pk)
    assert unsure < n * 0.02
    assert len(expected) > 300
    assert set(languages) == expected


def test_disabled_and_unsubscribed_get_nothing(make_alert, make_staff):
    here = point(39.955, -89.355)
    gone = subscribe(here)
    Endpoint.objects.filter(subscription=gone).update(disabled_at=timezone.now())
    left = subscribe(here)
    Subscription.objects.filter(pk=left.pk).update(status="unsubscribed")
    kept = subscribe(here)
    alert = _issue(make_alert, make_staff)
    deliveries_create(alert_id=alert.pk)
    assert list(Delivery.objects.values_list("subscription_id", flat=True)) == [kept.pk]
    drain()
