"""The outlets console: the list with checks and the expiry banner, the write-only
credential form, "check connection", a post's copies with retry and take-down, the inbox
(remote text escaped), the fediverse panel, and the composer's per-network preview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.alerts.conftest import committed, drain
from tests.outlets.fakes import FacebookGraph, MastodonServer, XApi, make_outlet
from tests.posts.conftest import fields
from watchhouse.core.crypto import unseal_json
from watchhouse.outlets.models import CopyStatus, InboundItem, Outlet, RemoteCopy
from watchhouse.posts.services import post_create, post_publish, post_retract

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
SECRET = "EAAsuper-secret-page-token-123"


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = "https://police.example.org"


@pytest.fixture
def admin(make_staff: Any) -> Any:
    return make_staff("admin")


def test_who_gets_in(client, make_staff, admin):
    client.force_login(make_staff("investigator"))
    assert client.get(reverse("console:outlets")).status_code == 403
    assert client.get(reverse("console:outlet_inbox")).status_code == 403
    client.force_login(make_staff("pio"))
    page = client.get(reverse("console:outlets"))
    assert page.status_code == 200 and "Check connection" not in page.content.decode()
    assert client.get(reverse("console:outlet_new"), {"network": "x"}).status_code == 403
    assert client.get(reverse("console:outlet_inbox")).status_code == 200
    assert client.get(reverse("console:outlet_fediverse")).status_code == 200
    client.force_login(admin)
    assert client.get(reverse("console:outlet_new"), {"network": "x"}).status_code == 200
    assert client.get(reverse("console:home")).content.decode().count("Outlets") >= 1


def test_credentials_are_written_and_never_shown_back(client, admin):
    client.force_login(admin)
    form = client.get(reverse("console:outlet_new"), {"network": "facebook"}).content.decode()
    assert 'name="credential_page_token"' in form and 'type="password"' in form
    with committed():
        saved = client.post(
            reverse("console:outlet_new") + "?network=facebook",
            {"network": "facebook", "name": "Page", "account": "1122334455", "enabled": "on",
             "credential_page_token": SECRET, "credential_app_id": "555"},
        )  # fmt: skip
    assert saved.status_code == 302
    outlet = Outlet.objects.get()
    assert unseal_json(outlet.credentials)["page_token"] == SECRET
    assert outlet.api_base == "https://graph.facebook.com"
    edit = client.get(reverse("console:outlet_edit", kwargs={"pk": outlet.pk})).content.decode()
    listing = client.get(reverse("console:outlets")).content.decode()
    for page in (edit, listing):
        assert SECRET not in page and outlet.credentials not in page
    assert "Stored; leave empty to keep it." in edit
    # Saving without typing the token keeps it.
    client.post(
        reverse("console:outlet_edit", kwargs={"pk": outlet.pk}),
        {"network": "facebook", "name": "Page", "account": "1122334455", "enabled": "on"},
    )
    outlet.refresh_from_db()
    assert unseal_json(outlet.credentials)["page_token"] == SECRET


def test_check_connection_button_and_expiry_banner(client, admin):
    client.force_login(admin)
    with FacebookGraph(expires_in=2 * 86400) as graph:
        outlet = make_outlet("facebook", graph, name="Main page")
        answer = client.post(
            reverse("console:outlet_act", kwargs={"pk": outlet.pk, "action": "check"}),
            follow=True,
        )
    page = answer.content.decode()
    assert answer.status_code == 200 and "Connected" in page
    assert "Access tokens expiring" in page and "Main page" in page
    outlet.refresh_from_db()
    assert outlet.check_ok is True


def test_switching_an_outlet_off_and_on(client, admin):
    client.force_login(admin)
    with XApi() as x:
        outlet = make_outlet("x", x)
    url = reverse("console:outlet_act", kwargs={"pk": outlet.pk, "action": "disable"})
    client.post(url)
    outlet.refresh_from_db()
    assert outlet.enabled is False


def test_a_posts_copies_with_retry_and_take_down(client, make_staff):
    supervisor = make_staff("supervisor")
    client.force_login(supervisor)
    with MastodonServer() as masto:
        outlet = make_outlet("mastodon", masto)
        masto.fail_next("expired_token")
        post = post_create(actor=supervisor, fields=fields())
        with committed():
            post_publish(actor=supervisor, post=post)
        with committed():
            drain()
        copy = RemoteCopy.objects.get(post=post, outlet=outlet)
        assert copy.status == CopyStatus.FAILED
        detail = client.get(reverse("console:post_detail", kwargs={"pk": post.pk}))
        copies_url = reverse("console:outlet_post_copies", kwargs={"pk": post.pk})
        assert copies_url in detail.content.decode()
        page = client.get(copies_url).content.decode()
        assert "Failed" in page and "auth" in page and "Retry" in page
        with committed():
            client.post(reverse("console:outlet_copy_retry", kwargs={"pk": copy.pk}))
        with committed():
            drain()
        copy.refresh_from_db()
        assert copy.status == CopyStatus.SYNCED
        page = client.get(copies_url).content.decode()
        assert copy.remote_url in page
        with committed():
            post_retract(actor=supervisor, post=post, reason="Wrong")
        assert "Take down everywhere" in client.get(copies_url).content.decode()
        with committed():
            client.post(reverse("console:outlet_post_take_down", kwargs={"pk": post.pk}))
        with committed():
            drain()
        assert not masto.statuses
    client.force_login(make_staff("investigator"))
    assert client.get(copies_url).status_code == 403


def test_the_inbox_escapes_remote_text_and_filters(client, make_staff):
    pio = make_staff("pio")
    post = post_create(actor=pio, fields=fields())
    InboundItem.objects.create(
        network="mastodon", remote_id="1", kind="reply", author_name=f"Eve {SCRIPT}",
        text=f"Hello {SCRIPT}", post=post, url="javascript:alert(1)",
    )  # fmt: skip
    InboundItem.objects.create(network="x", remote_id="2", kind="mention", text="Other one")
    client.force_login(pio)
    page = client.get(reverse("console:outlet_inbox")).content.decode()
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert "javascript:" not in page
    filtered = client.get(reverse("console:outlet_inbox"), {"network": "x"}).content.decode()
    assert "Other one" in filtered and "Hello" not in filtered
    by_post = client.get(reverse("console:outlet_inbox"), {"post": post.pk}).content.decode()
    assert "Hello" in by_post and "Other one" not in by_post


def test_the_composer_shows_each_networks_preview_and_warnings(client, make_staff):
    pio = make_staff("pio")
    with XApi() as x, MastodonServer() as masto:
        make_outlet("x", x, name="X")
        make_outlet("mastodon", masto, name="Masto")
        make_outlet("mastodon", masto, name="Off", enabled=False)
    long_summary = "Crews work every night on the water main. " * 7
    post = post_create(actor=pio, fields=fields(summary=long_summary[:300]))
    client.force_login(pio)
    page = client.get(reverse("console:post_detail", kwargs={"pk": post.pk})).content.decode()
    assert "How it will look on each network" in page
    assert "X: X" in page and "Mastodon account: Masto" in page
    # An outlet switched off is previewed too (so it can be tried out), and says it is off.
    assert page.index("Mastodon account: Masto") < page.index("Mastodon account: Off")
    assert "switched off: nothing is sent there" in page
    assert "/ 280" in page and "/ 500" in page
    assert "A thread of" in page  # too long for X
    edit = client.get(reverse("console:post_edit", kwargs={"pk": post.pk})).content.decode()
    assert "How it will look on each network" in edit


def test_the_fediverse_panel_lists_the_actor(client, make_staff):
    from watchhouse.outlets.activitypub.services import department_actor

    actor = department_actor()
    client.force_login(make_staff("admin"))
    page = client.get(reverse("console:outlet_fediverse")).content.decode()
    assert f"@{actor.username}@" in page


def test_an_expired_token_outlet_shows_in_the_banner(client, admin):
    with XApi() as x:
        make_outlet("x", x, name="Soon gone", token_expires_at=timezone.now() + timedelta(days=1))
    client.force_login(admin)
    page = client.get(reverse("console:outlets")).content.decode()
    assert "Soon gone" in page and "Access tokens expiring" in page


def test_an_admin_gives_an_area_its_own_fediverse_account(client, admin, make_staff, tmp_path):
    """From the fediverse panel: the account is made, listed, and found by WebFinger; a name
    taken is refused with the reason; staff who are not admins cannot add one."""
    from tests.alerts.conftest import town_create

    area = town_create(tmp_path)["Old Mill"]
    client.force_login(admin)
    url = reverse("console:outlet_fediverse")
    assert "Give an area its own account" in client.get(url).content.decode()
    response = client.post(url, {"area": area.pk, "username": "oldmill"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "@oldmill@" in page and "Old Mill" in page
    finger = client.get("/.well-known/webfinger", {"resource": "acct:oldmill@testserver"})
    assert finger.status_code == 200
    again = client.post(url, {"area": area.pk, "username": "oldmill"})
    assert again.status_code == 400 and "is taken" in again.content.decode()
    pio = make_staff("pio")
    client.force_login(pio)
    assert "Give an area its own account" not in client.get(url).content.decode()
    assert client.post(url, {"area": area.pk, "username": "other"}).status_code == 403
