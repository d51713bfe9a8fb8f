"""Recipient resolution inside the database (one INSERT … SELECT) gives exactly the rows the
portable Python path gives, on whichever database the suite runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Any

import numpy as np
import pytest
from django.db import connection, transaction
from django.utils import timezone
from freezegun import freeze_time

from tests.alerts.conftest import fields, info, point, subscribe, town_create
from watchhouse.alerts.services import alert_approve, alert_create, alert_issue, alert_submit
from watchhouse.alerts.validation import AreaSpec, areas_union
from watchhouse.notify import resolve
from watchhouse.notify.models import (
    Delivery,
    Endpoint,
    Subscription,
    SubscriptionPlace,
    address_key,
)
from watchhouse.notify.selectors import subscriptions_matching
from watchhouse.notify.services import PlaceSpec, _place_build, deliveries_create

pytestmark = pytest.mark.django_db

PENTAGON = {"type": "Polygon", "coordinates": [[
    [-89.357, 39.944], [-89.343, 39.946], [-89.341, 39.956], [-89.350, 39.962],
    [-89.359, 39.953], [-89.357, 39.944]]]}  # fmt: skip


@pytest.fixture
def issue(make_staff: Any) -> Any:
    """Issue an alert over the pentagon (category as given) and return it."""

    def run(category: str = "advisory") -> Any:
        author = make_staff("dispatcher")
        alert = alert_create(
            actor=author, fields=fields(category=category), infos=[info()],
            areas=[AreaSpec(description="Pentagon", polygon_geojson=json.dumps(PENTAGON))],
        )  # fmt: skip
        if category == "alert":  # the two-person rule
            alert_submit(actor=author, alert=alert)
            return alert_approve(actor=make_staff("supervisor"), alert=alert)
        return alert_issue(actor=author, alert=alert)

    return run


def _rows(alert_id: int) -> set[tuple[int, int, str, str, str]]:
    return set(
        Delivery.objects.filter(alert_id=alert_id).values_list(
            "endpoint_id", "subscription_id", "channel", "language", "status"
        )
    )


def _random_subscriptions(tmp_path: Any, n: int = 1500) -> None:
    """Point, area and jurisdiction places around the pentagon, with radii from a quarter
    mile to ten miles, some quiet at night, some in Spanish, some unconfirmed, a quarter with
    text messages too."""
    town = town_create(tmp_path)
    rng = np.random.default_rng(11)
    lats = rng.uniform(39.90, 40.00, n)
    lons = rng.uniform(-89.42, -89.28, n)
    radii = np.where(rng.uniform(0, 1, n) < 0.2, rng.uniform(402.4, 16000.0, n), 402.4)
    kinds = rng.choice(["point"] * 8 + ["area", "jurisdiction"], n)
    area_ids = [a.pk for a in town.values()]
    subs = Subscription.objects.bulk_create(
        Subscription(
            status="active" if i % 13 else "pending",
            want_advisory=bool(i % 7),
            language="es" if i % 5 == 0 else "en",
            quiet_start=time(22, 0) if i % 3 == 0 else None,
            quiet_end=time(6, 0) if i % 3 == 0 else None,
        )
        for i in range(n)
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
    now = timezone.now()
    # Every tenth person subscribed twice with the same address in other case.
    addresses = [
        f"{'P' if i % 20 == 10 else 'p'}erson{i - i % 20 if i % 20 == 10 else i}@example.org"
        for i in range(len(subs))
    ]
    Endpoint.objects.bulk_create(
        Endpoint(
            subscription=sub, channel="email", address=address,
            address_key=address_key("email", address), confirmed_at=now if i % 11 else None,
        )
        for i, (sub, address) in enumerate(zip(subs, addresses, strict=True))
    )  # fmt: skip
    Endpoint.objects.bulk_create(
        Endpoint(
            subscription=sub, channel="sms", address=f"+1217555{i:04d}",
            address_key=address_key("sms", f"+1217555{i:04d}"), confirmed_at=now,
        )
        for i, sub in enumerate(subs)
        if i % 4 == 0
    )  # fmt: skip
    assert Endpoint.objects.mark_shared() == 2 * 75


def test_sql_path_writes_what_the_python_path_writes(issue, tmp_path, monkeypatch):
    """Over 1,500 random places (radii up to ten miles, areas, the jurisdiction, quiet
    hours, languages, unconfirmed endpoints, one address in two subscriptions), the single
    statement and the Python path write the same deliveries and count the same people."""
    _random_subscriptions(tmp_path)
    alert = issue()
    # At night, when a third of them are in quiet hours, whenever the suite runs.
    night = timezone.make_aware(datetime.combine(timezone.localdate(), time(23, 30)))
    with freeze_time(night):
        sql_report = deliveries_create(alert_id=alert.pk)
        by_sql = _rows(alert.pk)
        Delivery.objects.all().delete()
        monkeypatch.setattr(resolve, "SUPPORTED_VENDORS", frozenset())
        python_report = deliveries_create(alert_id=alert.pk)
        by_python = _rows(alert.pk)
    assert connection.vendor in {"sqlite", "postgresql"}
    assert len(by_sql) > 200
    assert sql_report.quiet > 50
    assert by_sql == by_python
    assert (sql_report.subscriptions, sql_report.quiet, sql_report.created) == (
        python_report.subscriptions,
        python_report.quiet,
        python_report.created,
    )


@pytest.mark.parametrize(
    ("local", "held"),
    [(time(23, 30), True), (time(5, 59), True), (time(6, 0), False), (time(12, 0), False)],
)
def test_quiet_hours_across_midnight_hold_back_in_sql(issue, local, held):
    """Quiet hours from 22:00 to 06:00 hold an Advisory back at 23:30 and 05:59, not at 06:00
    or noon, exactly as the Python rule says."""
    sleeper = subscribe(point(39.952, -89.350), quiet_start=time(22, 0), quiet_end=time(6, 0))
    alert = issue()
    at = timezone.make_aware(datetime.combine(timezone.localdate(), local))
    shape = areas_union(list(alert.areas.all()))
    _, quiet = subscriptions_matching(shape, category="advisory", at=at)
    inserted = resolve.deliveries_insert(
        shape, alert_id=alert.pk, category="advisory", at=at, queued_at=at
    )
    assert inserted is not None
    assert (sleeper.pk in quiet, inserted.quiet, inserted.created) == (held, int(held), 1 - held)


def test_alerts_break_through_quiet_hours_in_sql(issue):
    """An Alert reaches a resident in quiet hours."""
    subscribe(point(39.952, -89.350), quiet_start=time(0, 0), quiet_end=time(23, 59))
    alert = issue("alert")
    report = deliveries_create(alert_id=alert.pk)
    assert (report.quiet, report.created) == (0, 1)


def test_running_twice_writes_nothing_new(issue):
    """The second run finds the rows already there (the idempotency key is unique)."""
    for k in range(5):
        subscribe(point(39.950 + k * 0.001, -89.350))
    alert = issue()
    first = deliveries_create(alert_id=alert.pk)
    second = deliveries_create(alert_id=alert.pk)
    assert (first.created, second.created, second.deliveries) == (5, 0, 5)
    assert Delivery.objects.count() == 5


def test_other_databases_take_the_python_path(issue, monkeypatch):
    """A database the statement does not know gets no SQL of it, and the same rows."""
    subscribe(point(39.952, -89.350), email="a@example.org")
    subscribe(point(39.952, -89.350), email="A@example.org")
    monkeypatch.setattr(resolve, "SUPPORTED_VENDORS", frozenset())
    alert = issue()
    assert resolve.deliveries_insert(
        areas_union(list(alert.areas.all())), alert_id=alert.pk, category="advisory",
        at=timezone.now(), queued_at=timezone.now(),
    ) is None  # fmt: skip
    report = deliveries_create(alert_id=alert.pk)
    assert (report.subscriptions, report.created) == (2, 1)


def _statements_sent_while_resolving(issue: Any) -> list[str]:
    """Resolve one alert for one subscriber and return every SQL statement sent meanwhile."""
    sent: list[str] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    subscribe(point(39.952, -89.350), email="a@example.org")
    alert = issue()
    with connection.execute_wrapper(watch):
        deliveries_create(alert_id=alert.pk)
    assert Delivery.objects.filter(alert=alert).count() == 1
    return sent


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_postgresql_commits_the_resolve_without_waiting_for_the_flush_only(issue, monkeypatch):
    """On PostgreSQL the resolving transaction, and only it, commits without waiting for its
    WAL flush: the setting is off while the rows are written and on again after commit; a
    resolve inside a caller's transaction leaves the caller's commit alone."""
    if connection.vendor != "postgresql":
        # Other databases are sent no such setting.
        sent = _statements_sent_while_resolving(issue)
        assert not [sql for sql in sent if "synchronous_commit" in sql]
        return
    from watchhouse.notify import services

    subscribe(point(39.952, -89.350), email="a@example.org")
    seen: list[str] = []
    real = services.deliveries_insert

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(_synchronous_commit())
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "deliveries_insert", spy)
    alert = issue()
    assert _synchronous_commit() == "on"
    seen.clear()
    deliveries_create(alert_id=alert.pk)
    assert seen == ["off"]
    assert _synchronous_commit() == "on"
    assert Delivery.objects.filter(alert=alert).count() == 1
    with transaction.atomic():
        deliveries_create(alert_id=alert.pk)
        assert seen[-1] == "on"
    assert _synchronous_commit() == "on"


def test_only_postgresql_is_told_not_to_wait_for_the_flush():
    with transaction.atomic():
        assert resolve.commit_without_flush_wait() is (connection.vendor == "postgresql")


def test_working_memory_is_enlarged_for_the_resolve_only(issue):
    """The deliveries are written with a large SQLite page cache or PostgreSQL work_mem, and
    the connection gets its own setting back."""
    if connection.vendor == "sqlite":
        query, big = "PRAGMA cache_size", str(-resolve.RESOLVE_CACHE_KIB)
    else:
        query, big = "SHOW work_mem", f"{resolve.RESOLVE_CACHE_KIB // 1024}MB"

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute(query)
            return str(cursor.fetchone()[0])

    seen: list[str] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("INSERT") and '"notify_delivery"' in sql:
            seen.append(setting())
        return execute(sql, params, many, context)

    subscribe(point(39.952, -89.350), email="a@example.org")
    alert = issue()
    before = setting()
    with transaction.atomic(), connection.execute_wrapper(watch):
        deliveries_create(alert_id=alert.pk)
        after = setting()
    assert seen == [big]
    assert after == before != big
    assert Delivery.objects.filter(alert=alert).count() == 1


def _resolve_after_rows_written_meanwhile(issue: Any, monkeypatch: Any) -> tuple[Any, Any, Any]:
    """Resolve an alert, delete two of its rows, and resolve again as a resolver that looked
    before those rows were written; the report and rows of the rerun, and the first rows."""
    for n in range(4):
        subscribe(point(39.952, -89.350 + n * 1e-4), email=f"r{n}@example.org")
    alert = issue()
    deliveries_create(alert_id=alert.pk)
    written = _rows(alert.pk)
    Delivery.objects.filter(pk__in=Delivery.objects.filter(alert=alert).values("pk")[:2]).delete()
    monkeypatch.setattr(resolve, "_no_deliveries_yet", lambda alert_id: True)
    report = deliveries_create(alert_id=alert.pk)
    return report, _rows(alert.pk), written


def test_a_resolver_that_finds_rows_written_meanwhile_skips_them(issue, monkeypatch):
    """Another resolver of the same alert wrote rows after this one looked: the plain
    INSERT stops at the unique constraint, and the rerun writes only the missing rows."""
    report, rows, written = _resolve_after_rows_written_meanwhile(issue, monkeypatch)
    assert report.created == 2
    assert rows == written


def test_deliveries_go_with_their_endpoint_and_hold_their_alert(issue):
    """The delivery table's references are kept by Django: a deleted endpoint or
    subscription takes its deliveries along, and an alert that has any cannot be deleted."""
    from django.db.models import ProtectedError

    for n in range(3):
        subscribe(point(39.952, -89.350 + n * 1e-4), email=f"d{n}@example.org")
    alert = issue()
    deliveries_create(alert_id=alert.pk)
    first, second, third = Delivery.objects.filter(alert=alert).order_by("pk")
    Endpoint.objects.filter(pk=first.endpoint_id).delete()
    Subscription.objects.filter(pk=second.subscription_id).delete()
    assert list(Delivery.objects.filter(alert=alert)) == [third]
    with pytest.raises(ProtectedError):
        alert.delete()
    assert Delivery.objects.filter(alert=alert).count() == 1


def test_ring_cells_bound_the_distance_of_every_point_in_them():
    """Each cell around an area holds only points whose distance to the area, measured as
    the exact test measures it, lies between the cell's bounds."""
    import h3
    import shapely

    from watchhouse.geo.points import CELL_RESOLUTION
    from watchhouse.notify.selectors import _local_metres, reach_ring

    area = shapely.Polygon([(-89.36, 39.95), (-89.34, 39.95), (-89.345, 39.962), (-89.36, 39.958)])
    ring = {c.cell: c for c in reach_ring(area, max_radius_m=3000)}
    rng = np.random.default_rng(5)
    lats = rng.uniform(39.90, 40.01, 20_000)
    lons = rng.uniform(-89.42, -89.28, 20_000)
    transformer = _local_metres(area)
    area_m = shapely.transform(
        area, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    x, y = transformer.transform(lons, lats)
    distances = shapely.distance(area_m, shapely.points(x, y))
    checked = 0
    for lat, lon, distance in zip(lats, lons, distances, strict=True):
        cell = ring.get(h3.latlng_to_cell(lat, lon, CELL_RESOLUTION))
        if cell is None:
            # A point in no ring cell is farther than the largest radius asked for.
            assert distance > 3000
            continue
        assert cell.near_m <= distance <= cell.far_m
        checked += 1
    assert checked > 5_000


def test_an_address_in_two_subscriptions_gets_one_message(issue):
    """Saving an endpoint whose address another has (e-mail in any case) marks both as
    sharing it, and the resolution sends that address one message, from the older one."""
    first = subscribe(point(39.952, -89.350), email="Twin@Example.org")
    second = subscribe(point(39.952, -89.3501), email="twin@example.org")
    alone = subscribe(point(39.952, -89.3502), email="alone@example.org")
    shared = dict(Endpoint.objects.values_list("subscription_id", "shared"))
    assert shared == {first.pk: True, second.pk: True, alone.pk: False}
    alert = issue()
    deliveries_create(alert_id=alert.pk)
    got = set(Delivery.objects.filter(alert=alert).values_list("subscription_id", flat=True))
    assert got == {first.pk, alone.pk}


@pytest.mark.django_db(transaction=True)
def test_two_sessions_write_what_one_session_writes(issue, tmp_path, monkeypatch):
    """A resolve in a transaction of its own reads the recipients in a second session on
    PostgreSQL while it writes them, and writes exactly what the single-session statement
    and the Python path write."""
    _random_subscriptions(tmp_path)
    alert = issue()
    piped: list[str] = []
    real_pipe = resolve._rows_pipe

    def spy(*args: Any, **kwargs: Any) -> Any:
        piped.append(args[1])
        return real_pipe(*args, **kwargs)

    monkeypatch.setattr(resolve, "_rows_pipe", spy)
    night = timezone.make_aware(datetime.combine(timezone.localdate(), time(23, 30)))
    with freeze_time(night):
        two = deliveries_create(alert_id=alert.pk)
        by_two = _rows(alert.pk)
        Delivery.objects.all().delete()
        with transaction.atomic():  # inside a caller's transaction: one session
            one = deliveries_create(alert_id=alert.pk)
        by_one = _rows(alert.pk)
        Delivery.objects.all().delete()
        monkeypatch.setattr(resolve, "SUPPORTED_VENDORS", frozenset())
        python = deliveries_create(alert_id=alert.pk)
        by_python = _rows(alert.pk)
    assert len(piped) == (1 if connection.vendor == "postgresql" else 0)
    assert len(by_two) > 200
    assert by_two == by_one == by_python
    counts = {(r.subscriptions, r.quiet, r.created) for r in (two, one, python)}
    assert len(counts) == 1
    # The messages per channel, counted as the rows were piped, are those in the table.
    assert two.by_channel == one.by_channel == python.by_channel
    assert two.by_channel.keys() == {"email", "sms"}


@pytest.mark.django_db(transaction=True)
def test_two_sessions_meeting_rows_written_meanwhile_resolve_again_in_one(issue, monkeypatch):
    """Rows written by another resolver after this one looked stop the piped COPY at the
    unique constraint; the resolve runs again in one session and writes only what is
    missing."""
    report, rows, written = _resolve_after_rows_written_meanwhile(issue, monkeypatch)
    assert report.created == 2
    assert rows == written


@pytest.mark.django_db(transaction=True)
def test_a_second_session_that_cannot_connect_leaves_the_resolve_to_one(issue, monkeypatch):
    """When the reading session cannot be had (say the server's connections are used up),
    the resolve runs in its own session and misses no one."""
    import psycopg

    subscribe(point(39.952, -89.350), email="a@example.org")
    subscribe(point(39.9521, -89.3501), email="b@example.org")
    alert = issue()
    tried: list[bool] = []

    def refuse(**_params: Any) -> Any:
        tried.append(True)
        raise psycopg.OperationalError("sorry, too many clients already")

    monkeypatch.setattr(resolve.psycopg, "connect", refuse)
    report = deliveries_create(alert_id=alert.pk)
    assert report.created == 2
    assert Delivery.objects.filter(alert=alert).count() == 2
    assert tried == ([True] if connection.vendor == "postgresql" else [])
