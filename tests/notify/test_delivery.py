"""Deliveries go out on every channel to real loopback servers, exactly once, with retries,
and email carries the signed one-click unsubscribe link."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse
from django.utils import timezone

from tests.alerts.conftest import (
    circle,
    committed,
    drain,
    fields,
    info,
    point,
    queued,
    subscribe,
    town_create,
)
from tests.notify.loopback import (
    PushService,
    SmtpServer,
    TwilioServer,
    WebhookReceiver,
    smtp_settings,
    twilio_signature,
)
from watchhouse.alerts.services import alert_create, alert_issue
from watchhouse.notify.channels.webpush import vapid_keys_generate
from watchhouse.notify.models import Delivery, Endpoint, Subscription
from watchhouse.notify.services import (
    Choices,
    deliveries_create,
    deliveries_send,
    subscription_create,
)

pytestmark = pytest.mark.django_db

HERE = point(39.955, -89.355)
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-test-token"  # noqa: S105


@pytest.fixture
def smtp(settings) -> Iterator[SmtpServer]:
    with SmtpServer(refuse={"later@example.org": "451 4.3.0 Try again later",
                            "nobody@example.org": "550 5.1.1 No such user"}) as server:  # fmt: skip
        smtp_settings(settings, server, site_url="https://alerts.example")
        yield server


def _issue(make_staff, **changes):
    pio = make_staff("pio")
    alert = alert_create(actor=pio, fields=fields(**changes), infos=[info()], areas=[circle()])
    with committed():
        return alert_issue(actor=pio, alert=alert)


def _link(text: str, name: str) -> str:
    match = re.search(rf"https://alerts\.example(/subscribe/{name}/[^/\s]+/)", text)
    assert match, text
    return match.group(1)


def test_email_double_opt_in_then_alert_with_one_click_unsubscribe(smtp, make_staff, client):
    """A resident confirms through the mailed link, gets the alert once, with List-Unsubscribe
    headers, and a form-less POST to that link ends the subscription."""
    with committed():
        subscription, _ = subscription_create(
            choices=Choices(categories=frozenset({"advisory"}), places=(HERE,)),
            email="resident@example.org",
        )
    drain()
    (confirmation,) = smtp.messages
    assert confirmation["To"] == "resident@example.org"
    confirm_path = _link(confirmation.get_content(), "confirm")
    assert client.post(confirm_path).status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == "active"

    alert = _issue(make_staff)
    drain()
    mail = smtp.messages[-1]
    assert len(smtp.messages) == 2
    assert mail["Subject"] == "[Advisory] Main Street closed"
    body = mail.get_content()
    assert "Use Oak Avenue." in body and f"/alerts/{alert.pk}/" in body
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = "".join(str(mail["List-Unsubscribe"]).split())
    unsubscribe = re.fullmatch(r"<https://alerts\.example(\S+)>", header)
    assert unsubscribe
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.provider_id == mail["Message-ID"]

    response = client.post(unsubscribe.group(1), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == "unsubscribed"
    assert Endpoint.objects.get().disabled_reason == "unsubscribed"


def test_sending_twice_or_after_a_dead_worker_sends_each_message_once(smtp, make_staff):
    """A second run sends nothing; a row left 'sending' by a live worker is left alone, one
    left by a worker dead for longer than the lease is sent, once."""
    for n in range(3):
        subscribe(HERE, email=f"r{n}@example.org")
    alert = _issue(make_staff)
    deliveries_create(alert_id=alert.pk)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    # Worker A claimed the first row just now and is still working on it.
    Delivery.objects.filter(pk=ids[0]).update(status="sending", claimed_at=timezone.now(),
                                              attempts=1)  # fmt: skip
    first = deliveries_send(delivery_ids=ids)
    second = deliveries_send(delivery_ids=ids)
    assert (first.sent, second.sent) == (2, 0)
    # Should worker A be dead, its row is looked at again once its lease has run out.
    assert list(first.retry.values()) == [[ids[0]]]
    assert len(smtp.messages) == 2
    # Worker A died: after the lease its row is taken again and sent, once.
    Delivery.objects.filter(pk=ids[0]).update(claimed_at=timezone.now() - timedelta(minutes=5))
    assert deliveries_send(delivery_ids=ids).sent == 1
    assert deliveries_send(delivery_ids=ids).sent == 0
    assert sorted(m["To"] for m in smtp.messages) == [f"r{n}@example.org" for n in range(3)]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_row_whose_lease_runs_out_during_the_run_is_looked_at_again(
    smtp, make_staff, monkeypatch
):
    """A row another worker held when the run began, whose lease ends while the run sends
    the rest, is not lost: the run asks for another look after the lease."""
    from watchhouse.notify import services

    for n in range(2):
        subscribe(HERE, email=f"r{n}@example.org")
    deliveries_create(alert_id=_issue(make_staff).pk)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    almost_over = timezone.now() - services._lease() + timedelta(milliseconds=300)
    Delivery.objects.filter(pk=ids[0]).update(status="sending", claimed_at=almost_over,
                                              attempts=1)  # fmt: skip
    real = services._send_group

    def slow(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.5)
        real(*args, **kwargs)

    monkeypatch.setattr(services, "_send_group", slow)
    report = deliveries_send(delivery_ids=ids)
    assert report.sent == 1
    assert list(report.retry.values()) == [[ids[0]]]


def test_temporary_failures_retry_with_backoff_and_permanent_ones_fail(smtp, make_staff):
    subscribe(HERE, email="later@example.org")
    subscribe(HERE, email="nobody@example.org")
    alert = _issue(make_staff)
    deliveries_create(alert_id=alert.pk)
    ids = list(Delivery.objects.values_list("pk", flat=True))
    report = deliveries_send(delivery_ids=ids)
    later = Delivery.objects.get(endpoint__address="later@example.org")
    nobody = Delivery.objects.get(endpoint__address="nobody@example.org")
    assert (later.status, later.attempts) == ("queued", 1)
    assert later.next_attempt_at > timezone.now() and "451" in later.error
    assert (nobody.status, "550" in nobody.error) == ("failed", True)
    assert report.retry == {5: [later.pk]}
    # Not due yet: nothing happens; once due it is tried again.
    assert deliveries_send(delivery_ids=ids).retry == {}
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now())
    assert deliveries_send(delivery_ids=ids).retry == {20: [later.pk]}


def test_webhook_partner_receives_a_signed_payload(make_staff, settings):
    subscription, endpoints = subscription_create(
        choices=Choices(categories=frozenset({"advisory"}), places=(HERE,)),
        webhook_url="http://127.0.0.1:1/hook",
    )
    secret = endpoints[0].keys["secret"]
    with WebhookReceiver(secret) as receiver:
        Endpoint.objects.filter(pk=endpoints[0].pk).update(address=f"{receiver.url}/hook")
        alert = _issue(make_staff)
        drain()
        (payload,) = receiver.payloads()
    assert receiver.rejected == []
    assert payload["identifier"] == alert.identifier and payload["msgType"] == "Alert"
    assert payload["headline"] == "Main Street closed"
    assert receiver.accepted[0].header("Idempotency-Key") == f"{alert.pk}:{endpoints[0].pk}"
    assert subscription.status == "active"


class Browser:
    """A push subscription as a browser makes it."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
        self.keys = {"p256dh": b64(raw), "auth": b64(self.auth_secret)}

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(body, private_key=self.private_key,
                                auth_secret=self.auth_secret, version="aes128gcm")  # fmt: skip


