"""Web Push goes to a loopback push service; each payload is decrypted with the
subscription's private key, and the VAPID token is checked against the public key."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.notify.loopback import PushService, free_port
from watchhouse.notify.channels.base import ChannelError, OutboundMessage
from watchhouse.notify.channels.webpush import (
    PAYLOAD_MAX_BYTES,
    push_send,
    vapid_keys_generate,
    vapid_public_key,
)

SUBJECT = "mailto:webmaster@police.example"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Browser:
    """A subscription as a browser makes it: a P-256 key pair and a 16-byte auth secret."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.keys = {"p256dh": b64url(point), "auth": b64url(self.auth_secret)}

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )


@pytest.fixture
def push() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture(scope="module")
def vapid() -> tuple[str, str]:
    return vapid_keys_generate()


def message(endpoint: str, browser: Browser, **kwargs: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "payload": {"title": "Shelter in place", "body": "Police activity near 5th & Pine <b>"},
        "idempotency_key": "alert-7.sub-1.push",
        **kwargs,
    }
    return OutboundMessage(channel="push", address=endpoint, push_keys=browser.keys, **fields)


def vapid_claims(authorization: str, public_key: str) -> dict[str, Any]:
    """Check an RFC 8292 ``vapid t=…, k=…`` header independently and return its claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    header_b64, claims_b64, signature_b64 = fields["t"].split(".")
    assert json.loads(unb64url(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = unb64url(signature_b64)
    assert len(signature) == 64
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(  # raises InvalidSignature when forged
        encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:])),
        f"{header_b64}.{claims_b64}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    return json.loads(unb64url(claims_b64))


def test_push_payload_decrypts_and_vapid_token_verifies(
    push: PushService, vapid: tuple[str, str]
) -> None:
    """The push service gets an aes128gcm body only the subscriber can read, and a VAPID
    token signed by our key for the push service's origin."""
    private_key, public_key = vapid
    browser = Browser()
    outbound = message(push.endpoint("alice"), browser)

    result = push_send(outbound, vapid_private_key=private_key, vapid_subject=SUBJECT, ttl=600)

    assert result.ok, result.error
    assert result.provider_id.startswith(f"{push.url}/message/")
    (request,) = push.pushes("alice")
    assert json.loads(browser.decrypt(request.body)) == outbound.payload
    assert request.header("Content-Encoding") == "aes128gcm"
    assert request.header("TTL") == "600"
    assert request.header("Urgency") == "high"
    assert len(request.header("Topic")) <= 32
    claims = vapid_claims(request.header("Authorization"), public_key)
    assert claims["aud"] == push.url
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_text_is_sent_when_there_is_no_payload(push: PushService, vapid: tuple[str, str]) -> None:
    browser = Browser()
    outbound = message(push.endpoint("bob"), browser, payload=None, text="Água fervida: ✔")

    assert push_send(outbound, vapid_private_key=vapid[0], vapid_subject=SUBJECT).ok
    assert browser.decrypt(push.pushes("bob")[0].body).decode() == "Água fervida: ✔"


def test_resend_keeps_the_topic_so_the_push_service_replaces_it(
    push: PushService, vapid: tuple[str, str]
) -> None:
    """Two attempts at one delivery share a Topic; another delivery has another."""
    browser = Browser()
    for key in ("alert-7.sub-1.push", "alert-7.sub-1.push", "alert-8.sub-1.push"):
        push_send(
            message(push.endpoint("carol"), browser, idempotency_key=key),
            vapid_private_key=vapid[0],
            vapid_subject=SUBJECT,
        )
    first, again, other = (r.header("Topic") for r in push.pushes("carol"))
    assert first == again != other


def test_pem_private_key_is_accepted(push: PushService) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    result = push_send(
        message(push.endpoint("dave"), Browser()), vapid_private_key=pem, vapid_subject=SUBJECT
    )

    assert result.ok, result.error
    vapid_claims(push.pushes("dave")[0].header("Authorization"), vapid_public_key(key))


