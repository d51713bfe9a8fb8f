"""`watchhouse import-addresses --format csv FILE`: load address points for address search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core.errors import InvalidInputError
from watchhouse.geocode.services import FORMATS, address_import


class Command(BaseCommand):
    help = (
        "Import the agency's address points for the address search on the subscribe page: a "
        "CSV file with columns address, lat, lon, or the St. Louis incident file "
        "(--format stl-nibrs). One point per address; rows that cannot be read are listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The .csv or .parquet file.")
        parser.add_argument(
            "--format", required=True, choices=sorted(FORMATS), help="What the file is."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            report = address_import(actor=None, path=opts["file"], format=opts["format"])
        except InvalidInputError as exc:
            raise CommandError(str(exc)) from exc
        for problem in report.problems:
            self.stderr.write(self.style.WARNING(f"Skipped {problem}"))
        if report.problem_count > len(report.problems):
            more = report.problem_count - len(report.problems)
            self.stderr.write(self.style.WARNING(f"… and {more} more rows skipped."))
        self.stdout.write(self.style.SUCCESS(report.summary))
