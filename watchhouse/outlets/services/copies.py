"""Copies of posts and alerts on other networks, brought from where they are to where they
should be.

A post or alert change sets what each copy should show (``want_version``; 0 for "taken
down") and enqueues :func:`copy_sync` for the copies that moved. :func:`copy_sync` claims the
copy by a conditional update, calls the network outside any transaction, and records what
came back only while it still holds the claim. A claim older than the worker lease belonged
to a dead worker and is taken again: the copy is never lost, though a network call that
succeeded just before its worker died may be made again (the adapter interface cannot ask a
network whether it already holds a post). Such a run is marked in the audit log
(``outlets.copy.reclaimed``) and in the copy's error, so staff can look for a duplicate.

An alert's chain of messages (the alert, its updates, its cancellation) is one copy, kept on
the first message: each later message is a new version of it, so an update edits the copy
(or leaves an "Updated" notice) and a cancellation says so in place.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.roles import require_role
from watchhouse.alerts.models import Alert
from watchhouse.alerts.states import AlertState
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.core.taskqueue import retry_delay_seconds
from watchhouse.outlets import policy
from watchhouse.outlets.models import CopyStatus, Network, Outlet, RemoteCopy
from watchhouse.outlets.networks.base import OutletError, Published, Rendered
from watchhouse.outlets.services.outlets import (
    adapter_close,
    credentials_keep,
    outlet_adapter,
    outlet_flag_auth,
)
from watchhouse.posts.models import Post
from watchhouse.posts.states import PostState

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

logger = logging.getLogger(__name__)

# Alert states whose message was issued (the chain's messages that count as versions).
ISSUED_ALERT_STATES = frozenset(
    {AlertState.ISSUED, AlertState.UPDATED, AlertState.CANCELLED, AlertState.EXPIRED}
)


def _lease() -> timedelta:
    """How long a claim holds: longer than the slowest sync (a thread of parts, a video the
    network processes for up to two minutes), so a live worker's claim is never taken over."""
    worker, outlets = (
        settings.WATCHHOUSE_WORKER_LEASE_SECONDS,
        settings.WATCHHOUSE_OUTLETS_LEASE_SECONDS,
    )
    return timedelta(seconds=max(int(worker), int(outlets), 1))


def _max_attempts() -> int:
    return max(int(settings.WATCHHOUSE_TASK_MAX_ATTEMPTS), 1)


def _enqueue_sync(copy_ids: list[int], *, run_after: datetime | None = None) -> None:
    """Hand the copies to the worker once the transaction commits."""
    if not copy_ids:
        return
    ids = list(copy_ids)

    def enqueue() -> None:
        from watchhouse.outlets.tasks import sync_copy_task

        for copy_id in ids:
            task = sync_copy_task.using(run_after=run_after) if run_after else sync_copy_task
            task.enqueue(copy_id)

    transaction.on_commit(enqueue)


def _want(copy: RemoteCopy, version: int, *, now: datetime) -> bool:
    """Set what ``copy`` should show (in the caller's transaction); True when it has new
    work to enqueue. A copy that moves gets a fresh set of attempts; one a worker holds keeps
    its claim, and that worker sees the new version when it records and goes round again."""
    if copy.want_version == version:
        return False
    if copy.status == CopyStatus.SENDING:
        RemoteCopy.objects.filter(pk=copy.pk).update(want_version=version, updated_at=now)
        return False
    RemoteCopy.objects.filter(pk=copy.pk).update(
        want_version=version, status=CopyStatus.PENDING, attempts=0, next_attempt_at=None,
        updated_at=now,
    )  # fmt: skip
    return True


# --- posts -------------------------------------------------------------------------------


def _takes_kind(outlet: Outlet, kind: str) -> bool:
    return not outlet.post_kinds or kind in outlet.post_kinds


