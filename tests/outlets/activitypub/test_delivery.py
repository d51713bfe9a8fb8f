"""Publishing to followers: one signed POST per shared inbox, Create/Update/Delete as the
post changes, retries with backoff, dead servers given up and revived, gone inboxes, and a
worker dying mid-delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.alerts.conftest import committed, queued
from tests.outlets.activitypub.conftest import FediServer, follow
from tests.posts.conftest import fields as post_fields
from watchhouse.audit.models import AuditEntry
from watchhouse.outlets.activitypub.delivery import ap_deliveries_send, claim
from watchhouse.outlets.activitypub.publishing import ap_post_changed
from watchhouse.outlets.activitypub.services import department_actor
from watchhouse.outlets.models import (
    Activity,
    ApDelivery,
    ApDeliveryStatus,
    ApServer,
    Follower,
)
from watchhouse.posts.services import post_publish, post_retract, post_update

pytestmark = pytest.mark.django_db


def _published(pio: Any, make_post: Any) -> Any:
    post = make_post()
    post_publish(actor=pio, post=post)
    return post


def _types(post: Any) -> list[str]:
    return list(Activity.objects.filter(post=post).order_by("id").values_list("type", flat=True))


def test_create_update_delete_fan_out_once_per_shared_inbox(
    pio: Any, make_post: Any, fedi: FediServer, fedi2: FediServer
) -> None:
    """Five followers on two servers get each activity as two POSTs (their shared inboxes),
    signed with our key; Create, Update on edit, Delete on retraction; nothing twice."""
    fedi2.shared = False  # this server has no shared inbox: one POST per follower inbox
    local = department_actor()
    for name in ("alice", "bob", "carol"):
        follow(local, fedi.user(name))
    for name in ("dave", "erin"):
        follow(local, fedi2.user(name))
    post = _published(pio, make_post)
    with committed():
        ap_post_changed(post.pk)
    assert _types(post) == ["Create"]
    create = Activity.objects.get(post=post)
    assert sorted(
        ApDelivery.objects.filter(activity=create).values_list("inbox", flat=True)
    ) == sorted([fedi.shared_inbox, fedi2.user("dave").inbox, fedi2.user("erin").inbox])
    entry = AuditEntry.objects.filter(action="outlets.ap_publish").latest("id")
    assert entry.data["deliveries"] == 3
    assert entry.actor is None
    assert [create.pk] in queued("deliver_activity_task")
    assert ap_post_changed(post.pk) == []  # nothing changed: nothing added

    report = ap_deliveries_send(activity_id=create.pk)
    assert report.delivered == 3
    assert len(fedi.posts()) == 1 and len(fedi2.posts()) == 2
    assert fedi.all_signed_by_us() and fedi2.all_signed_by_us()
    sent = fedi.activities()[0]
    assert sent["type"] == "Create" and sent["object"]["id"].endswith(f"/posts/{post.pk}")
    assert fedi.posts()[0].header("Content-Type") == "application/activity+json"

    post_update(
        actor=pio,
        post=post,
        fields=post_fields(title="Road works: new hours"),
        note="Hours changed",
    )
    ap_post_changed(post.pk)
    post_retract(actor=pio, post=post, reason="Cancelled.")
    ap_post_changed(post.pk)
    assert ap_post_changed(post.pk) == []
    assert _types(post) == ["Create", "Update", "Delete"]
    ap_deliveries_send()
    kinds = [a["type"] for a in fedi.activities()]
    assert kinds == ["Create", "Update", "Delete"]
    update, delete = fedi.activities()[1:]
    assert "new hours" in update["object"]["content"]
    assert delete["object"]["type"] == "Tombstone"
    assert len(fedi2.posts()) == 6
    assert ApDelivery.objects.exclude(status=ApDeliveryStatus.DELIVERED).count() == 0


def test_outage_is_retried_with_backoff(pio: Any, make_post: Any, fedi: FediServer) -> None:
    local = department_actor()
    follow(local, fedi.user("alice"))
    post = _published(pio, make_post)
    [activity_pk] = ap_post_changed(post.pk)
    fedi.inbox_status = 503
    report = ap_deliveries_send(activity_id=activity_pk)
    assert report.retried == 1
    row = ApDelivery.objects.get()
    assert row.status == ApDeliveryStatus.QUEUED
    assert row.attempts == 1 and row.http_status == 503
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    server = ApServer.objects.get()
    assert server.failures == 1 and server.failing_since is not None
    assert [activity_pk] in queued("deliver_activity_task")  # the retry, for later
    assert ap_deliveries_send(activity_id=activity_pk).attempted == 0  # not due yet
    fedi.inbox_status = 202
    ap_deliveries_send(activity_id=activity_pk, now=row.next_attempt_at + timedelta(seconds=1))
    row.refresh_from_db()
    assert row.status == ApDeliveryStatus.DELIVERED and row.attempts == 2
    server.refresh_from_db()
    assert server.failures == 0 and server.failing_since is None and server.last_ok_at


def test_gone_inbox_removes_its_followers(pio: Any, make_post: Any, fedi: FediServer) -> None:
    local = department_actor()
    follow(local, fedi.user("alice"))
    follow(local, fedi.user("bob"))
    post = _published(pio, make_post)
    ap_post_changed(post.pk)
    fedi.inbox_status = 410
    report = ap_deliveries_send()
    assert report.failed == 1
    assert Follower.objects.count() == 0
    assert ApDelivery.objects.get().status == ApDeliveryStatus.FAILED


def test_dead_server_is_given_up_then_revived(
    pio: Any, make_post: Any, fedi: FediServer, fedi2: FediServer, settings: Any
) -> None:
    """A server failing for longer than the policy is given up: its deliveries stop and new
    activities skip it; once it answers again it is revived."""
    settings.WATCHHOUSE_AP_DEAD_AFTER_DAYS = 7
    local = department_actor()
    follow(local, fedi.user("alice"))
    follow(local, fedi2.user("bob"))
    post = _published(pio, make_post)
    ap_post_changed(post.pk)
    host = fedi.url.split("//")[1]
    ApServer.objects.filter(host=host).update(
        failures=40, failing_since=timezone.now() - timedelta(days=8)
    )
    fedi.inbox_status = 500
    report = ap_deliveries_send()
    assert report.given_up == 1 and report.delivered == 1
    server = ApServer.objects.get(host=host)
    assert server.dead_since is not None
    assert ApDelivery.objects.get(server=server).status == ApDeliveryStatus.GIVEN_UP

    second = make_post(title="Second")
    post_publish(actor=pio, post=second)
    [activity_pk] = ap_post_changed(second.pk)
    assert list(
        ApDelivery.objects.filter(activity_id=activity_pk).values_list("inbox", flat=True)
    ) == [fedi2.shared_inbox]
    # The server answers again (an Accept to a new follower of it goes out and succeeds).
    fedi.inbox_status = 202
    from watchhouse.outlets.activitypub.delivery import deliver_to

    deliver_to(Activity.objects.get(pk=activity_pk), fedi.user("alice").inbox)
    assert ApDelivery.objects.filter(activity_id=activity_pk).count() == 1  # still dead: skipped
    ApServer.objects.filter(host=host).update(dead_since=None)
    deliver_to(Activity.objects.get(pk=activity_pk), fedi.user("alice").inbox)
    ap_deliveries_send()
    server.refresh_from_db()
    assert server.dead_since is None and server.failures == 0 and server.last_ok_at


def test_worker_dying_mid_delivery_loses_nothing(
    pio: Any, make_post: Any, fedi: FediServer, fedi2: FediServer, settings: Any
) -> None:
    """Rows claimed by a worker that died stay claimed for the lease; then another run takes
    them and every inbox gets the activity exactly once."""
    settings.WATCHHOUSE_WORKER_LEASE_SECONDS = 30
    local = department_actor()
    fedi2.shared = False
    follow(local, fedi.user("alice"))
    for name in ("bob", "carol", "dave"):
        follow(local, fedi2.user(name))
    post = _published(pio, make_post)
    ap_post_changed(post.pk)
    now = timezone.now()
    ids = list(ApDelivery.objects.values_list("pk", flat=True))
    taken = claim(ids, "dead-worker", now)  # the worker claims, then dies before sending
    assert len(taken) == 4
    assert ap_deliveries_send(now=now + timedelta(seconds=5)).attempted == 0  # lease holds
    assert fedi.posts() == [] and fedi2.posts() == []
    report = ap_deliveries_send(now=now + timedelta(seconds=31))
    assert report.delivered == 4
    assert ap_deliveries_send(now=now + timedelta(seconds=120)).attempted == 0
    assert len(fedi.posts()) == 1
    assert sorted(r.path for r in fedi2.posts()) == sorted(
        f"/users/{n}/inbox" for n in ("bob", "carol", "dave")
    )
    assert set(ApDelivery.objects.values_list("status", flat=True)) == {ApDeliveryStatus.DELIVERED}
