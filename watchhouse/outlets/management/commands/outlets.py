"""`watchhouse outlets collect|sync|check-tokens`: what the worker does on its own, run now.

- ``collect``: fetch replies, comments and mentions from every enabled outlet.
- ``sync``: send every copy and every fediverse delivery that is due (after an outage, or to
  drain by hand) and forget replay-guard ids older than the signature window.
- ``check-tokens``: e-mail admins about tokens expiring within the warning period.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from watchhouse.outlets.activitypub.delivery import ap_deliveries_send
from watchhouse.outlets.activitypub.services import seen_activity_prune
from watchhouse.outlets.models import Outlet
from watchhouse.outlets.services import copies_due, copy_sync, inbound_collect, outlets_expiry_warn


class Command(BaseCommand):
    help = "Collect inbound items, send due copies, or warn of expiring tokens, now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["collect", "sync", "check-tokens"])

    def handle(self, *args: Any, **opts: Any) -> None:
        what = opts["what"]
        if what == "collect":
            total = 0
            for outlet in Outlet.objects.filter(enabled=True).order_by("pk"):
                total += inbound_collect(outlet_id=outlet.pk)
            self.stdout.write(f"{total} new inbound items.")
        elif what == "sync":
            outcomes: dict[str, int] = {}
            for copy_id in copies_due():
                outcome = copy_sync(copy_id=copy_id)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "nothing due"
            self.stdout.write(f"Copies: {summary}.")
            report = ap_deliveries_send()
            pruned = seen_activity_prune()
            self.stdout.write(
                f"Fediverse: {report.delivered} delivered; {pruned} old activity ids forgotten."
            )
        else:
            warned = outlets_expiry_warn()
            self.stdout.write(f"{len(warned)} expiry warnings sent.")
