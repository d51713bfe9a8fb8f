"""`watchhouse send-crime-digests`: queue the crime digests of the week and the month that
ended, and hand them to the worker; run it daily (a daily job in WATCHHOUSE_DAILY, or cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core.errors import InvalidInputError
from watchhouse.core.management.arguments import iso_date
from watchhouse.crimemap.digest import digests_due, digests_queue
from watchhouse.notify.models import DigestPeriod

# Digests one task sends.
TASK_BATCH = 200


class Command(BaseCommand):
    help = (
        "Queue one crime digest for every subscriber who asked for it, for the last whole "
        "week or month (each once), and hand every digest not yet sent to the worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--period", choices=DigestPeriod.values, action="append",
            help="Only this period (repeatable); by default both.",
        )  # fmt: skip
        parser.add_argument(
            "--today", type=iso_date, help="Count as if today were this date (YYYY-MM-DD)."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from watchhouse.crimemap.tasks import send_digests_task

        today = opts["today"]
        for period in opts["period"] or DigestPeriod.values:
            try:
                window, queued = digests_queue(period=period, today=today)
            except InvalidInputError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"{period}: {window.first_day} to {window.last_day}, {queued} digest(s) queued."
            )
        due = digests_due()
        for start in range(0, len(due), TASK_BATCH):
            send_digests_task.enqueue(due[start : start + TASK_BATCH])
        self.stdout.write(self.style.SUCCESS(f"{len(due)} digest(s) handed to the worker."))
