"""Counting views of post pages on the department's own site: a number per post, day and
channel, and nothing about the reader (no address, no cookie, no browser)."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from watchhouse.community.models import PostView


def post_view_count(*, post_id: int, channel: str = "web", day: date | None = None) -> None:
    """Add one view of post ``post_id`` on ``day`` (today) to its counter.

    An atomic increment; the day's row is created on its first view, and when two first
    views race, the loser increments the row the winner created. Not audited: a counter is
    not a decision, and one entry per page view would drown the audit log.
    """
    day = day or timezone.localdate()
    rows = PostView.objects.filter(post_id=post_id, day=day, channel=channel)
    if rows.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            PostView.objects.create(post_id=post_id, day=day, channel=channel, count=1)
    except IntegrityError:
        rows.update(count=F("count") + 1)
