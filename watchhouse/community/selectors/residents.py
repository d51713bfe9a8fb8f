"""Reading residents' memberships, the verification queue, and what a neighbourhood's public
page shows of its community."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from watchhouse.community.models import (
    Discussion,
    Membership,
    MembershipStatus,
    Poll,
    Resident,
    Visibility,
)
from watchhouse.geo.models import Area
from watchhouse.posts import public as posts_public
from watchhouse.posts.models import Post, PostKind

# How many of each a neighbourhood's page lists.
AREA_DISCUSSIONS = 5
AREA_POLLS = 5
AREA_EVENTS = 5


def resident_memberships(resident: Resident) -> QuerySet[Membership]:
    """The resident's memberships (not those they left), with their areas, by area name."""
    return (
        Membership.objects.filter(resident=resident)
        .exclude(status=MembershipStatus.LEFT)
        .select_related("area")
        .order_by("area__name", "id")
    )


def membership_pending_list(*, area_id: int | None = None) -> QuerySet[Membership]:
    """Memberships waiting for verification, oldest first, with resident, area and batch."""
    pending = Membership.objects.filter(status=MembershipStatus.PENDING)
    if area_id is not None:
        pending = pending.filter(area_id=area_id)
    return pending.select_related("resident", "area", "postcard_batch").order_by(
        "requested_at", "id"
    )


@dataclass(frozen=True)
class AreaEvent:
    post: Post
    url: str


@dataclass(frozen=True)
class AreaCommunity:
    """What a neighbourhood's public page shows of its community, the same for every
    visitor, and until when it stays true."""

    discussions: list[Discussion]
    polls: list[Poll]
    events: list[AreaEvent]
    fresh_until: datetime | None


def area_community(area: Area) -> AreaCommunity:
    """The area's latest visible discussions, its open polls (its own and the city-wide ones)
    and its upcoming events (event posts tagged with it that have not ended)."""
    now = timezone.now()
    discussions = list(
        Discussion.objects.filter(area=area, visibility=Visibility.VISIBLE)
        .select_related("author")
        .order_by("-created_at", "-id")[:AREA_DISCUSSIONS]
    )
    polls = list(
        Poll.objects.filter(
            Q(area=area) | Q(area__isnull=True), opens_at__lte=now, closes_at__gt=now
        )
        .select_related("area")
        .order_by("closes_at", "id")[:AREA_POLLS]
    )
    events = list(
        posts_public.post_listed()
        .filter(kind=PostKind.EVENT, areas=area, event_start__isnull=False)
        .filter(Q(event_end__gt=now) | Q(event_end__isnull=True, event_start__gt=now))
        .order_by("event_start", "id")[:AREA_EVENTS]
    )
    # The page changes by itself when a poll opens or closes or an event ends.
    moments = [p.closes_at for p in polls]
    upcoming = (
        Poll.objects.filter(Q(area=area) | Q(area__isnull=True), opens_at__gt=now)
        .order_by("opens_at")
        .values_list("opens_at", flat=True)
        .first()
    )
    if upcoming is not None:
        moments.append(upcoming)
    for event in events:
        ends = event.event_end or event.event_start
        if ends is not None:
            moments.append(ends)
    return AreaCommunity(
        discussions=discussions,
        polls=polls,
        events=[AreaEvent(e, posts_public.post_url(e)) for e in events],
        fresh_until=min(moments, default=None),
    )


def seconds_until(moment: datetime | None, *, longest: float) -> float:
    """Seconds from now to ``moment``, at most ``longest`` (``longest`` without one)."""
    if moment is None:
        return longest
    return max(0.0, min(longest, (moment - timezone.now()) / timedelta(seconds=1)))
