"""Writing an issued alert's deliveries inside the database, with one ``INSERT … SELECT``.

Point places whose H3 cell is wholly inside the alert area (an interior
:class:`~watchhouse.alerts.models.AlertCell`) match by a join, with no exact test and without
leaving the database. Only the other candidates — points in cells the boundary crosses, and
points outside whose radius may reach the area — come to Python for the exact, vectorised
test (:func:`~watchhouse.notify.selectors.points_reached`); their ids go back as one JSON
parameter. The matching subscriptions (status, category, quiet hours applied) are gathered
once into a temporary table, counted, and joined to their live endpoints by one statement
that keeps one message per channel and address (the endpoint with the lowest id, by a
window function) and skips rows that exist already (the idempotency key is unique), with
``INSERT OR IGNORE`` or ``ON CONFLICT DO NOTHING`` as Django's backend says.

The SQL is standard except for reading the JSON list of ids, which is behind
:func:`_id_list_sql`; a database without it gets ``None`` from :func:`deliveries_insert` and
the caller takes the portable path through Python.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Subquery
from django.db.models.constants import OnConflict
from django.utils import timezone
from shapely.geometry.base import BaseGeometry

from watchhouse.alerts.models import AlertCell
from watchhouse.notify.models import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    PlaceKind,
    Subscription,
    SubscriptionPlace,
    SubscriptionStatus,
)
from watchhouse.notify.selectors import areas_touching, candidate_bounds, points_reached

# Databases whose JSON table function :func:`_id_list_sql` knows.
SUPPORTED_VENDORS = frozenset({"sqlite", "postgresql"})
# SQLite page cache while resolving, in KiB (allocated only as pages are used).
RESOLVE_CACHE_KIB = 256 * 1024
# Categories with a ``want_<category>`` column on Subscription.
_CATEGORIES = frozenset({"alert", "advisory", "community", "traffic"})


@dataclass(frozen=True)
class Inserted:
    """What one resolving statement matched and wrote."""

    subscriptions: int
    quiet: int
    created: int


def commit_without_flush_wait() -> bool:
    """On PostgreSQL, let the current transaction commit without waiting for its WAL to reach
    disk (``SET LOCAL synchronous_commit TO OFF``); True when it did.

    Call it first thing inside the outermost transaction that resolves an alert, and only
    there: ``SET LOCAL`` ends with that transaction, so nothing else commits this way. It
    is safe because resolving is idempotent and its task's result is committed
    synchronously afterwards: that later commit flushes the WAL up to and including this
    transaction, so once the task is recorded as done its deliveries are durable too, and a
    crash before that flush loses at most rows of a task that is not finished and runs
    again (the unique idempotency keys make the rerun write each row once). The send tasks
    are handed over after this commit, and they only read rows that are there. Never call
    it inside a caller's transaction: that commit is the caller's to make.
    """
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
    return True


@contextmanager
def _page_cache(cursor: Any) -> Iterator[None]:
    """On SQLite, a page cache large enough for the statements of one resolve.

    The default cache (2 MiB) is far smaller than the delivery table's indexes, so writing
    a few hundred thousand rows spills and re-reads pages; with room for them the insert
    takes a fraction of the time. The connection's own size comes back afterwards, which
    gives the memory back.
    """
    if connection.vendor != "sqlite":
        yield
        return
    cursor.execute("PRAGMA cache_size")
    (before,) = cursor.fetchone()
    cursor.execute(f"PRAGMA cache_size = {-int(RESOLVE_CACHE_KIB)}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _id_list_sql() -> str:
    """A one-column ``sid`` table from a JSON array of integers given as one parameter."""
    if connection.vendor == "postgresql":
        return "SELECT CAST(value AS BIGINT) AS sid FROM json_array_elements_text(CAST(%s AS json))"
    return "SELECT CAST(value AS INTEGER) AS sid FROM json_each(%s)"


def _exact_subscription_ids(shape: BaseGeometry, *, alert_id: int) -> list[int]:
    """Subscriptions with a point place outside the interior cells that the area reaches
    (status and categories are checked by the statement that takes these ids)."""
    min_lon, min_lat, max_lon, max_lat = candidate_bounds(shape)
    interior = AlertCell.objects.filter(alert_id=alert_id, interior=True).order_by().values("cell")
    query = (
        SubscriptionPlace.objects.filter(
            kind=PlaceKind.POINT, min_lat__lte=max_lat, max_lat__gte=min_lat,
            min_lon__lte=max_lon, max_lon__gte=min_lon,
        )
        .exclude(h3__in=Subquery(interior))
        .order_by()
        .values_list("subscription_id", "lat", "lon", "radius_m")
    )  # fmt: skip
    # Read through a plain cursor: these are plain numbers, and there can be hundreds of
    # thousands of them.
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        table = np.array(cursor.fetchall(), dtype=float).reshape(-1, 4)
    if not table.size:
        return []
    reached = points_reached(shape, table[:, 1], table[:, 2], table[:, 3])
    return sorted({int(i) for i in table[reached, 0]})


def _quiet_sql(category: str, at: datetime) -> tuple[str, list[Any]]:
    """A condition true for subscriptions in quiet hours at ``at`` (never for Alerts)."""
    if category == "alert":
        return "1 = 0", []
    now = connection.ops.adapt_timefield_value(timezone.localtime(at).time())
    sql = (
        "(s.quiet_start IS NOT NULL AND s.quiet_end IS NOT NULL AND ("
        "(s.quiet_start < s.quiet_end AND s.quiet_start <= %s AND %s < s.quiet_end) OR "
        "(s.quiet_start > s.quiet_end AND (%s >= s.quiet_start OR %s < s.quiet_end))))"
    )
    return sql, [now, now, now, now]


def deliveries_insert(
    shape: BaseGeometry, *, alert_id: int, category: str, at: datetime, queued_at: datetime
) -> Inserted | None:
    """Write the queued deliveries of the alert's area in a few statements (call it inside a
    transaction, after the alert's cells are stored); None when this database cannot."""
    if connection.vendor not in SUPPORTED_VENDORS or category not in _CATEGORIES:
        return None
    exact = _exact_subscription_ids(shape, alert_id=alert_id)
    area_ids = areas_touching(shape)
    # Only quoted table and column names and fixed SQL are formatted into the statements;
    # every value is a parameter. CROSS JOIN fixes the join order on SQLite (PostgreSQL
    # plans it freely): from the few interior cells to their places, never the other way.
    q = connection.ops.quote_name
    place, cell = q(SubscriptionPlace._meta.db_table), q(AlertCell._meta.db_table)
    sub, endpoint = q(Subscription._meta.db_table), q(Endpoint._meta.db_table)
    hits = [
        # Only point places have a cell, so no kind test is needed.
        f"SELECT p.subscription_id AS sid FROM {cell} c CROSS JOIN {place} p "  # noqa: S608
        "WHERE p.h3 = c.cell AND c.alert_id = %s AND c.interior = %s",
        f"SELECT p.subscription_id FROM {place} p WHERE p.kind = %s",  # noqa: S608
        _id_list_sql(),
    ]
    params: list[Any] = [alert_id, True, PlaceKind.JURISDICTION, json.dumps(exact)]
    if area_ids:
        hits.append(
            f"SELECT p.subscription_id FROM {place} p WHERE p.kind = %s AND p.area_id IN "  # noqa: S608
            f"({_id_list_sql()})"
        )
        params += [PlaceKind.AREA, json.dumps(area_ids)]
    quiet, quiet_params = _quiet_sql(category, at)
    matched = q(f"resolve_matched_{alert_id}")
    column = {f.name: str(f.column) for f in Delivery._meta.concrete_fields}
    columns = ", ".join(
        q(column[name])
        for name in ("alert", "endpoint", "subscription", "channel", "language", "status",
                     "attempts", "provider_id", "idempotency_key", "queued_at", "error")
    )  # fmt: skip
    insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)
    suffix = connection.ops.on_conflict_suffix_sql(
        [Delivery._meta.get_field("idempotency_key")], OnConflict.IGNORE, [], []
    )
    with connection.cursor() as cursor, _page_cache(cursor):
        # The matching subscriptions, once: counted, then joined to their endpoints. UNION
        # also sorts them by id, so the joins below read the tables in order.
        cursor.execute(
            f"CREATE TEMPORARY TABLE {matched} AS SELECT s.id AS sid, s.language AS language, "  # noqa: S608
            f"CASE WHEN {quiet} THEN 1 ELSE 0 END AS quiet "
            f"FROM ({' UNION '.join(hits)}) h CROSS JOIN {sub} s "
            f"WHERE s.id = h.sid AND s.status = %s AND s.{q(f'want_{category}')} = %s",
            [*quiet_params, *params, SubscriptionStatus.ACTIVE, True],
        )
        try:
            if connection.vendor == "postgresql":
                # A fresh temporary table has no statistics; without them PostgreSQL guesses
                # a few rows and loops over the endpoint index instead of hashing.
                cursor.execute(f"ANALYZE {matched}")
            cursor.execute(f"SELECT COUNT(*), SUM(quiet) FROM {matched}")  # noqa: S608
            total, held = cursor.fetchone()
            # One message per channel and address: the endpoint with the lowest id.
            cursor.execute(
                f"{insert} {q(Delivery._meta.db_table)} ({columns}) "  # noqa: S608
                "SELECT %s, r.id, r.subscription_id, r.channel, r.language, %s, 0, '', "
                "%s || CAST(r.id AS VARCHAR(20)), %s, '' FROM ("
                "SELECT e.id, e.subscription_id, e.channel, m.language, ROW_NUMBER() OVER ("
                "PARTITION BY e.channel, CASE WHEN e.channel = 'email' THEN LOWER(e.address) "
                "ELSE e.address END ORDER BY e.id) AS rank "
                f"FROM {matched} m CROSS JOIN {endpoint} e "
                "WHERE e.subscription_id = m.sid AND m.quiet = 0 "
                "AND e.confirmed_at IS NOT NULL AND e.disabled_at IS NULL"
                f") r WHERE r.rank = 1 {suffix}",
                [alert_id, DeliveryStatus.QUEUED, f"{alert_id}:",
                 connection.ops.adapt_datetimefield_value(queued_at)],
            )  # fmt: skip
            created = max(cursor.rowcount, 0)
        finally:
            cursor.execute(f"DROP TABLE {matched}")
    held = int(held or 0)
    return Inserted(subscriptions=int(total) - held, quiet=held, created=created)
