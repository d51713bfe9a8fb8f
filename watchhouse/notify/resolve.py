"""Writing an issued alert's deliveries inside the database, with one ``INSERT … SELECT``.

Point places whose H3 cell is wholly inside the alert area (an interior
:class:`~watchhouse.alerts.models.AlertCell`) match by a join, with no exact test and without
leaving the database. The cells around the area come with bounds on how far their points are
from it (:func:`~watchhouse.notify.selectors.reach_ring`), passed as one JSON parameter: a
circle whose radius clears its cell's farthest distance matches by a join too, one short of
its nearest distance never matches, and only the radii in between come to Python for the
exact, vectorised test (:func:`~watchhouse.notify.selectors.points_reached`); their ids go
back as one JSON parameter. The matching subscriptions (status, category, quiet hours
applied) are gathered once into a temporary table, counted, and joined to their live
endpoints by one statement that keeps one message per channel and address (the endpoint with
the lowest id, by a window function) and skips rows that exist already (one row per endpoint
and alert), with ``INSERT OR IGNORE`` or ``ON CONFLICT DO NOTHING`` as Django's backend says.

On PostgreSQL, a resolve in a transaction of its own reads in a second session: the reading
statements run there, and the rows come out of it by ``COPY … TO STDOUT`` straight into
``COPY … FROM STDIN`` of the writing session, so two server processes (and two cores) share
the work, and the rows are written in batches. There the writing session reads and tests the
uncertain circles while the reader gathers the other hits, and the matching is part of the
piped statement rather than a step before it: the hits are hashed once (a semi-join), the
subscription table streams past them and each match's endpoints are found by the index as it
comes, so rows are written from the first tenth of a second on; the counts (subscriptions
matched, held back by quiet hours, rows per channel) come as the statement's last rows,
which are not written.

The SQL is standard except for reading JSON parameters, which is behind :func:`_id_list_sql`
and :func:`_ring_sql`; a database without them gets ``None`` from :func:`deliveries_insert`
and the caller takes the portable path through Python.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from django.db import DatabaseError, IntegrityError, connection, transaction
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
from watchhouse.notify.selectors import areas_touching, points_reached, reach_ring

logger = logging.getLogger("watchhouse.notify")
# Blocks of COPY rows in flight between the reading and the writing session, and their size:
# enough to keep both busy, little memory.
PIPE_CHUNKS = 16
PIPE_BLOCK_BYTES = 256 * 1024
# The alert ids of the last rows a piped resolve reads, which hold its counts, not deliveries:
# the matching subscriptions and those in quiet hours, then the rows written per channel.
COUNTS_ROW = -1
CHANNEL_COUNTS_ROW = -2
# Databases whose JSON table function :func:`_id_list_sql` knows.
SUPPORTED_VENDORS = frozenset({"sqlite", "postgresql"})
# SQLite page cache or PostgreSQL work_mem while resolving, in KiB (used only as needed).
RESOLVE_CACHE_KIB = 256 * 1024
# Categories with a ``want_<category>`` column on Subscription.
_CATEGORIES = frozenset({"alert", "advisory", "community", "traffic"})


@dataclass(frozen=True)
class Inserted:
    """What one resolving statement matched and wrote."""

    subscriptions: int
    quiet: int
    created: int
    # The rows written per channel, where the resolve counted them as it wrote them.
    by_channel: dict[str, int] | None = None


def commit_without_flush_wait() -> bool:
    """On PostgreSQL, let the current transaction commit without waiting for its WAL to reach
    disk (``SET LOCAL synchronous_commit TO OFF``); True when it did.

    Call it first thing inside the outermost transaction that resolves an alert, and only
    there: ``SET LOCAL`` ends with that transaction, so nothing else commits this way. It
    is safe because resolving is idempotent and its task's result is committed
    synchronously afterwards: that later commit flushes the WAL up to and including this
    transaction, so once the task is recorded as done its deliveries are durable too, and a
    crash before that flush loses at most rows of a task that is not finished and runs
    again (one row per endpoint and alert: the rerun writes each row once). The send tasks
    are handed over after this commit, and they only read rows that are there. Never call
    it inside a caller's transaction: that commit is the caller's to make.
    """
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
    return True


@contextmanager
def _working_memory(cursor: Any) -> Iterator[None]:
    """Room in memory for the statements of one resolve, given back afterwards.

    On SQLite, a page cache large enough for them: the default (2 MiB) is far smaller than
    the delivery table's indexes, so writing a few hundred thousand rows spills and re-reads
    pages. On PostgreSQL, ``work_mem`` for the sorts and hashes of a few hundred thousand
    rows, which the default (4 MB) sends to disk in batches.
    """
    if connection.vendor == "postgresql":
        cursor.execute(f"SET LOCAL work_mem = '{int(RESOLVE_CACHE_KIB)}kB'")
        try:
            yield
        finally:
            cursor.execute("SET LOCAL work_mem TO DEFAULT")
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


def _ring_sql() -> str:
    """``SELECT cell, near, far`` from a JSON array of ``[cell, near_m, far_m]`` triples given
    as one parameter (see :func:`~watchhouse.notify.selectors.reach_ring`)."""
    if connection.vendor == "postgresql":
        return (
            "SELECT e->>0 AS cell, CAST(e->>1 AS DOUBLE PRECISION) AS near, "
            "CAST(e->>2 AS DOUBLE PRECISION) AS far FROM json_array_elements(CAST(%s AS json)) e"
        )
    return (
        "SELECT json_extract(value, '$[0]') AS cell, json_extract(value, '$[1]') AS near, "
        "json_extract(value, '$[2]') AS far FROM json_each(%s)"
    )


def _ring_places_sql(ring: str, columns: str, radius: str) -> str:
    """``SELECT columns`` of the point places in the ring's cells (``p``) whose radius meets
    the condition ``radius`` on the cell's bounds (``r``), read by the (cell, radius) index
    one cell at a time: SQLite's CROSS JOIN keeps that order; PostgreSQL would rather hash
    the whole place table, several times slower for a ring of a few thousand cells, so each
    cell gets its own index scan there (LATERAL, with OFFSET 0 so it is not flattened)."""
    place = connection.ops.quote_name(SubscriptionPlace._meta.db_table)
    if connection.vendor == "postgresql":
        return (
            f"SELECT {columns} FROM {ring} r CROSS JOIN LATERAL (SELECT {columns} FROM {place} p "  # noqa: S608
            f"WHERE p.h3 = r.cell AND {radius} OFFSET 0) p"
        )
    return f"SELECT {columns} FROM {ring} r CROSS JOIN {place} p WHERE p.h3 = r.cell AND {radius}"  # noqa: S608


def _exact_subscription_ids(
    cursor: Any, shape: BaseGeometry, ring: str, params: list[Any]
) -> list[int]:
    """Subscriptions with a point place in a ring cell (of ``ring``, a table or a
    parenthesised query with ``params``) whose radius lies between the cell's distance
    bounds, tested exactly (status and categories are checked by the statement that takes
    these ids)."""
    sql = _ring_places_sql(
        ring, "p.subscription_id, p.lat, p.lon, p.radius_m",
        "p.radius_m >= r.near AND p.radius_m < r.far",
    )  # fmt: skip
    cursor.execute(sql, params)
    table = np.array(cursor.fetchall(), dtype=float).reshape(-1, 4)
    if not table.size:
        return []
    reached = points_reached(shape, table[:, 1], table[:, 2], table[:, 3])
    return sorted({int(i) for i in table[reached, 0]})


def _bytewise(expression: str) -> str:
    """``expression`` compared byte by byte: for grouping, where the order of the language's
    collation only costs time (SQLite's default collation is bytewise already)."""
    return f'{expression} COLLATE "C"' if connection.vendor == "postgresql" else expression


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
    shape: BaseGeometry,
    *,
    alert_id: int,
    category: str,
    at: datetime,
    queued_at: datetime,
    parallel: bool = False,
) -> Inserted | None:
    """Write the queued deliveries of the alert's area in a few statements (call it inside a
    transaction, after the alert's cells are stored); None when this database cannot.

    ``parallel`` says that everything the resolve reads is committed (the caller's
    transaction has written nothing it needs). Then, on PostgreSQL, the recipients are read
    by a second session while this one writes them (:func:`_rows_pipe`), so reading and
    writing run side by side on two server processes; should the second session fail, or the
    rows meet rows written meanwhile, the resolve runs again in this session alone.
    """
    if connection.vendor not in SUPPORTED_VENDORS or category not in _CATEGORIES:
        return None
    fresh = _no_deliveries_yet(alert_id)
    if parallel and fresh and connection.vendor == "postgresql":
        try:
            with transaction.atomic(), _reader_session() as reader:
                return _deliveries_write(
                    reader, shape, alert_id=alert_id, category=category, at=at,
                    queued_at=queued_at, fresh=True, piped=True,
                )  # fmt: skip
        except (DatabaseError, psycopg.Error):
            logger.warning("Resolving alert %s in two sessions failed; resolving in one.",
                           alert_id, exc_info=True)  # fmt: skip
    with connection.cursor() as cursor:
        return _deliveries_write(
            cursor, shape, alert_id=alert_id, category=category, at=at, queued_at=queued_at,
            fresh=fresh, piped=False,
        )  # fmt: skip


