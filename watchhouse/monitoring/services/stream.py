"""Storing what the stream kept, and forgetting unreviewed matches past their retention.

This is system work, not a person's action: no audit entry is written per post. What the
stream did is on the record as :class:`~watchhouse.monitoring.models.StreamCount` rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from watchhouse.monitoring.matching import RuleHit
from watchhouse.monitoring.models import (
    Match,
    MatchedPost,
    ReviewState,
    Source,
    SourceKind,
    Story,
    StreamCount,
)
from watchhouse.monitoring.stream import BatchResult, MatchedItem


@dataclasses.dataclass(frozen=True)
class StoreReport:
    """What a store wrote: new posts, matches and stories, and posts already held."""

    posts: int
    matches: int
    stories_new: int
    already_held: int
    post_ids: list[int]


def _story_window() -> timedelta:
    return timedelta(seconds=int(settings.WATCHHOUSE_MONITORING_STORY_WINDOW_SECONDS))


def _source_kind(item: MatchedItem) -> str:
    kind = item.post.source
    return kind if kind in SourceKind.values else SourceKind.FILE


def counts_add(*, source_kind: str, counts: Mapping[str, int], at: datetime) -> None:
    """Add ``counts`` to the hour's counters (update first, insert when the row is new; a
    concurrent insert of the same row is caught and turned into an update)."""
    hour = at.replace(minute=0, second=0, microsecond=0)
    for name, value in counts.items():
        if not value:
            continue
        name = name[:20]
        rows = StreamCount.objects.filter(hour=hour, source_kind=source_kind, name=name)
        if rows.update(value=F("value") + value):
            continue
        try:
            with transaction.atomic():
                StreamCount.objects.create(
                    hour=hour, source_kind=source_kind, name=name, value=value
                )
        except IntegrityError:
            rows.update(value=F("value") + value)


def _story_for(
    signature: str, item: MatchedItem, now: datetime, cache: dict[str, Story]
) -> tuple[Story, bool]:
    """The story a post joins (one seen within the window), or a new one; and whether new."""
    story = cache.get(signature)
    if story is not None:
        return story, False
    story = (
        Story.objects.filter(signature=signature, last_seen_at__gte=now - _story_window())
        .order_by("-last_seen_at")
        .first()
    )
    new = story is None
    if story is None:
        story = Story.objects.create(
            signature=signature,
            title=item.title,
            first_seen_at=now,
            last_seen_at=now,
            post_count=0,
            top_score=0,
        )
    cache[signature] = story
    return story, new


def _reason(item: MatchedItem, scorer: str, rule_hit: RuleHit | None) -> dict[str, object]:
    """Why the post was kept: the rule, phrases and place (for the classifier alone: the
    local place that made it count), with the score and which classifier gave it."""
    reason: dict[str, object] = {"score": item.score, "classifier": scorer}
    if rule_hit is None:
        local = item.local
        reason.update({"rule": None, "phrases": [], "place": local.as_dict() if local else None})
    else:
        reason.update(rule_hit.as_reason())
    return reason


def stream_batch_store(
    *,
    source: Source | None,
    result: BatchResult,
    cursor: str | None = None,
    source_kind: str | None = None,
    extra_counts: Mapping[str, int] | None = None,
) -> StoreReport:
    """Store a processed batch in one transaction: the matched posts not already held, one
    :class:`Match` per reason, their stories (created or extended), the hour's counts, and
    the source's ``cursor`` (when given), so a worker that dies re-reads from the last
    committed point and neither loses a match nor stores one twice."""
    now = timezone.now()
    kind = source_kind or (source.kind if source is not None else SourceKind.FILE)
    counts = dict(result.counts)
    for name, value in (extra_counts or {}).items():
        counts[name] = counts.get(name, 0) + value
    with transaction.atomic():
        items = {(_source_kind(i), i.post.remote_id): i for i in result.matched}
        held: set[tuple[str, str]] = set()
        for item_kind in {k for k, _ in items}:
            held |= {
                (item_kind, rid)
                for rid in MatchedPost.objects.filter(
                    source_kind=item_kind,
                    remote_id__in=[r for k, r in items if k == item_kind],
                ).values_list("remote_id", flat=True)
            }
        fresh = [(key, item) for key, item in items.items() if key not in held]
        stories: dict[str, Story] = {}
        new_stories = 0
        added: dict[int, int] = {}
        top: dict[int, float] = {}
        rows = []
        for (item_kind, remote_id), item in fresh:
            story, new = _story_for(item.story or item.post.key, item, now, stories)
            new_stories += new
            added[story.pk] = added.get(story.pk, 0) + 1
            top[story.pk] = max(top.get(story.pk, 0.0), item.score or 0.0)
            post = item.post
            rows.append(
                MatchedPost(
                    source=source,
                    source_kind=item_kind,
                    remote_id=remote_id[:500],
                    url=post.url[:500],
                    author_handle=post.author_handle[:300],
                    author_name=post.author_name[:300],
                    text=post.text,
                    language=post.language[:16],
                    posted_at=post.posted_at,
                    received_at=now,
                    lat=post.lat,
                    lon=post.lon,
                    media=[dataclasses.asdict(m) for m in post.media],
                    places=[p.as_dict() for p in item.places],
                    score=item.score,
                    category=item.category[:60],
                    story=story,
                )
            )
        created = MatchedPost.objects.bulk_create(rows)
        # Increments, not absolute values: another worker may be adding to the same story.
        for story_pk, count in added.items():
            Story.objects.filter(pk=story_pk).update(
                post_count=F("post_count") + count,
                last_seen_at=now,
                top_score=Greatest(F("top_score"), Value(top[story_pk])),
            )
        matches = []
        for row, ((_k, _r), item) in zip(created, fresh, strict=True):
            for hit in item.hits:
                matches.append(
                    Match(
                        post=row, rule_id=hit.rule_id, reason=_reason(item, result.scorer_name, hit)
                    )
                )
            if item.classifier_hit:
                matches.append(
                    Match(post=row, rule=None, reason=_reason(item, result.scorer_name, None))
                )
        Match.objects.bulk_create(matches)
        counts_add(source_kind=kind, counts=counts, at=now)
        if source is not None:
            fields = {"last_run_at": now, "last_error": ""}
            if cursor is not None:
                fields["cursor"] = cursor
            Source.objects.filter(pk=source.pk).update(**fields)
            if cursor is not None:
                source.cursor = cursor
    return StoreReport(
        posts=len(created),
        matches=len(matches),
        stories_new=new_stories,
        already_held=len(held),
        post_ids=[row.pk for row in created],
    )


def matched_posts_expire() -> int:
    """Delete matched posts still unreviewed after ``WATCHHOUSE_MONITORING_REVIEW_DAYS`` (and
    stories left empty); how many posts went."""
    days = int(settings.WATCHHOUSE_MONITORING_REVIEW_DAYS)
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        stale = MatchedPost.objects.filter(review=ReviewState.NEW, received_at__lt=cutoff)
        ids = list(stale.values_list("id", flat=True))
        story_ids = set(stale.values_list("story_id", flat=True))
        MatchedPost.objects.filter(id__in=ids).delete()
        for story in Story.objects.filter(id__in=story_ids):
            remaining = story.posts.count()
            if remaining:
                Story.objects.filter(pk=story.pk).update(post_count=remaining)
            else:
                story.delete()
    return len(ids)
