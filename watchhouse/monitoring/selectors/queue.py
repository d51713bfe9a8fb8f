"""What the analyst's console reads: the review queue, stories, rules, sources and the
requests waiting for a second person.

Lawful assemblies are counts only: their posts never appear in :func:`queue_list`, and
:func:`story_list` gives their rows with ``withheld`` set and no title, authors or text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from watchhouse.monitoring.models import (
    Approval,
    ApprovalState,
    Match,
    MatchedPost,
    ReviewState,
    Source,
    Story,
    WatchRule,
)

CLASSIFIER_REASON = "classifier"


@dataclass(frozen=True)
class StoryRow:
    """One story as the console lists it. When ``withheld`` (a lawful assembly), ``title`` is a
    neutral label and nothing identifies a person."""

    id: int
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    posts: int
    new: int
    top_score: float
    withheld: bool
    reasons: list[str] = field(default_factory=list)


def queue_list(
    *, state: str = ReviewState.NEW, since_id: int | None = None, limit: int = 50
) -> list[MatchedPost]:
    """Matched posts in ``state``, newest first, with their matches, rules and story loaded
    (two queries); ``since_id`` keeps only posts stored after that one (the live view).
    Posts of lawful assemblies are left out."""
    posts = (
        MatchedPost.objects.filter(review=state, story__lawful_assembly=False)
        .select_related("story", "source")
        .prefetch_related(Prefetch("matches", queryset=Match.objects.select_related("rule")))
    )
    if since_id is not None:
        posts = posts.filter(pk__gt=since_id)
    return list(posts.order_by("-received_at", "-id")[:limit])


def story_list(*, since: datetime | None = None, limit: int = 50) -> list[StoryRow]:
    """Stories seen last first (seen at or after ``since``), with how many posts they hold, how
    many wait for review, and the reasons their posts matched (rule names, or "classifier");
    two queries."""
    stories = Story.objects.annotate(
        stored=Count("posts"), waiting=Count("posts", filter=Q(posts__review=ReviewState.NEW))
    )
    if since is not None:
        stories = stories.filter(last_seen_at__gte=since)
    rows = list(stories.order_by("-last_seen_at", "-id")[:limit])
    reasons: dict[int, set[str]] = {}
    found = (
        Match.objects.filter(post__story__in=[s.pk for s in rows])
        .values_list("post__story_id", "rule__name")
        .distinct()
        .order_by()
    )
    for story_id, rule_name in found:
        reasons.setdefault(story_id, set()).add(rule_name or CLASSIFIER_REASON)
    return [
        StoryRow(
            id=s.pk,
            title=_("Lawful assembly") if s.lawful_assembly else s.title,
            first_seen_at=s.first_seen_at,
            last_seen_at=s.last_seen_at,
            posts=max(s.post_count, s.stored),
            new=s.waiting,
            top_score=s.top_score,
            withheld=s.lawful_assembly,
            reasons=sorted(reasons.get(s.pk, ())),
        )
        for s in rows
    ]


def rule_list() -> QuerySet[WatchRule]:
    """Every rule, newest first, with its owner, case, area and approvers loaded."""
    return WatchRule.objects.select_related(
        "owner", "case", "area", "approved_by", "override_by"
    ).order_by("-created_at", "-id")


def source_list() -> QuerySet[Source]:
    """Every configured source, by name."""
    return Source.objects.select_related("created_by").order_by("name")


def approvals_pending() -> QuerySet[Approval]:
    """Requests waiting for a second person, oldest first, with who asked and what for."""
    return (
        Approval.objects.filter(state=ApprovalState.PENDING)
        .select_related("requested_by", "case", "rule")
        .order_by("created_at", "id")
    )
