"""Public alert page and CAP Atom feed under load, beside nginx serving the same bytes.

Sets up a scratch install in ``WATCHHOUSE_VAR_DIR`` (default /tmp/wh-pages; its SQLite file
is recreated): ``migrate``, ``collectstatic``, ``demo``, then starts ``watchhouse serve`` on a
free loopback port exactly as ``make run`` does (its default workers and threads, with
``WATCHHOUSE_DEBUG=0``). It fetches the page of an alert in force and ``/alerts/feed.atom``
once, writes the bytes to files and starts Debian's nginx (a generated minimal config in a
temporary directory, ``daemon off``) serving them on another free port. Then, ``--repeats``
times, ``wrk -t2 -c64 -d10s --latency`` (Debian's wrk) runs against each of the four URLs in
turn: requests per second and the 99th percentile latency are parsed from its output.

Prints one JSON line with the medians; exits 1 when Watchhouse misses the target (at least
5,000 requests/s with a p99 of at most 50 ms on both URLs) or any response was not a 2xx.
Usage, from the repository root: ``python -m bench.alert_pages [--repeats N] [--duration S]``.
Needs ``apt-get install wrk nginx``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.loadtest import (
    fetch,
    free_port,
    missing_tools,
    nginx_serving,
    prepare,
    run_wrk,
    scratch_env,
    served,
)

TARGET_RPS = 5000.0
TARGET_P99_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per wrk run.")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if missing := missing_tools():
        print(json.dumps({"bench": "alert_pages", "error": f"not installed: {missing}"}))
        return 1
    var_dir = Path(os.environ.get("WATCHHOUSE_VAR_DIR", "/tmp/wh-pages"))  # noqa: S108
    env = scratch_env(var_dir, free_port())
    prepare(env)
    with served(env, var_dir) as base:
        listing = fetch(f"{base}/alerts/")[0].decode("utf-8")
        ids = re.findall(r'href="/alerts/(\d+)/"', listing)
        if not ids:
            raise RuntimeError("the demo made no public alert")
        page_path, feed_path = f"/alerts/{ids[0]}/", "/alerts/feed.atom"
        page_bytes, feed_bytes = fetch(base + page_path)[0], fetch(base + feed_path)[0]
        with nginx_serving({"alert.html": page_bytes, "feed.atom": feed_bytes}) as static:
            targets = {
                "page": base + page_path,
                "feed": base + feed_path,
                "nginx_page": f"{static}/alert.html",
                "nginx_feed": f"{static}/feed.atom",
            }
            for url in targets.values():  # warm up: first renders, connections, caches
                run_wrk(url, 2, args.connections)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.repeats):
                for name, url in targets.items():
                    runs[name].append(run_wrk(url, args.duration, args.connections))

    result: dict[str, Any] = {"bench": "alert_pages", "connections": args.connections}
    result["repeats"] = args.repeats
    result["duration_s"] = args.duration
    ok = True
    for name, samples in runs.items():
        rps = statistics.median(s["rps"] for s in samples)
        p99 = statistics.median(s["p99_ms"] for s in samples)
        bad = sum(s["bad"] for s in samples)
        result[f"{name}_rps"] = round(rps)
        result[f"{name}_p99_ms"] = round(p99, 2)
        if bad:
            result[f"{name}_non_2xx"] = int(bad)
            ok = False
        if not name.startswith("nginx"):
            ok = ok and rps >= TARGET_RPS and p99 <= TARGET_P99_MS
    result["page_bytes"], result["feed_bytes"] = len(page_bytes), len(feed_bytes)
    result["page_share_of_nginx"] = round(result["page_rps"] / result["nginx_page_rps"], 3)
    result["feed_share_of_nginx"] = round(result["feed_rps"] / result["nginx_feed_rps"], 3)
    result["target_met"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
