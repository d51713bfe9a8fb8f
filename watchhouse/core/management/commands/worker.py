"""`watchhouse worker`: run background tasks with the configured backend."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.crypto import get_random_string

from watchhouse.core.errors import InvalidInputError
from watchhouse.core.schedule import ScheduleThread, daily_jobs, daily_tick
from watchhouse.core.taskqueue import Worker


class Command(BaseCommand):
    help = "Run a background worker (database queue by default, RQ when REDIS_URL is set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="Exit when the queue is empty.")
        parser.add_argument(
            "--interval", type=float, default=0.5, help="Seconds between polls of an empty queue."
        )
        parser.add_argument(
            "--worker-id", default="", help="Unique id, at most 64 characters (default: random)."
        )

    def handle(self, *args: Any, batch: bool, interval: float, worker_id: str, **opts: Any) -> None:
        if interval < 0:
            raise CommandError("--interval must be zero or more seconds.")
        if len(worker_id) > 64:
            raise CommandError("--worker-id must be at most 64 characters.")
        try:
            jobs = daily_jobs()
        except InvalidInputError as exc:
            raise CommandError(f"WATCHHOUSE_DAILY: {exc}") from exc
        if jobs:
            # A batch run checks the jobs once; a lasting worker keeps checking them.
            if batch:
                daily_tick()
            else:
                ScheduleThread().start()
            self.stdout.write(f"Daily jobs: {'; '.join(job.line for job in jobs)}.")
        queues = list(settings.TASKS["default"].get("QUEUES") or ["default"])
        if settings.WATCHHOUSE_TASK_BACKEND == "rq":
            rq_args = [
                *queues,
                "--with-scheduler",
                # django-tasks-rq's job class is what turns an RQ job back into a task call.
                "--job-class=django_tasks_rq.Job",
                "--worker-class=watchhouse.core.taskqueue.RQWorker",
                *(["--burst"] if batch else []),
                *([f"--name={worker_id}"] if worker_id else []),
            ]
            call_command("rqworker", *rq_args, verbosity=opts.get("verbosity", 1))
            return
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self.stdout.write(f"Worker started on the database queue ({engine}).")
        worker = Worker(
            queue_names=["*"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id or get_random_string(32),
            excluded_queue_names=[],
        )
        worker.configure_signals()
        worker.run()
