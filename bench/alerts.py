"""Alert recipients and sends: resolution time against a bulk-insert floor, send throughput
against bare loops. Runs on the configured database (SQLite file or ``DATABASE_URL``).

Resolution: ``--subscriptions`` (1,000,000) point places with radii of 0.25 to 1 mile, spread
uniformly over the St. Louis city boundary (../shared/data/crime/st-louis/
stl_boundary_wgs84.geojson), each with one confirmed e-mail endpoint, written in bulk by the
bench (reused when already there). The alert area is a drawn quadrilateral across the city
holding about a quarter of the subscribers' centres. Each repetition times, in the same
process and database:

- ``resolve_s``: from ``alert_issue`` to every delivery row committed (issue, then
  ``deliveries_create`` in-process, as the resolve task would run it); ``handed_off_s``
  adds enqueueing the send tasks;
- ``floor_s``: bulk-inserting the same number of delivery-shaped rows, made beforehand in
  Python, into the delivery table itself (its indexes and unique constraint), in one
  transaction, the fastest way the database has (COPY on PostgreSQL, executemany on
  SQLite); ``bare_floor_s`` the same into a table with only the delivery table's columns (no
  key, no index).

``recipients_ok`` is true when the subscriptions that got a delivery are exactly those a
brute-force shapely test over every point (no cells, no bounding boxes) finds.

Sends: ``--messages`` alert e-mails through ``deliveries_send`` in batches of the default
size to an aiosmtpd server on loopback, and as many signed webhooks to the loopback receiver,
each beside a bare loop sending the same messages (smtplib / requests, one connection).

Prints one JSON line with the medians of ``--repeats`` runs; exits 1 when a target is missed
or the count is wrong. Usage, from the repository root (the sends use the loopback servers
of ``tests/notify/loopback.py``): ``python -m bench.alerts [--subscriptions N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
django.setup()

import h3  # noqa: E402
import numpy as np  # noqa: E402
import pyproj  # noqa: E402
import shapely  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from watchhouse.accounts.models import RoleAssignment, User  # noqa: E402
from watchhouse.alerts.models import Alert  # noqa: E402
from watchhouse.alerts.services import AlertFields, alert_create, alert_issue  # noqa: E402
from watchhouse.alerts.validation import AreaSpec, InfoText  # noqa: E402
from watchhouse.geo.distance import EARTH_RADIUS_M  # noqa: E402
from watchhouse.notify.models import (  # noqa: E402
    Delivery,
    Endpoint,
    Subscription,
    SubscriptionPlace,
    address_key,
)
from watchhouse.notify.services import deliveries_create  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHHOUSE_SHARED_DATA", REPO.parent / "shared" / "data"))
BOUNDARY = SHARED / "crime" / "st-louis" / "stl_boundary_wgs84.geojson"
MILE_M = 1609.344
TARGET_RESOLVE_S = 3.0
TARGET_FLOOR_RATIO = 2.0
TARGET_SEND_SHARE = 0.5


def city_shape() -> shapely.Geometry:
    document = json.loads(BOUNDARY.read_text(encoding="utf-8"))
    features = document.get("features", [document])
    return shapely.union_all(
        [shapely.geometry.shape(f.get("geometry", f)) for f in features if f.get("geometry", f)]
    )


def points_inside(city: shapely.Geometry, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniform random (lat, lon) rows inside ``city`` (rejection sampling)."""
    min_lon, min_lat, max_lon, max_lat = city.bounds
    shapely.prepare(city)
    found: list[np.ndarray] = []
    total = 0
    while total < count:
        lat = rng.uniform(min_lat, max_lat, count)
        lon = rng.uniform(min_lon, max_lon, count)
        keep = shapely.intersects_xy(city, lon, lat)
        found.append(np.column_stack([lat[keep], lon[keep]]))
        total += int(keep.sum())
    return np.concatenate(found)[:count]


# --- data -------------------------------------------------------------------------------


def _wipe() -> None:
    with connection.cursor() as cursor:
        for model in (Delivery, Endpoint, SubscriptionPlace, Subscription):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608


