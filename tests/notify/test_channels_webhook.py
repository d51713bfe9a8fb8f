"""Signed webhooks go to a loopback partner endpoint that verifies every request."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest

from tests.notify.loopback import WebhookReceiver, free_port
from watchhouse.notify.channels.base import OutboundMessage
from watchhouse.notify.channels.webhook import (
    WebhookSignatureError,
    webhook_send,
    webhook_sign,
    webhook_verify,
)

SECRET = "whsec-school-district-42"
PAYLOAD = {"alert": 7, "headline": "Lockdown at <Central High>", "areas": ["Ward 6"]}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as server:
        yield server


def hook(url: str, **kwargs: object) -> OutboundMessage:
    fields: dict = {"payload": PAYLOAD, "secret": SECRET, "idempotency_key": "alert-7.hook-3"}
    return OutboundMessage(channel="webhook", address=url, **{**fields, **kwargs})


def test_signed_webhook_is_verified_and_received(receiver: WebhookReceiver) -> None:
    """The partner gets the JSON payload with a signature it can check, and the
    idempotency key that stays the same for every attempt."""
    result = webhook_send(hook(receiver.url + "/hooks/watchhouse"))

    assert result.ok, result.error
    assert receiver.rejected == []
    (request,) = receiver.accepted
    assert json.loads(request.body) == PAYLOAD
    assert request.path == "/hooks/watchhouse"
    assert request.header("Content-Type") == "application/json"
    assert request.header("Idempotency-Key") == "alert-7.hook-3"
    assert abs(int(request.header("X-Watchhouse-Timestamp")) - time.time()) < 5


def test_signature_follows_the_documented_scheme() -> None:
    """v1= hex HMAC-SHA256 over "<timestamp>." + body, computed here independently."""
    body = b'{"alert":7}'
    headers = webhook_sign(SECRET, body, 1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()

    assert headers == {
        "X-Watchhouse-Timestamp": "1700000000",
        "X-Watchhouse-Signature": f"v1={expected}",
    }
    webhook_verify(SECRET, body, headers, now=1_700_000_100)


def test_rotation_accepts_any_listed_signature() -> None:
    body = b"{}"
    old = webhook_sign("old-secret", body, 1_700_000_000)["X-Watchhouse-Signature"]
    new = webhook_sign(SECRET, body, 1_700_000_000)
    headers = {**new, "x-watchhouse-signature": f"{old}, {new['X-Watchhouse-Signature']}"}
    del headers["X-Watchhouse-Signature"]

    webhook_verify(SECRET, body, headers, now=1_700_000_000)
    webhook_verify("old-secret", body, headers, now=1_700_000_000)


def test_wrong_secret_is_rejected_with_a_clear_reason(receiver: WebhookReceiver) -> None:
    result = webhook_send(hook(receiver.url + "/hooks/watchhouse", secret="someone-elses"))

    assert (result.ok, result.retryable, result.gone) == (False, False, False)
    assert "HTTP 401" in result.error
    assert receiver.accepted == []
    (rejection,) = receiver.rejected
    assert "does not match" in rejection.reason


def test_forged_body_is_rejected(receiver: WebhookReceiver) -> None:
    """A genuine signature on an altered body does not pass."""
    webhook_send(hook(receiver.url + "/hooks/watchhouse"))
    genuine = receiver.accepted[0]
    forged = dataclasses.replace(genuine, body=genuine.body.replace(b"Lockdown", b"All clear"))

    response = receiver.replay(forged)

    assert response.status_code == 401
    assert "does not match" in response.text
    assert len(receiver.accepted) == 1


def test_replay_outside_the_window_is_rejected(receiver: WebhookReceiver) -> None:
    """The same bytes sent again six minutes later are refused as stale or replayed."""
    webhook_send(hook(receiver.url + "/hooks/watchhouse"))
    genuine = receiver.accepted[0]
    receiver.clock = lambda: time.time() + 360

    response = receiver.replay(genuine)

    assert response.status_code == 401
    assert "outside the 300 s window: it is stale or replayed" in response.text
    assert len(receiver.accepted) == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no X-Watchhouse-Timestamp header"),
        ({"X-Watchhouse-Timestamp": "1700000000"}, "no X-Watchhouse-Signature header"),
        ({"X-Watchhouse-Timestamp": "soon", "X-Watchhouse-Signature": "v1=ab"}, "not a Unix time"),
        ({"X-Watchhouse-Timestamp": "1700000000", "X-Watchhouse-Signature": "v0=ab"}, "no v1="),
        ({"X-Watchhouse-Timestamp": "1700000000", "X-Watchhouse-Signature": "v1=ab"},
         "does not match"),
    ],
)  # fmt: skip
def test_missing_or_malformed_signatures_are_named(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(WebhookSignatureError, match=reason):
        webhook_verify(SECRET, b"{}", headers, now=1_700_000_000)


def test_future_timestamps_are_rejected_too() -> None:
    headers = webhook_sign(SECRET, b"{}", 1_700_001_000)
    with pytest.raises(WebhookSignatureError, match="in the future"):
        webhook_verify(SECRET, b"{}", headers, now=1_700_000_000)


@pytest.mark.parametrize(
    ("status", "retryable", "gone"),
    [(503, True, False), (429, True, False), (500, True, False), (410, False, True),
     (404, False, False), (400, False, False), (302, False, False)],
)  # fmt: skip
def test_partner_answers(
    receiver: WebhookReceiver, status: int, retryable: bool, gone: bool
) -> None:
    """Outages and rate limits are retried; 410 retires the endpoint; a redirect is not
    followed."""
    receiver.status = status
    result = webhook_send(hook(receiver.url + "/hooks/watchhouse"))

    assert (result.ok, result.retryable, result.gone) == (False, retryable, gone)
    assert f"HTTP {status}" in result.error
    assert len(receiver.accepted) == 1
    if status == 503:
        assert result.retry_after == 120


def test_unreachable_partner_is_retryable() -> None:
    result = webhook_send(hook(f"http://127.0.0.1:{free_port()}/hooks"), timeout=2)

    assert (result.ok, result.retryable) == (False, True)


def test_no_secret_no_send(receiver: WebhookReceiver) -> None:
    result = webhook_send(hook(receiver.url + "/hooks/watchhouse", secret=""))

    assert not result.ok and not result.retryable
    assert "no signing secret" in result.error
    assert receiver.requests == []
