"""What every channel adapter takes and returns, and the checks they share.

The adapters never raise for a problem with one message or one address: they return a
``SendResult`` the delivery task can record. They raise ``ChannelError`` only when the
caller or the configuration is wrong (a message for another channel, a malformed VAPID key),
because retrying such a call can never succeed and a person has to fix it.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from watchhouse.core.errors import InvalidInputError, WatchhouseError

CHANNELS = ("email", "push", "sms", "webhook")

# Longest endpoint URL accepted. Push services hand out URLs of a few hundred characters;
# 2,048 is the longest URL every HTTP stack on the way is sure to carry.
URL_MAX_LENGTH = 2048


class ChannelError(WatchhouseError):
    """A channel was called wrongly or is misconfigured; the message says how to fix it."""


class AddressError(ChannelError, InvalidInputError):
    """An address (URL, phone number) that no message may be sent to."""


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one address on one channel.

    ``idempotency_key`` is stable per (alert, endpoint): email uses it for the Message-ID,
    Web Push for the Topic (a re-send replaces an undelivered copy at the push service) and
    webhooks send it as the ``Idempotency-Key`` header, so a re-send is recognisable.
    """

    channel: str
    address: str
    subject: str = ""
    text: str = ""
    html: str = ""
    payload: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""
    secret: str = ""
    push_keys: dict[str, str] | None = None


@dataclass(frozen=True)
class SendResult:
    """What became of one message.

    ``retryable`` is true when the same message may succeed later (timeouts, rate limits,
    server errors, SMTP 4xx); ``gone`` is true when the address no longer exists and its
    endpoint should be disabled. ``retry_after`` is the provider's requested delay in seconds,
    when it named one.
    """

    ok: bool
    provider_id: str = ""
    retryable: bool = False
    gone: bool = False
    error: str = ""
    retry_after: int | None = None


def channel_require(message: OutboundMessage, channel: str) -> None:
    """Raise ``ChannelError`` unless ``message`` is meant for ``channel``."""
    if message.channel != channel:
        raise ChannelError(
            f"A {message.channel!r} message was given to the {channel!r} channel adapter."
        )


def url_check(url: str) -> str:
    """Return ``url`` when a push or webhook request may be sent to it, else raise AddressError.

    The URL must be absolute http(s) with a host, carry no user name or password (they
    would end up in logs and Referer-like places) and no control characters, and be at most
    ``URL_MAX_LENGTH`` characters. The host is not resolved here: refusing private networks
    needs a check at connect time (or an egress proxy), because DNS can change in between.
    """
    if not isinstance(url, str) or not url:
        raise AddressError("The URL is empty.")
    if len(url) > URL_MAX_LENGTH:
        raise AddressError(f"The URL is {len(url)} characters long; at most {URL_MAX_LENGTH}.")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise AddressError("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port raises ValueError when it is malformed
    except ValueError as exc:
        raise AddressError(f"The URL cannot be parsed: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        what = f"{scheme}: URLs" if scheme else "relative URLs"
        raise AddressError(f"Only http and https URLs are allowed, not {what}.")
    if not parts.hostname:
        raise AddressError("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise AddressError("The URL must not contain a user name or password.")
    return url


def retry_after_seconds(value: str | None, *, now: float | None = None) -> int | None:
    """Seconds named by an HTTP ``Retry-After`` header (delay or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0, int(when.timestamp() - current))


def http_status_result(
    status: int,
    *,
    what: str,
    gone_statuses: tuple[int, ...],
    detail: str = "",
    retry_after: int | None = None,
) -> SendResult:
    """The failed ``SendResult`` for an HTTP status outside 2xx, shared by push and webhooks.

    ``gone_statuses`` mean the endpoint is gone; 408, 425, 429 and 5xx may pass later;
    anything else (including a 3xx, since redirects are not followed) is a permanent refusal.
    """
    error = f"{what} answered HTTP {status}"
    if detail:
        error += f": {detail}"
    if status in gone_statuses:
        return SendResult(ok=False, gone=True, error=error)
    if status in (408, 425, 429) or status >= 500:
        return SendResult(ok=False, retryable=True, error=error, retry_after=retry_after)
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    return SendResult(ok=False, error=error)