def post_outlets_sync(*, post_id: int) -> list[int]:
    """Bring every copy of a post in line with it (the system acts): a published post is
    wanted at its version on every enabled outlet taking its kind, a retracted one nowhere;
    an archived post's copies stay as they are. Returns the ids of the copies enqueued.

    Then the department's fediverse actor is told (when that part is installed).
    """
    now = timezone.now()
    enqueued: list[int] = []
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(pk=post_id).first()
        if post is None:
            return []
        copies = {c.outlet_id: c for c in RemoteCopy.objects.filter(post=post)}
        if post.state == PostState.PUBLISHED:
            for outlet in Outlet.objects.filter(enabled=True).exclude(network=Network.ACTIVITYPUB):
                if outlet.pk in copies or not _takes_kind(outlet, post.kind):
                    continue
                copy = RemoteCopy.objects.create(
                    outlet=outlet, post=post, want_version=post.version, created_at=now
                )
                enqueued.append(copy.pk)
            for copy in copies.values():
                if _want(copy, post.version, now=now):
                    enqueued.append(copy.pk)
        elif post.state == PostState.RETRACTED:
            for copy in copies.values():
                if _want(copy, 0, now=now):
                    enqueued.append(copy.pk)
        _enqueue_sync(enqueued)
    _fediverse("ap_post_changed", post_id)
    return enqueued


def _fediverse(name: str, object_id: int) -> None:
    """Tell the fediverse part (helper module, may be absent in a partial install)."""
    try:
        from watchhouse.outlets.activitypub import publishing
    except ImportError:
        return
    changed = getattr(publishing, name, None)
    if changed is not None:
        changed(object_id)


# --- alerts ------------------------------------------------------------------------------


def alert_chain(alert: Alert) -> list[Alert]:
    """The issued messages of ``alert``'s chain, first to latest."""
    root = alert
    while root.references_id is not None:
        root = Alert.objects.get(pk=root.references_id)
    chain = [root]
    while True:
        follow = (
            Alert.objects.filter(references=chain[-1], state__in=ISSUED_ALERT_STATES)
            .order_by("issued_at", "pk")
            .first()
        )
        if follow is None:
            return [a for a in chain if a.state in ISSUED_ALERT_STATES]
        chain.append(follow)


def _takes_category(outlet: Outlet, category: str) -> bool:
    # Alerts go out only through the outlets the agency enabled for their category.
    return category in (outlet.alert_categories or [])


def alert_outlets_sync(*, alert_id: int) -> list[int]:
    """Bring every copy of an alert's chain in line with its latest issued message (the
    system acts): enabled outlets taking its category get a copy of the chain's first
    message at version = the number of issued messages. Returns the copies enqueued."""
    now = timezone.now()
    enqueued: list[int] = []
    with transaction.atomic():
        alert = Alert.objects.filter(pk=alert_id).first()
        if alert is None:
            return []
        chain = alert_chain(alert)
        if not chain:
            return []
        root, version = chain[0], len(chain)
        root = Alert.objects.select_for_update().get(pk=root.pk)
        copies = {c.outlet_id: c for c in RemoteCopy.objects.filter(alert=root)}
        for outlet in Outlet.objects.filter(enabled=True).exclude(network=Network.ACTIVITYPUB):
            if outlet.pk in copies or not _takes_category(outlet, root.category):
                continue
            if chain[-1].state == AlertState.EXPIRED and version == 1:
                continue  # too late to tell anyone
            copy = RemoteCopy.objects.create(
                outlet=outlet, alert=root, want_version=version, created_at=now
            )
            enqueued.append(copy.pk)
        for copy in copies.values():
            if _want(copy, version, now=now):
                enqueued.append(copy.pk)
        _enqueue_sync(enqueued)
    _fediverse("ap_alert_changed", alert_id)
    return enqueued


# --- the reconciler ----------------------------------------------------------------------


def _due(now: datetime) -> Q:
    """Copies a worker may claim now: pending and due, or sending under a lapsed lease."""
    return Q(status=CopyStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=CopyStatus.SENDING, claimed_at__lt=now - _lease())