@contextmanager
def _reader_session() -> Iterator[Any]:
    """A cursor of a second PostgreSQL session, configured as Django's own, in one
    repeatable-read transaction (one snapshot for all the resolve reads), closed after."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    reader = psycopg.connect(**params)
    try:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with reader.cursor() as cursor:
            yield cursor
    finally:
        reader.close()


def _deliveries_write(
    cursor: Any,
    shape: BaseGeometry,
    *,
    alert_id: int,
    category: str,
    at: datetime,
    queued_at: datetime,
    fresh: bool,
    piped: bool,
) -> Inserted:
    """The statements of :func:`deliveries_insert`: read through ``cursor`` (this session's
    or, ``piped``, the reader session's), written in this session."""
    interior = AlertCell.objects.filter(alert_id=alert_id, interior=True).values_list(
        "cell", flat=True
    )
    ring_cells = reach_ring(shape, exclude=interior)
    area_ids = areas_touching(shape)
    # Only quoted table and column names and fixed SQL are formatted into the statements;
    # every value is a parameter. CROSS JOIN fixes the join order on SQLite (PostgreSQL
    # plans it freely): from the few cells to their places, never the other way.
    q = connection.ops.quote_name
    place, cell = q(SubscriptionPlace._meta.db_table), q(AlertCell._meta.db_table)
    sub = q(Subscription._meta.db_table)
    # ``found``: the matching subscriptions or, piped, the ids that matched a place.
    ring, found = q(f"resolve_ring_{alert_id}"), q(f"resolve_found_{alert_id}")
    hits = [
        # Only point places have a cell, so no kind test is needed.
        f"SELECT p.subscription_id AS sid FROM {cell} c CROSS JOIN {place} p "  # noqa: S608
        "WHERE p.h3 = c.cell AND c.alert_id = %s AND c.interior = %s",
        # Circles near the area whose radius is at least their cell's farthest distance.
        _ring_places_sql(ring, "p.subscription_id", "p.radius_m >= r.far"),
        f"SELECT p.subscription_id FROM {place} p WHERE p.kind = %s",  # noqa: S608
    ]
    params: list[Any] = [alert_id, True, PlaceKind.JURISDICTION]
    if area_ids:
        hits.append(
            f"SELECT p.subscription_id FROM {place} p WHERE p.kind = %s AND p.area_id IN "  # noqa: S608
            f"({_id_list_sql()})"
        )
        params += [PlaceKind.AREA, json.dumps(area_ids)]
    quiet, quiet_params = _quiet_sql(category, at)

    def matching(source: str, *, semi: bool = False) -> str:
        # The matching subscriptions of ``source`` (a relation of ids, ``sid``), with their
        # status, category and quiet hours applied (parameters: ``quiet_params``, those of
        # ``source``, then ``status_params``). ``semi``: as a semi-join, which hashes
        # ``source`` (each id once, with no separate step to drop repeats) and streams the
        # subscription table past it.
        joined = (
            f"{sub} s WHERE s.id IN (SELECT h.sid FROM {source} h)"  # noqa: S608
            if semi
            else f"{source} h CROSS JOIN {sub} s WHERE s.id = h.sid"
        )
        return (
            f"SELECT s.id AS sid, s.language AS language, CASE WHEN {quiet} THEN 1 ELSE 0 END "  # noqa: S608
            f"AS quiet FROM {joined} AND s.status = %s AND s.{q(f'want_{category}')} = %s"
        )

    status_params = [SubscriptionStatus.ACTIVE, True]
    column = {f.name: str(f.column) for f in Delivery._meta.concrete_fields}
    columns = ", ".join(
        q(column[name])
        for name in ("alert", "endpoint", "subscription", "channel", "language", "status",
                     "attempts", "provider_id", "queued_at", "error")
    )  # fmt: skip
    row_params = [False, True, alert_id, DeliveryStatus.QUEUED,
                  connection.ops.adapt_datetimefield_value(queued_at)]  # fmt: skip
    delivery = q(Delivery._meta.db_table)
    ring_json = json.dumps([(c.cell, c.near_m, c.far_m) for c in ring_cells])

    def ring_create() -> None:
        cursor.execute(f"CREATE TEMPORARY TABLE {ring} AS {_ring_sql()}", [ring_json])
        if connection.vendor == "postgresql":
            # A fresh temporary table has no statistics; without them PostgreSQL guesses its
            # size and joins badly.
            cursor.execute(f"ANALYZE {ring}")

    by_channel = None
    with _working_memory(cursor):
        try:
            if piped:
                # The hits, kept with their statistics, so that the matching hashes them (and
                # not the subscription table: PostgreSQL's guess of their number is far too
                # high); the rest is one statement whose rows start coming out at once (each
                # matching subscription's endpoints found by the index, as it comes), and
                # whose last rows hold the counts. The reader gathers the hits while this
                # session reads the circles of the ring that need the exact test, and tests
                # them.
                def gather() -> None:
                    ring_create()
                    cursor.execute(
                        f"CREATE TEMPORARY TABLE {found} AS {' UNION ALL '.join(hits)}", params
                    )

                with ThreadPoolExecutor(max_workers=1) as pool:
                    gathering = pool.submit(gather)
                    with connection.cursor() as here:
                        exact = _exact_subscription_ids(
                            here, shape, f"({_ring_sql()})", [ring_json]
                        )
                    gathering.result()
                cursor.execute(f"INSERT INTO {found} {_id_list_sql()}", [json.dumps(exact)])
                cursor.execute(f"ANALYZE {found}")
                select = (
                    "WITH m AS MATERIALIZED ("  # noqa: S608
                    f"{matching(found, semi=True)}), {_deliveries_sql('m', lateral=True)} "
                    f"UNION ALL SELECT {COUNTS_ROW}, COUNT(*), SUM(m.quiet), '', '', '', 0, '', "
                    f"NULL, '' FROM m UNION ALL SELECT {CHANNEL_COUNTS_ROW}, COUNT(*), 0, "
                    "d.channel, '', '', 0, '', NULL, '' FROM d GROUP BY d.channel"
                )
                created, counts = _rows_pipe(
                    cursor, f"{delivery} ({columns})", select,
                    [*quiet_params, *status_params, *row_params],
                )  # fmt: skip
                total, held, by_channel = _counts(counts)
            else:
                ring_create()
                exact = _exact_subscription_ids(cursor, shape, ring, [])
                # The matching subscriptions, once: counted, then joined to their endpoints.
                # UNION also sorts them by id, so the joins below read the tables in order.
                union = " UNION ".join([*hits, _id_list_sql()])
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {found} AS {matching(f'({union})')}",
                    [*quiet_params, *params, json.dumps(exact), *status_params],
                )
                if connection.vendor == "postgresql":
                    cursor.execute(f"ANALYZE {found}")
                cursor.execute(f"SELECT COUNT(*), SUM(quiet) FROM {found}")  # noqa: S608
                total, held = cursor.fetchone()
                created = _rows_write(
                    cursor, f"INTO {delivery} ({columns}) WITH {_deliveries_sql(found)}",
                    row_params, fresh=fresh,
                )  # fmt: skip
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {found}")
            cursor.execute(f"DROP TABLE IF EXISTS {ring}")
    held = int(held or 0)
    return Inserted(
        subscriptions=int(total) - held, quiet=held, created=created, by_channel=by_channel
    )


