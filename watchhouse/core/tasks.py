"""Background work shared by every app: the daily jobs (see :mod:`watchhouse.core.schedule`)."""

from __future__ import annotations

import io
import logging

from django.core.management import call_command
from django_tasks import task

from watchhouse.core.schedule import daily_jobs

logger = logging.getLogger(__name__)


@task()
def daily_job_task(line: str) -> str:
    """Run one daily job's command (checked again: only the schedulable commands run) and
    return what it printed; a command that fails raises, and the queue tries again."""
    (job,) = daily_jobs(line)
    out = io.StringIO()
    call_command(job.command, *job.args, stdout=out, stderr=out)
    printed = out.getvalue()
    logger.info("Daily job %s done: %s", job.line, printed.strip()[-500:])
    return printed[-10_000:]
