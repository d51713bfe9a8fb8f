"""Incident import rows per second: the real St. Louis file and a 2,000,000-row scale-up,
each beside DuckDB loading the same rows.

Runs on a fresh database made for the run and removed after it: a SQLite file in a temporary
folder by default, or, with ``DATABASE_URL`` set to a PostgreSQL server, a new database on
that server (``<name>_bench_crimemap``). St. Louis neighbourhoods and wards are imported
first (../shared/data/crime/st-louis/), then, each timed from the call to its report:

- ``stl``: ``incidents_import`` of slmpd_baseline_2024_2026.parquet (91,654 offence rows)
  into the empty database, then the same file again (every incident unchanged); with
  ``--stl-runs N`` (default 3) the first import is repeated into N fresh jurisdictions (each
  with the same areas and no incidents or blocks) and the median run is reported, with every
  run's seconds in ``stl.runs_s``;
- ``scaleup``: a parquet file of ``--rows`` (2,000,000) rows made by repeating the St. Louis
  rows with new incident numbers, points jittered by about 40 m and times by up to a day
  (seeded), imported into the same database as a second source.

``duckdb_*`` figures time DuckDB creating a table from the same parquet file in a new
on-disk database (``CREATE TABLE … AS SELECT * FROM read_parquet(…)``): a floor for loading
the rows without checking, normalising or indexing anything. ``duckdb_speedup`` is how many
times faster DuckDB's load is. ``cpu_s`` is the processor time of this process during the
import (the database server's is not in it on PostgreSQL): on a busy machine it shows what
the import cost when the wall-clock seconds do not. ``server_cpu_s`` is, with a PostgreSQL
server on this machine, the processor time of the import's server process (its backend; the
server's background writers are not in it), read from ``/proc``; null elsewhere. On SQLite
the import returns once it has committed, and a thread then copies the pages it wrote from the
write-ahead log into the database file (a checkpoint; on PostgreSQL the server's own
processes do that): ``checkpoint_s`` is how long after the import that thread finished (the
bench waits for it before going on; null on PostgreSQL). Prints one JSON line; exits 1 when
an import's counts do not add up.
Usage: ``python -m bench.crimemap [--rows N] [--seed N] [--stl-runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHHOUSE_SHARED_DATA", REPO.parent / "shared" / "data"))
STL = SHARED / "crime" / "st-louis"
PARQUET = STL / "slmpd_baseline_2024_2026.parquet"
TARGET_ROWS_PER_S = 100_000
JURISDICTION = "Bench St. Louis"


def _database(folder: Path) -> tuple[str, str | None]:
    """The URL of a fresh database for the run, and a PostgreSQL database to drop after."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{folder / 'bench.sqlite3'}", None
    import dj_database_url
    import psycopg

    settings = dj_database_url.parse(url)
    name = f"{settings['NAME']}_bench_crimemap"
    with psycopg.connect(
        host=settings["HOST"] or None, port=settings["PORT"] or None, user=settings["USER"],
        password=settings["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as server:  # fmt: skip
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}", name


def _drop(name: str | None) -> None:
    if name is None:
        return
    import dj_database_url
    import psycopg
    from django.db import connections

    connections.close_all()
    settings = dj_database_url.parse(os.environ["DATABASE_URL"])
    with psycopg.connect(
        host=settings["HOST"] or None, port=settings["PORT"] or None, user=settings["USER"],
        password=settings["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as server:  # fmt: skip
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')


def scaleup_write(path: Path, rows: int, seed: int) -> None:
    """Repeat the St. Louis rows (new incident numbers, jittered points and times)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.read_table(PARQUET)
    rng = np.random.default_rng(seed)
    parts: list[pa.Table] = []
    copy = 0
    while sum(p.num_rows for p in parts) < rows:
        part = source.slice(0, min(source.num_rows, rows - sum(p.num_rows for p in parts)))
        # Offences of one incident move together: one jitter per incident number.
        ids = pc.dictionary_encode(part["inc_#"].combine_chunks())
        incident = ids.indices.to_numpy()
        count = len(ids.dictionary)
        dlat = rng.normal(0, 0.00035, count)[incident]
        dlon = rng.normal(0, 0.00045, count)[incident]
        dmin = rng.integers(-1440, 1441, count)[incident]
        times = part["date_time"].to_numpy().astype("datetime64[us]") + dmin.astype(
            "timedelta64[m]"
        )
        part = part.set_column(
            part.schema.get_field_index("inc_#"),
            "inc_#",
            pc.binary_join_element_wise(pc.cast(part["inc_#"], pa.string()), f"c{copy}", "-"),
        )
        part = part.set_column(
            part.schema.get_field_index("lat"), "lat", pa.array(part["lat"].to_numpy() + dlat)
        )
        part = part.set_column(
            part.schema.get_field_index("lon"), "lon", pa.array(part["lon"].to_numpy() + dlon)
        )
        part = part.set_column(
            part.schema.get_field_index("date_time"),
            "date_time",
            pa.array(times, type=part.schema.field("date_time").type),
        )
        parts.append(part)
        copy += 1
    pq.write_table(pa.concat_tables(parts), path)


def duckdb_load(path: Path, folder: Path) -> float:
    """Seconds DuckDB takes to load the parquet file into a new on-disk table."""
    import duckdb

    target = folder / f"{path.stem}.duckdb"
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    start = time.perf_counter()
    con.sql(f"CREATE TABLE incidents AS SELECT * FROM read_parquet('{path}')")  # noqa: S608 - our own path
    con.sql("CHECKPOINT")
    seconds = time.perf_counter() - start
    con.close()
    return seconds


@contextmanager
def scratch_django() -> Iterator[Path]:
    """A new database for the run (removed after it, see :func:`_database`), Django set up
    on it and migrated; yields a scratch folder that goes with it."""
    with tempfile.TemporaryDirectory(prefix="watchhouse-bench-") as name:
        folder = Path(name)
        url, dropped = _database(folder)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
        os.environ.setdefault("WATCHHOUSE_VAR_DIR", str(folder))
        # As in production: the debug cursor would log every parameter of every statement.
        os.environ["WATCHHOUSE_DEBUG"] = "0"
        import django

        django.setup()
        from django.core.management import call_command

        try:
            call_command("migrate", verbosity=0)
            yield folder
        finally:
            _drop(dropped)


def areas_import(jurisdiction: str) -> None:
    from watchhouse.geo.services import area_import

    for kind, file in (("neighbourhood", "stl_neighborhoods"), ("ward", "stl_wards")):
        area_import(actor=None, kind=kind, path=STL / f"{file}.geojson", jurisdiction=jurisdiction)


@dataclass(frozen=True)
class Run:
    """One timed import: wall-clock and processor seconds, and its report."""

    seconds: float
    cpu_s: float
    report: Any
    server_cpu_s: float | None = None
    checkpoint_s: float | None = None


def server_cpu() -> float | None:
    """Processor seconds so far of this connection's PostgreSQL server process, when the
    server runs on this machine (else None)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime, the 14th and 15th fields (the text after the name starts at the 3rd).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_import(path: Path, source: str, jurisdiction: str = JURISDICTION) -> Run:
    from watchhouse.crimemap import store
    from watchhouse.crimemap.services import incidents_import

    threads: list[Any] = []
    original = store.checkpoint_later

    def checkpoint_later(name: str) -> Any:
        threads.append(original(name))
        return threads[-1]

    server = server_cpu()
    store.checkpoint_later = checkpoint_later
    try:
        start, cpu = time.perf_counter(), time.process_time()
        report = incidents_import(
            actor=None, path=path, format="stl-nibrs", jurisdiction=jurisdiction, source=source
        )
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    finally:
        store.checkpoint_later = original
    after = server_cpu() if server is not None else None
    server_s = None if server is None or after is None else after - server
    for thread in threads:
        thread.join()
    checkpoint_s = time.perf_counter() - start - seconds if threads else None
    return Run(seconds, cpu_s, report, server_s, checkpoint_s)


def figures(run: Run, duck_s: float) -> dict[str, Any]:
    report, seconds = run.report, run.seconds
    rows = report.rows_read
    ours = rows / seconds
    duck = rows / duck_s
    return {
        "rows": rows,
        "rejected": report.rows_rejected,
        "incidents": report.incidents_created,
        "offences": report.offences_written,
        "seconds": round(seconds, 3),
        "cpu_s": round(run.cpu_s, 3),
        "server_cpu_s": None if run.server_cpu_s is None else round(run.server_cpu_s, 3),
        "checkpoint_s": None if run.checkpoint_s is None else round(run.checkpoint_s, 3),
        "rows_per_s": round(ours),
        "duckdb_s": round(duck_s, 3),
        "duckdb_rows_per_s": round(duck),
        "duckdb_speedup": round(duck / ours, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20260501)
    parser.add_argument("--stl-runs", type=int, default=3)
    args = parser.parse_args()
    if not PARQUET.is_file():
        print(json.dumps({"bench": "crimemap", "error": f"{PARQUET} is missing"}))
        return 1
    with scratch_django() as folder:
        from django.db import connection

        places = [JURISDICTION] + [
            f"{JURISDICTION} {n}" for n in range(2, max(args.stl_runs, 1) + 1)
        ]
        for place in places:
            areas_import(place)
        scaled = folder / "scaleup.parquet"
        scaleup_write(scaled, args.rows, args.seed)
        runs = [timed_import(PARQUET, "stl", place) for place in places]
        stl = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
        again = timed_import(PARQUET, "stl")
        big = timed_import(scaled, "scaleup")
        result = {
            "bench": "crimemap",
            "database": connection.vendor,
            "target_rows_per_s": TARGET_ROWS_PER_S,
            "stl": {
                **figures(stl, duckdb_load(PARQUET, folder)),
                "runs_s": [round(run.seconds, 3) for run in runs],
                "reimport_s": round(again.seconds, 3),
                "reimport_rows_per_s": round(again.report.rows_read / again.seconds),
            },
            "scaleup": figures(big, duckdb_load(scaled, folder)),
        }
        first, repeat, large = stl.report, again.report, big.report
        ok = (
            all(run.report.incidents_created == first.incidents_created for run in runs)
            and repeat.incidents_unchanged == first.incidents_created
            and repeat.incidents_created == repeat.incidents_updated == 0
            and large.rows_read == args.rows
            and first.rows_read == first.rows_rejected + first.offences_written
        )
    result["counts_ok"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
