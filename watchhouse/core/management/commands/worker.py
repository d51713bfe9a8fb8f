"""`watchhouse worker`: run background tasks with the configured backend."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.crypto import get_random_string

from watchhouse.core.taskqueue import Worker


class Command(BaseCommand):
    help = "Run a background worker (database queue by default, RQ when REDIS_URL is set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="Exit when the queue is empty.")
        parser.add_argument(
            "--interval", type=float, default=0.5, help="Seconds between polls of an empty queue."
        )
        parser.add_argument("--worker-id", default="", help="Unique id (default: random).")

    def handle(self, *args: Any, batch: bool, interval: float, worker_id: str, **opts: Any) -> None:
        if settings.WATCHHOUSE_TASK_BACKEND == "rq":
            rq_args = ["default", "--with-scheduler"] + (["--burst"] if batch else [])
            call_command("rqworker", *rq_args)
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
