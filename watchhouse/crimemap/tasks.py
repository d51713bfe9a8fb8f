"""Background work of the crime statistics: rebuilding a source's counts after an import,
and sending crime digests."""

from __future__ import annotations

from dataclasses import asdict

from django_tasks import task

from watchhouse.core.errors import WatchhouseError
from watchhouse.crimemap.digest import digests_send
from watchhouse.crimemap.rollups import rollups_refresh


class DigestsNotSentError(WatchhouseError):
    """The mail server could not take some digests this time; they are queued again."""


@task()
def rollups_refresh_task(source_id: int) -> dict[str, int]:
    """Rebuild the pre-aggregated counts of one source (idempotent: a rerun rebuilds)."""
    return rollups_refresh(source_id=source_id)


@task()
def send_digests_task(digest_ids: list[int]) -> dict[str, int]:
    """Send the due crime digests among ``digest_ids``; each goes out at most once."""
    report = digests_send(ids=digest_ids)
    if report.retrying:
        # Raising hands the task back to the queue, which tries again with backoff; the
        # rows sent already are not sent again.
        raise DigestsNotSentError(f"{report.retrying} digest(s) could not be sent yet.")
    return asdict(report)
