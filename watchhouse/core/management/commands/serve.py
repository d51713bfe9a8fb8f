"""`watchhouse serve`: web server (granian), worker and monitoring stream, until Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Watchhouse with granian, with a worker and the monitoring stream beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("WATCHHOUSE_WEB_THREADS", "4")),
            help="Threads of each web process (blocking I/O such as the database).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("WATCHHOUSE_WEB_PROCESSES", str(os.cpu_count() or 1))),
            help="Web processes (default: one per CPU core; Python runs one thread at a time).",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Serve the web site only (no worker, no monitoring stream).",
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        threads: int,
        workers: int,
        no_worker: bool,
        **opts: Any,
    ) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "watchhouse.config.settings"}
        web = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--no-ws",
            "--log-level",
            "warning",
            "watchhouse.config.wsgi:application",
        ]
        # Each child leads a process group of its own, so a Ctrl-C reaches it once, from here,
        # and a stop can take its whole group (granian's worker processes too).
        procs = {
            "web": subprocess.Popen(web, env=env, start_new_session=True)  # noqa: S603
        }
        if not no_worker:
            procs["worker"] = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "watchhouse", "worker"], env=env, start_new_session=True
            )
            # The public-post stream: idle until staff switch a monitoring source on.
            procs["monitoring"] = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "watchhouse", "monitoring", "run"],
                env=env,
                start_new_session=True,
            )
        self.stdout.write(f"Watchhouse is serving on http://{host}:{port}/  (Ctrl-C stops it)")
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"The {name} process exited with {proc.returncode}.")
                    stopping, exit_code = True, 1
            time.sleep(0.2)
        for proc in procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.stderr.write(
                    f"A process did not stop within 20 s; killing it (pid {proc.pid})."
                )
            # Whatever is left of the group (a granian worker whose parent died) goes too.
            _signal_group(proc, signal.SIGKILL)
        self.stdout.write("Watchhouse stopped.")
        if exit_code:
            sys.exit(exit_code)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to every process of ``proc``'s group, if any is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)
