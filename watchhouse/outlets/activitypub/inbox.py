"""What other servers send to our inboxes, verified and then taken in.

:func:`inbox_receive` refuses (with a status the view returns) anything oversized, unsigned,
wrongly signed, with a digest not matching its body, dated outside the window, from an actor
whose document cannot be had (an HTML page, a timeout, a private address) or already taken
(a replay). What passes is handled by type: Follow (stored and answered with an Accept),
Undo Follow, Create of a reply or a mention (kept as an :class:`InboundItem` with the post or
alert it answers), Delete of a note (marked, kept) or of an actor (its follows removed),
Update of an actor (its key refreshed) or of a note. Creates and Announces from accounts and
relays that monitoring follows go to its stream, and Accept/Reject of its Follows update them
(``watchhouse.monitoring.connectors.fediverse``). Anything about objects we do not know is
answered 202 and logged, and nothing is stored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nh3
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from lxml import html as lxml_html

from watchhouse.alerts.models import Alert
from watchhouse.audit.services import audit_record
from watchhouse.outlets.activitypub import documents
from watchhouse.outlets.activitypub.delivery import deliver_to, enqueue_delivery, host_of
from watchhouse.outlets.activitypub.publishing import new_activity_uri
from watchhouse.outlets.activitypub.remote import (
    ACTOR_TYPES,
    RemoteFetchError,
    actor_fields,
    actor_store,
    key_owner,
)
from watchhouse.outlets.activitypub.signatures import (
    SignatureError,
    check_request,
    verify_signature,
)
from watchhouse.outlets.models import (
    Activity,
    ActivityType,
    ApServer,
    Follower,
    InboundItem,
    InboundKind,
    LocalActor,
    Network,
    RemoteActor,
    SeenActivity,
)
from watchhouse.posts.models import Post

logger = logging.getLogger("watchhouse.outlets.activitypub")

MAX_INBOX_BYTES = 256 * 1024


@dataclass(frozen=True)
class InboxResult:
    status: int
    message: str


def max_inbox_bytes() -> int:
    from django.conf import settings

    return int(getattr(settings, "WATCHHOUSE_AP_MAX_INBOX_BYTES", MAX_INBOX_BYTES))


def _refuse(status: int, message: str, **context: Any) -> InboxResult:
    logger.info("ActivityPub inbox refused (%s): %s %s", status, message, context or "")
    return InboxResult(status, message)


def _id(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def inbox_receive(
    *, local: LocalActor | None, method: str, target: str, headers: dict[str, str], body: bytes,
) -> InboxResult:  # fmt: skip
    """Verify and take in one POST to an inbox (``local``'s, or the shared one when None).

    ``headers`` have lower-case names; ``target`` is the path with its query string.
    """
    if len(body) > max_inbox_bytes():
        return _refuse(413, "The activity is too large.")
    try:
        params = check_request(method=method, target=target, headers=headers, body=body)
    except SignatureError as error:
        return _refuse(401, str(error))
    try:
        activity = json.loads(body)
    except ValueError:
        return _refuse(400, "The body is not JSON.")
    if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
        return _refuse(400, "The body is not an activity.")
    actor_id = _id(activity.get("actor"))
    try:
        remote = key_owner(params.key_id)
        try:
            verify_signature(params, method=method, target=target, headers=headers,
                             public_key_pem=remote.public_key_pem)  # fmt: skip
        except SignatureError:
            # The actor may have rotated its key since it was cached: fetch it once more.
            remote = key_owner(params.key_id, refresh=True)
            verify_signature(params, method=method, target=target, headers=headers,
                             public_key_pem=remote.public_key_pem)  # fmt: skip
    except RemoteFetchError as error:
        if error.gone and activity["type"] == "Delete" and _id(activity.get("object")) == actor_id:
            # A deleted account we never met (its key is gone with it): nothing to remove.
            logger.info("Delete of an unknown, gone actor %s ignored", actor_id)
            return InboxResult(202, "Accepted.")
        return _refuse(401, f"The signing key could not be had: {error}", key=params.key_id)
    except SignatureError as error:
        return _refuse(401, str(error), key=params.key_id)
    if actor_id != remote.uri:
        return _refuse(401, "The activity's actor is not the signer.", actor=actor_id)
    activity_uri = _id(activity)
    with transaction.atomic():
        if activity_uri:
            try:
                with transaction.atomic():
                    SeenActivity.objects.create(uri=activity_uri[:500])
            except IntegrityError:
                return _refuse(409, "This activity was received already.", id=activity_uri)
        ApServer.objects.filter(host=host_of(remote.uri)).exclude(dead_since__isnull=True).update(
            dead_since=None, failing_since=None, failures=0, last_ok_at=timezone.now()
        )
        return _dispatch(local, remote, activity)


def _dispatch(
    local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]
) -> InboxResult:
    kind = activity["type"]
    handler = {
        "Follow": _follow,
        "Undo": _undo,
        "Create": _create,
        "Delete": _delete,
        "Update": _update,
        "Accept": _follow_answered,
        "Reject": _follow_answered,
        "Announce": _announce,
    }.get(kind)
    if handler is None:
        logger.info("ActivityPub %s from %s ignored", kind, remote.uri)
        return InboxResult(202, "Accepted.")
    return handler(local, remote, activity)


def _our_actor(uri: str) -> LocalActor | None:
    if not uri.startswith(documents.site() + "/ap/users/"):
        return None
    username = uri.removeprefix(documents.site() + "/ap/users/")
    return LocalActor.objects.filter(username=username, enabled=True).first()


def _follow(local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]) -> InboxResult:
    target = _our_actor(_id(activity.get("object")))
    if target is None:
        logger.info(
            "Follow of an unknown actor %s from %s", _id(activity.get("object")), remote.uri
        )
        return InboxResult(202, "Accepted.")
    follow_uri = _id(activity)[:500]
    Follower.objects.update_or_create(
        actor=target, remote=remote, defaults={"follow_uri": follow_uri}
    )
    now = timezone.now()
    uri = new_activity_uri(target)
    accept = Activity.objects.create(
        actor=target, uri=uri, type=ActivityType.ACCEPT, object_uri=follow_uri or remote.uri,
        version=Activity.objects.filter(
            actor=target, object_uri=follow_uri or remote.uri, type=ActivityType.ACCEPT
        ).count() + 1,
        payload=documents.activity_document(
            actor=target, uri=uri, kind="Accept",
            obj={"id": follow_uri, "type": "Follow", "actor": remote.uri,
                 "object": documents.actor_uri(target)},
            published=now, to=[remote.uri], cc=[],
        ),
        published_at=now,
    )  # fmt: skip
    deliver_to(accept, remote.inbox or remote.shared_inbox)
    audit_record(actor=None, action="outlets.ap_follow", obj=accept,
                 data={"follower": remote.uri, "actor": target.username})  # fmt: skip
    enqueue_delivery(accept.pk)
    return InboxResult(202, "Accepted.")


def _undo(local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]) -> InboxResult:
    obj = activity.get("object")
    if isinstance(obj, dict) and obj.get("type") == "Follow":
        target = _our_actor(_id(obj.get("object")))
        if target is not None and _id(obj.get("actor")) in ("", remote.uri):
            removed, _rows = Follower.objects.filter(actor=target, remote=remote).delete()
            if removed:
                audit_record(actor=None, action="outlets.ap_unfollow", obj=target,
                             data={"follower": remote.uri})  # fmt: skip
            return InboxResult(202, "Accepted.")
    follow_uri = _id(obj)
    if follow_uri:
        removed, _rows = Follower.objects.filter(remote=remote, follow_uri=follow_uri).delete()
        if removed:
            return InboxResult(202, "Accepted.")
    logger.info("Undo of something unknown (%s) from %s ignored", follow_uri, remote.uri)
    return InboxResult(202, "Accepted.")


def plain_text(markup: str, limit: int = 20000) -> str:
    """Remote HTML reduced to plain text: tags stripped (nh3), entities decoded (lxml),
    paragraph and line breaks kept as newlines."""
    cleaned = nh3.clean(markup[:200000], tags={"p", "br"}, attributes={})
    cleaned = cleaned.replace("<br>", "\n").replace("</p>", "\n\n").replace("<p>", "")
    if not cleaned.strip():
        return ""
    text = lxml_html.fromstring(f"<div>{cleaned}</div>").text_content()
    return "\n".join(line.strip() for line in text.strip().splitlines())[:limit]


def _what_it_answers(
    note: dict[str, Any],
) -> tuple[Post | None, Alert | None, LocalActor | None, str]:
    """The post or alert (and our actor) a note replies to, by its ``inReplyTo``."""
    reply_to = _id(note.get("inReplyTo"))
    parsed = documents.parse_object_uri(reply_to)
    if parsed is None:
        return None, None, None, reply_to
    username, kind, pk = parsed
    actor = LocalActor.objects.filter(username=username).first()
    if actor is None:
        return None, None, None, reply_to
    if kind == "posts":
        return Post.objects.filter(pk=pk).first(), None, actor, reply_to
    return None, Alert.objects.filter(pk=pk).first(), actor, reply_to


def _mentioned(note: dict[str, Any]) -> LocalActor | None:
    tags = note.get("tag")
    tags = tags if isinstance(tags, list) else [tags] if isinstance(tags, dict) else []
    for tag in tags:
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            actor = _our_actor(_id(tag.get("href")))
            if actor is not None:
                return actor
    return None


def _create(local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]) -> InboxResult:
    note = activity.get("object")
    if not isinstance(note, dict) or note.get("type") not in ("Note", "Article", "Question"):
        logger.info("Create of a non-note from %s ignored", remote.uri)
        return InboxResult(202, "Accepted.")
    note_id = _id(note)
    if not note_id or _id(note.get("attributedTo")) not in ("", remote.uri):
        return _refuse(400, "The note is not the actor's own.")
    post, alert, answered, reply_to = _what_it_answers(note)
    mentioned = _mentioned(note)
    if post is None and alert is None and mentioned is None:
        if not _monitored(activity, remote):
            logger.info("Create of %s from %s about nothing of ours ignored", note_id, remote.uri)
        return InboxResult(202, "Accepted.")
    published = (
        parse_datetime(note["published"]) if isinstance(note.get("published"), str) else None
    )
    content = note.get("content")
    content = content if isinstance(content, str) else ""
    url = note.get("url")
    url = _id(url) if isinstance(url, dict) else url if isinstance(url, str) else ""
    item, created = InboundItem.objects.get_or_create(
        network=Network.ACTIVITYPUB,
        remote_id=note_id[:500],
        defaults={
            "actor": answered or mentioned,
            "kind": InboundKind.REPLY if (post or alert) else InboundKind.MENTION,
            "author_name": remote.name[:300],
            "author_handle": remote.handle[:300],
            "author_url": (remote.url or remote.uri)[:500],
            "text": plain_text(content),
            "url": url[:500] if url.startswith(("http://", "https://")) else "",
            "in_reply_to": reply_to[:500],
            "post": post,
            "alert": alert,
            "published_at": published if isinstance(published, datetime) else None,
            "raw": activity,
        },
    )
    if created:
        audit_record(actor=None, action="outlets.ap_inbound", obj=item,
                     data={"from": remote.uri, "kind": item.kind})  # fmt: skip
    return InboxResult(202, "Accepted.")


def _monitored(activity: dict[str, Any], remote: RemoteActor) -> bool:
    """Hand a post from an account or relay that monitoring follows to the stream; whether
    it was taken (monitoring decides: only public notes from what it follows)."""
    from watchhouse.monitoring.connectors.fediverse import fediverse_received

    return fediverse_received(activity, remote)


def _announce(
    local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]
) -> InboxResult:
    # Relays (and boosts of followed accounts) arrive as Announces of public notes.
    _monitored(activity, remote)
    return InboxResult(202, "Accepted.")


def _follow_answered(
    local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]
) -> InboxResult:
    """An Accept or Reject of a Follow the department's actor sent for monitoring."""
    from watchhouse.monitoring.connectors.fediverse import follow_answered

    if not follow_answered(activity, remote):
        logger.info("%s of something unknown from %s ignored", activity["type"], remote.uri)
    return InboxResult(202, "Accepted.")


def _delete(local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]) -> InboxResult:
    target = _id(activity.get("object"))
    if target == remote.uri:
        removed, _rows = Follower.objects.filter(remote=remote).delete()
        RemoteActor.objects.filter(pk=remote.pk).update(gone_at=timezone.now())
        audit_record(actor=None, action="outlets.ap_actor_deleted", obj=remote,
                     data={"follows_removed": removed})  # fmt: skip
        return InboxResult(202, "Accepted.")
    marked = InboundItem.objects.filter(
        network=Network.ACTIVITYPUB, remote_id=target, deleted_remotely_at__isnull=True,
        raw__actor=remote.uri,
    ).update(deleted_remotely_at=timezone.now())  # fmt: skip
    if not marked:
        logger.info("Delete of an unknown object %s from %s ignored", target, remote.uri)
    return InboxResult(202, "Accepted.")


def _update(local: LocalActor | None, remote: RemoteActor, activity: dict[str, Any]) -> InboxResult:
    obj = activity.get("object")
    if isinstance(obj, dict) and obj.get("type") in ACTOR_TYPES:
        if _id(obj) != remote.uri:
            return _refuse(400, "An actor may only update itself.")
        try:
            actor_store(actor_fields(obj))
        except RemoteFetchError as error:
            return _refuse(400, str(error))
        return InboxResult(202, "Accepted.")
    if isinstance(obj, dict) and isinstance(obj.get("content"), str):
        InboundItem.objects.filter(
            network=Network.ACTIVITYPUB, remote_id=_id(obj), raw__actor=remote.uri
        ).update(text=plain_text(obj["content"]))
        return InboxResult(202, "Accepted.")
    logger.info("Update of an unknown object from %s ignored", remote.uri)
    return InboxResult(202, "Accepted.")
