"""A probe through the task queue: a real task whose effect shows that background work ran,
ran once per key, and left nothing behind when its worker died half-way.

Operators can enqueue one to check a deployment end to end; the test suite uses it to kill
workers mid-task. A probe record holds no personal data, so no audit entry is written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import TaskContext, task

from watchhouse.core.errors import WatchhouseError
from watchhouse.core.models import ProbeRecord

# How long a paused probe waits for its pause file to go before giving up.
PAUSE_LIMIT_SECONDS = 120


class ProbeFailureError(WatchhouseError):
    """A probe was told to fail on this attempt."""


class ProbePauseTimeoutError(WatchhouseError):
    """A paused probe was never released."""


def probe_record(*, key: str, attempt: int, pause_file: str = "") -> ProbeRecord:
    """Write the probe record for ``key`` once, in one transaction; return it.

    With ``pause_file``, the write is made and then held uncommitted while that file exists:
    ``<pause_file>.paused`` appears (holding this process id) once the probe is waiting.
    """
    with transaction.atomic():
        record, created = ProbeRecord.objects.get_or_create(
            key=key,
            defaults={"attempt": attempt, "worker_pid": os.getpid(), "created_at": timezone.now()},
        )
        if created and pause_file:
            _hold(Path(pause_file))
    return record


def _hold(pause_file: Path) -> None:
    signal_file = pause_file.with_name(pause_file.name + ".paused")
    signal_file.write_text(str(os.getpid()))
    deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
    while pause_file.exists():
        if time.monotonic() > deadline:
            raise ProbePauseTimeoutError(f"{pause_file} was not removed in time.")
        time.sleep(0.05)


@task(takes_context=True)
def record_probe_task(
    context: TaskContext, key: str, pause_file: str = "", fail_attempts: int = 0
) -> dict[str, Any]:
    """Record the probe ``key`` exactly once; fail the first ``fail_attempts`` attempts."""
    attempt = max(context.attempt, 1)
    if attempt <= fail_attempts:
        raise ProbeFailureError(f"Probe {key!r} fails attempt {attempt} of {fail_attempts}.")
    record = probe_record(key=key, attempt=attempt, pause_file=pause_file)
    return {"key": record.key, "attempt": record.attempt, "worker_pid": record.worker_pid}
