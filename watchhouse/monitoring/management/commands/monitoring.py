"""`watchhouse monitoring ...`: the public-post stream and its classifier.

- ``run``: read every enabled source (or ``--source NAME``) through the stream until stopped
  (``--once``: one pass over what is waiting, then exit).
- ``import FILE``: push a JSONL/CSV file of posts through the stream (archives, evaluation).
- ``train --labels FILE``: train the relevance classifier on the agency's own labelled posts.
- ``evaluate --labels FILE``: per-class precision, recall and F1, macro-F1, and leave-one-event-out
  figures when the file has an event column.
- ``purge``: purge closed and overdue cases and unreviewed matches past their retention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core.errors import InvalidInputError


def _label_arguments(parser: CommandParser) -> None:
    parser.add_argument("--labels", type=Path, required=True, help="CSV or JSONL file.")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument(
        "--event-column",
        default="event",
        help="When present: training drops features seen in fewer than 3 events, and "
        "evaluate holds each event out in turn.",
    )
    parser.add_argument(
        "--positive",
        default="",
        help="Train relevant-vs-not: this label value (or several, comma-separated) is relevant.",
    )


class Command(BaseCommand):
    help = "Run the public-post stream, import posts, train or evaluate the classifier, purge."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        run = sub.add_parser("run", help="Read the enabled sources through the stream.")
        run.add_argument("--source", default="", help="Only this source (by name).")
        run.add_argument("--once", action="store_true", help="One pass, then exit.")
        imp = sub.add_parser("import", help="Push a JSONL/CSV file of posts through the stream.")
        imp.add_argument("file", type=Path)
        train = sub.add_parser("train", help="Train the relevance classifier.")
        _label_arguments(train)
        train.add_argument("--output", type=Path, default=None, help="Default: the live model.")
        evaluate = sub.add_parser("evaluate", help="Evaluate on labelled posts.")
        _label_arguments(evaluate)
        evaluate.add_argument("--json", action="store_true", help="Print the figures as JSON.")
        sub.add_parser("purge", help="Purge what has passed its retention.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            self._handle(opts)
        except (InvalidInputError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc

    def _handle(self, opts: dict[str, Any]) -> None:
        what = opts["what"]
        if what in ("train", "evaluate"):
            from watchhouse.monitoring import classifier

            classifier.command(what, opts, self.stdout)
        elif what in ("run", "import"):
            from watchhouse.monitoring import runner

            runner.command(what, opts, self.stdout)
        else:
            from watchhouse.monitoring.services.cases import retention_purge

            self.stdout.write(retention_purge())
