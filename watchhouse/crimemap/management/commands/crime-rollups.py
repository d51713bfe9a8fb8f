"""`watchhouse crime-rollups`: rebuild the pre-aggregated counts the statistics read."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.crimemap.models import IncidentSource
from watchhouse.crimemap.rollups import rollups_refresh, rollups_refresh_all


class Command(BaseCommand):
    help = (
        "Rebuild the count tables behind the crime statistics from the incidents, for every "
        "source or only --source SLUG. Imports rebuild their own source's counts; run this "
        "after changing incidents any other way."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="Only the source with this slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        start = time.perf_counter()
        if options["source"]:
            ids = list(
                IncidentSource.objects.filter(slug=options["source"]).values_list("pk", flat=True)
            )
            if not ids:
                raise CommandError(f"There is no source {options['source']!r}.")
            totals: dict[str, int] = {}
            for source_id in ids:
                for name, rows in rollups_refresh(source_id=source_id).items():
                    totals[name] = totals.get(name, 0) + rows
        else:
            totals = rollups_refresh_all()
        tables = ", ".join(f"{name} {count}" for name, count in totals.items())
        self.stdout.write(f"Counts rebuilt in {time.perf_counter() - start:.1f} s: {tables}.")
