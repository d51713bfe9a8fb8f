"""`watchhouse audit verify`: walk the hash chain and name the first broken entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Audit log tools. `verify` checks the whole hash chain (exit 1 on a broken link)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(
                f"Audit chain BROKEN at entry #{report.broken_seq}: {report.reason}. "
                f"{report.checked} entries before it verified."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {report.checked} entries verified.")
        )
