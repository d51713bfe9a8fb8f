"""The department's community figures over a period: views of posts on its own site, comments
and flags, moderation decisions, time to the agency's first reply, rumors answered and
community reports."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from watchhouse.community.models import (
    Comment,
    Discussion,
    Flag,
    ModerationAction,
    ModerationDecision,
    ModerationReason,
    PostView,
    ReportStatus,
    ServiceRequest,
)
from watchhouse.posts.models import Post
from watchhouse.rumors.models import Rumor

PERIODS = (7, 30, 90)


@dataclass
class PostFigures:
    """One post's engagement in the period."""

    post_id: int
    title: str
    views: dict[str, int] = field(default_factory=dict)  # channel: views
    comments: int = 0
    agency_replies: int = 0
    flags: int = 0

    @property
    def total_views(self) -> int:
        return sum(self.views.values())


@dataclass
class Figures:
    days: int
    since: datetime
    posts: list[PostFigures]
    channels: list[str]
    # Outlets (fediverse and other networks) report no figures yet: none are connected.
    outlet_figures: list[object]
    decisions: list[tuple[str, str, int]]  # reason label, action label, count
    replied: int  # conversations the agency replied to
    unreplied: int  # conversations with resident comments and no agency reply
    median_reply: timedelta | None
    rumors_answered: int
    median_rumor_answer: timedelta | None
    reports_received: int
    reports_open: int
    reports_closed: int
    median_report_close: timedelta | None


def _median(spans: list[timedelta]) -> timedelta | None:
    if not spans:
        return None
    return timedelta(seconds=statistics.median(s.total_seconds() for s in spans))


def _post_figures(since: datetime) -> tuple[list[PostFigures], list[str]]:
    rows: dict[int, PostFigures] = {}

    def row(post_id: int) -> PostFigures:
        if post_id not in rows:
            rows[post_id] = PostFigures(post_id=post_id, title="")
        return rows[post_id]

    channels: set[str] = set()
    views = (
        PostView.objects.filter(day__gte=timezone.localdate(since))
        .values("post_id", "channel")
        .annotate(n=Sum("count"))
    )
    for v in views:
        row(v["post_id"]).views[v["channel"]] = v["n"]
        channels.add(v["channel"])
    comments = (
        Comment.objects.filter(post__isnull=False, created_at__gte=since)
        .values("post_id")
        .annotate(
            residents=Count("id", filter=Q(author__isnull=False)),
            agency=Count("id", filter=Q(staff_author__isnull=False)),
        )
    )
    for c in comments:
        target = row(c["post_id"])
        target.comments = c["residents"]
        target.agency_replies = c["agency"]
    flags = (
        Flag.objects.filter(comment__post__isnull=False, created_at__gte=since)
        .values("comment__post_id")
        .annotate(n=Count("id"))
    )
    for f in flags:
        row(f["comment__post_id"]).flags = f["n"]
    titles = dict(Post.objects.filter(pk__in=list(rows)).values_list("pk", "title"))
    for post_id, figures in rows.items():
        figures.title = titles.get(post_id, "")
    ordered = sorted(
        rows.values(), key=lambda r: (-r.total_views, -r.comments, -r.flags, r.post_id)
    )
    return ordered, sorted(channels)


def _decisions(since: datetime) -> list[tuple[str, str, int]]:
    reasons = dict(ModerationReason.choices)
    actions = dict(ModerationAction.choices)
    counted = (
        ModerationDecision.objects.filter(created_at__gte=since)
        .values("reason", "action")
        .annotate(n=Count("id"))
        .order_by("reason", "action")
    )
    return [
        (str(reasons.get(d["reason"], "—")), str(actions.get(d["action"], d["action"])), d["n"])
        for d in counted
    ]


def _replies(since: datetime) -> tuple[int, int, timedelta | None]:
    """Conversations (a post's comments, a discussion) whose first resident words came in the
    period: how many the agency answered, how many not, and the median time from the first
    resident's words to the agency's first reply after them. A discussion's opening post
    counts as its first resident words."""
    first_resident: dict[tuple[str, int], datetime] = {}
    for d in Discussion.objects.filter(created_at__gte=since).values("id", "created_at"):
        first_resident[("d", d["id"])] = d["created_at"]
    comments = Comment.objects.filter(
        Q(author__isnull=False, created_at__gte=since)
        | Q(staff_author__isnull=False, created_at__gte=since)
    ).values("post_id", "discussion_id", "author_id", "created_at")
    staff: dict[tuple[str, int], list[datetime]] = defaultdict(list)
    for c in comments.order_by("created_at", "id"):
        key = ("p", c["post_id"]) if c["post_id"] is not None else ("d", c["discussion_id"])
        if c["author_id"] is not None:
            if key not in first_resident or c["created_at"] < first_resident[key]:
                first_resident[key] = c["created_at"]
        else:
            staff[key].append(c["created_at"])
    spans = []
    for key, first in first_resident.items():
        after = [t for t in staff.get(key, []) if t >= first]
        if after:
            spans.append(min(after) - first)
    return len(spans), len(first_resident) - len(spans), _median(spans)


def community_figures(*, days: int = 30) -> Figures:
    """The figures of the last ``days`` days (7, 30 or 90)."""
    if days not in PERIODS:
        days = 30
    since = timezone.now() - timedelta(days=days)
    posts, channels = _post_figures(since)
    replied, unreplied, median_reply = _replies(since)
    rumors = list(
        Rumor.objects.filter(answered_at__gte=since).values_list("first_seen_at", "answered_at")
    )
    reports = ServiceRequest.objects.filter(requested_at__gte=since)
    closed = list(
        reports.filter(status=ReportStatus.CLOSED).values_list("requested_at", "updated_at")
    )
    return Figures(
        days=days,
        since=since,
        posts=posts,
        channels=channels,
        outlet_figures=[],
        decisions=_decisions(since),
        replied=replied,
        unreplied=unreplied,
        median_reply=median_reply,
        rumors_answered=len(rumors),
        median_rumor_answer=_median([a - seen for seen, a in rumors if a is not None]),
        reports_received=reports.count(),
        reports_open=reports.filter(status=ReportStatus.OPEN).count(),
        reports_closed=len(closed),
        # A closed report's last update is its closing (report_update sets updated_at).
        median_report_close=_median([updated - requested for requested, updated in closed]),
    )