def test_web_push_arrives_encrypted_and_a_gone_subscription_is_disabled(make_staff, settings):
    private, public = vapid_keys_generate()
    settings.WATCHHOUSE_VAPID_PRIVATE_KEY = private
    settings.WATCHHOUSE_VAPID_PUBLIC_KEY = public
    alice, bob = Browser(), Browser()
    with PushService() as push:
        push.statuses["bob"] = 410
        for name, browser in (("alice", alice), ("bob", bob)):
            subscription_create(
                choices=Choices(categories=frozenset({"alert"}), places=(HERE,)),
                push={"endpoint": push.endpoint(name), "keys": browser.keys},
            )
        alert = _issue(make_staff, category="advisory")
        Subscription.objects.update(want_advisory=True)
        deliveries_create(alert_id=alert.pk)
        drain()
        (request,) = push.pushes("alice")
    payload = json.loads(alice.decrypt(request.body))
    assert payload["title"] == "[Advisory] Main Street closed"
    assert payload["url"].endswith(f"/alerts/{alert.pk}/")
    gone = Endpoint.objects.get(address__endswith="/push/bob")
    assert gone.disabled_at is not None and gone.disabled_reason.startswith("gone")
    assert dict(Delivery.objects.values_list("endpoint__address", "status")) == {
        push.endpoint("alice"): "sent",
        push.endpoint("bob"): "failed",
    }


