"""From a post's or an alert's state to the activities our actors owe their followers.

:func:`ap_post_changed` and :func:`ap_alert_changed` compare what the record is now with the
last activity each actor sent about it, add what is missing (Create, Update or Delete), fan
it out to one delivery per inbox, and enqueue the sending after commit. Calling them again
when nothing changed adds nothing.
"""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from watchhouse.alerts.models import Alert
from watchhouse.alerts.states import AlertState
from watchhouse.audit.services import audit_record
from watchhouse.outlets.activitypub import documents
from watchhouse.outlets.activitypub.delivery import enqueue_delivery, fan_out
from watchhouse.outlets.activitypub.services import department_actor
from watchhouse.outlets.models import Activity, ActivityType, LocalActor
from watchhouse.posts import public
from watchhouse.posts.models import Post
from watchhouse.posts.states import PostState

logger = logging.getLogger("watchhouse.outlets.activitypub")

# Post states in which its object is shown (an archived post keeps its page).
LIVE_POST_STATES = frozenset({PostState.PUBLISHED, PostState.ARCHIVED})
OBJECT_TYPES = (ActivityType.CREATE, ActivityType.UPDATE, ActivityType.DELETE)


def new_activity_uri(actor: LocalActor) -> str:
    return f"{documents.actor_uri(actor)}/activities/{uuid.uuid4().hex}"


def _post_actors(post: Post) -> list[tuple[LocalActor, bool]]:
    """Each actor that has or had something to say about ``post``, and whether it should
    show the post now: the department, the actors of the post's areas, and any actor that
    published it before (an area actor whose area was removed from the post takes it down)."""
    department_actor()
    area_ids = {a.pk for a in post.areas.all()}
    earlier = set(Activity.objects.filter(post=post).values_list("actor_id", flat=True))
    # A disabled actor says nothing more, not even a Delete.
    actors = LocalActor.objects.filter(
        Q(area__isnull=True) | Q(area_id__in=area_ids) | Q(pk__in=earlier), enabled=True
    ).select_related("area")
    return [(a, a.area_id is None or a.area_id in area_ids) for a in actors]


def _add(
    actor: LocalActor, *, kind: str, object_uri: str, obj: dict | str, version: int,
    post: Post | None = None, alert: Alert | None = None,
) -> Activity | None:  # fmt: skip
    now = timezone.now()
    uri = new_activity_uri(actor)
    payload = documents.activity_document(actor=actor, uri=uri, kind=kind, obj=obj, published=now)
    try:
        with transaction.atomic():
            return Activity.objects.create(
                actor=actor, uri=uri, type=kind, object_uri=object_uri, post=post, alert=alert,
                version=version, payload=payload, published_at=now,
            )  # fmt: skip
    except IntegrityError:
        # The same change was recorded by a concurrent call: nothing more to do.
        return None


def _post_activity(actor: LocalActor, post: Post, show: bool) -> Activity | None:
    object_uri = documents.post_object_uri(actor, post.pk)
    last = (
        Activity.objects.filter(actor=actor, object_uri=object_uri, type__in=OBJECT_TYPES)
        .order_by("-version", "-id")
        .first()
    )
    live = show and post.state in LIVE_POST_STATES
    if last is not None and last.type == ActivityType.DELETE:
        return None  # a deleted object's id is never reused
    if live and last is None:
        return _add(
            actor,
            kind=ActivityType.CREATE,
            object_uri=object_uri,
            obj=documents.post_object(actor, post),
            version=post.version,
            post=post,
        )
    if live and last is not None and last.version < post.version:
        obj = documents.post_object(actor, post)
        obj.setdefault("updated", documents.iso_utc(timezone.now()))
        return _add(
            actor,
            kind=ActivityType.UPDATE,
            object_uri=object_uri,
            obj=obj,
            version=post.version,
            post=post,
        )
    if not live and last is not None:
        former = (last.payload.get("object") or {}).get("type", "Note")
        return _add(actor, kind=ActivityType.DELETE, object_uri=object_uri,
                    obj=documents.tombstone(object_uri, former_type=former,
                                            deleted=timezone.now()),
                    version=max(post.version, last.version + 1), post=post)  # fmt: skip
    return None


def _finish(activities: list[Activity], *, what: str, pk: int) -> list[int]:
    """Fan out, audit and enqueue the new activities (inside the caller's transaction)."""
    for activity in activities:
        count = fan_out(activity)
        audit_record(
            actor=None, action="outlets.ap_publish", obj=activity,
            data={"type": activity.type, "object": activity.object_uri, what: pk,
                  "version": activity.version, "deliveries": count},
        )  # fmt: skip
        if count:
            enqueue_delivery(activity.pk)
    return [a.pk for a in activities]


def ap_post_changed(post_id: int) -> list[int]:
    """Add the Create, Update or Delete the post's current state calls for, for each of our
    actors that publishes it; return the new activities' ids (none when nothing changed)."""
    with transaction.atomic():
        locked = Post.objects.select_for_update().filter(pk=post_id).values_list("pk", flat=True)
        if not list(locked):
            return []
        post = Post.objects.prefetch_related(
            public.visible_media_prefetch(), "areas", "topics"
        ).get(pk=post_id)
        added = []
        for actor, show in _post_actors(post):
            activity = _post_activity(actor, post, show)
            if activity is not None:
                added.append(activity)
        return _finish(added, what="post", pk=post_id)


def ap_alert_changed(alert_id: int) -> list[int]:
    """Publish an issued alert as a Note from each actor taking its category (the
    department's actor takes all four by default); once only."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None or alert.state != AlertState.ISSUED:
            return []
        department_actor()
        added = []
        for actor in LocalActor.objects.filter(enabled=True).select_related("area"):
            if alert.category not in (actor.alert_categories or []):
                continue
            object_uri = documents.alert_object_uri(actor, alert.pk)
            if Activity.objects.filter(actor=actor, object_uri=object_uri).exists():
                continue
            activity = _add(
                actor,
                kind=ActivityType.CREATE,
                object_uri=object_uri,
                obj=documents.alert_object(actor, alert),
                version=1,
                alert=alert,
            )
            if activity is not None:
                added.append(activity)
        return _finish(added, what="alert", pk=alert_id)
