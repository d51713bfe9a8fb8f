"""`watchhouse import-incident-feed --format FORMAT (--folder DIR | --url URL)`: import the new
files of a folder or an address; run it daily (a daily job in WATCHHOUSE_DAILY, or cron)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap.feeds import feed_import
from watchhouse.crimemap.formats import BUILT_IN, MAPPING_FORMAT


class Command(BaseCommand):
    help = (
        "Import every .csv or .parquet file of a folder that was not imported before (oldest "
        "first), or the file at an http(s) address when it has changed; meant to run daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--folder", help="The folder the records system exports to.")
        where.add_argument("--url", help="The http(s) address of the export.")
        parser.add_argument(
            "--format", required=True, choices=[*BUILT_IN, MAPPING_FORMAT], help="Their format."
        )
        parser.add_argument("--mapping", type=Path, help="The mapping file (TOML).")
        parser.add_argument("--jurisdiction", help="Name of the jurisdiction.")
        parser.add_argument("--source", help="Name of the feed the ids belong to.")
        parser.add_argument(
            "--withdraw-missing", action="store_true",
            help="Each file is a full export: withdraw incidents it no longer holds.",
        )  # fmt: skip

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            run = feed_import(
                location=opts["folder"] or opts["url"], format=opts["format"],
                mapping=opts["mapping"], jurisdiction=opts["jurisdiction"],
                source=opts["source"], withdraw_missing=opts["withdraw_missing"],
            )  # fmt: skip
        except InvalidInputError as exc:
            raise CommandError(str(exc)) from exc
        for report in run.imported:
            self.stdout.write(self.style.SUCCESS(report.summary))
        for name in run.skipped:
            self.stdout.write(f"{name}: imported before; skipped.")
        for name, reason in run.failed:
            self.stderr.write(self.style.ERROR(f"{name}: {reason}"))
        if run.failed:
            raise CommandError(f"{len(run.failed)} file(s) could not be imported.")
