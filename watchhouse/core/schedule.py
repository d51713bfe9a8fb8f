"""Daily jobs run by the worker, so a deployment needs no cron: ``WATCHHOUSE_DAILY`` lists
lines of ``HH:MM command arguments`` (local time), separated by semicolons, for instance
``06:00 send-crime-digests; 03:00 import-incident-feed --format stl-nibrs --folder /srv/rms``.

Every worker ticks (:func:`daily_tick`) about twice a minute: a job whose time has come
today and that has not started today is claimed by one conditional update of its
:class:`~watchhouse.core.models.DailyRun` row and handed to the queue as
:func:`~watchhouse.core.tasks.daily_job_task`, which runs the command. Only the commands in
:data:`DAILY_COMMANDS` may be scheduled; a wrong line stops the worker at start with the
reason. A worker that is down at the time starts the job when it comes back the same day.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import threading
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from watchhouse.core.errors import InvalidInputError

logger = logging.getLogger(__name__)

# The commands a daily job may run: the ones meant to run on a schedule.
DAILY_COMMANDS = frozenset(
    {
        "send-crime-digests",
        "import-incident-feed",
        "fetch-cap-feeds",
        "crime-rollups",
        "backup",
        "outlets",
        "monitoring",
    }
)
# Seconds between ticks of a worker's schedule thread.
TICK_SECONDS = 30


@dataclass(frozen=True)
class DailyJob:
    at: time
    command: str
    args: tuple[str, ...]
    line: str

    @property
    def key(self) -> str:
        return hashlib.sha256(self.line.encode()).hexdigest()


def daily_jobs(text: str | None = None) -> list[DailyJob]:
    """The jobs of ``WATCHHOUSE_DAILY`` (or ``text``); raises InvalidInputError naming the
    line that is wrong."""
    jobs = []
    source = settings.WATCHHOUSE_DAILY if text is None else text
    for raw in source.split(";"):
        line = " ".join(raw.split())
        if not line:
            continue
        try:
            when, command, *args = shlex.split(line)
        except ValueError as exc:
            raise InvalidInputError(
                f"Daily job {line!r}: write the time, then the command ({exc})."
            ) from exc
        try:
            at = time.fromisoformat(when)
        except ValueError as exc:
            raise InvalidInputError(
                f"Daily job {line!r}: {when!r} is not a time such as 06:00."
            ) from exc
        if command not in DAILY_COMMANDS:
            raise InvalidInputError(
                f"Daily job {line!r}: {command!r} may not be scheduled; the commands that may "
                f"are {', '.join(sorted(DAILY_COMMANDS))}."
            )
        jobs.append(DailyJob(at=at, command=command, args=tuple(args), line=line))
    return jobs


def daily_tick(now: datetime | None = None) -> list[str]:
    """Hand to the queue each daily job whose time has come today and that has not started
    today; the lines of those started."""
    from watchhouse.core.models import DailyRun
    from watchhouse.core.tasks import daily_job_task

    local = timezone.localtime(now or timezone.now())
    started = []
    for job in daily_jobs():
        if local.time() < job.at:
            continue
        # (Two workers making it at the same moment: get_or_create reads the other's row.)
        DailyRun.objects.get_or_create(key=job.key, defaults={"line": job.line})
        with transaction.atomic():
            claimed = (
                DailyRun.objects.filter(key=job.key)
                .filter(Q(last_day__isnull=True) | Q(last_day__lt=local.date()))
                .update(last_day=local.date(), started_at=local)
            )
            if claimed:
                daily_job_task.enqueue(job.line)
                started.append(job.line)
    return started


class ScheduleThread(threading.Thread):
    """Ticks :func:`daily_tick` every :data:`TICK_SECONDS` until stopped; a failing tick is
    logged and the next one tries again."""

    def __init__(self) -> None:
        super().__init__(name="watchhouse-schedule", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                for line in daily_tick():
                    logger.info("Daily job started: %s", line)
            except Exception:
                logger.exception("The daily jobs could not be checked; trying again.")
            finally:
                close_old_connections()
            self.stopped.wait(TICK_SECONDS)
