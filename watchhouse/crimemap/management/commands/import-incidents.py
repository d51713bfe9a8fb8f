"""`watchhouse import-incidents --format FORMAT FILE`: load incidents from an agency's export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core.errors import InvalidInputError
from watchhouse.core.management.arguments import iso_date
from watchhouse.crimemap.formats import BUILT_IN, MAPPING_FORMAT, format_list
from watchhouse.crimemap.services import incidents_import

# Rejected rows printed one by one (the report keeps more; every one is counted).
REJECTIONS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Import incidents from an agency's export: St. Louis NIBRS parquet (stl-nibrs), "
        "Vancouver open data (vancouver), police.uk street-level CSV (police-uk), the Chicago "
        "data portal schema (socrata-chicago), or any CSV/parquet file described by a mapping "
        "file (--format mapping --mapping FILE.toml; start from --show-format NAME). Records "
        "are matched by the source's ids: importing a file again changes nothing, corrected "
        "records update in place. Bad rows are listed and skipped; the rest imports."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, nargs="?", help="The .csv or .parquet file.")
        parser.add_argument(
            "--format", choices=[*BUILT_IN, MAPPING_FORMAT], help="What the file is."
        )
        parser.add_argument("--mapping", type=Path, help="The mapping file (TOML).")
        parser.add_argument(
            "--jurisdiction",
            help="Name of the jurisdiction (needed when there are several; created if new).",
        )
        parser.add_argument(
            "--source", help="Name of the feed the ids belong to (default: the format's name)."
        )
        parser.add_argument(
            "--since", type=iso_date, help="Import only incidents from this local date on."
        )
        parser.add_argument(
            "--withdraw-missing",
            action="store_true",
            help="The file is a full export: withdraw the source's incidents it no longer holds.",
        )
        parser.add_argument(
            "--show-format", metavar="NAME", choices=list(BUILT_IN),
            help="Print a built-in format's mapping (a start for your own) and stop.",
        )  # fmt: skip
        parser.add_argument(
            "--list-formats", action="store_true", help="List the built-in formats and stop."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["list_formats"]:
            for mapping in format_list():
                self.stdout.write(f"{mapping.name}: {mapping.title}")
            return
        if opts["show_format"]:
            self.stdout.write(BUILT_IN[opts["show_format"]])
            return
        if opts["file"] is None or opts["format"] is None:
            raise CommandError("Give --format and the file to import (or --list-formats).")
        try:
            report = incidents_import(
                actor=None,
                path=opts["file"],
                format=opts["format"],
                mapping=opts["mapping"],
                jurisdiction=opts["jurisdiction"],
                source=opts["source"],
                since=opts["since"],
                withdraw_missing=opts["withdraw_missing"],
            )
        except InvalidInputError as exc:
            raise CommandError(str(exc)) from exc
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        for reason, count in sorted(report.rejected_by_reason.items()):
            self.stderr.write(self.style.WARNING(f"Rejected {count} rows: {reason}"))
        for rejection in report.rejections.all()[:REJECTIONS_SHOWN]:
            self.stderr.write(f"  row {rejection.row}: {rejection.detail}")
        if report.rows_rejected > REJECTIONS_SHOWN:
            self.stderr.write(
                f"  … {report.rows_rejected - REJECTIONS_SHOWN} more; see the report in the "
                f"console (report {report.pk})."
            )
        self.stdout.write(self.style.SUCCESS(f"Report {report.pk}: {report.summary}"))
