"""Web Push: RFC 8030 delivery, RFC 8291 payload encryption, RFC 8292 VAPID."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import time
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPusher

from watchhouse.notify.channels.base import (
    AddressError,
    ChannelError,
    OutboundMessage,
    SendResult,
    channel_require,
    http_status_result,
    retry_after_seconds,
    url_check,
)

URGENCIES = ("very-low", "low", "normal", "high")
# A push service must accept 4,096 bytes of body (RFC 8291 section 4). One aes128gcm record
# carries an 86-byte header (salt, record size, sender key), a 16-byte tag and a 1-byte
# padding delimiter, leaving this much for the payload.
PAYLOAD_MAX_BYTES = 4096 - 86 - 16 - 1
# RFC 8292 allows a token to live at most 24 hours; half of that leaves room for clock skew.
_TOKEN_LIFETIME = 12 * 60 * 60


def vapid_keys_generate() -> tuple[str, str]:
    """A new VAPID key pair: (private key, public key), both base64url without padding.

    The private key is the raw 32-byte P-256 scalar, one line that fits an environment
    variable; ``push_send`` also accepts a PEM key. The public key is the uncompressed point
    the browser takes as ``applicationServerKey``.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    private_raw = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(private_raw), vapid_public_key(key)


def vapid_public_key(private_key: str | ec.EllipticCurvePrivateKey) -> str:
    """The browser's ``applicationServerKey`` (base64url uncompressed point) for a private key."""
    key = (
        private_key
        if isinstance(private_key, ec.EllipticCurvePrivateKey)
        else _vapid(private_key).private_key
    )
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(point)


def push_send(
    message: OutboundMessage,
    *,
    vapid_private_key: str,
    vapid_subject: str,
    ttl: int = 3600,
    urgency: str = "high",
    timeout: float = 10,
    session: requests.Session | None = None,
) -> SendResult:
    """Encrypt ``message`` for its subscription and post it to the push service.

    The payload is ``message.payload`` as JSON, or ``message.text`` when there is none.
    201/202 is success (``provider_id`` is the push message URL the service returns);
    404/410 mean the subscription is gone; 429, 5xx and timeouts are retryable. Redirects are
    not followed. ``session`` lets a batch reuse connections.
    """
    channel_require(message, "push")
    if urgency not in URGENCIES:
        raise ChannelError(f"Urgency must be one of {', '.join(URGENCIES)}, not {urgency!r}.")
    if ttl < 0:
        raise ChannelError(f"TTL must be zero or more seconds, not {ttl}.")
    if not vapid_subject.startswith(("mailto:", "https://")):
        raise ChannelError(
            f"The VAPID subject must be a mailto: or https: URI, not {vapid_subject!r}."
        )
    vapid = _vapid(vapid_private_key)
    try:
        endpoint = url_check(message.address)
        receiver_key, auth_secret = _subscription_keys(message.push_keys)
    except AddressError as exc:
        return SendResult(ok=False, error=f"Push subscription refused: {exc}")
    data = (
        json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"))
        if message.payload is not None
        else message.text
    ).encode()
    if not data:
        return SendResult(ok=False, error="The push message has no payload.")
    if len(data) > PAYLOAD_MAX_BYTES:
        return SendResult(
            ok=False,
            error=f"The push payload is {len(data)} bytes; a push service takes at most "
            f"{PAYLOAD_MAX_BYTES}.",
        )
    pusher = WebPusher(
        {"endpoint": endpoint, "keys": {"p256dh": receiver_key, "auth": auth_secret}}
    )
    body = pusher.encode(data, content_encoding="aes128gcm")["body"]
    parts = urlsplit(endpoint)
    claims = {
        "sub": vapid_subject,
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + _TOKEN_LIFETIME,
    }
    headers = {
        **vapid.sign(claims),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(ttl),
        "Urgency": urgency,
    }
    if message.idempotency_key:
        headers["Topic"] = _topic(message.idempotency_key)
    if session is None:
        with requests.Session() as own:
            return _post(own, endpoint, body, headers, timeout)
    return _post(session, endpoint, body, headers, timeout)


def _post(
    session: requests.Session, endpoint: str, body: bytes, headers: dict[str, str], timeout: float
) -> SendResult:
    try:
        response = session.post(
            endpoint, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        return SendResult(
            ok=False, retryable=True, error=f"The push service timed out ({timeout} s)."
        )
    except requests.RequestException as exc:
        return SendResult(ok=False, retryable=True, error=f"The push service is unreachable: {exc}")
    with response:
        if response.status_code in (200, 201, 202):
            return SendResult(ok=True, provider_id=response.headers.get("Location", ""))
        return http_status_result(
            response.status_code,
            what="The push service",
            gone_statuses=(404, 410),
            detail=response.text[:200].strip(),
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )


@functools.lru_cache(maxsize=8)
def _vapid(private_key: str) -> Vapid:
    """Load a VAPID private key given as PEM, or as base64url raw scalar or DER."""
    text = private_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
                key.curve, ec.SECP256R1
            ):
                raise ChannelError("The VAPID private key must be a P-256 (prime256v1) EC key.")
            return Vapid(key)
        return Vapid.from_string(text)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ChannelError(f"The VAPID private key cannot be read: {exc}") from exc


def _subscription_keys(keys: dict[str, str] | None) -> tuple[str, str]:
    """The subscription's p256dh and auth values, checked: AddressError when unusable."""
    if not keys or not keys.get("p256dh") or not keys.get("auth"):
        raise AddressError("The subscription has no p256dh and auth keys.")
    try:
        receiver = _b64url_decode(keys["p256dh"])
        auth = _b64url_decode(keys["auth"])
    except (ValueError, binascii.Error) as exc:
        raise AddressError(f"The subscription keys are not base64url: {exc}") from exc
    if len(receiver) != 65 or receiver[0] != 4:
        raise AddressError("The p256dh key is not an uncompressed P-256 point (65 bytes).")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), receiver)
    except ValueError as exc:
        raise AddressError("The p256dh key is not a point on P-256.") from exc
    if len(auth) != 16:
        raise AddressError(f"The auth secret must be 16 bytes, not {len(auth)}.")
    return keys["p256dh"], keys["auth"]


def _topic(idempotency_key: str) -> str:
    # RFC 8030 section 5.4: at most 32 characters of the URL-safe base64 alphabet.
    return _b64url(hashlib.sha256(idempotency_key.encode()).digest()[:24])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
