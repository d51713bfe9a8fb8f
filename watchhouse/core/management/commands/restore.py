"""`watchhouse restore`: put a backup made by `watchhouse backup` back in place."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from watchhouse.core.backups import BackupError, backup_inspect, backup_restore


class Command(BaseCommand):
    help = (
        "Replace the database and media folder with a backup. The archive is verified against "
        "its SHA-256 manifest, the database vendor and the known migrations first; a refused "
        "archive changes nothing. Stop the web server and workers before restoring."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="Archive written by `watchhouse backup`.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument(
            "--check", action="store_true", help="Only verify the archive; change nothing."
        )
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(
        self, *args: Any, path: Path, yes: bool, check: bool, database: str, **opts: Any
    ) -> None:
        try:
            manifest = backup_inspect(path)
            self.stdout.write(
                f"{path}: a {manifest.vendor} backup made {manifest.created_at}, "
                f"{len(manifest.media_files)} media files; every SHA-256 matches."
            )
            if check:
                return
            if not yes:
                self._confirm(database)
            backup_restore(path=path, using=database, say=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {path}."))

    def _confirm(self, database: str) -> None:
        name = connections[database].settings_dict["NAME"]
        if not sys.stdin.isatty():
            raise CommandError(
                f"Restoring replaces the database {name} and the media folder; "
                "re-run with --yes to confirm."
            )
        answer = input(f"Replace the database {name} and the media folder? Type 'yes': ")
        if answer.strip().lower() != "yes":
            raise CommandError("Restore cancelled; nothing was changed.")