def _counts(rows: list[list[bytes]]) -> tuple[int, int, dict[str, int]]:
    """The matching subscriptions, those in quiet hours and the rows written per channel, from
    the rows of counts a piped resolve read (as COPY text columns)."""
    totals = [row for row in rows if row[0] == str(COUNTS_ROW).encode()]
    if len(totals) != 1:
        raise DatabaseError(f"The resolve read {len(totals)} rows of counts, not 1.")
    total, held = totals[0][1], totals[0][2]
    by_channel = {
        row[3].decode(): int(row[1]) for row in rows if row[0] == str(CHANNEL_COUNTS_ROW).encode()
    }
    return int(total), 0 if held == b"\\N" else int(held), dict(sorted(by_channel.items()))


def _deliveries_sql(matched: str, *, lateral: bool = False) -> str:
    """``c AS MATERIALIZED (…), d AS (…) SELECT … FROM d``, to follow ``WITH``: the delivery
    rows (``d``; parameters: False, True, alert id, status, queued at) of the subscriptions
    of ``matched`` (``sid, language, quiet``) that are not in quiet hours, one per live
    endpoint, and one message per channel and address: the endpoint with the lowest id.

    Only endpoints that share their address with another (Endpoint.shared) need grouping;
    they are grouped by the number of the channel and address first, so the sort compares
    strings only for equal numbers, and then byte by byte. The live endpoints are read once
    (MATERIALIZED). ``lateral`` (PostgreSQL) finds each subscription's endpoints by the index
    as the subscription comes, so that rows come out before ``matched`` is complete.
    """
    q = connection.ops.quote_name
    endpoint = q(Endpoint._meta.db_table)
    live = "e.confirmed_at IS NOT NULL AND e.disabled_at IS NULL"
    if lateral:
        joined = (
            f"{matched} m CROSS JOIN LATERAL (SELECT e.id, e.subscription_id, e.channel, "  # noqa: S608
            f"e.shared, e.address_key, e.address FROM {endpoint} e "
            f"WHERE e.subscription_id = m.sid AND {live} OFFSET 0) e WHERE m.quiet = 0"
        )
    else:
        joined = (
            f"{matched} m CROSS JOIN {endpoint} e "
            f"WHERE e.subscription_id = m.sid AND m.quiet = 0 AND {live}"
        )
    address = "CASE WHEN c.channel = 'email' THEN LOWER(c.address) ELSE c.address END"
    return (
        "c AS MATERIALIZED (SELECT e.id, e.subscription_id, e.channel, m.language, "  # noqa: S608
        f"e.shared, e.address_key, e.address FROM {joined}), "
        "d AS (SELECT r.id, r.subscription_id, r.channel, r.language "
        "FROM (SELECT c.id, c.subscription_id, c.channel, c.language, 1 AS rank FROM c "
        "WHERE c.shared = %s UNION ALL "
        "SELECT c.id, c.subscription_id, c.channel, c.language, ROW_NUMBER() OVER ("
        f"PARTITION BY c.address_key, {_bytewise('c.channel')}, {_bytewise(address)} "
        "ORDER BY c.id) FROM c WHERE c.shared = %s) r WHERE r.rank = 1) "
        "SELECT %s, d.id, d.subscription_id, d.channel, d.language, %s, 0, '', %s, '' FROM d"
    )


