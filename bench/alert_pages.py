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
Usage, from the repository root: ``python bench/alert_pages.py [--repeats N] [--duration S]``.
Needs ``apt-get install wrk nginx``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_RPS = 5000.0
TARGET_P99_MS = 50.0
NGINX_CONF = """\
worker_processes auto;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{
        text/html html;
        application/atom+xml atom;
    }}
    charset utf-8;
    charset_types application/atom+xml;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                response.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return bytes(response.read())


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p99 in ms and the count of non-2xx/3xx responses from ``wrk --latency``."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", output)
    return {
        "rps": float(rps.group(1)),
        "p99_ms": float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        "bad": float(bad.group(1)) if bad else 0.0,
        "timeouts": float(errors.group(1)) if errors else 0.0,
    }


def run_wrk(url: str, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(  # noqa: S603 - fixed argument list
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per wrk run.")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(json.dumps({"bench": "alert_pages", "error": f"{tool} is not installed"}))
            return 1
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

    var_dir = Path(os.environ.get("WATCHHOUSE_VAR_DIR", "/tmp/wh-pages"))  # noqa: S108
    var_dir.mkdir(parents=True, exist_ok=True)
    for stale in var_dir.glob("*.sqlite3*"):
        stale.unlink()
    port, nginx_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "WATCHHOUSE_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(WATCHHOUSE_VAR_DIR=str(var_dir), WATCHHOUSE_DEBUG="0", PORT=str(port))
    watchhouse = str(BIN / "watchhouse")
    for step in (
        ["migrate", "--noinput"],
        ["collectstatic", "--noinput", "--verbosity", "0"],
        ["demo"],
    ):
        subprocess.run(  # noqa: S603
            [watchhouse, *step], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL
        )

    tmp = Path(tempfile.mkdtemp(prefix="wh-pages-nginx-"))
    tmp.chmod(0o755)  # nginx's workers run as www-data when the bench runs as root
    log = (var_dir / "serve.log").open("wb")  # the server's and worker's output
    server = subprocess.Popen(  # noqa: S603
        [watchhouse, "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    nginx: subprocess.Popen[bytes] | None = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/alerts/")
        listing = fetch(f"{base}/alerts/").decode("utf-8")
        ids = re.findall(r'href="/alerts/(\d+)/"', listing)
        if not ids:
            raise RuntimeError("the demo made no public alert")
        page_path, feed_path = f"/alerts/{ids[0]}/", "/alerts/feed.atom"
        www = tmp / "www"
        www.mkdir()
        page_bytes, feed_bytes = fetch(base + page_path), fetch(base + feed_path)
        (www / "alert.html").write_bytes(page_bytes)
        (www / "feed.atom").write_bytes(feed_bytes)
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=nginx_port))
        nginx = subprocess.Popen(  # noqa: S603
            [nginx_bin, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-e", str(tmp / "err.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"http://127.0.0.1:{nginx_port}/alert.html")
        targets = {
            "page": base + page_path,
            "feed": base + feed_path,
            "nginx_page": f"http://127.0.0.1:{nginx_port}/alert.html",
            "nginx_feed": f"http://127.0.0.1:{nginx_port}/feed.atom",
        }
        for url in targets.values():  # warm up: first renders, connections, caches
            run_wrk(url, 2, args.connections)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.repeats):
            for name, url in targets.items():
                runs[name].append(run_wrk(url, args.duration, args.connections))
    finally:
        if nginx is not None:
            stop(nginx, signal.SIGQUIT)
        stop(server, signal.SIGINT)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

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
