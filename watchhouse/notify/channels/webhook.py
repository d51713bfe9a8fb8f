"""Signed webhooks for partner systems (schools, hospitals, neighbouring agencies).

Signature scheme, version 1, for receivers to implement:

* ``X-Watchhouse-Timestamp``: the Unix time (seconds) the request was signed.
* ``X-Watchhouse-Signature``: ``v1=`` followed by the lowercase hex HMAC-SHA256, keyed by
  the endpoint's shared secret (UTF-8), of the timestamp in decimal, a full stop, and the
  exact request body bytes: ``HMAC(secret, f"{timestamp}.".encode() + body)``. During a
  secret rotation the header may carry several comma-separated ``v1=`` values; one
  matching is enough.
* A receiver recomputes the HMAC over the raw body before parsing it, compares in constant
  time, and refuses timestamps more than five minutes from its clock. Within that window a
  captured request could be replayed, so receivers also drop repeated ``Idempotency-Key``
  values (the key is the same for every attempt at one delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping

import requests

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

TIMESTAMP_HEADER = "X-Watchhouse-Timestamp"
SIGNATURE_HEADER = "X-Watchhouse-Signature"
SIGNATURE_VERSION = "v1"
USER_AGENT = "Watchhouse-Webhook/1"
_UNIX_TIME = re.compile(r"[0-9]{1,12}")
# Most of a receiver's answer that is read; a longer one closes the connection instead of
# returning it to the pool.
_ANSWER_MAX_BYTES = 64 * 1024


class WebhookSignatureError(ChannelError):
    """A webhook request whose signature is missing, forged, or outside the time window."""


def webhook_sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The two signature headers for ``body`` sent at ``timestamp`` (see the module docs)."""
    if not secret:
        raise ChannelError("A webhook cannot be signed without a secret.")
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={_digest(secret, body, str(timestamp))}",
    }


def webhook_verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: int | None = None,
    tolerance: int = 300,
) -> None:
    """Return when ``body`` and ``headers`` carry a valid, fresh signature; else raise
    ``WebhookSignatureError`` saying what was wrong.

    The signature is checked before the time, so "outside the window" always describes a
    genuine request that arrived too late or was replayed.
    """
    if not secret:
        raise ChannelError("A webhook cannot be verified without a secret.")
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp:
        raise WebhookSignatureError(f"The request has no {TIMESTAMP_HEADER} header.")
    if not signature:
        raise WebhookSignatureError(f"The request has no {SIGNATURE_HEADER} header.")
    if not _UNIX_TIME.fullmatch(timestamp):
        raise WebhookSignatureError(f"{TIMESTAMP_HEADER} is not a Unix time: {timestamp[:40]!r}.")
    candidates = [
        value.strip().removeprefix(f"{SIGNATURE_VERSION}=")
        for value in signature.split(",")
        if value.strip().startswith(f"{SIGNATURE_VERSION}=")
    ]
    if not candidates:
        raise WebhookSignatureError(
            f"{SIGNATURE_HEADER} has no {SIGNATURE_VERSION}= signature: {signature[:80]!r}."
        )
    expected = _digest(secret, body, timestamp).encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in candidates):
        raise WebhookSignatureError(
            "The signature does not match the body: the request was altered, forged, "
            "or signed with another secret."
        )
    age = (int(time.time()) if now is None else now) - int(timestamp)
    if abs(age) > tolerance:
        raise WebhookSignatureError(
            f"The request was signed {abs(age)} s {'ago' if age > 0 else 'in the future'}, "
            f"outside the {tolerance} s window: it is stale or replayed."
        )


def webhook_send(
    message: OutboundMessage, *, timeout: float = 10, session: requests.Session | None = None
) -> SendResult:
    """POST ``message.payload`` as JSON to ``message.address``, signed with ``message.secret``.

    Without a payload, the subject and text are sent as ``{"subject": …, "text": …}``.
    2xx is success; 410 means the endpoint is gone; 408, 429, 5xx and timeouts are retryable;
    redirects are not followed and other answers are permanent refusals.
    """
    channel_require(message, "webhook")
    try:
        url = url_check(message.address)
    except AddressError as exc:
        return SendResult(ok=False, error=f"Webhook URL refused: {exc}")
    if not message.secret:
        return SendResult(ok=False, error="The webhook endpoint has no signing secret.")
    payload = (
        message.payload
        if message.payload is not None
        else {"subject": message.subject, "text": message.text}
    )
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        **message.headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **webhook_sign(message.secret, body, int(time.time())),
    }
    if message.idempotency_key:
        headers["Idempotency-Key"] = message.idempotency_key
    if session is None:
        with requests.Session() as own:
            return _post(own, url, body, headers, timeout)
    return _post(session, url, body, headers, timeout)


def _post(
    session: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> SendResult:
    try:
        response = session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        )
    except requests.Timeout:
        return SendResult(ok=False, retryable=True, error=f"The webhook timed out ({timeout} s).")
    except requests.RequestException as exc:
        return SendResult(ok=False, retryable=True, error=f"The webhook is unreachable: {exc}")
    with response:
        answer = _read_capped(response)
        if 200 <= response.status_code < 300:
            return SendResult(ok=True, provider_id=response.headers.get("X-Request-Id", ""))
        detail = answer[:200].decode(errors="replace").strip()
        return http_status_result(
            response.status_code,
            what="The webhook",
            gone_statuses=(410,),
            detail=detail,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )


def _read_capped(response: requests.Response) -> bytes:
    """The start of the answer; reading it whole lets the connection be reused."""
    answer = b""
    for chunk in response.iter_content(8192):
        answer += chunk
        if len(answer) > _ANSWER_MAX_BYTES:
            break
    return answer


def _digest(secret: str, body: bytes, timestamp: str) -> str:
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value.strip()
