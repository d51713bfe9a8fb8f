"""Bulk writes of many rows: COPY or one prepared INSERT, and UPDATEs by ``executemany``.

An import writes tens of thousands of incidents at a time; building a model instance per row
and letting ``bulk_create`` prepare every field of every instance costs more than reading,
checking and placing the rows together. These helpers take plain tuples, already in column
order, and hand them to the database driver in batches. The SQL is plain ``INSERT … VALUES``
and ``UPDATE … WHERE id =`` that every backend Django supports runs as is, or ``COPY`` where
the driver offers it; column names come from the models' metadata and values go through the
backend's own adapters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection, models

# Rows handed to the driver per executemany call.
BATCH = 5_000
# Values per IN (...) list.
IN_BATCH = 500


# Page cache of the SQLite connection while it writes an import, in KiB: the incident table's
# indexes then stay in memory instead of spilling dirty pages before the commit.
SQLITE_IMPORT_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_writes() -> Iterator[None]:
    """Tune the connection for writing many rows, and put it back after.

    Only the page cache changes (on SQLite): durability settings stay as they are, so an
    import that commits survives a crash like any other transaction.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB:d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous):d}")


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise TypeError(f"{model.__name__}.{name} is not a column.")
    return connection.ops.quote_name(field.column)


def _literal(value: Any) -> str:
    """``value`` as an SQLite literal (only the kinds of value the imports fix per batch)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"No SQLite literal for {type(value).__name__}.")


def _sqlite_executemany(sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``executemany`` on the driver's own cursor: Django's SQLite cursor copies every row
    through an iterator to peek at the first one, which costs more than binding it."""
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with connection.wrap_database_errors:
            for start in range(0, len(rows), BATCH):
                sqlite3.Cursor.executemany(raw, sql, rows[start : start + BATCH])


def rows_insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    fixed: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (tuples of ``fields``' database values) into ``model``'s table, with
    the database values of ``fixed`` (field: value) in every row.

    Through ``COPY … FROM STDIN`` when the driver's cursor offers it (psycopg 3 on
    PostgreSQL, where it is many times faster than any INSERT), else through one prepared
    ``INSERT`` run by ``executemany`` (SQLite's fastest way), with the fixed values written
    into the statement once instead of bound in every row. Either way the rows are the same
    database values, so both paths store the same thing.
    """
    if not rows:
        return
    fixed = dict(fixed or {})
    names = [*fields, *fixed]
    columns = ", ".join(_column(model, f) for f in names)
    if connection.vendor == "sqlite":
        values = ", ".join(["?"] * len(fields) + [_literal(v) for v in fixed.values()])
        _sqlite_executemany(
            f"INSERT INTO {_table(model)} ({columns}) VALUES ({values})",  # noqa: S608 - names from metadata
            rows,
        )
        return
    extra = tuple(fixed.values())
    with connection.cursor() as cursor:
        raw = cursor.cursor
        copy = getattr(raw, "copy", None)
        if copy is not None:
            with copy(f"COPY {_table(model)} ({columns}) FROM STDIN") as stream:
                write = stream.write_row
                if extra:
                    for row in rows:
                        write(row + extra)
                else:
                    for row in rows:
                        write(row)
            return
        marks = ", ".join(["%s"] * len(names))
        sql = f"INSERT INTO {_table(model)} ({columns}) VALUES ({marks})"  # noqa: S608 - names from metadata
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, [row + extra for row in rows[start : start + BATCH]])


def rows_update(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: str = "id",
    fixed: Mapping[str, Any] | None = None,
) -> None:
    """Set ``fields`` (and ``fixed``, field: value, alike for every row) of the rows whose
    ``key`` (default: the primary key) is each tuple's last value."""
    if not rows:
        return
    fixed = dict(fixed or {})
    sets = ", ".join(f"{_column(model, f)} = %s" for f in [*fields, *fixed])
    where = _column(model, key)
    sql = f"UPDATE {_table(model)} SET {sets} WHERE {where} = %s"  # noqa: S608 - names from metadata
    extra = tuple(fixed.values())
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            if extra:
                batch = [(*row[:-1], *extra, row[-1]) for row in batch]
            cursor.executemany(sql, batch)


def chunks(values: Sequence[Any], size: int = IN_BATCH) -> Iterable[Sequence[Any]]:
    """``values`` in slices of at most ``size`` (for IN lists every backend accepts)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def datetimes_adapt(microseconds: np.ndarray) -> list[Any]:
    """UTC microseconds since 1970 as the database's datetime values (-1 for NULL).

    Each distinct value goes through the backend's adapter. Where that adapter turns
    whole-second times into text (SQLite), the text of all of them is made at once in the
    same form, after checking on the first and last value that the forms agree.
    """
    if microseconds.size == 0:
        return []
    unique, inverse = np.unique(microseconds, return_inverse=True)
    adapt = connection.ops.adapt_datetimefield_value
    known = np.maximum(unique, 0)
    moments = pa.array(known, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    values: list[Any] | None = None
    if not (known % 1_000_000).any():
        # Arrow's %S shows a fraction unless the timestamps count whole seconds.
        seconds = moments.cast(pa.timestamp("s", tz="UTC"))
        texts = pc.strftime(seconds, format="%Y-%m-%d %H:%M:%S").to_pylist()
        if all(adapt(moments[i].as_py()) == texts[i] for i in (0, len(texts) - 1)):
            values = texts
    if values is None:
        values = [adapt(moment) for moment in moments.to_pylist()]
    if unique[0] < 0:
        values[0] = None
    return [values[i] for i in inverse.tolist()]


def dates_adapt(days: Sequence[date]) -> list[Any]:
    """Dates as the database's date values, each distinct date converted once."""
    if not days:
        return []
    unique, inverse = np.unique(np.array(days, dtype="datetime64[D]"), return_inverse=True)
    adapt = connection.ops.adapt_datefield_value
    values = np.empty(unique.size, dtype=object)
    for k, day in enumerate(unique.tolist()):
        values[k] = adapt(day)
    return values[inverse.ravel()].tolist()


def now_adapted(now: datetime) -> Any:
    """``now`` (aware) as the database's datetime value."""
    return connection.ops.adapt_datetimefield_value(now)


def floats(values: np.ndarray) -> list[float | None]:
    """Floats with NaN as NULL."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


# The database value of each flag (1/0/-1), by flag + 1.
_FLAGS = np.array([None, False, True], dtype=object)


def flags(values: np.ndarray) -> list[bool | None]:
    """1/0/-1 as True/False/NULL."""
    return _FLAGS[np.asarray(values, dtype=np.int64) + 1].tolist()


def ids(values: np.ndarray) -> list[int | None]:
    """Area or other ids with -1 as NULL."""
    out = values.astype(object)
    out[values < 0] = None
    return out.tolist()