@pytest.mark.parametrize(
    ("status", "gone", "retryable", "retry_after"),
    [(410, True, False, None), (404, True, False, None), (429, False, True, 30),
     (503, False, True, None), (413, False, False, None), (403, False, False, None)],
)  # fmt: skip
def test_push_service_refusals(
    push: PushService,
    vapid: tuple[str, str],
    status: int,
    gone: bool,
    retryable: bool,
    retry_after: int | None,
) -> None:
    """An expired subscription is gone; rate limits and outages are retryable."""
    push.statuses["erin"] = status
    result = push_send(
        message(push.endpoint("erin"), Browser()), vapid_private_key=vapid[0], vapid_subject=SUBJECT
    )

    assert (result.ok, result.gone, result.retryable) == (False, gone, retryable)
    assert result.retry_after == retry_after
    assert f"HTTP {status}" in result.error


def test_unreachable_push_service_is_retryable(vapid: tuple[str, str]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/push/frank"
    result = push_send(
        message(endpoint, Browser()), vapid_private_key=vapid[0], vapid_subject=SUBJECT, timeout=2
    )

    assert (result.ok, result.retryable, result.gone) == (False, True, False)


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        (None, "no p256dh and auth"),
        ({"p256dh": "AAAA", "auth": b64url(bytes(16))}, "uncompressed P-256 point"),
        ({"p256dh": b64url(b"\x04" + bytes(64)), "auth": b64url(bytes(16))}, "not a point"),
        ({"p256dh": Browser().keys["p256dh"], "auth": b64url(bytes(8))}, "16 bytes"),
    ],
)
def test_unusable_subscription_keys_are_refused_before_sending(
    push: PushService, vapid: tuple[str, str], keys: dict[str, str] | None, error: str
) -> None:
    outbound = OutboundMessage(
        channel="push", address=push.endpoint("gina"), text="hello", push_keys=keys
    )
    result = push_send(outbound, vapid_private_key=vapid[0], vapid_subject=SUBJECT)

    assert not result.ok and not result.retryable
    assert error in result.error
    assert push.requests == []


def test_oversized_payload_is_refused_before_sending(
    push: PushService, vapid: tuple[str, str]
) -> None:
    outbound = message(
        push.endpoint("hal"), Browser(), payload=None, text="x" * (PAYLOAD_MAX_BYTES + 1)
    )
    result = push_send(outbound, vapid_private_key=vapid[0], vapid_subject=SUBJECT)

    assert not result.ok and not result.retryable
    assert f"at most {PAYLOAD_MAX_BYTES}" in result.error
    assert push.requests == []


def test_largest_payload_fits_one_4096_byte_record(
    push: PushService, vapid: tuple[str, str]
) -> None:
    browser = Browser()
    outbound = message(push.endpoint("ivy"), browser, payload=None, text="x" * PAYLOAD_MAX_BYTES)

    assert push_send(outbound, vapid_private_key=vapid[0], vapid_subject=SUBJECT).ok
    (request,) = push.pushes("ivy")
    assert len(request.body) == 4096
    assert browser.decrypt(request.body) == outbound.text.encode()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"urgency": "urgent"}, "Urgency must be one of"),
        ({"vapid_subject": "webmaster@police.example"}, "mailto: or https:"),
        ({"vapid_private_key": "not a key"}, "cannot be read"),
        ({"ttl": -1}, "TTL"),
    ],
)
def test_misconfiguration_raises(
    push: PushService, vapid: tuple[str, str], kwargs: dict[str, Any], error: str
) -> None:
    """Settings mistakes are not per-message failures: they raise for a person to fix."""
    arguments: dict[str, Any] = {"vapid_private_key": vapid[0], "vapid_subject": SUBJECT, **kwargs}
    with pytest.raises(ChannelError, match=error):
        push_send(message(push.endpoint("jo"), Browser()), **arguments)
    assert push.requests == []


def test_generated_keys_are_a_matching_pair(vapid: tuple[str, str]) -> None:
    private_key, public_key = vapid
    assert len(unb64url(private_key)) == 32
    assert unb64url(public_key)[0] == 4 and len(unb64url(public_key)) == 65
    assert vapid_public_key(private_key) == public_key