def test_sms_keyword_opt_in_stop_start_help_and_delivery(make_staff, settings, client, tmp_path):
    """Texting a neighbourhood's name subscribes the number; alerts arrive at Twilio;
    STOP ends them, START resumes; forged requests are refused."""
    town_create(tmp_path)
    with TwilioServer(TWILIO_SID, TWILIO_TOKEN) as twilio:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, TWILIO_TOKEN
        settings.TWILIO_FROM_NUMBER, settings.TWILIO_BASE_URL = "+15005550006", twilio.url
        url = reverse("notify:sms_inbound")

        def text(body: str, *, forged: bool = False):
            params = {"From": "+15551234567", "To": "+15005550006", "Body": body,
                      "MessageSid": "SM1", "AccountSid": TWILIO_SID}  # fmt: skip
            signature = twilio_signature(TWILIO_TOKEN, settings.SITE_URL + url, params)
            return client.post(url, params, HTTP_X_TWILIO_SIGNATURE="x" if forged else signature)

        assert text("old mill", forged=True).status_code == 403
        assert not Subscription.objects.exists()
        reply = text("Old Mill")
        assert reply.status_code == 200 and b"alerts for Old Mill" in reply.content
        assert b"STOP to end" in text("help").content
        alert = _issue(make_staff)
        drain()
        (sent,) = twilio.created
        assert (sent["to"], sent["body"]) == (
            "+15551234567",
            "Main St closed 1st-3rd. Use Oak Ave.",
        )
        assert Delivery.objects.get().provider_id == sent["sid"]
        assert b"unsubscribed" in text("STOP").content
        assert Endpoint.objects.get().disabled_reason == "STOP"
        assert b"on again" in text("start").content
        assert Endpoint.objects.get().disabled_at is None
        assert queued("send_deliveries_task")
        assert alert.pk


def test_deliveries_are_claimed_and_recorded_in_bulk(smtp, make_staff, settings, monkeypatch):
    """With the rate limit lifted, a batch is claimed by one UPDATE per claim batch and its
    results written by one more, every message still going out once, with its Message-ID
    as provider id and no claim token left behind."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from watchhouse.notify import services

    settings.WATCHHOUSE_NOTIFY_RATE_LIMITS = {"email": 0}
    monkeypatch.setattr(services, "CLAIM_BATCH", 4)
    monkeypatch.setattr(services, "RECORD_INTERVAL_S", 3600)
    for n in range(10):
        subscribe(HERE, email=f"r{n}@example.org")
    alert = _issue(make_staff)
    deliveries_create(alert_id=alert.pk)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        report = deliveries_send(delivery_ids=ids)
    assert report.sent == 10
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "notify_delivery"')]
    # Three claims (4 + 4 + 2) and three writes of results.
    assert len(updates) == 6
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"r{n}@example.org" for n in range(10))
    by_key = {m["Message-ID"] for m in smtp.messages}
    rows = list(Delivery.objects.values_list("status", "attempts", "provider_id"))
    assert {(s, a) for s, a, _ in rows} == {("sent", 1)}
    assert {p for _, _, p in rows} == by_key
    assert deliveries_send(delivery_ids=ids).sent == 0
    assert len(smtp.messages) == 10


def test_a_row_claimed_by_another_run_is_neither_sent_nor_overwritten(smtp, make_staff):
    """Claims carry a token: a second claim of the same rows gets nothing, and results are
    written only where this run's token still stands."""
    from watchhouse.notify.channels.base import SendResult
    from watchhouse.notify.services import SendReport, _claim, _record, _release

    for n in range(2):
        subscribe(HERE, email=f"r{n}@example.org")
    alert = _issue(make_staff)
    deliveries_create(alert_id=alert.pk)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    assert _claim(ids, "claim:a", now) == dict.fromkeys(ids, 1)
    assert _claim(ids, "claim:b", now) == {}
    assert deliveries_send(delivery_ids=ids).sent == 0
    first = Delivery.objects.get(pk=ids[0])
    report = SendReport()
    _record([(first, 1, SendResult(ok=True, provider_id="<x@y>"))], "claim:b", report)
    assert Delivery.objects.get(pk=ids[0]).status == "sending"
    _record([(first, 1, SendResult(ok=True, provider_id="<x@y>"))], "claim:a", report)
    assert Delivery.objects.get(pk=ids[0]).status == "sent"
    # A claimed row that was not sent goes back as it was, and is sent by the next run.
    _release({ids[1]: 1}, "claim:a")
    second = Delivery.objects.get(pk=ids[1])
    assert (second.status, second.attempts, second.provider_id) == ("queued", 0, "")
    assert deliveries_send(delivery_ids=ids).sent == 1
    assert len(smtp.messages) == 1


def test_results_are_written_before_waiting_for_the_rate_limit(
    smtp, make_staff, settings, monkeypatch
):
    """With a rate limit, each result is written before the next message waits for its turn,
    so a worker killed while waiting leaves no sent row unrecorded."""
    from watchhouse.notify import services

    settings.WATCHHOUSE_NOTIFY_RATE_LIMITS = {"email": 1000}
    for n in range(3):
        subscribe(HERE, email=f"r{n}@example.org")
    alert = _issue(make_staff)
    deliveries_create(alert_id=alert.pk)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    statuses: list[list[str]] = []
    real = services.rate_wait

    def watch(channel: str) -> None:
        statuses.append(list(Delivery.objects.order_by("pk").values_list("status", flat=True)))
        real(channel)

    monkeypatch.setattr(services, "rate_wait", watch)
    assert deliveries_send(delivery_ids=ids).sent == 3
    assert [s.count("sent") for s in statuses] == [0, 1, 2]