def _claim(copy_id: int, now: datetime) -> tuple[RemoteCopy, str, bool] | None:
    """Take the copy for this run: the copy, the claim token and whether a dead worker's
    claim was taken over; None when the copy is not due or another worker holds it."""
    token = secrets.token_hex(16)
    before = RemoteCopy.objects.filter(pk=copy_id).values_list("status", flat=True).first()
    claimed = (
        RemoteCopy.objects.filter(_due(now), pk=copy_id)
        .update(
            status=CopyStatus.SENDING, claim_token=token, claimed_at=now,
            attempts=F("attempts") + 1,
        )
    )  # fmt: skip
    if not claimed:
        return None
    copy = RemoteCopy.objects.select_related("outlet", "post", "alert").get(pk=copy_id)
    if copy.claim_token != token:
        return None
    return copy, token, before == CopyStatus.SENDING


def _render(copy: RemoteCopy) -> Rendered:
    from watchhouse.outlets.rendering import render

    if copy.post is not None:
        return render(copy.outlet, post=copy.post)
    assert copy.alert is not None  # noqa: S101 - a copy is of a post or of an alert
    latest = alert_chain(copy.alert)[-1]
    return render(copy.outlet, alert=latest)


def _redacted_since(copy: RemoteCopy) -> int | None:
    """The version from which the post's faces and names left the public, if they did."""
    post = copy.post
    if post is None or not post.redacted:
        return None
    first = (
        post.revisions.filter(data__redacted=True).order_by("number").values_list(
            "number", flat=True
        ).first()
    )  # fmt: skip
    return int(first) if first is not None else post.version


@dataclass
class _Step:
    """What one run did on the network: the action's name and the new remote state."""

    action: str
    done: int
    parts: list[dict[str, str]]
    remote_id: str
    remote_url: str
    notice: str = ""
    published: bool = False
    deleted: bool = False


def _from_published(action: str, done: int, published: Published) -> _Step:
    return _Step(
        action, done=done, parts=list(published.parts), remote_id=published.remote_id,
        remote_url=published.remote_url, published=True,
    )  # fmt: skip


def _remove(adapter: Any, parts: list[dict[str, str]]) -> None:
    """Delete a copy's parts; a copy the network no longer has is already gone."""
    try:
        adapter.delete(parts)
    except OutletError as exc:
        if exc.kind != "not_found":
            raise


def _act(copy: RemoteCopy, adapter: Any) -> _Step:
    """Make the network call(s) that take the copy from ``done_version`` to ``want_version``.

    Retraction deletes the copy, or leaves a notice where the network cannot delete. An
    edit updates it in place, or leaves an "Updated" notice where the network cannot edit;
    but once an appeal is resolved its faces and names must leave the public, so a copy made
    before that is deleted and the neutral notice published afresh wherever the network
    lets a post be deleted.
    """
    want, done, parts = copy.want_version, copy.done_version, list(copy.parts or [])
    rid, url = copy.remote_id, copy.remote_url
    if want == 0:
        if done == 0 or not parts:
            return _Step("nothing", 0, parts, rid, url, notice=copy.notice)
        if adapter.can_delete:
            _remove(adapter, parts)
            return _Step("delete", 0, [], rid, url, deleted=True)
        rendered = _render(copy)
        text = _("This post was retracted: %(link)s") % {"link": rendered.link}
        part = adapter.notice(parts, text)
        return _Step("notice", 0, [*parts, part], rid, url, notice=text)
    if done == 0 or not parts:
        rendered = _render(copy)
        return _from_published("publish", want, adapter.publish(rendered))
    rendered = _render(copy)
    redacted = _redacted_since(copy)
    if redacted is not None and done < redacted and adapter.can_delete:
        _remove(adapter, parts)
        return _from_published("republish", want, adapter.publish(rendered))
    if adapter.can_edit:
        return _from_published("update", want, adapter.update(parts, rendered))
    text = _("Updated: %(link)s") % {"link": rendered.link}
    part = adapter.notice(parts, text)
    return _Step("notice", want, [*parts, part], rid, url, notice=text)


