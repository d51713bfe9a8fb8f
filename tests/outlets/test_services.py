"""Outlets and copies: management with sealed credentials, the connection check, copies of
posts and alerts sent to loopback servers speaking each network's API (publish with media,
edit, notice, retraction, rate limits, expired tokens), a worker dying mid-send, staff
actions, permissions and the audit entries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from tests.alerts.conftest import committed, drain, queued
from tests.outlets.fakes import (
    BlueskyPds,
    FacebookGraph,
    MastodonServer,
    PartnerWebhook,
    XApi,
    make_outlet,
)
from tests.posts.conftest import attach, fields
from watchhouse.audit.models import AuditEntry
from watchhouse.core.crypto import unseal_json
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.outlets.models import CopyStatus, Outlet, RemoteCopy
from watchhouse.outlets.services import (
    OutletFields,
    copy_retry,
    copy_sync,
    outlet_check,
    outlet_create,
    outlet_enable,
    outlet_update,
    post_outlets_sync,
    post_take_down,
)
from watchhouse.outlets.services.copies import _claim, _render
from watchhouse.outlets.services.outlets import outlet_adapter
from watchhouse.posts.models import MediaAsset, MediaStatus, Post
from watchhouse.posts.services import (
    appeal_resolve,
    post_create,
    post_publish,
    post_retract,
    post_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    public = tmp_path / "public-media"
    public.mkdir()
    settings.MEDIA_ROOT = public
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    settings.SITE_URL = "https://police.example.org"
    return public


@pytest.fixture
def admin(make_staff: Any) -> Any:
    return make_staff("admin")


@pytest.fixture
def pio(make_staff: Any) -> Any:
    return make_staff("pio")


@pytest.fixture
def supervisor(make_staff: Any) -> Any:
    return make_staff("supervisor")


def audited(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def image(public: Path, actor: Any, *, alt: str = "The closed lane, seen from the north") -> Any:
    """A processed image with a real public JPEG rendition on disk."""
    folder = public / "posts" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"w640-{MediaAsset.objects.count()}.jpg"
    Image.new("RGB", (640, 480), (200, 40, 40)).save(path, "JPEG")
    rel = str(path.relative_to(public))
    return MediaAsset.objects.create(
        kind="image", status=MediaStatus.READY, original=f"originals/{path.name}",
        original_name="lane.jpg", mime="image/jpeg", sha256="0" * 64, uploaded_by=actor,
        alt_text=alt, width=640, height=480,
        renditions={"w640": {"path": rel, "mime": "image/jpeg", "width": 640, "height": 480,
                             "bytes": path.stat().st_size}},
    )  # fmt: skip


def published(actor: Any, **changes: Any) -> Post:
    """A post published by ``actor``, with the outlets task it enqueued run."""
    post = post_create(actor=actor, fields=fields(**changes))
    with committed():
        return post_publish(actor=actor, post=post)


def run_all() -> None:
    with committed():
        drain()


def copy_of(post: Post, outlet: Outlet) -> RemoteCopy:
    return RemoteCopy.objects.get(post=post, outlet=outlet)


# --- managing outlets --------------------------------------------------------------------


def test_an_admin_adds_an_outlet_with_sealed_credentials_and_an_audit_entry(admin):
    with committed():
        outlet = outlet_create(
            actor=admin,
            fields=OutletFields(
                network="mastodon", name="Mastodon", account="pd@social.example",
                api_base="https://social.example", credentials={"access_token": "s3cret-token"},
            ),
        )  # fmt: skip
    assert "s3cret-token" not in outlet.credentials
    assert unseal_json(outlet.credentials) == {"access_token": "s3cret-token"}
    (entry,) = audited("outlets.outlet.create")
    assert entry.data["credentials"] == ["access_token"]
    assert "s3cret" not in str(entry.data)
    # Its periodic inbound collection was started.
    assert queued("collect_inbound_task") == [[outlet.pk]]


def test_an_empty_credential_field_keeps_the_stored_one(admin):
    outlet = outlet_create(
        actor=admin,
        fields=OutletFields(network="facebook", name="Page", account="1",
                            credentials={"page_token": "one", "app_id": "app"}),
    )  # fmt: skip
    outlet_update(
        actor=admin, outlet=outlet,
        fields=OutletFields(network="facebook", name="Page", account="1",
                            credentials={"page_token": "two", "app_id": ""}),
    )  # fmt: skip
    outlet.refresh_from_db()
    assert unseal_json(outlet.credentials) == {"page_token": "two", "app_id": "app"}
    assert audited("outlets.outlet.update")[0].data["credentials"] == ["page_token"]


def test_outlet_input_is_checked(admin):
    with pytest.raises(InvalidInputError):
        outlet_create(actor=admin, fields=OutletFields(network="activitypub", name="Own"))
    with pytest.raises(InvalidInputError):
        outlet_create(
            actor=admin,
            fields=OutletFields(network="x", name="X", credentials={"password": "nope"}),
        )
    assert not Outlet.objects.exists()


@pytest.mark.parametrize("role", ["pio", "supervisor", "investigator"])
def test_only_admins_manage_outlets(make_staff, admin, role):
    someone = make_staff(role)
    with pytest.raises(NotPermittedError):
        outlet_create(
            actor=someone,
            fields=OutletFields(network="webhook", name="Hook", api_base="https://partner.example"),
        )
    outlet = outlet_create(
        actor=admin,
        fields=OutletFields(network="webhook", name="Hook", api_base="https://partner.example"),
    )
    with pytest.raises(NotPermittedError):
        outlet_enable(actor=someone, outlet=outlet, enabled=False)
    with pytest.raises(NotPermittedError):
        outlet_check(actor=someone, outlet=outlet)


def test_check_connection_stores_the_result_and_the_token_expiry(admin):
    with FacebookGraph(expires_in=3 * 86400) as graph:
        outlet = make_outlet("facebook", graph, user=admin)
        outlet = outlet_check(actor=admin, outlet=outlet)
    assert outlet.check_ok is True and outlet.checked_at is not None
    assert outlet.token_expires_at is not None
    assert timedelta(days=2) < outlet.token_expires_at - timezone.now() <= timedelta(days=3)
    (entry,) = audited("outlets.outlet.check")
    assert entry.data["ok"] is True


def test_a_failed_check_is_kept_for_admins(admin):
    with MastodonServer() as masto:
        masto.fail_next("expired_token")
        outlet = make_outlet("mastodon", masto, user=admin)
        outlet = outlet_check(actor=admin, outlet=outlet)
    assert outlet.check_ok is False
    assert outlet.check_message
    assert audited("outlets.outlet.check")[0].data["ok"] is False


# --- copies of posts ---------------------------------------------------------------------


def test_publishing_sends_the_post_with_its_image_to_an_outlet(pio, media_root):
    photo = image(media_root, pio)
    with FacebookGraph() as graph:
        outlet = make_outlet("facebook", graph)
        post = published(pio, attachments=attach((photo, "gallery")))
        assert queued("sync_post_outlets_task") == [[post.pk]]
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.SYNCED and copy.done_version == post.version
        assert copy.remote_id in graph.posts and copy.remote_url
        page_post = graph.posts[copy.remote_id]
        assert "Road works on Main Street" in page_post["message"]
        (photo_id,) = page_post["attached_media"]
        assert graph.photos[photo_id]["alt"] == "The closed lane, seen from the north"
        assert copy.published_at is not None and copy.attempts == 1
    (entry,) = audited("outlets.copy.publish")
    assert entry.data["remote_id"] == copy.remote_id and entry.actor_id is None


def test_a_refused_image_fails_the_copy_with_the_networks_reason(pio, media_root):
    photo = image(media_root, pio)
    with FacebookGraph() as graph:
        outlet = make_outlet("facebook", graph)
        graph.fail_next("media_rejected")
        post = published(pio, attachments=attach((photo, "gallery")))
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.FAILED and copy.error.startswith("media_rejected")
        assert not graph.posts
    assert audited("outlets.copy.fail")[0].data["kind"] == "media_rejected"


def test_outlets_take_only_their_post_kinds(pio):
    with MastodonServer() as masto:
        only_events = make_outlet("mastodon", masto, post_kinds=["event"])
        everything = make_outlet("mastodon", masto)
        post = published(pio)
        with committed():
            post_outlets_sync(post_id=post.pk)
        assert not RemoteCopy.objects.filter(outlet=only_events).exists()
        assert RemoteCopy.objects.filter(outlet=everything, post=post).count() == 1


def test_an_edit_updates_the_copy_where_the_network_edits(pio, supervisor):
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        post = published(supervisor)
        run_all()
        first = copy_of(post, outlet)
        with committed():
            post = post_update(
                actor=supervisor, post=post,
                fields=fields(title="Road works on Main Street moved to Friday"),
                note="New date",
            )  # fmt: skip
        run_all()
        copy = copy_of(post, outlet)
        assert copy.done_version == post.version == copy.want_version
        assert copy.remote_id == first.remote_id and not copy.notice
        assert "moved to Friday" in masto.statuses[copy.remote_id]["text"]
    assert len(audited("outlets.copy.update")) == 1


def test_an_edit_leaves_a_notice_where_the_network_cannot_edit(supervisor):
    with XApi() as x:
        outlet = make_outlet("x", x)
        assert outlet_adapter(outlet).can_edit is False
        post = published(supervisor)
        run_all()
        first = copy_of(post, outlet)
        original = x.tweets[first.remote_id]["text"]
        with committed():
            post = post_update(
                actor=supervisor, post=post, fields=fields(title="Main Street: lane reopened"),
                note="Reopened",
            )  # fmt: skip
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.SYNCED and copy.done_version == post.version
        assert copy.notice.startswith("Updated: https://police.example.org/")
        notice = copy.parts[-1]
        assert x.tweets[notice["id"]]["text"] == copy.notice
        assert x.tweets[first.remote_id]["text"] == original  # the first post stands
    (entry,) = audited("outlets.copy.notice")
    assert entry.data["version"] == post.version


def test_a_retraction_deletes_the_copy(supervisor):
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        post = published(supervisor)
        run_all()
        remote_id = copy_of(post, outlet).remote_id
        with committed():
            post_retract(actor=supervisor, post=post, reason="Posted in error")
        run_all()
        copy = copy_of(post, outlet)
        assert copy.want_version == copy.done_version == 0 and copy.deleted_at is not None
        assert remote_id not in masto.statuses and remote_id in masto.deleted
    assert len(audited("outlets.copy.delete")) == 1


def test_a_retraction_leaves_a_notice_where_the_network_cannot_delete(supervisor, monkeypatch):
    with XApi() as x:
        outlet = make_outlet("x", x)
        adapter_class = type(outlet_adapter(outlet))
        monkeypatch.setattr(adapter_class, "can_delete", False)
        post = published(supervisor)
        run_all()
        remote_id = copy_of(post, outlet).remote_id
        with committed():
            post_retract(actor=supervisor, post=post, reason="Posted in error")
        run_all()
        copy = copy_of(post, outlet)
        assert copy.done_version == 0 and copy.status == CopyStatus.SYNCED
        assert copy.notice.startswith("This post was retracted: https://police.example.org/")
        assert remote_id in x.tweets
        assert x.tweets[copy.parts[-1]["id"]]["text"] == copy.notice
    assert len(audited("outlets.copy.notice")) == 1


def test_a_resolved_appeal_replaces_a_copy_that_cannot_be_edited(supervisor, media_root):
    """The person's photo and name must leave the network: the copy is deleted and the
    neutral notice published in its place."""
    photo = image(media_root, supervisor, alt="Photo of the missing person")
    with XApi() as x:
        outlet = make_outlet("x", x)
        post = published(
            supervisor, kind="missing", title="Missing: Jane Example, 82",
            attachments=attach((photo, "gallery")),
        )  # fmt: skip
        run_all()
        first = copy_of(post, outlet)
        with committed():
            post = appeal_resolve(actor=supervisor, post=post, outcome="found")
        run_all()
        copy = copy_of(post, outlet)
        assert copy.done_version == post.version and copy.status == CopyStatus.SYNCED
        assert first.remote_id not in x.tweets
        assert all("Jane" not in t["text"] for t in x.tweets.values())
        assert "Found safe" in x.tweets[copy.remote_id]["text"]
        assert not x.tweets[copy.remote_id].get("attachments")


def test_a_rate_limit_retries_after_the_time_the_network_gives(supervisor):
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        masto.fail_next("rate_limit", path="/api/v1/statuses")
        post = published(supervisor)
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.PENDING and copy.error.startswith("rate_limited")
        wait = (copy.next_attempt_at - timezone.now()).total_seconds()
        assert 200 < wait <= 301  # X-RateLimit-Reset was five minutes ahead
        assert audited("outlets.copy.retry_later")[0].data["retry_after"]
        # Not due before then; once due, it goes.
        assert copy_sync(copy_id=copy.pk) == "idle"
        assert copy_sync(copy_id=copy.pk, now=copy.next_attempt_at) == "synced"
        assert copy_of(post, outlet).remote_id in masto.statuses


def test_an_expired_token_fails_the_copy_and_flags_the_outlet(supervisor):
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        masto.fail_next("expired_token")
        post = published(supervisor)
        run_all()
    copy = copy_of(post, outlet)
    assert copy.status == CopyStatus.FAILED and copy.error.startswith("auth")
    outlet.refresh_from_db()
    assert outlet.check_ok is False and outlet.check_message.startswith("auth")
    (entry,) = audited("outlets.copy.fail")
    assert entry.data["kind"] == "auth"


def test_the_last_allowed_attempt_fails_the_copy(supervisor, settings):
    settings.WATCHHOUSE_TASK_MAX_ATTEMPTS = 2
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        masto.fail_next("server_error")
        masto.fail_next("server_error")
        post = published(supervisor)
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.PENDING and copy.attempts == 1
        assert copy_sync(copy_id=copy.pk, now=copy.next_attempt_at) == "failed"
    copy = copy_of(post, outlet)
    assert copy.status == CopyStatus.FAILED and copy.attempts == 2


def test_staff_retry_a_failed_copy_and_it_goes(supervisor, make_staff):
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        masto.fail_next("expired_token")
        post = published(supervisor)
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.FAILED
        with pytest.raises(NotPermittedError):
            copy_retry(actor=make_staff("investigator"), copy=copy)
        with committed():
            copy = copy_retry(actor=supervisor, copy=copy)
        assert copy.status == CopyStatus.PENDING and copy.attempts == 0
        assert queued("sync_copy_task")[-1] == [copy.pk]
        run_all()
        assert copy_of(post, outlet).status == CopyStatus.SYNCED
    (entry,) = audited("outlets.copy.retry")
    assert entry.actor_id == supervisor.pk
    with pytest.raises(InvalidInputError):
        copy_retry(actor=supervisor, copy=copy)


def test_take_down_everywhere_follows_the_retraction(supervisor, make_staff):
    with MastodonServer() as masto, FacebookGraph() as graph:
        mastodon = make_outlet("mastodon", masto)
        facebook = make_outlet("facebook", graph)
        post = published(supervisor)
        run_all()
        with pytest.raises(InvalidInputError):
            post_take_down(actor=supervisor, post=post)
        # Facebook refuses the deletion for now: that copy fails.
        graph.fail_next("expired_token")
        with committed():
            post_retract(actor=supervisor, post=post, reason="Wrong street")
        run_all()
        assert copy_of(post, facebook).status == CopyStatus.FAILED
        assert copy_of(post, mastodon).deleted_at is not None
        with pytest.raises(NotPermittedError):
            post_take_down(actor=make_staff("investigator"), post=post)
        with committed():
            ids = post_take_down(actor=supervisor, post=post)
        assert ids == [copy_of(post, facebook).pk]
        run_all()
        assert copy_of(post, facebook).deleted_at is not None
        assert not graph.posts
    assert audited("outlets.copy.take_down")[0].data == {"copies": 1}


def test_a_dead_workers_claim_is_taken_again_after_the_lease(supervisor, settings):
    """A worker that claimed a copy and died before calling the network: after the lease,
    another run publishes it, once."""
    settings.WATCHHOUSE_WORKER_LEASE_SECONDS = 30
    settings.WATCHHOUSE_OUTLETS_LEASE_SECONDS = 30
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        post = published(supervisor)
        with committed():
            post_outlets_sync(post_id=post.pk)
        copy = copy_of(post, outlet)
        assert _claim(copy.pk, timezone.now()) is not None  # ... and the worker dies
        assert copy_sync(copy_id=copy.pk) == "busy"
        later = timezone.now() + timedelta(seconds=31)
        assert copy_sync(copy_id=copy.pk, now=later) == "synced"
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.SYNCED and copy.remote_id in masto.statuses
        assert len(masto.statuses) == 1
    assert len(audited("outlets.copy.reclaimed")) == 1


def test_a_worker_dying_after_the_network_call_never_loses_the_copy(supervisor, settings):
    """The network took the post but the worker died before writing it down: the copy is
    sent again after the lease (the network cannot be asked whether it has it), recorded,
    and marked so staff can remove the duplicate."""
    settings.WATCHHOUSE_WORKER_LEASE_SECONDS = 30
    settings.WATCHHOUSE_OUTLETS_LEASE_SECONDS = 30
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        post = published(supervisor)
        with committed():
            post_outlets_sync(post_id=post.pk)
        copy = copy_of(post, outlet)
        claimed, _token, _reclaimed = _claim(copy.pk, timezone.now())
        outlet_adapter(outlet).publish(_render(claimed))  # ... and the worker dies
        assert len(masto.statuses) == 1
        later = timezone.now() + timedelta(seconds=31)
        assert copy_sync(copy_id=copy.pk, now=later) == "synced"
        copy = copy_of(post, outlet)
        assert copy.remote_id in masto.statuses and copy.done_version == post.version
        assert "duplicate" in copy.error
        assert len(masto.statuses) == 2
    assert audited("outlets.copy.reclaimed")[0].data["attempts"] == 2


def test_two_runs_never_send_one_copy_twice(supervisor):
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        post = published(supervisor)
        with committed():
            post_outlets_sync(post_id=post.pk)
        copy = copy_of(post, outlet)
        assert _claim(copy.pk, timezone.now()) is not None
        assert _claim(copy.pk, timezone.now()) is None
        assert copy_sync(copy_id=copy.pk) == "busy"
        assert not masto.statuses


def test_disabled_outlets_get_no_new_copies_but_old_ones_follow_a_retraction(admin, supervisor):
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        post = published(supervisor)
        run_all()
        outlet_enable(actor=admin, outlet=outlet, enabled=False)
        second = published(supervisor, title="Another update")
        run_all()
        assert not RemoteCopy.objects.filter(post=second).exists()
        with committed():
            post_retract(actor=supervisor, post=post, reason="Outdated")
        run_all()
        assert copy_of(post, outlet).deleted_at is not None and not masto.statuses


@pytest.mark.parametrize("server_class", [FacebookGraph, BlueskyPds, PartnerWebhook])
def test_every_network_takes_a_post(supervisor, server_class):
    network = {FacebookGraph: "facebook", BlueskyPds: "bluesky", PartnerWebhook: "webhook"}[
        server_class
    ]
    with server_class() as server:
        outlet = make_outlet(network, server)
        post = published(supervisor)
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.SYNCED, copy.error
        assert copy.remote_id and copy.parts


# --- alerts ------------------------------------------------------------------------------


def test_an_alert_goes_to_outlets_of_its_category_and_its_update_follows(make_staff):
    from tests.alerts.conftest import circle, info
    from tests.alerts.conftest import fields as alert_fields
    from watchhouse.alerts.services import (
        alert_cancel,
        alert_create,
        alert_issue,
        alert_issue_update,
    )

    dispatcher = make_staff("dispatcher")
    with MastodonServer() as masto, XApi() as x:
        traffic = make_outlet("mastodon", masto, alert_categories=["advisory"])
        other = make_outlet("x", x, alert_categories=["traffic"])
        alert = alert_create(
            actor=dispatcher, fields=alert_fields(), infos=[info()], areas=[circle()]
        )
        with committed():
            alert = alert_issue(actor=dispatcher, alert=alert)
        assert queued("sync_alert_outlets_task") == [[alert.pk]]
        run_all()
        assert not RemoteCopy.objects.filter(outlet=other).exists()
        copy = RemoteCopy.objects.get(outlet=traffic)
        assert copy.alert_id == alert.pk and copy.status == CopyStatus.SYNCED
        assert "Main Street closed" in masto.statuses[copy.remote_id]["text"]
        with committed():
            update = alert_issue_update(
                actor=dispatcher, alert=alert, infos=[info(headline="Main Street reopening")]
            )
        run_all()
        copy.refresh_from_db()
        assert copy.done_version == copy.want_version == 2
        assert "Main Street reopening" in masto.statuses[copy.remote_id]["text"]
        with committed():
            alert_cancel(actor=dispatcher, alert=update, note="Repair finished")
        run_all()
        copy.refresh_from_db()
        assert copy.done_version == 3 and RemoteCopy.objects.filter(outlet=traffic).count() == 1
        assert "CANCELLED" in masto.statuses[copy.remote_id]["text"]


def test_the_outlets_command_sends_what_is_due(supervisor):
    import io

    from django.core.management import call_command

    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        masto.fail_next("server_error")
        post = published(supervisor)
        run_all()
        copy = copy_of(post, outlet)
        assert copy.status == CopyStatus.PENDING
        RemoteCopy.objects.filter(pk=copy.pk).update(next_attempt_at=timezone.now())
        out = io.StringIO()
        call_command("outlets", "sync", stdout=out)
        assert "1 synced" in out.getvalue()
        assert copy_of(post, outlet).remote_id in masto.statuses
        masto.mention("Thanks", in_reply_to_id=copy_of(post, outlet).remote_id)
        call_command("outlets", "collect", stdout=out)
        assert "1 new inbound items." in out.getvalue()
