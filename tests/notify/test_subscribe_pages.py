"""Subscribing without an account: the form, double opt-in, the manage and unsubscribe
links, forged and expired links, and floods from one client."""

from __future__ import annotations

import re
import time

import pytest
from django.core import signing
from django.urls import reverse

from tests.alerts.conftest import committed, drain
from watchhouse.audit.models import AuditEntry
from watchhouse.notify.links import manage_token
from watchhouse.notify.models import Endpoint, Subscription, SubscriptionPlace

pytestmark = pytest.mark.django_db

FORM = {"lat": "39.955", "lon": "-89.355", "radius": "0.5", "categories": ["alert", "traffic"],
        "language": "es", "email": "vecina@example.org"}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


def test_subscribe_confirm_manage_unsubscribe(client, mailoutbox):
    with committed():
        response = client.post(reverse("notify:subscribe"), FORM)
    assert response.status_code == 200
    assert "Check your e-mail" in response.content.decode() or "correo" in response.content.decode()
    subscription = Subscription.objects.get()
    assert (subscription.status, subscription.language) == ("pending", "es")
    assert (subscription.want_alert, subscription.want_traffic, subscription.want_advisory) == (
        True, True, False)  # fmt: skip
    place = SubscriptionPlace.objects.get()
    assert (place.kind, round(place.radius_m)) == ("point", 805)
    assert AuditEntry.objects.get(action="notify.subscribe").data["channels"] == ["email"]
    assert "vecina@example.org" not in str(AuditEntry.objects.values_list("data", flat=True)[0])
    drain()
    (mail,) = mailoutbox
    path = re.search(r"https?://[^/]+(/subscribe/confirm/\S+/)", mail.body).group(1)
    assert client.get(path).status_code == 200  # a link scanner's GET confirms nothing
    assert Subscription.objects.get().status == "pending"
    confirmed = client.post(path)
    assert confirmed.status_code == 200
    assert Subscription.objects.get().status == "active"
    manage = re.search(
        r'href="https?://[^/]+(/subscribe/manage/[^"]+/)"', confirmed.content.decode()
    )
    page = client.get(manage.group(1))
    assert page.status_code == 200
    changed = client.post(manage.group(1), {**FORM, "categories": ["community"], "language": "en"})
    assert changed.status_code == 200
    assert Subscription.objects.get().want_community is True
    token = manage_token(subscription.public_id)
    assert client.post(reverse("notify:unsubscribe", kwargs={"token": token})).status_code == 200
    assert Subscription.objects.get().status == "unsubscribed"
    assert Endpoint.objects.get().disabled_at is not None


@pytest.mark.parametrize("name", ["confirm", "manage", "unsubscribe"])
def test_forged_and_altered_links_change_nothing(client, name):
    with committed():
        client.post(reverse("notify:subscribe"), FORM)
    subscription = Subscription.objects.get()
    forged = manage_token(subscription.public_id)[:-2] + "xx"
    before = AuditEntry.objects.count()
    response = client.post(reverse(f"notify:{name}", kwargs={"token": forged}))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    # A manage token is not a confirmation token (each purpose has its own salt).
    if name == "confirm":
        other = client.post(reverse("notify:confirm", kwargs={"token": manage_token(
            subscription.public_id)}))  # fmt: skip
        assert other.status_code == 400
    assert Subscription.objects.get().status == "pending"
    assert AuditEntry.objects.count() == before


def test_expired_confirmation_link(client, monkeypatch):
    with committed():
        client.post(reverse("notify:subscribe"), FORM)
    endpoint = Endpoint.objects.get()
    signer = signing.TimestampSigner(salt="watchhouse.notify.confirm")
    old = time.time() - 8 * 24 * 3600
    monkeypatch.setattr(time, "time", lambda: old)
    token = signer.sign(str(endpoint.pk))
    monkeypatch.undo()
    response = client.post(reverse("notify:confirm", kwargs={"token": token}))
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert Endpoint.objects.get().confirmed_at is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lat": "", "lon": ""}, "at least one place"),
        ({"lat": "95"}, "less than or equal to 90"),
        ({"email": ""}, "e-mail address or turn on"),
        ({"email": "not-an-address"}, "valid email"),
        ({"language": "xx"}, "Select a valid choice"),
        ({"quiet_start": "22:00"}, "both ends"),
        ({"categories": []}, "required"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(client, change, message):
    response = client.post(reverse("notify:subscribe"), {**FORM, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscription.objects.exists()


def test_a_flood_from_one_client_is_refused_with_429(client, settings):
    settings.WATCHHOUSE_SUBSCRIBE_RATE_LIMIT = 3
    codes = []
    for n in range(5):
        with committed():
            data = {**FORM, "email": f"n{n}@example.org"}
            codes.append(client.post(reverse("notify:subscribe"), data).status_code)
    assert codes == [200, 200, 200, 429, 429]
    assert Subscription.objects.count() == 3
    other = client.post(reverse("notify:subscribe"), {**FORM, "email": "o@example.org"},
                        REMOTE_ADDR="10.0.0.2")  # fmt: skip
    assert other.status_code == 200


def test_html_in_fields_is_shown_as_text(client):
    response = client.post(reverse("notify:subscribe"), {**FORM, "email": "<script>x</script>"})
    assert "<script>x</script>" not in response.content.decode()


def test_service_worker_may_control_the_whole_site(client):
    response = client.get(reverse("notify:service_worker"))
    assert response["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in response.content