def _audit_action(step: _Step) -> str:
    return {
        "publish": "outlets.copy.publish",
        "republish": "outlets.copy.publish",
        "update": "outlets.copy.update",
        "notice": "outlets.copy.notice",
        "delete": "outlets.copy.delete",
        "nothing": "outlets.copy.delete",
    }[step.action]


def copy_sync(*, copy_id: int, now: datetime | None = None) -> str:
    """Bring one copy from what the network was last told to what it should show; return
    what happened (``synced``, ``retry``, ``failed``, ``busy``, ``idle``).

    Never raises for a network's refusal: a retryable one goes back to pending after the
    backoff (or the network's ``retry_after``), anything else, or the last allowed attempt,
    fails the copy for staff to retry. Expired or revoked credentials also mark the outlet's
    check failed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        claim = _claim(copy_id, now)
    if claim is None:
        copy = RemoteCopy.objects.filter(pk=copy_id).first()
        if copy is not None and copy.status == CopyStatus.SENDING:
            return "busy"
        return "idle"
    copy, token, reclaimed = claim
    if reclaimed:
        with transaction.atomic():
            audit_record(
                actor=None, action="outlets.copy.reclaimed", obj=copy,
                data={"want": copy.want_version, "done": copy.done_version,
                      "attempts": copy.attempts},
            )  # fmt: skip
    if copy.synced and (copy.want_version == 0 or copy.parts):
        return _finish(copy, token, None, None, reclaimed=reclaimed)
    adapter: Any = None
    try:
        adapter = outlet_adapter(copy.outlet)
        step = _act(copy, adapter)
    except OutletError as exc:
        return _finish(copy, token, None, exc, adapter=adapter, reclaimed=reclaimed)
    except Exception as exc:  # noqa: BLE001 - a bug or odd answer must not kill the worker
        logger.exception("Copy %s: unexpected failure talking to %s", copy.pk, copy.outlet)
        error = OutletError(f"{type(exc).__name__}: {exc}", kind="unavailable", retryable=True)
        return _finish(copy, token, None, error, adapter=adapter, reclaimed=reclaimed)
    return _finish(copy, token, step, None, adapter=adapter, reclaimed=reclaimed)


def _finish(
    copy: RemoteCopy, token: str, step: _Step | None, error: OutletError | None,
    *, adapter: Any = None, reclaimed: bool,
) -> str:  # fmt: skip
    """Record one run's outcome, only on the copy this run still holds."""
    if adapter is not None:
        credentials_keep(copy.outlet, adapter)
        adapter_close(adapter)
    now = timezone.now()
    mine = RemoteCopy.objects.filter(pk=copy.pk, status=CopyStatus.SENDING, claim_token=token)
    interrupted = (
        _("A worker stopped during an earlier attempt; the network may hold a duplicate.")
        if reclaimed
        else ""
    )
    with transaction.atomic():
        current = RemoteCopy.objects.select_for_update().filter(pk=copy.pk).first()
        held = current is not None and mine.exists()
        if error is None:
            done = step.done if step is not None else copy.done_version
            changes: dict[str, Any] = {"status": CopyStatus.SYNCED, "claim_token": "",
                                       "next_attempt_at": None, "error": interrupted}  # fmt: skip
            if step is not None:
                changes.update(
                    done_version=step.done, parts=step.parts, remote_id=step.remote_id[:300],
                    remote_url=step.remote_url[:500], notice=step.notice[:500],
                )  # fmt: skip
                if step.published:
                    changes["published_at"] = now
                    changes["deleted_at"] = None
                if step.deleted:
                    changes["deleted_at"] = now
            outcome = "synced"
            if current is not None and current.want_version != done:
                # Changed again while this run was on the network: another round.
                changes["status"] = CopyStatus.PENDING
                changes["attempts"] = 0
                outcome = "again"
            if held:
                mine.update(**changes)
            if step is not None and step.action != "nothing":
                audit_record(
                    actor=None,
                    action=_audit_action(step) if held else "outlets.copy.orphan",
                    obj=copy,
                    data={
                        "outlet": copy.outlet_id, "network": copy.outlet.network,
                        "version": step.done, "remote_id": step.remote_id,
                        "remote_url": step.remote_url, "parts": len(step.parts),
                        "step": step.action,
                    },
                )  # fmt: skip
            if held and outcome == "again":
                _enqueue_sync([copy.pk])
            return outcome if held else "lost-claim"
        message = f"{error.kind}: {error}"[:1000]
        attempts = current.attempts if current is not None else copy.attempts
        retry = error.retryable and attempts < _max_attempts()
        if retry:
            # The network's own Retry-After wins over the backoff.
            delay = int(error.retry_after or 0) or retry_delay_seconds(attempts)
            when = now + timedelta(seconds=delay)
            changes = {"status": CopyStatus.PENDING, "claim_token": "", "error": message,
                       "next_attempt_at": when}  # fmt: skip
        else:
            changes = {"status": CopyStatus.FAILED, "claim_token": "", "error": message,
                       "next_attempt_at": None}  # fmt: skip
        if held:
            mine.update(**changes)
        if error.kind == "auth":
            outlet_flag_auth(copy.outlet_id, message)
        audit_record(
            actor=None,
            action="outlets.copy.retry_later" if retry else "outlets.copy.fail",
            obj=copy,
            data={"outlet": copy.outlet_id, "network": copy.outlet.network, "kind": error.kind,
                  "status": error.status, "attempts": attempts,
                  "retry_after": error.retry_after},
        )  # fmt: skip
        if held and retry:
            _enqueue_sync([copy.pk], run_after=changes["next_attempt_at"])
        return "retry" if retry else "failed"


