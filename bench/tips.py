"""Tips: uploads through the real web server, and evidence export beside ``zip``.

Sets up a scratch install in ``WATCHHOUSE_VAR_DIR`` (default /tmp/wh-tips; recreated, and
deleted at the end): ``migrate`` and ``collectstatic`` on SQLite.

Uploads: ``watchhouse serve --no-worker`` (granian, its default web processes and threads,
``WATCHHOUSE_DEBUG=0``, ``WATCHHOUSE_TIPS_PER_HOUR`` raised so the bench is not rate limited)
takes tips posted to ``/tips/new`` exactly as the public form sends them (multipart, CSRF
token, one attachment), the body streamed from a file on disk. The attachment is random bytes
behind a PDF signature, so intake accepts it and no worker has anything to decode. ``--repeats``
runs of ``--uploads`` sequential 20 MB uploads, and as many runs of the same count spread over
``--clients`` concurrent clients, give uploads per second (medians). Peak memory is the
largest ``VmHWM`` (peak resident set) of the web processes: a fresh server takes 20 MB
uploads, another fresh server takes ``--big-uploads`` 200 MB uploads; with uploads streamed
to disk the two peaks are about the same.

Export: a tip with ``--export-files`` files of ``--export-mb`` MB each (1 GB by default; random
bytes, sealed as intake seals them) is exported with
``watchhouse.tips.services.evidence.tip_export`` into a ZIP file, and the same plaintext files
are zipped by ``zip -q`` (default settings) in the same run, alternately, ``--repeats`` times;
MB/s of each (medians) and the ratio (target ≥ 0.5).

Prints one JSON line; exits 1 when the export is below half of ``zip``'s rate, the 200 MB
peak is more than 1.5 times the 20 MB peak, or an upload was refused. Usage, from the
repository root: ``python -m bench.tips [--uploads N] [--clients N] [--repeats N]
[--export-mb N] [--export-files N]``. Needs ``zip``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.loadtest import BIN, free_port, scratch_env, stop, wait_for, watchhouse

REPO = Path(__file__).resolve().parent.parent
MB = 1 << 20
TARGET_EXPORT_VS_ZIP = 0.5
# How much more the web processes may peak at with 200 MB files than with 20 MB files.
PEAK_GROWTH_ALLOWED = 1.5
# Run in the scratch install: a tip with sealed files (and the same files in plaintext for
# zip), then alternate timed exports and zips. Prints JSON.
EXPORT = """
import json, os, subprocess, sys, time
from pathlib import Path
import django
django.setup()
from watchhouse.accounts.models import RoleAssignment, User
from watchhouse.posts.storage import private_path
from watchhouse.core import crypto
from watchhouse.tips.models import Tip, TipFile
from watchhouse.tips.services.evidence import tip_export

files, size_mb, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
plain_dir = Path(sys.argv[4])
actor = User.objects.create(username="bench-investigator", is_staff=True)
RoleAssignment.objects.create(user=actor, role="investigator")
tip = Tip.objects.create(code="BNCH-BNCH-BNCH", content=crypto.seal_json({"what": "Bench tip"}))
plain = []
for n in range(files):
    target = plain_dir / f"video{n}.mp4"
    relative = f"tips/evidence/{tip.code}/bench{n}"
    writer = crypto.SealingWriter(private_path(relative))
    with target.open("wb") as out:
        for k in range(size_mb):
            chunk = (b"\\x00\\x00\\x00\\x18ftypmp42" if k == 0 else b"") + os.urandom(1 << 20)
            out.write(chunk)
            writer.write(chunk)
    sealed = writer.close()
    TipFile.objects.create(
        tip=tip, kind="video", mime="video/mp4", size=sealed.size, sha256=sealed.sha256,
        path=relative, wrapped_key=sealed.wrapped_key, name=crypto.seal(target.name),
        status="ready",
    )
    plain.append(target.name)
total = sum((plain_dir / name).stat().st_size for name in plain)
export_s, zip_s = [], []
for _ in range(repeats):
    out_path = plain_dir.parent / "export.zip"
    started = time.monotonic()
    with out_path.open("wb") as out:
        summary = tip_export(actor=actor, tip=tip, reason="Benchmark", out=out)
    export_s.append(time.monotonic() - started)
    out_path.unlink()
    assert summary.files == files and summary.bytes == total, summary
    zip_path = plain_dir.parent / "plain.zip"
    started = time.monotonic()
    subprocess.run(["zip", "-q", str(zip_path), *plain], cwd=plain_dir, check=True)
    zip_s.append(time.monotonic() - started)
    zip_path.unlink()
