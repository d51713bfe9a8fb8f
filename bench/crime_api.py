"""Crime statistics through the HTTP API on 2,000,000 incidents: p50/p95 of three queries,
each beside DuckDB running the same aggregation over the same incident rows.

Runs on a fresh database made for the run and removed after it (a SQLite file by default,
or a new database on the PostgreSQL server of ``DATABASE_URL``), as :mod:`bench.crimemap`
does, and reuses its scale-up: the St. Louis rows repeated with new incident numbers and
jittered points and times until the file holds ``--incidents`` incidents. After the import,
``rollups_refresh`` rebuilds the count tables (timed), then each query is asked ``--requests``
(50) times through Django's test ``Client`` in the same process (the full middleware and
URL stack and the ninja API, no network socket):

- ``blocks``: counts by hundred block for the neighbourhood with the most incidents, over the
  last 90 days of the data (``/api/v1/crime/blocks?area=…&limit=1000``);
- ``trend``: monthly counts by category for the whole city over the last two years
  (``/api/v1/crime/trend?interval=month``);
- ``hexbins``: H3 resolution 8 cells for the whole city over the last 90 days, as GeoJSON
  (``/api/v1/crime/hexbins?resolution=8``).

DuckDB gets the same incident rows (the columns the aggregation needs, copied from the
database) and runs each aggregation over the raw rows, as a scan-per-request design would.
Prints one JSON line; the target is p95 ≤ 50 ms. Usage:
``python -m bench.crime_api [--incidents N] [--requests N] [--seed N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from bench.crimemap import JURISDICTION, PARQUET, areas_import, scaleup_write, scratch_django

TARGET_P95_MS = 50.0
# Offence rows per incident in the St. Louis file (91,654 rows, 65,671 incidents).
ROWS_PER_INCIDENT = 91_654 / 65_671


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


def _timed(run: Callable[[], Any], times: int) -> tuple[dict[str, float], Any]:
    samples = []
    result = None
    for _ in range(times):
        start = time.perf_counter()
        result = run()
        samples.append(time.perf_counter() - start)
    return _percentiles(samples), result


def _duckdb_rows() -> Any:
    """The incident columns the aggregations need, copied into an in-memory DuckDB."""
    import duckdb
    import pyarrow as pa
    from django.db import connection

    from watchhouse.crimemap.models import CellParent

    con = duckdb.connect()
    names = ["day", "category", "neighbourhood_id", "block", "h3", "withheld"]
    batches = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.occurred_date, i.category, i.neighbourhood_id, b.name, i.public_h3, "
            "i.withheld FROM crimemap_incident i LEFT JOIN crimemap_hundredblock b "
            "ON b.id = i.block_id WHERE i.state = 'active'"
        )
        while rows := cursor.fetchmany(200_000):
            columns = list(zip(*rows, strict=True))
            batches.append(pa.table({n: pa.array(c) for n, c in zip(names, columns, strict=True)}))
    con.register("incoming", pa.concat_tables(batches))
    con.sql("CREATE TABLE incidents AS SELECT * FROM incoming")
    con.unregister("incoming")
    parents = pa.table(
        dict(
            zip(
                ["cell", "parent8"],
                map(list, zip(*CellParent.objects.values_list("cell", "parent8"), strict=True)),
                strict=True,
            )
        )
    )
    con.register("parents_in", parents)
    con.sql("CREATE TABLE parents AS SELECT * FROM parents_in")
    return con


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20260501)
    args = parser.parse_args()
    if not PARQUET.is_file():
        print(json.dumps({"bench": "crime_api", "error": f"{PARQUET} is missing"}))
        return 1
    with scratch_django() as folder:
        from django.conf import settings
        from django.db import connection
        from django.db.models import Count
        from django.test import Client

        from watchhouse.crimemap.models import Incident
        from watchhouse.crimemap.rollups import rollups_refresh
        from watchhouse.crimemap.services import incidents_import

        areas_import(JURISDICTION)
        scaled = folder / "scaleup.parquet"
        scaleup_write(scaled, round(args.incidents * ROWS_PER_INCIDENT), args.seed)
        start = time.perf_counter()
        report = incidents_import(
            actor=None,
            path=scaled,
            format="stl-nibrs",
            jurisdiction=JURISDICTION,
            source="scaleup",
        )
        import_s = time.perf_counter() - start
        start = time.perf_counter()
        rollup_rows = rollups_refresh(source_id=report.source_id)
        rollups_s = time.perf_counter() - start
        incidents = Incident.objects.count()

        settings.WATCHHOUSE_CRIME_API_RATE_LIMIT = 10**9
        client = Client()
        last = date.fromisoformat(client.get("/api/v1/crime/range").json()["last"])
        days90 = (last - timedelta(days=89), last)
        months = last.year * 12 + last.month - 1 - 23
        years2 = (date(months // 12, months % 12 + 1, 1), last)
        hood = (
            Incident.objects.filter(neighbourhood__isnull=False)
            .values("neighbourhood_id")
            .annotate(n=Count("id"))
            .order_by("-n")
            .values_list("neighbourhood_id", flat=True)
            .first()
        )
        queries = {
            "blocks": f"/api/v1/crime/blocks?area={hood}&limit=1000"
            f"&from={days90[0]}&to={days90[1]}",
            "trend": f"/api/v1/crime/trend?interval=month&from={years2[0]}&to={years2[1]}",
            "hexbins": f"/api/v1/crime/hexbins?resolution=8&from={days90[0]}&to={days90[1]}",
        }
        con = _duckdb_rows()
        duck_sql = {
            "blocks": (
                "SELECT block, count(*) n FROM incidents WHERE neighbourhood_id = ? "
                "AND day BETWEEN ? AND ? AND NOT withheld AND block IS NOT NULL "
                "GROUP BY block ORDER BY n DESC LIMIT 1000",
                [hood, *days90],
            ),
            "trend": (
                "SELECT strftime(day, '%Y-%m') m, category, count(*) FROM incidents "
                "WHERE day BETWEEN ? AND ? GROUP BY ALL ORDER BY m",
                list(years2),
            ),
            "hexbins": (
                "SELECT p.parent8, count(*) FROM incidents i JOIN parents p "
                "ON p.cell = i.h3 WHERE day BETWEEN ? AND ? AND NOT withheld GROUP BY ALL",
                list(days90),
            ),
        }
        figures: dict[str, Any] = {}
        agree = True
        for key, path in queries.items():
            client.get(path)  # warm
            api, response = _timed(lambda path=path: client.get(path), args.requests)
            sql, params = duck_sql[key]
            duck, rows = _timed(
                lambda sql=sql, params=params: con.execute(sql, params).fetchall(),
                args.requests,
            )
            body = response.json()
            # A refused query (say, two years asked of a smaller scale-up) counts nothing.
            ours = (
                {
                    "blocks": lambda b: sum(r["count"] for r in b["rows"]),
                    "trend": lambda b: sum(s["total"] for s in b["series"]),
                    "hexbins": lambda b: sum(f["properties"]["count"] for f in b["features"]),
                }[key](body)
                if response.status_code == 200
                else None
            )
            theirs = sum(r[-1] for r in rows)
            agree = agree and response.status_code == 200 and ours == theirs
            figures[key] = {
                "path": path,
                "status": response.status_code,
                **api,
                "duckdb": duck,
                "count": ours,
                "duckdb_count": theirs,
                "ok": response.status_code == 200 and api["p95_ms"] <= TARGET_P95_MS,
            }
        result = {
            "bench": "crime_api",
            "database": connection.vendor,
            "client": "django.test.Client, in process",
            "incidents": incidents,
            "rows_read": report.rows_read,
            "import_s": round(import_s, 1),
            "rollups_s": round(rollups_s, 1),
            "rollup_rows": rollup_rows,
            "requests": args.requests,
            "target_p95_ms": TARGET_P95_MS,
            "queries": figures,
            "counts_agree": agree,
        }
    print(json.dumps(result))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