def copies_due(now: datetime | None = None) -> list[int]:
    """Copies a worker may claim now (pending and due, or under a lapsed claim), for a
    sweep that catches up after an outage."""
    now = now or timezone.now()
    return list(RemoteCopy.objects.filter(_due(now)).order_by("pk").values_list("pk", flat=True))


# --- staff actions -----------------------------------------------------------------------


def copy_retry(*, actor: User, copy: RemoteCopy) -> RemoteCopy:
    """Send a failed copy again, with a fresh set of attempts."""
    copy = RemoteCopy.objects.select_related("post", "alert", "outlet").get(pk=copy.pk)
    require_role(actor, *policy.copy_roles(copy), action="retry copies on other networks")
    with transaction.atomic():
        changed = RemoteCopy.objects.filter(pk=copy.pk, status=CopyStatus.FAILED).update(
            status=CopyStatus.PENDING, attempts=0, next_attempt_at=None, claim_token="",
            updated_at=timezone.now(),
        )  # fmt: skip
        if not changed:
            raise InvalidInputError(_("Only a failed copy can be retried."))
        audit_record(
            actor=actor, action="outlets.copy.retry", obj=copy,
            data={"outlet": copy.outlet_id, "want": copy.want_version},
        )  # fmt: skip
        _enqueue_sync([copy.pk])
    copy.refresh_from_db()
    return copy


def post_take_down(*, actor: User, post: Post) -> list[int]:
    """Take a retracted post's copies down everywhere, failed ones included (each with a
    fresh set of attempts); the ids of the copies sent."""
    require_role(actor, *policy.post_copy_roles(post.kind), action="take down copies")
    now = timezone.now()
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        if post.retracted_at is None:
            raise InvalidInputError(_("Retract the post first; its copies follow."))
        ids = []
        for copy in RemoteCopy.objects.filter(post=post).select_for_update():
            if copy.want_version == 0 and copy.status == CopyStatus.SYNCED:
                continue
            if copy.status == CopyStatus.SENDING:
                RemoteCopy.objects.filter(pk=copy.pk).update(want_version=0, updated_at=now)
                continue
            RemoteCopy.objects.filter(pk=copy.pk).update(
                want_version=0, status=CopyStatus.PENDING, attempts=0, next_attempt_at=None,
                updated_at=now,
            )  # fmt: skip
            ids.append(copy.pk)
        audit_record(
            actor=actor, action="outlets.copy.take_down", obj=post, data={"copies": len(ids)}
        )
        _enqueue_sync(ids)
    return ids
