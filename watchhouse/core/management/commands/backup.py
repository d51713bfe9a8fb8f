"""`watchhouse backup`: write the database and media to one verifiable archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite online backup, or pg_dump on PostgreSQL) and the media "
        "folder into one .tar archive with a SHA-256 manifest. Safe while the site runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="Archive file (or folder) to write; default: WATCHHOUSE_BACKUP_DIR.",
        )
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(self, *args: Any, output: Path | None, database: str, **opts: Any) -> None:
        try:
            path = backup_create(output=output, using=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Backup written to {path}"))