def _bulk_write(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows made in Python the fastest way the database has: PostgreSQL's COPY, or
    SQLite's executemany (faster here than multi-row INSERTs)."""
    q = connection.ops.quote_name
    names = ", ".join(q(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
            cursor.executemany(sql, rows)


def _insert(model: type, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    _bulk_write(connection.ops.quote_name(model._meta.db_table), columns, rows)


def subscriptions_ensure(city: shapely.Geometry, count: int, seed: int) -> dict[str, Any]:
    """Write ``count`` active point subscriptions with one confirmed e-mail each (ids 1..count);
    reuse them when the database holds exactly that many."""
    existing = Subscription.objects.count()
    if existing == count and SubscriptionPlace.objects.count() == count:
        _settle()
        return {"written": False, "seconds": 0.0}
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    points = points_inside(city, count, rng)
    radii = rng.uniform(0.25 * MILE_M, 1.0 * MILE_M, count)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic():
        _wipe()
        ids = range(1, count + 1)
        _insert(
            Subscription,
            ["id", "public_id", "language", "want_alert", "want_advisory", "want_community",
             "want_traffic", "want_crime_digest", "digest_period", "status", "source",
             "created_at", "confirmed_at"],
            [(i, uuid.uuid4().hex, "en", True, True, False, False, False, "week", "active",
              "bench", now, now) for i in ids],
        )  # fmt: skip
        reach_lat = np.degrees(radii / EARTH_RADIUS_M)
        reach_lon = reach_lat / np.cos(np.radians(np.abs(points[:, 0]) + reach_lat))
        place_rows = []
        for i in ids:
            lat, lon = float(points[i - 1, 0]), float(points[i - 1, 1])
            rl, ro = float(reach_lat[i - 1]), float(reach_lon[i - 1])
            place_rows.append(
                (i, i, "point", lat, lon, str(h3.latlng_to_cell(lat, lon, 9)),
                 float(radii[i - 1]), "", lat - rl, lat + rl, lon - ro, lon + ro)
            )  # fmt: skip
        _insert(
            SubscriptionPlace,
            ["id", "subscription_id", "kind", "lat", "lon", "h3", "radius_m", "label",
             "min_lat", "max_lat", "min_lon", "max_lon"],
            place_rows,
        )  # fmt: skip
        _insert(
            Endpoint,
            ["id", "subscription_id", "channel", "address", "address_key", "shared", "keys",
             "created_at", "confirmed_at", "disabled_reason"],
            [(i, i, "email", f"resident{i}@example.org",
              address_key("email", f"resident{i}@example.org"), False, "{}", now, now, "")
             for i in ids],
        )  # fmt: skip
        Endpoint.objects.mark_shared()
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [Subscription, SubscriptionPlace, Endpoint]
            ):
                cursor.execute(sql)
    _settle()
    return {"written": True, "seconds": round(time.perf_counter() - started, 1)}


def _settle() -> None:
    """On PostgreSQL, vacuum and analyse the subscription tables, as autovacuum leaves tables
    that have been there a while (statistics for the planner, the visibility map for
    index-only scans); a no-op when they are already."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (Subscription, SubscriptionPlace, Endpoint):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def alert_area(city: shapely.Geometry) -> shapely.Geometry:
    """A quadrilateral across the city, between latitudes that leave about a quarter of the
    centres inside (its top edge slanted, so the exact test has real work)."""
    rows = SubscriptionPlace.objects.values_list("lat", flat=True).order_by("lat")
    lats = np.fromiter(rows.iterator(chunk_size=50_000), dtype=float)
    south, north = np.quantile(lats, [0.40, 0.65])
    min_lon, _, max_lon, _ = city.bounds
    west, east = min_lon - 0.01, max_lon + 0.01
    tilt = (north - south) * 0.1
    return shapely.Polygon(
        [(west, south), (east, south), (east, north + tilt), (west, north - tilt), (west, south)]
    )


def brute_force(area: shapely.Geometry) -> set[int]:
    """Subscriptions whose circle the area reaches: every point tested, no cells, no boxes."""
    rows = np.array(
        list(SubscriptionPlace.objects.values_list("subscription_id", "lat", "lon", "radius_m")),
        dtype=float,
    )
    ids, lat, lon, radius = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    inside = shapely.intersects_xy(area, lon, lat)
    centre = area.centroid
    metres = pyproj.Transformer.from_crs(
        "EPSG:4326",
        f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m",
        always_xy=True,
    )
    area_m = shapely.transform(
        area, lambda xy: np.column_stack(metres.transform(xy[:, 0], xy[:, 1]))
    )
    x, y = metres.transform(lon[~inside], lat[~inside])
    near = shapely.distance(area_m, shapely.points(x, y)) <= radius[~inside]
    return {int(i) for i in ids[inside]} | {int(i) for i in ids[~inside][near]}


# --- resolution -------------------------------------------------------------------------


def staff() -> User:
    user, _ = User.objects.get_or_create(
        username="bench-pio", defaults={"email": "bench-pio@police.example", "is_staff": True}
    )
    RoleAssignment.objects.get_or_create(user=user, role="pio")
    return user


def _draft(actor: User, area: shapely.Geometry) -> Alert:
    geojson = json.dumps(shapely.geometry.mapping(area))
    return alert_create(
        actor=actor,
        fields=AlertFields(
            category="advisory", event="Water main break", urgency="Expected",
            severity="Moderate", certainty="Likely", cap_category="Infra",
            expires=timezone.now() + timezone.timedelta(hours=4),
        ),
        infos=[InfoText(language="en", headline="Boil water advisory",
                        description="Boil tap water before drinking until further notice.",
                        instruction="Boil water for one minute.",
                        sms_text="Boil water advisory in your area.")],
        areas=[AreaSpec(description="Boil water zone", polygon_geojson=geojson)],
    )  # fmt: skip


def _clear_deliveries() -> None:
    """Empty the delivery table between runs (TRUNCATE where there is one, so PostgreSQL's
    runs do not pile up dead rows; SQLite empties a table by DELETE without WHERE)."""
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {table}")
        else:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608


def resolve_once(actor: User, area: shapely.Geometry) -> dict[str, Any]:
    """Issue one alert and resolve it in-process; the seconds to rows committed and handed on."""
    _clear_deliveries()
    alert = _draft(actor, area)
    marks: list[float] = []
    started = time.perf_counter()
    issued = alert_issue(actor=actor, alert=alert)
    # deliveries_create commits its own transaction, as in the task (it only tells
    # PostgreSQL not to wait for the WAL flush there): the moment that commit returns, before
    # its after-commit hooks hand the rows on, is when they are committed.
    real_commit = connection.commit

    def commit() -> None:
        real_commit()
        marks.append(time.perf_counter())

    connection.commit = commit  # type: ignore[method-assign]
    try:
        report = deliveries_create(alert_id=issued.pk)
    finally:
        del connection.commit
    handed = time.perf_counter()
    return {
        "alert": issued.pk,
        "resolve_s": marks[0] - started,
        "handed_off_s": handed - started,
        "deliveries": report.created,
    }


def floor_once(alert_id: int, count: int, *, bare: bool) -> float:
    """Seconds to bulk-insert ``count`` delivery-shaped rows, made beforehand, in one
    transaction: into the delivery table itself (same shape: its indexes and unique constraint; the
    rows are deleted after) or, ``bare``, into a table with its columns and nothing else."""
    q = connection.ops.quote_name
    table = q(Delivery._meta.db_table)
    target = "bench_floor" if bare else table
    if bare:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_floor")
            cursor.execute(f"CREATE TABLE bench_floor AS SELECT * FROM {table} WHERE 1 = 0")  # noqa: S608
    _clear_deliveries()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [(alert_id, i, i, "email", "en", "queued", 0, "", now, "") for i in range(1, count + 1)]
    columns = ("alert_id", "endpoint_id", "subscription_id", "channel", "language", "status",
               "attempts", "provider_id", "queued_at", "error")  # fmt: skip
    if bare:
        columns = ("id", *columns)
        rows = [(i, *row) for i, row in enumerate(rows, start=1)]
    started = time.perf_counter()
    with transaction.atomic():
        _bulk_write(target, columns, rows)
    seconds = time.perf_counter() - started
    if bare:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_floor")
    _clear_deliveries()
    return seconds


def resolution(args: argparse.Namespace) -> dict[str, Any]:
    city = city_shape()
    setup = subscriptions_ensure(city, args.subscriptions, args.seed)
    area = alert_area(city)
    actor = staff()
    runs, floors, bare = [], [], []
    got: set[int] = set()
    for _ in range(args.repeats):
        run = resolve_once(actor, area)
        runs.append(run)
        got = set(
            Delivery.objects.filter(alert_id=run["alert"]).values_list("subscription_id", flat=True)
        )
        floors.append(floor_once(run["alert"], run["deliveries"], bare=False))
        bare.append(floor_once(run["alert"], run["deliveries"], bare=True))
    truth = brute_force(area)
    _clear_deliveries()
    resolve_s = statistics.median(r["resolve_s"] for r in runs)
    floor_s = statistics.median(floors)
    return {
        "subscriptions": args.subscriptions,
        "setup": setup,
        "centres_in_area_share": round(
            SubscriptionPlace.objects.filter(
                lat__gte=area.bounds[1], lat__lte=area.bounds[3]
            ).count()
            / args.subscriptions,
            3,
        ),
        "deliveries": runs[-1]["deliveries"],
        "brute_force_recipients": len(truth),
        "recipients_ok": got == truth,
        "resolve_s": round(resolve_s, 3),
        "handed_off_s": round(statistics.median(r["handed_off_s"] for r in runs), 3),
        "floor_s": round(floor_s, 3),
        "resolve_vs_floor": round(resolve_s / floor_s, 2),
        "runs_resolve_s": [round(r["resolve_s"], 3) for r in runs],
        "runs_floor_s": [round(f, 3) for f in floors],
        "bare_floor_s": round(statistics.median(bare), 3),
        "resolve_vs_bare_floor": round(resolve_s / statistics.median(bare), 2),
    }


# --- sends -----------------------------------------------------------------------------


def _send_deliveries(actor: User, area: shapely.Geometry, channel: str, count: int, url: str):
    """An issued alert with ``count`` queued deliveries on ``channel`` (webhook endpoints
    are made for it, pointing at ``url``); returns the alert and the delivery ids."""
    from watchhouse.notify.models import Channel

    alert = alert_issue(actor=actor, alert=_draft(actor, area))
    now = timezone.now()
    if channel == Channel.WEBHOOK:
        endpoints = Endpoint.objects.bulk_create(
            Endpoint(subscription_id=i, channel=channel, address=f"{url}/hook/{i}",
                     address_key=address_key(channel, f"{url}/hook/{i}"),
                     keys={"secret": SECRET}, confirmed_at=now)
            for i in range(1, count + 1)
        )  # fmt: skip
        pairs = [(e.pk, e.subscription_id) for e in endpoints]
    else:
        pairs = [(i, i) for i in range(1, count + 1)]
    Delivery.objects.bulk_create(
        Delivery(alert=alert, endpoint_id=e, subscription_id=sid, channel=channel,
                 queued_at=now)
        for e, sid in pairs
    )  # fmt: skip
    ids = list(Delivery.objects.filter(alert=alert).order_by("pk").values_list("pk", flat=True))
    return alert, ids


# Signing secret of the loopback receiver (no real partner).
SECRET = "bench-webhook-secret"  # noqa: S105


def sends_once(actor: User, area: shapely.Geometry, channel: str, count: int) -> dict[str, Any]:
    """Messages per second through ``deliveries_send`` (batches of the send task's size)
    and through a bare loop sending the same messages."""
    import smtplib
    from email.message import EmailMessage

    import requests
    from django.conf import settings

    from tests.notify.loopback import SmtpServer, WebhookReceiver
    from watchhouse.notify.channels.webhook import webhook_sign
    from watchhouse.notify.outbound import outbound_message
    from watchhouse.notify.services import SEND_BATCH, deliveries_send

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    server = SmtpServer() if channel == "email" else WebhookReceiver(SECRET)
    with server:
        if channel == "email":
            settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
            settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
            url = ""
        else:
            url = server.url  # type: ignore[union-attr]
        alert, ids = _send_deliveries(actor, area, channel, count, url)
        full = Alert.objects.prefetch_related("infos").get(pk=alert.pk)
        messages = [
            outbound_message(d, d.endpoint, full, d.subscription.public_id)
            for d in Delivery.objects.filter(pk__in=ids).select_related("endpoint", "subscription")
        ]
        started = time.perf_counter()
        for start in range(0, len(ids), SEND_BATCH):
            deliveries_send(delivery_ids=ids[start : start + SEND_BATCH])
        watchhouse_s = time.perf_counter() - started
        if channel == "email":
            bare = []
            for m in messages:
                mail = EmailMessage()
                mail["Subject"], mail["From"], mail["To"] = (
                    m.subject,
                    settings.DEFAULT_FROM_EMAIL,
                    m.address,
                )
                for name, value in m.headers.items():
                    mail[name] = value
                mail.set_content(m.text)
                bare.append(mail)
            started = time.perf_counter()
            with smtplib.SMTP(server.host, server.port) as smtp:
                for mail in bare:
                    smtp.send_message(mail)
            bare_s = time.perf_counter() - started
            received = len(server.messages)  # type: ignore[union-attr]
        else:
            bodies = [json.dumps(m.payload, separators=(",", ":")).encode() for m in messages]
            started = time.perf_counter()
            with requests.Session() as session:
                for m, body in zip(messages, bodies, strict=True):
                    headers = {"Content-Type": "application/json",
                               **webhook_sign(SECRET, body, int(time.time()))}  # fmt: skip
                    session.post(m.address, data=body, headers=headers, timeout=10).close()
            bare_s = time.perf_counter() - started
            received = len(server.accepted)  # type: ignore[union-attr]
    sent = Delivery.objects.filter(alert=alert, status="sent").count()
    Endpoint.objects.filter(channel="webhook").delete()
    _clear_deliveries()
    return {
        "watchhouse_per_s": count / watchhouse_s,
        "bare_per_s": count / bare_s,
        "all_received": received == 2 * count and sent == count,
    }


def sends(args: argparse.Namespace) -> dict[str, Any]:
    """Send throughput per channel with the rate limits lifted (they are the provider's
    allowance, 50 a second for e-mail and webhooks by default, not a cost of Watchhouse)."""
    from django.conf import settings

    city = city_shape()
    area = alert_area(city)
    actor = staff()
    defaults = dict(settings.WATCHHOUSE_NOTIFY_RATE_LIMITS)
    settings.WATCHHOUSE_NOTIFY_RATE_LIMITS = dict.fromkeys(defaults, 0)
    figures: dict[str, Any] = {"messages": args.messages, "default_rate_limits": defaults}
    for channel in ("email", "webhook"):
        runs = [sends_once(actor, area, channel, args.messages) for _ in range(args.repeats)]
        ours = statistics.median(r["watchhouse_per_s"] for r in runs)
        bare = statistics.median(r["bare_per_s"] for r in runs)
        figures[channel] = {
            "watchhouse_per_s": round(ours),
            "bare_loop_per_s": round(bare),
            "share_of_bare": round(ours / bare, 2),
            "all_received": all(r["all_received"] for r in runs),
            "runs_watchhouse_per_s": [round(r["watchhouse_per_s"]) for r in runs],
        }
    settings.WATCHHOUSE_NOTIFY_RATE_LIMITS = defaults
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--skip-sends", action="store_true")
    parser.add_argument("--skip-resolution", action="store_true")
    args = parser.parse_args()
    if not BOUNDARY.is_file():
        print(json.dumps({"bench": "alerts", "error": f"{BOUNDARY} is missing"}))
        return 1
    figures: dict[str, Any] = {"bench": "alerts", "database": connection.vendor}
    if not args.skip_resolution:
        figures["resolution"] = resolution(args)
    if not args.skip_sends:
        figures["sends"] = sends(args)
    resolved = figures.get("resolution", {})
    sent = figures.get("sends", {})
    ok = (
        resolved.get("recipients_ok", True)
        and resolved.get("resolve_s", 0) <= TARGET_RESOLVE_S
        and resolved.get("resolve_vs_floor", 0) <= TARGET_FLOOR_RATIO
        and all(
            sent[c]["share_of_bare"] >= TARGET_SEND_SHARE and sent[c]["all_received"]
            for c in ("email", "webhook")
            if c in sent
        )
    )
    print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
