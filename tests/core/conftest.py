"""Fixtures for tests that run Watchhouse commands (workers, backup, restore) as real processes
against the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def child_database_url() -> str:
    """The URL of the database this test runs on, for child processes."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(params['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        credentials = quote(params["USER"] or "", safe="")
        if params["PASSWORD"]:
            credentials += ":" + quote(params["PASSWORD"], safe="")
        host = params["HOST"] or ""
        port = f":{params['PORT']}" if params["PORT"] else ""
        at = "@" if credentials else ""
        return f"postgres://{credentials}{at}{host}{port}/{quote(params['NAME'], safe='')}"
    pytest.fail(f"No URL for a {connection.vendor} test database.")


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    """An empty media folder for this test (also used by child processes)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def database_backend(settings) -> None:
    """Run tasks on the database backend, whatever the environment configured."""
    settings.TASKS = DATABASE_TASKS
    settings.WATCHHOUSE_TASK_BACKEND = "database"


@pytest.fixture
def child_env(transactional_db, media_root: Path) -> dict[str, str]:
    """Environment of a `python -m watchhouse …` child working on this test's database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "watchhouse.config.settings",
        "WATCHHOUSE_ENV": "test",
        "DATABASE_URL": child_database_url(),
        "WATCHHOUSE_MEDIA_ROOT": str(media_root),
        "WATCHHOUSE_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def run_watchhouse(child_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run one `watchhouse` command in a child process and return what it did."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "watchhouse", *args],
            env={**child_env, **env},
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    return run


class Workers:
    """`watchhouse worker` child processes, each in its own process group so that killing one
    kills what it forked (RQ's work horse and scheduler) too."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"worker-{len(self.started) + 1}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "watchhouse", "worker", "--interval", "0.1"],
                env={**self.env, **env},
                cwd=settings.BASE_DIR,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append((process, log))
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and everything it forked, as when its machine dies: no clean-up
        code runs. (RQ's work horse leaves the worker's process group, so it is found by
        parentage.)"""
        doomed = _descendants(process.pid)
        for pid in doomed:
            _sigkill(pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process, _ in self.started:
            self.kill(process)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name} (exit {process.poll()}) ---\n{log.read_text(errors='replace')[-4000:]}"
            for process, log in self.started
        )

    def wait_for(self, check: Callable[[], bool], *, what: str, timeout: float = 30) -> None:
        """Poll ``check`` until it holds; fail with the workers' logs when it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}.\n{self.logs()}")


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid``, read from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit():
            continue
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


def _sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def workers(child_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    """Start worker processes on the test database; all are killed when the test ends."""
    pool = Workers(child_env, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