print(json.dumps({"bytes": total, "export_s": export_s, "zip_s": zip_s}))
"""


def attachment(path: Path, size_mb: int) -> Path:
    """A file of random bytes behind a PDF signature (taken as a document, nothing to decode)."""
    with path.open("wb") as out:
        for k in range(size_mb):
            out.write((b"%PDF-1.7\n" if k == 0 else b"") + os.urandom(MB))
    return path


class Client:
    """One tipster's browser: the form's CSRF token, then tips posted with one attachment."""

    def __init__(self, base: str) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        conn.request("GET", "/tips/new")
        response = conn.getresponse()
        page = response.read().decode()
        cookies = response.headers.get_all("Set-Cookie") or []
        conn.close()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        cookie = next((c.split(";")[0] for c in cookies if c.startswith("csrftoken=")), None)
        if token is None or cookie is None:
            raise RuntimeError("the tip form has no CSRF token")
        self.token, self.cookie = token.group(1), cookie

    def upload(self, path: Path) -> None:
        """Post one tip with the file at ``path``, streamed; raise unless it was taken."""
        boundary = secrets.token_hex(16)
        head = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f"{self.token}\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="what"\r\n\r\n'
            "The bench saw something.\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="statement.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        conn.putrequest("POST", "/tips/new")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
        conn.putheader("Cookie", self.cookie)
        conn.endheaders()
        conn.send(head)
        with path.open("rb") as fh:
            while chunk := fh.read(MB):
                conn.send(chunk)
        conn.send(tail)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        if response.status != 302:
            raise RuntimeError(f"upload refused ({response.status}): {body[:300]!r}")


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def peak_rss_mb(server_pid: int) -> float:
    """The largest peak resident set (VmHWM) among the web server's processes, in MB."""
    peaks = [0.0]
    for pid in descendants(server_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            peaks.append(int(found.group(1)) / 1024)
    return round(max(peaks), 1)


def uploads_per_s(base: str, path: Path, count: int, clients: int) -> float:
    browsers = [Client(base) for _ in range(clients)]
    started = time.monotonic()
    if clients == 1:
        for _ in range(count):
            browsers[0].upload(path)
    else:
        with ThreadPoolExecutor(clients) as pool:
            done = [pool.submit(browsers[n % clients].upload, path) for n in range(count)]
            for future in done:
                future.result()
    return count / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--uploads", type=int, default=8, help="20 MB uploads per run.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent clients.")
    parser.add_argument("--big-uploads", type=int, default=3, help="200 MB uploads.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each (medians).")
    parser.add_argument("--export-files", type=int, default=5)
    parser.add_argument("--export-mb", type=int, default=200, help="MB per exported file.")
    args = parser.parse_args()
    if shutil.which("zip") is None:
        print(json.dumps({"bench": "tips", "error": "not installed: zip"}))
        return 1
    var_dir = Path(os.environ.get("WATCHHOUSE_VAR_DIR", "/tmp/wh-tips"))  # noqa: S108
    shutil.rmtree(var_dir, ignore_errors=True)
    env = scratch_env(var_dir, free_port())
    env.update(WATCHHOUSE_TIPS_PER_HOUR="1000000", WATCHHOUSE_MFA_REQUIRED="0")
    env["DJANGO_SETTINGS_MODULE"] = "watchhouse.config.settings"
    result: dict[str, Any] = {"bench": "tips", "cpus": os.cpu_count(), "repeats": args.repeats}
    try:
        watchhouse(env, "migrate", "--noinput")
        watchhouse(env, "collectstatic", "--noinput", "--verbosity", "0")
        files = var_dir / "bench-files"
        files.mkdir()
        small = attachment(files / "20mb.pdf", 20)
        big = attachment(files / "200mb.pdf", 200)

        sequential, concurrent = [], []
        with served_web(env, var_dir) as (base, pid):
            Client(base)  # the form page: imports and templates loaded
            peak_idle = peak_rss_mb(pid)
            Client(base).upload(small)  # warm up: first upload, connections
            for _ in range(args.repeats):
                sequential.append(uploads_per_s(base, small, args.uploads, 1))
                concurrent.append(uploads_per_s(base, small, args.uploads, args.clients))
            peak_small = peak_rss_mb(pid)
        with served_web(env, var_dir) as (base, pid):
            big_rate = uploads_per_s(base, big, args.big_uploads, 1)
            peak_big = peak_rss_mb(pid)
        shutil.rmtree(var_dir / "private-media" / "tips", ignore_errors=True)
        result.update(
            upload_20mb_per_s=round(statistics.median(sequential), 2),
            upload_20mb_per_s_concurrent=round(statistics.median(concurrent), 2),
            upload_20mb_mb_s=round(statistics.median(sequential) * 20, 1),
            upload_200mb_per_s=round(big_rate, 3),
            upload_peak_rss_mb_idle=peak_idle,
            upload_peak_rss_mb_20mb=peak_small,
            upload_peak_rss_mb_200mb=peak_big,
            upload_runs=len(sequential),
            uploads_per_run=args.uploads,
            upload_clients=args.clients,
            big_uploads=args.big_uploads,
        )

        plain = var_dir / "export" / "plain"
        plain.mkdir(parents=True)
        out = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "-c", EXPORT, str(args.export_files), str(args.export_mb),
             str(args.repeats), str(plain)],
            env=env, cwd=REPO, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        timed = json.loads(out.strip().splitlines()[-1])
        size_mb = timed["bytes"] / MB
        export_mb_s = size_mb / statistics.median(timed["export_s"])
        zip_mb_s = size_mb / statistics.median(timed["zip_s"])
        result.update(
            export_mb=round(size_mb),
            export_mb_s=round(export_mb_s, 1),
            zip_mb_s=round(zip_mb_s, 1),
            export_vs_zip=round(export_mb_s / zip_mb_s, 2),
            export_runs=len(timed["export_s"]),
        )
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    ok = (
        result["export_vs_zip"] >= TARGET_EXPORT_VS_ZIP
        and result["upload_peak_rss_mb_200mb"]
        <= result["upload_peak_rss_mb_20mb"] * PEAK_GROWTH_ALLOWED
    )
    result["target_met"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


@contextmanager
def served_web(env: dict[str, str], var_dir: Path) -> Iterator[tuple[str, int]]:
    """``watchhouse serve --no-worker`` (nothing else competes for the CPUs); yields its base
    URL and pid."""
    port = env["PORT"]
    with (var_dir / "serve.log").open("ab") as log:
        server = subprocess.Popen(  # noqa: S603
            [str(BIN / "watchhouse"), "serve", "--port", port, "--no-worker"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/healthz")
            yield base, server.pid
        finally:
            stop(server, signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
