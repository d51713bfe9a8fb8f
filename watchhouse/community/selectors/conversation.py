"""Reading conversations: comments of a post or discussion, a neighbourhood's discussions, the
public moderation log and the moderators' queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from watchhouse.community.models import (
    Comment,
    Discussion,
    Flag,
    ModerationAction,
    ModerationDecision,
    ModerationReason,
    Resident,
    Visibility,
)
from watchhouse.geo.models import Area
from watchhouse.posts.models import Post

# Months of the public moderation log shown.
LOG_MONTHS = 12
# Items in each part of the moderation queue.
QUEUE_SIZE = 50


def comment_list_for_post(post: Post) -> QuerySet[Comment]:
    """Every comment on ``post`` in order (hidden ones too: the page shows a placeholder with
    the reason instead of their words)."""
    return (
        Comment.objects.filter(post=post)
        .select_related("author", "parent")
        .order_by("created_at", "id")
    )


def comment_list_for_discussion(discussion: Discussion) -> QuerySet[Comment]:
    """Every comment in ``discussion`` in order (hidden ones shown as placeholders)."""
    return (
        Comment.objects.filter(discussion=discussion)
        .select_related("author", "parent")
        .order_by("created_at", "id")
    )


def neighbourhood_get(slug: str) -> Area:
    """The neighbourhood with ``slug``; raises ``Area.DoesNotExist``."""
    area = Area.objects.filter(kind="neighbourhood", slug=slug).order_by("id").first()
    if area is None:
        raise Area.DoesNotExist(slug)
    return area


def discussion_list(area: Area, *, viewer: Resident | None = None) -> QuerySet[Discussion]:
    """The neighbourhood's discussions, newest first: the visible ones, and the viewer's own
    hidden ones (shown to them with the reason)."""
    shown = Q(visibility=Visibility.VISIBLE)
    if viewer is not None:
        shown |= Q(author=viewer) & ~Q(visibility=Visibility.DELETED)
    return (
        Discussion.objects.filter(shown, area=area)
        .select_related("author")
        .annotate(
            comment_count=Count("comments", filter=Q(comments__visibility=Visibility.VISIBLE))
        )
        .order_by("-created_at", "-id")
    )


def discussion_get(area: Area, pk: int) -> Discussion:
    """The discussion ``pk`` of ``area`` (whatever its visibility: the page decides what to
    show); raises ``Discussion.DoesNotExist``."""
    return Discussion.objects.select_related("author", "area").get(area=area, pk=pk)


@dataclass(frozen=True)
class LogRow:
    month: date
    action: str
    action_label: str
    reason: str
    reason_label: str
    count: int


def moderation_log(*, months: int = LOG_MONTHS) -> list[LogRow]:
    """Moderation decisions counted by month, action and reason (no words, no names), newest
    month first."""
    since = (timezone.now() - timedelta(days=31 * months)).replace(day=1)
    rows = (
        ModerationDecision.objects.filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at"))
        .values("month", "action", "reason")
        .annotate(n=Count("id"))
        .order_by("-month", "action", "reason")
    )
    result = []
    for row in rows:
        month = row["month"]
        month = month.date() if hasattr(month, "date") else month
        result.append(
            LogRow(
                month=month,
                action=row["action"],
                action_label=str(ModerationAction(row["action"]).label),
                reason=row["reason"],
                reason_label=(str(ModerationReason(row["reason"]).label) if row["reason"] else ""),
                count=row["n"],
            )
        )
    return result


def flags_since_review(item: Comment | Discussion) -> int:
    """Flags on ``item`` since a moderator last restored it or dismissed its flags."""
    decisions = ModerationDecision.objects.filter(
        action__in=[ModerationAction.RESTORE, ModerationAction.DISMISS]
    )
    if isinstance(item, Comment):
        flags = Flag.objects.filter(comment=item)
        decisions = decisions.filter(comment=item)
    else:
        flags = Flag.objects.filter(discussion=item)
        decisions = decisions.filter(discussion=item)
    last = decisions.order_by("-created_at", "-id").values_list("created_at", flat=True).first()
    if last is not None:
        flags = flags.filter(created_at__gt=last)
    return flags.count()


def moderation_queue() -> dict[str, list[Any]]:
    """The moderators' work: items hidden pending review first, then visible items with
    flags, then recent items; comments and discussions mixed, oldest waiting first."""

    def both(filters: Q, order: str, limit: int) -> list[Comment | Discussion]:
        comments = list(
            Comment.objects.filter(filters)
            .select_related("author", "staff_author", "post", "discussion")
            .order_by(order)[:limit]
        )
        discussions = list(
            Discussion.objects.filter(filters)
            .select_related("author", "area")
            .order_by(order)[:limit]
        )
        items: list[Comment | Discussion] = [*comments, *discussions]
        items.sort(key=lambda i: i.created_at, reverse=order.startswith("-"))
        return items[:limit]

    recent_since = timezone.now() - timedelta(days=7)
    return {
        "pending": both(Q(visibility=Visibility.PENDING), "created_at", QUEUE_SIZE),
        # Flags a moderator already dismissed do not bring an item back to the queue.
        "flagged": [
            item
            for item in both(
                Q(visibility=Visibility.VISIBLE, flag_count__gt=0), "created_at", QUEUE_SIZE
            )
            if flags_since_review(item)
        ],
        "recent": both(
            Q(created_at__gte=recent_since) & ~Q(visibility=Visibility.DELETED),
            "-created_at",
            QUEUE_SIZE,
        ),
    }


def moderation_item_get(kind: str, pk: int) -> Comment | Discussion:
    """A comment (``kind`` "comment") or discussion; raises ``DoesNotExist``."""
    if kind == "comment":
        return Comment.objects.select_related("author", "post", "discussion").get(pk=pk)
    if kind == "discussion":
        return Discussion.objects.select_related("author", "area").get(pk=pk)
    raise Comment.DoesNotExist(kind)


def decisions_for(item: Comment | Discussion) -> QuerySet[ModerationDecision]:
    """The decisions taken on ``item``, newest first."""
    return item.decisions.select_related("actor").order_by("-created_at", "-id")
