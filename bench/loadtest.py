"""Load tests of public pages: a scratch Watchhouse served as ``make run`` serves it, Debian's
nginx serving the same bytes as static files, and Debian's ``wrk`` driving both.

Used by ``bench/alert_pages.py`` and ``bench/posts.py``; needs ``apt-get install wrk nginx``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
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
        application/rss+xml rss;
        application/feed+json json;
    }}
    charset utf-8;
    charset_types application/atom+xml application/rss+xml application/feed+json;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
    }}
}}
"""
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def missing_tools() -> list[str]:
    """The Debian tools a load test needs that are not installed."""
    return [
        tool
        for tool in ("wrk", "nginx")
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]


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


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, Message]:
    """The body and headers (looked up in any letter case) of a GET on loopback."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return bytes(response.read()), response.headers


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


def run_wrk(
    url: str, duration: int, connections: int, headers: Sequence[str] = ()
) -> dict[str, float]:
    """One ``wrk -t2 --latency`` run; ``headers`` as ``"Name: value"``."""
    extra = [part for header in headers for part in ("-H", header)]
    out = subprocess.run(  # noqa: S603 - fixed argument list
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", *extra, url],  # noqa: S607
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


def scratch_env(var_dir: Path, port: int) -> dict[str, str]:
    """The environment of a scratch install on SQLite in ``var_dir`` (recreated)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    for stale in var_dir.glob("*.sqlite3*"):
        stale.unlink()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "WATCHHOUSE_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(WATCHHOUSE_VAR_DIR=str(var_dir), WATCHHOUSE_DEBUG="0", PORT=str(port))
    return env


def watchhouse(env: dict[str, str], *args: str) -> None:
    """Run one ``watchhouse`` command of the scratch install."""
    subprocess.run(  # noqa: S603
        [str(BIN / "watchhouse"), *args], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL
    )


def prepare(env: dict[str, str]) -> None:
    """What ``make run`` does before serving: migrate, collect static files, load the demo."""
    watchhouse(env, "migrate", "--noinput")
    watchhouse(env, "collectstatic", "--noinput", "--verbosity", "0")
    watchhouse(env, "demo")


@contextmanager
def served(env: dict[str, str], var_dir: Path) -> Iterator[str]:
    """``watchhouse serve`` as ``make run`` starts it; yields its base URL."""
    port = env["PORT"]
    log = (var_dir / "serve.log").open("wb")  # the server's and worker's output
    server = subprocess.Popen(  # noqa: S603
        [str(BIN / "watchhouse"), "serve", "--port", port],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        yield base
    finally:
        stop(server, signal.SIGINT)
        log.close()


@contextmanager
def nginx_serving(files: dict[str, bytes]) -> Iterator[str]:
    """Debian's nginx serving ``files`` (name → bytes) statically; yields its base URL."""
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = Path(tempfile.mkdtemp(prefix="wh-bench-nginx-"))
    tmp.chmod(0o755)  # nginx's workers run as www-data when the bench runs as root
    www = tmp / "www"
    www.mkdir()
    for name, body in files.items():
        (www / name).write_bytes(body)
    port = free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    nginx = subprocess.Popen(  # noqa: S603
        [nginx_bin, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-e", str(tmp / "err.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/{next(iter(files))}")
        yield base
    finally:
        stop(nginx, signal.SIGQUIT)
        shutil.rmtree(tmp, ignore_errors=True)
