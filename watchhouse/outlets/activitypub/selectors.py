"""Reads of the fediverse side: our actors, their outboxes and followers, what came in."""

from __future__ import annotations

from django.db.models import QuerySet

from watchhouse.outlets.models import (
    Activity,
    ActivityType,
    ApDelivery,
    Follower,
    InboundItem,
    LocalActor,
    Network,
)
from watchhouse.posts.models import Post
from watchhouse.posts.states import LISTED_STATES

OUTBOX_PAGE_SIZE = 20
PUBLIC_TYPES = (ActivityType.CREATE, ActivityType.UPDATE, ActivityType.DELETE)


def actor_get(username: str) -> LocalActor:
    """The enabled actor ``username`` (raises ``LocalActor.DoesNotExist``); the department's
    actor is made on first use."""
    from watchhouse.outlets.activitypub.services import department_actor, department_username

    if username == department_username():
        department_actor()
    return LocalActor.objects.select_related("area", "icon").get(username=username, enabled=True)


def department_handle() -> str:
    """``@user@domain`` under which the department is followed, or "" when its actor is
    switched off (it is made on first use, so no actor yet still has a handle)."""
    from watchhouse.outlets.activitypub.documents import domain
    from watchhouse.outlets.activitypub.services import department_username

    username = department_username()
    if LocalActor.objects.filter(username=username, enabled=False).exists():
        return ""
    return f"@{username}@{domain()}"


def actor_list() -> QuerySet[LocalActor]:
    return LocalActor.objects.select_related("area").order_by("area_id", "username")


def outbox_activities(actor: LocalActor) -> QuerySet[Activity]:
    """The public activities of ``actor``'s outbox, newest first (Accepts are not listed)."""
    return Activity.objects.filter(actor=actor, type__in=PUBLIC_TYPES).order_by(
        "-published_at", "-id"
    )


def outbox_page(actor: LocalActor, page: int) -> tuple[list[Activity], bool]:
    """One page (from 1) of the outbox and whether another follows."""
    start = (page - 1) * OUTBOX_PAGE_SIZE
    rows = list(outbox_activities(actor)[start : start + OUTBOX_PAGE_SIZE + 1])
    return rows[:OUTBOX_PAGE_SIZE], len(rows) > OUTBOX_PAGE_SIZE


def follower_count(actor: LocalActor) -> int:
    return Follower.objects.filter(actor=actor).count()


def last_object_activity(actor: LocalActor, object_uri: str) -> Activity | None:
    return (
        Activity.objects.filter(actor=actor, object_uri=object_uri, type__in=PUBLIC_TYPES)
        .order_by("-version", "-id")
        .first()
    )


def activity_get(uri: str) -> Activity:
    return Activity.objects.select_related("actor").get(uri=uri, type__in=PUBLIC_TYPES)


def nodeinfo_counts() -> tuple[int, int]:
    """(actors, listed posts) for NodeInfo's usage."""
    return (
        LocalActor.objects.filter(enabled=True).count(),
        Post.objects.filter(state__in=LISTED_STATES).count(),
    )


def inbound_list() -> QuerySet[InboundItem]:
    return InboundItem.objects.filter(network=Network.ACTIVITYPUB).select_related(
        "post", "alert", "actor"
    )


def deliveries_of(activity: Activity) -> QuerySet[ApDelivery]:
    return ApDelivery.objects.filter(activity=activity).select_related("server")