def _no_deliveries_yet(alert_id: int) -> bool:
    return not Delivery.objects.filter(alert_id=alert_id).exists()


def _rows_write(cursor: Any, statement: str, params: list[Any], *, fresh: bool) -> int:
    """Run ``INSERT <statement>``; the number of rows written.

    An alert with no deliveries yet takes a plain INSERT: checking each row for a conflict
    costs PostgreSQL more than writing it. Should another resolver of the same alert have
    written rows meanwhile, the unique (endpoint, alert) constraint stops the plain INSERT,
    which is rolled back to its savepoint and run again skipping the rows that exist.
    """
    if fresh:
        try:
            with transaction.atomic():
                cursor.execute(f"INSERT {statement}", params)
                return max(cursor.rowcount, 0)
        except IntegrityError:
            pass
    insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)
    suffix = connection.ops.on_conflict_suffix_sql(
        [Delivery._meta.get_field("endpoint"), Delivery._meta.get_field("alert")],
        OnConflict.IGNORE, [], [],
    )  # fmt: skip
    cursor.execute(f"{insert.removesuffix(' INTO')} {statement} {suffix}", params)
    return max(cursor.rowcount, 0)


def _rows_pipe(
    reader: Any, target: str, select: str, params: list[Any]
) -> tuple[int, list[list[bytes]]]:
    """Write the rows of ``select``, read by the ``reader`` session, into ``target`` (``table
    (columns)``) in this session, as one COPY out piped into one COPY in: the reader's server
    process computes the rows while this one writes them (a thread carries the bytes), and
    COPY writes in batches, which INSERT … SELECT does not.

    Rows whose first column (an id) is negative are not written: they are returned, split
    into their columns as COPY's text format gives them, with the number of rows written."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=PIPE_CHUNKS)
    stopped = threading.Event()
    counts: list[list[bytes]] = []

    def produce() -> None:
        # COPY out comes a row at a time: rows are handed over in blocks, so the two threads
        # meet a few hundred times rather than once per row.
        block = bytearray()
        try:
            with reader.copy(f"COPY ({select}) TO STDOUT", params) as out:
                for row in out:
                    if row[:1] == b"-":
                        counts.append(bytes(row).rstrip(b"\n").split(b"\t"))
                        continue
                    block += row
                    if len(block) >= PIPE_BLOCK_BYTES:
                        if stopped.is_set():
                            return
                        chunks.put(bytes(block))
                        block.clear()
            if block:
                chunks.put(bytes(block))
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread
            chunks.put(exc)
            return
        chunks.put(None)

    producer = threading.Thread(target=produce, name="resolve-reader", daemon=True)
    with connection.cursor() as cursor:
        writer = cursor.cursor
        producer.start()
        try:
            with writer.copy(f"COPY {target} FROM STDIN") as into:
                while (item := chunks.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    into.write(item)
        finally:
            stopped.set()
            while producer.is_alive():
                # Unblock a reader waiting on a full queue so that it sees ``stopped``.
                with suppress(queue.Empty):
                    chunks.get(timeout=0.05)
            producer.join()
        return max(writer.rowcount, 0), counts
