"""`watchhouse tips`: keys for tips at rest, and the e-mail tip receiver.

- ``new-key`` prints a fresh key for ``WATCHHOUSE_ENCRYPTION_KEYS``;
- ``rotate-keys [--batch N]`` re-encrypts every sealed tip value under the first (newest) key,
  with the site running;
- ``check-keys`` counts values still under an older key (exit 1 when any is);
- ``smtpd [--host H] [--port P]`` receives e-mail tips over SMTP;
- ``sweep-staging [--hours N]`` deletes sealed uploads that a request dying mid-way left in
  staging (run it daily from cron or a supervisor).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError
from watchhouse.tips.intake import staging_sweep


class Command(BaseCommand):
    help = (
        "Tips tools: new-key, rotate-keys [--batch N], check-keys (exit 1 when a value is "
        "still under an old key), smtpd [--host H] [--port P], sweep-staging [--hours N]."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("new-key", help="Print a new key for WATCHHOUSE_ENCRYPTION_KEYS.")
        rotate = actions.add_parser(
            "rotate-keys", help="Re-encrypt every sealed value under the newest key."
        )
        rotate.add_argument("--batch", type=int, default=500, help="Rows per transaction.")
        actions.add_parser("check-keys", help="Count values not under the newest key.")
        smtpd = actions.add_parser("smtpd", help="Receive e-mail tips over SMTP.")
        smtpd.add_argument("--host", default="127.0.0.1")
        smtpd.add_argument("--port", type=int, default=2525)
        sweep = actions.add_parser(
            "sweep-staging", help="Delete staged uploads no request finished with."
        )
        sweep.add_argument("--hours", type=int, default=24, help="Only those older than this.")

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        if action == "new-key":
            self.stdout.write(crypto.new_key())
        elif action == "rotate-keys":
            self._rotate(batch=opts["batch"], verbose=opts["verbosity"] > 1)
        elif action == "check-keys":
            self._check()
        elif action == "smtpd":
            from watchhouse.tips.services.inbound import smtpd_serve

            try:
                smtpd_serve(host=opts["host"], port=opts["port"])
            except InvalidInputError as exc:
                raise CommandError(str(exc)) from exc
        elif action == "sweep-staging":
            removed = staging_sweep(older_than_seconds=opts["hours"] * 3600)
            self.stdout.write(f"{removed} staged uploads older than {opts['hours']} h deleted.")

    def _rotate(self, *, batch: int, verbose: bool) -> None:
        from watchhouse.tips.services.keys import keys_rotate

        report = keys_rotate(batch=batch, stdout=self.stdout if verbose else None)
        for label in sorted(set(report.changed) | set(report.current)):
            self.stdout.write(
                f"{label}: {report.changed[label]} re-encrypted, "
                f"{report.current[label]} already current"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Rotation done: {report.total_changed} values re-encrypted, "
                f"{report.total_current} already under the newest key."
            )
        )

    def _check(self) -> None:
        from watchhouse.tips.services.keys import keys_check

        stale = keys_check()
        total = stale.pop("total")
        for label, count in stale.items():
            if count:
                self.stdout.write(f"{label}: {count} under an old key")
        if total:
            raise CommandError(
                f"{total} sealed values are still under an old key: run "
                "`watchhouse tips rotate-keys`."
            )
        self.stdout.write(self.style.SUCCESS("Every sealed value is under the newest key."))
