"""The crime digest: its windows, its counts against a separate computation over the stored
rows, its privacy, the e-mail through a real SMTP server on loopback (once per period, again
after a worker dies, kept when the server refuses), and the area pages and subscribe form.

"Today" is Wednesday 11 March 2026: the week is 2–8 March (the week before: 23 February to
1 March) and the month is February (the month before: January).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from tests.alerts.conftest import committed, drain, subscribe
from tests.crimemap.conftest import row
from tests.notify.loopback import SmtpServer, smtp_settings
from watchhouse.audit.models import AuditEntry
from watchhouse.crimemap.digest import (
    area_digest,
    digest_window,
    digests_due,
    place_digest,
)
from watchhouse.crimemap.models import Incident
from watchhouse.crimemap.rollups import rollups_refresh
from watchhouse.crimemap.services import incidents_import
from watchhouse.geo.models import Area
from watchhouse.notify.models import DigestDelivery, Subscription, SubscriptionPlace
from watchhouse.notify.services import PlaceSpec

pytestmark = pytest.mark.django_db

TODAY = "2026-03-11"
HOME = (38.615, -90.295)  # 1915 Olive St, North West
QUARTER_MILE = 402.336
ROWS = [
    row("c1", when="2026-03-03 10:00"),
    row("c2", when="2026-03-04 22:15", address="1920 Olive St", lat="38.6151", lon="-90.2951"),
    row("c3", when="2026-03-05 09:00", address="4400 Far Ave", lat="38.605", lon="-90.285",
        hood="South East"),
    row("c4", when="2026-03-06 23:00", code="NEIGHBOUR DISPUTE", label="DISPUTE"),
    row("c5", when="2026-02-25 12:00"),
    row("c6", when="2026-02-10 12:00", address="1950 Olive St", lat="38.6152", lon="-90.2949"),
    row("c7", when="2026-03-09 08:00"),
]  # fmt: skip


@pytest.fixture
def incidents(grid, write_export, mapping_file):
    report = incidents_import(
        actor=None, path=write_export(ROWS), format="mapping", mapping=mapping_file,
        jurisdiction="Grid City",
    )  # fmt: skip
    assert (report.incidents_created, report.rows_rejected) == (7, 0)
    rollups_refresh(source_id=report.source_id)
    return {a.name: a for a in Area.objects.filter(jurisdiction=grid)}


@pytest.fixture
def smtp(settings) -> Iterator[SmtpServer]:
    with SmtpServer(refuse={"later@example.org": "451 4.3.0 Try again later"}) as server:
        smtp_settings(settings, server, site_url="https://police.example")
        yield server


def _home(miles: float = 0.25) -> PlaceSpec:
    return PlaceSpec(kind="point", lat=HOME[0], lon=HOME[1], radius_m=miles * 1609.344,
                     label="Home")  # fmt: skip


def _digest_subscriber(*places: PlaceSpec, period: str = "week", **kwargs) -> Subscription:
    return subscribe(*places, categories=("alert", "crime_digest"), digest_period=period,
                     **kwargs)  # fmt: skip


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance, written here apart from the code under test."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


@pytest.mark.parametrize(
    ("period", "today", "first", "last"),
    [
        ("week", "2026-03-11", "2026-03-02", "2026-03-08"),
        ("week", "2026-03-09", "2026-03-02", "2026-03-08"),  # a Monday: the week just ended
        ("week", "2026-03-08", "2026-02-23", "2026-03-01"),  # a Sunday: its week is not over
        ("month", "2026-03-11", "2026-02-01", "2026-02-28"),
        ("month", "2026-01-01", "2025-12-01", "2025-12-31"),
        ("month", "2024-03-31", "2024-02-01", "2024-02-29"),
    ],
)
def test_the_window_is_the_last_whole_week_or_month(period, today, first, last):
    window = digest_window(period, date.fromisoformat(today))
    assert (window.first_day.isoformat(), window.last_day.isoformat()) == (first, last)
    before = window.before()
    assert before.last_day == window.first_day - timedelta(days=1)
    assert before.period == period


def test_an_unknown_period_is_refused():
    from watchhouse.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="Unknown digest period 'year'"):
        digest_window("year", date(2026, 3, 11))


def test_a_point_digest_counts_public_points_within_the_radius(incidents):
    window = digest_window("week", date.fromisoformat(TODAY))
    subscription = _digest_subscriber(_home())
    place = SubscriptionPlace.objects.get(subscription=subscription)
    digest = place_digest(window, place)
    # The same figure computed apart: public incidents of the week whose public point is
    # within a quarter mile, by a haversine written in this test.
    public = Incident.objects.filter(
        withheld=False, occurred_date__range=(window.first_day, window.last_day)
    ).values_list("record_id", "public_lat", "public_lon")
    near = {rid for rid, lat, lon in public if _metres(*HOME, lat, lon) <= QUARTER_MILE}
    assert near == {"c1", "c2"}
    assert digest.total == len(near)
    assert digest.before == 1  # c5, the week before
    assert digest.by_category == [("Theft", 2)]
    assert digest.blocks == [("19XX OLIVE ST", 2)]
    # The withheld dispute has no public point: one number for the neighbourhood.
    assert (digest.withheld, digest.withheld_area) == (1, "North West")
    assert digest.label == "0.25 miles around Home"


def test_area_and_jurisdiction_digests_count_withheld_incidents_without_placing_them(
    incidents,
):
    window = digest_window("week", date.fromisoformat(TODAY))
    north_west = area_digest(window, incidents["North West"])
    assert (north_west.total, north_west.before, north_west.withheld) == (3, 1, 1)
    assert dict(north_west.by_category) == {"Theft": 2, "Public order": 1}
    assert north_west.blocks == [("19XX OLIVE ST", 2)]  # the dispute has no block
    everywhere = area_digest(window, None)
    assert (everywhere.total, everywhere.before) == (4, 1)
    month = area_digest(digest_window("month", date.fromisoformat(TODAY)), incidents["North West"])
    assert (month.total, month.before) == (2, 0)


def _mail_text(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_digests_are_mailed_once_per_period_with_an_unsubscribe_link(incidents, smtp):
    weekly = _digest_subscriber(_home(), email="weekly@example.org")
    monthly = _digest_subscriber(
        PlaceSpec(kind="area", area_id=incidents["North West"].pk), period="month",
        email="monthly@example.org",
    )  # fmt: skip
    subscribe(_home(), email="alerts-only@example.org")  # no digest asked for
    subscribe(_home(), email="unconfirmed@example.org", categories=("crime_digest",),
              confirmed=False)  # fmt: skip
    with freeze_time(TODAY):
        call_command("send-crime-digests")
        with committed():
            drain()
    by_address = {m["To"]: m for m in smtp.messages}
    assert sorted(by_address) == ["monthly@example.org", "weekly@example.org"]
    week = by_address["weekly@example.org"]
    assert week["Subject"] == "Crime digest, 2026-03-02 – 2026-03-08"
    text = _mail_text(week)
    assert "0.25 miles around Home" in text
    assert "2 incidents reported; 1 in the period before" in text
    assert "Theft: 2" in text and "19XX OLIVE ST (2)" in text
    assert "1 further incident in North West is of a kind that could identify its victim" in text
    # No house number of any incident reaches the resident.
    assert not any(number in text for number in ("1915", "1920", "1950", "4400"))
    assert (
        week["List-Unsubscribe"]
        .strip()
        .startswith("<https://police.example/subscribe/unsubscribe/")
    )
    assert week["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://police.example/crime/?from=2026-03-02&to=2026-03-08" in text
    month = by_address["monthly@example.org"]
    assert month["Subject"] == "Crime digest, 2026-02-01 – 2026-02-28"
    assert "2 incidents reported; 0 in the period before" in _mail_text(month)
    assert DigestDelivery.objects.filter(status="sent").count() == 2
    queued = AuditEntry.objects.filter(action="notify.digests_queue").order_by("id")
    assert [(e.data["period"], e.data["queued"]) for e in queued] == [("week", 1), ("month", 1)]
    assert "weekly@example.org" not in str([e.data for e in queued])
    assert {d.subscription_id for d in DigestDelivery.objects.all()} == {weekly.pk, monthly.pk}
    # Running again the same day, or any day of the same week, sends nothing more.
    with freeze_time("2026-03-14"):
        call_command("send-crime-digests")
        with committed():
            drain()
    assert len(smtp.messages) == 2


def test_a_digest_left_sending_by_a_dead_worker_is_sent_after_the_lease(incidents, smtp, settings):
    _digest_subscriber(_home(), email="weekly@example.org")
    with freeze_time(TODAY):
        call_command("send-crime-digests", "--period", "week")
    (digest,) = DigestDelivery.objects.all()
    # A worker claimed it and died before sending: nobody may send it while its lease runs.
    DigestDelivery.objects.filter(pk=digest.pk).update(
        status="sending", claimed_at=timezone.now(), provider_id="claim:dead", attempts=1
    )
    assert digests_due() == []
    with committed():
        drain()
    assert smtp.messages == []
    # Once the lease has passed, the next run hands it on and it goes out once.
    DigestDelivery.objects.filter(pk=digest.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.WATCHHOUSE_WORKER_LEASE_SECONDS + 1)
    )
    call_command("send-crime-digests", "--period", "week", "--today", TODAY)
    with committed():
        drain()
    assert [m["To"] for m in smtp.messages] == ["weekly@example.org"]
    digest.refresh_from_db()
    assert (digest.status, digest.attempts) == ("sent", 2)


def test_a_refusing_mail_server_keeps_the_digest_queued(incidents, smtp):
    _digest_subscriber(_home(), email="later@example.org")
    from watchhouse.crimemap.tasks import DigestsNotSentError, send_digests_task

    with freeze_time(TODAY):
        call_command("send-crime-digests", "--period", "week")
    ids = digests_due()
    with pytest.raises(DigestsNotSentError, match="1 digest"):
        send_digests_task.call(ids)
    digest = DigestDelivery.objects.get()
    assert digest.status == "queued"
    assert "451" in digest.error
    smtp.refuse.clear()
    assert send_digests_task.call(ids)["sent"] == 1
    assert [m["To"] for m in smtp.messages] == ["later@example.org"]


def test_unsubscribing_skips_a_queued_digest(incidents, smtp, client):
    from watchhouse.notify.links import manage_token

    subscription = _digest_subscriber(_home(), email="weekly@example.org")
    with freeze_time(TODAY):
        call_command("send-crime-digests", "--period", "week")
    token = manage_token(subscription.public_id)
    client.post(reverse("notify:unsubscribe", kwargs={"token": token}))
    with committed():
        drain()
    assert smtp.messages == []
    assert DigestDelivery.objects.get().status == "skipped"


def test_a_bad_date_is_refused_and_queues_nothing(incidents):
    _digest_subscriber(_home())
    with pytest.raises(CommandError, match="'31/02/2026' is not a date"):
        call_command("send-crime-digests", "--today", "31/02/2026")
    assert not DigestDelivery.objects.exists()


def test_the_subscribe_form_offers_the_digest_weekly_or_monthly(client, grid):
    from django.core.cache import cache

    cache.clear()
    page = client.get(reverse("notify:subscribe")).content.decode()
    assert "Crime digest" in page and 'name="digest_period"' in page
    with committed():
        client.post(reverse("notify:subscribe"), {
            "lat": "38.615", "lon": "-90.295", "radius": "0.5",
            "categories": ["alert", "crime_digest"], "digest_period": "month",
            "language": "en", "email": "vecina@example.org",
        })  # fmt: skip
    subscription = Subscription.objects.get()
    assert (subscription.want_crime_digest, subscription.digest_period) == (True, "month")
    bad = client.post(reverse("notify:subscribe"), {
        "lat": "38.615", "lon": "-90.295", "radius": "0.5", "categories": ["crime_digest"],
        "digest_period": "year", "language": "en", "email": "other@example.org",
    })  # fmt: skip
    assert "Select a valid choice" in bad.content.decode()
    assert Subscription.objects.count() == 1


def test_the_area_pages_show_last_week_and_last_month(incidents, client):
    north_west = incidents["North West"]
    with freeze_time(TODAY):
        crime_page = client.get(reverse("crime:area", args=[north_west.pk])).content.decode()
        area_page = client.get(north_west.get_absolute_url()).content.decode()
    for page in (crime_page, area_page):
        assert "Last week and last month" in page
        assert "3 incidents reported." in page  # the week of 2–8 March
        assert "2 incidents reported." in page  # February
        assert "1 of them is of a kind that could identify its victim" in page
        assert "1915 Olive" not in page


def test_a_custom_area_counts_the_public_points_inside_it(incidents, tmp_path):
    import json

    from tests.crimemap.conftest import square
    from watchhouse.geo.services import area_import

    # A small square around Olive Street: c1 and c2 (and the dispute, which has no point).
    path = tmp_path / "olive.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "Olive corridor"},
        "geometry": {"type": "Polygon", "coordinates": square(-90.2960, 38.6140, 0.002)},
    }]}), encoding="utf-8")  # fmt: skip
    area_import(actor=None, kind="custom", path=path, jurisdiction="Grid City")
    corridor = Area.objects.get(name="Olive corridor")
    digest = area_digest(digest_window("week", date.fromisoformat(TODAY)), corridor)
    assert (digest.total, digest.before, digest.withheld) == (2, 1, 0)
    assert digest.notes == ["Only incidents with a public point inside the area are counted."]


def test_a_digest_is_written_in_the_subscribers_language(incidents, smtp):
    _digest_subscriber(_home(0.5), email="vecina@example.org", language="es")
    with freeze_time(TODAY):
        call_command("send-crime-digests", "--period", "week")
        with committed():
            drain()
    (mail,) = smtp.messages
    assert mail["Subject"] == "Resumen de delitos, 2026-03-02 – 2026-03-08"
    text = _mail_text(mail)
    assert "2 incidentes denunciados; 1 en el período anterior" in text
    assert "Hurto: 2" in text
    assert "0,5 millas alrededor de Home" in text
