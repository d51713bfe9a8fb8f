"""`watchhouse fetch-cap-feeds`: read other agencies' CAP Atom feeds (run it on a schedule)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.alerts.imports import (
    external_feed_add,
    external_feed_fetch,
    external_feeds_fetch_enqueue,
)
from watchhouse.alerts.models import ExternalFeed
from watchhouse.core.errors import InvalidInputError


class Command(BaseCommand):
    help = (
        "Read every active external CAP Atom feed now and import new alerts (validated, kept "
        "once per sender and identifier, updates and cancels applied); or queue the reads for "
        "the workers (--enqueue); or follow a new feed (--add URL --name NAME [--relay])."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enqueue", action="store_true", help="Queue the reads as tasks.")
        parser.add_argument("--add", metavar="URL", help="Follow the feed at URL.")
        parser.add_argument("--name", help="Name of the feed to follow (with --add).")
        parser.add_argument(
            "--relay", action="store_true", help="Staff may relay its alerts (with --add)."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["add"]:
            try:
                feed = external_feed_add(
                    actor=None, url=opts["add"], name=opts["name"] or "", relay=opts["relay"]
                )
            except InvalidInputError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS(f"Following {feed.name} ({feed.url})."))
            return
        if opts["enqueue"]:
            count = external_feeds_fetch_enqueue()
            self.stdout.write(f"Queued {count} feed reads.")
            return
        failed = 0
        for feed_id in ExternalFeed.objects.filter(active=True).values_list("pk", flat=True):
            report = external_feed_fetch(feed_id=feed_id)
            failed += bool(report.error)
            style = self.style.ERROR if report.error else self.style.SUCCESS
            self.stdout.write(style(report.summary))
            for refusal in report.refused:
                self.stderr.write(self.style.WARNING(f"Refused {refusal}"))
        if failed:
            raise CommandError(f"{failed} feed(s) could not be read.")
