"""What comes back: comments and replies collected once, as plain text, with the post they
answer; the periodic collection chain; token expiry warnings e-mailed to admins once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.alerts.conftest import committed, drain, queued
from tests.notify.loopback import SmtpServer, smtp_settings
from tests.outlets.fakes import FacebookGraph, make_outlet
from tests.posts.conftest import fields
from watchhouse.audit.models import AuditEntry
from watchhouse.outlets.models import InboundItem, Outlet, RemoteCopy
from watchhouse.outlets.services import (
    inbound_collect,
    inbound_collect_due,
    outlet_expiry_warn,
    outlets_expiry_warn,
)
from watchhouse.outlets.tasks import collect_inbound_task
from watchhouse.posts.services import post_create, post_publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = "https://police.example.org"


def published_on(graph: FacebookGraph, outlet: Outlet, actor: Any) -> RemoteCopy:
    post = post_create(actor=actor, fields=fields())
    with committed():
        post_publish(actor=actor, post=post)
    with committed():
        drain()
    return RemoteCopy.objects.get(post=post, outlet=outlet)


def test_comments_are_collected_once_as_plain_text_with_their_post(make_staff):
    supervisor = make_staff("supervisor")
    with FacebookGraph() as graph:
        outlet = make_outlet("facebook", graph)
        copy = published_on(graph, outlet, supervisor)
        graph.comment(copy.remote_id, "Is <b>Oak Avenue</b> open? <script>alert(1)</script>",
                      name="Sam <i>Resident</i>")  # fmt: skip
        assert inbound_collect(outlet_id=outlet.pk) == 1
        # Asked again: nothing new, nothing twice.
        assert inbound_collect(outlet_id=outlet.pk) == 0
        graph.comment(copy.remote_id, "Thanks!")
        assert inbound_collect(outlet_id=outlet.pk) == 1
    items = list(InboundItem.objects.order_by("received_at", "id"))
    assert len(items) == 2
    first = items[0]
    assert first.text.startswith("Is Oak Avenue open?") and "<" not in first.text
    assert "alert(1)" not in first.text
    assert first.author_name == "Sam Resident"
    assert first.post_id == copy.post_id and first.copy_id == copy.pk
    assert first.network == "facebook" and first.outlet_id == outlet.pk
    outlet.refresh_from_db()
    assert outlet.inbound_cursor and outlet.inbound_checked_at is not None
    assert AuditEntry.objects.filter(action="outlets.inbound.collect").count() == 2


def test_a_refused_collection_flags_the_outlet_and_keeps_the_cursor(make_staff):
    with FacebookGraph() as graph:
        outlet = make_outlet("facebook", graph, inbound_cursor="1700000000")
        graph.fail_next("expired_token")
        assert inbound_collect(outlet_id=outlet.pk) == 0
    outlet.refresh_from_db()
    assert outlet.inbound_cursor == "1700000000"


def test_the_collection_chain_goes_on_and_a_second_chain_ends(make_staff, settings):
    settings.WATCHHOUSE_OUTLETS_COLLECT_SECONDS = 300
    with FacebookGraph() as graph:
        outlet = make_outlet("facebook", graph)
        with committed():
            assert collect_inbound_task.call(outlet.pk) is True
        # The next run is queued for later; one started at once by a second chain ends.
        assert queued("collect_inbound_task") == [[outlet.pk]]
        assert inbound_collect_due(outlet_id=outlet.pk) is False
        later = timezone.now() + timedelta(seconds=301)
        assert inbound_collect_due(outlet_id=outlet.pk, now=later) is True
        Outlet.objects.filter(pk=outlet.pk).update(enabled=False)
        assert inbound_collect_due(outlet_id=outlet.pk, now=later + timedelta(hours=1)) is False


def test_admins_are_told_once_before_a_token_expires(make_staff, settings):
    admin = make_staff("admin", email="chief@police.example.org")
    make_staff("admin", email="gone@police.example.org", is_active=False)
    make_staff("pio", email="pio@police.example.org")
    with SmtpServer() as smtp:
        smtp_settings(settings, smtp, site_url="https://police.example.org")
        with FacebookGraph() as graph:
            soon = make_outlet("facebook", graph, name="Page",
                               token_expires_at=timezone.now() + timedelta(days=5))  # fmt: skip
            make_outlet("facebook", graph, name="Later",
                        token_expires_at=timezone.now() + timedelta(days=30))  # fmt: skip
        assert outlets_expiry_warn() == [soon.pk]
        assert outlets_expiry_warn() == []  # once per outlet per expiry
        (message,) = smtp.messages
        assert message["To"] == admin.email
        assert "Page" in message["Subject"]
        assert "https://police.example.org/console/outlets/" in message.get_content()
        # A renewed token that also nears its end warns again.
        Outlet.objects.filter(pk=soon.pk).update(
            token_expires_at=timezone.now() + timedelta(days=6), expiry_warned_at=None
        )
        assert outlet_expiry_warn(outlet_id=soon.pk) is True
        assert len(smtp.messages) == 2
    assert AuditEntry.objects.filter(action="outlets.outlet.expiry_warn").count() == 2


def test_a_refused_warning_is_sent_on_the_next_run(make_staff, settings):
    make_staff("admin", email="chief@police.example.org")
    with SmtpServer(refuse={"chief@police.example.org": "451 4.3.0 Try again later"}) as smtp:
        smtp_settings(settings, smtp)
        with FacebookGraph() as graph:
            outlet = make_outlet("facebook", graph,
                                 token_expires_at=timezone.now() + timedelta(days=1))  # fmt: skip
        assert outlet_expiry_warn(outlet_id=outlet.pk) is False
        outlet.refresh_from_db()
        assert outlet.expiry_warned_at is None
        smtp.refuse.clear()
        assert outlet_expiry_warn(outlet_id=outlet.pk) is True
        assert len(smtp.messages) == 1
