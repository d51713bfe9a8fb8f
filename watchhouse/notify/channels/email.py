"""Email through Django's mail backends, one SMTP connection per batch."""

from __future__ import annotations

import enum
import hashlib
import re
import smtplib
from collections.abc import Sequence
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email

from watchhouse.notify.channels.base import OutboundMessage, SendResult, channel_require

# An idempotency key that can stand as the left part of a Message-ID as it is (RFC 5322
# dot-atom text, kept to a readable subset); any other key is hashed.
_READABLE_KEY = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_READABLE_KEY_MAX = 100


def list_unsubscribe_headers(url: str, mailto: str = "") -> dict[str, str]:
    """``List-Unsubscribe`` (RFC 2369) and one-click ``List-Unsubscribe-Post`` (RFC 8058).

    ``url`` must be https: mail providers send the one-click POST only to an https URI, and
    that URI must act on a POST with body ``List-Unsubscribe=One-Click`` without a redirect.
    ``mailto`` is an optional address for clients that only unsubscribe by email.
    """
    if not url.startswith("https://"):
        raise ValueError(f"One-click unsubscribe needs an https URL, not {url!r}.")
    targets = [f"<{url}>"]
    if mailto:
        targets.append(f"<{mailto if mailto.startswith('mailto:') else 'mailto:' + mailto}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def email_message_id(idempotency_key: str) -> str:
    """The Message-ID for a key: the same key always gives the same Message-ID.

    The domain is the sender's, as RFC 5322 suggests, so receivers see one stable namespace.
    """
    domain = _sender_domain()
    if len(idempotency_key) <= _READABLE_KEY_MAX and _READABLE_KEY.fullmatch(idempotency_key):
        left = idempotency_key
    else:
        left = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{left}@{domain}>"


def email_send_batch(
    messages: Sequence[OutboundMessage], *, connection: BaseEmailBackend | None = None
) -> list[SendResult]:
    """Send each message and return one result per message, in order.

    All messages go through one connection (``connection`` or a new one from the configured
    backend), reopened only when the server drops it; a connection the caller passed open is
    left open. A recipient the server refuses gives
    ``ok=False``, retryable for an SMTP 4xx reply and not for a 5xx; a dropped or unreachable
    server is retryable. The ``provider_id`` of a sent message is its Message-ID.
    """
    for message in messages:
        channel_require(message, "email")
    if not messages:
        return []
    backend = connection or get_connection(fail_silently=False)
    try:
        opened_here = backend.open()
    except (OSError, smtplib.SMTPException) as exc:
        unreachable = SendResult(ok=False, retryable=True, error=f"Mail server unreachable: {exc}")
        return [unreachable] * len(messages)
    results: list[SendResult] = []
    try:
        for index, message in enumerate(messages):
            result, reconnect = _send_one(backend, message)
            if reconnect is _Reconnect.RETRY and _reopen(backend) is None:
                result, reconnect = _send_one(backend, message)
            results.append(result)
            remaining = len(messages) - index - 1
            # A connection the caller holds is left usable for its next batch too.
            if reconnect is not _Reconnect.NO and (remaining or not opened_here):
                failure = _reopen(backend)
                if failure is not None:
                    results.extend([failure] * remaining)
                    break
    finally:
        if opened_here:
            backend.close()
    return results


class _Reconnect(enum.Enum):
    """What a failed send says about the connection."""

    NO = enum.auto()
    YES = enum.auto()
    # The server had closed the connection before this message (an idle connection timed
    # out): reconnect and send it again at once. Had the server taken the message just
    # before hanging up, the copy carries the same Message-ID.
    RETRY = enum.auto()


def _send_one(backend: BaseEmailBackend, message: OutboundMessage) -> tuple[SendResult, _Reconnect]:
    """Send one message; also say what the connection needs afterwards."""
    try:
        validate_email(message.address)
    except ValidationError:
        error = f"{message.address!r} is not an email address."
        return SendResult(ok=False, error=error), _Reconnect.NO
    headers = {"Auto-Submitted": "auto-generated", **message.headers}
    if _has_https_unsubscribe(headers) and not _header(headers, "List-Unsubscribe-Post"):
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message_id = _header(headers, "Message-ID")
    if not message_id:
        message_id = headers["Message-ID"] = (
            email_message_id(message.idempotency_key)
            if message.idempotency_key
            else make_msgid(domain=_sender_domain())
        )
    mail = EmailMultiAlternatives(
        # A line break in a subject would be refused as header injection; alert headlines
        # typed in a text area may contain one, so whitespace is collapsed instead.
        subject=" ".join(message.subject.split()),
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.address],
        headers=headers,
        connection=backend,
    )
    if message.html:
        mail.attach_alternative(message.html, "text/html")
    return _deliver(backend, mail, message_id)


def _deliver(
    backend: BaseEmailBackend, mail: EmailMultiAlternatives, message_id: str
) -> tuple[SendResult, _Reconnect]:
    try:
        sent = backend.send_messages([mail])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        # On 421 the server is closing the connection, and smtplib has already closed it.
        reconnect = _Reconnect.YES if code == 421 else _Reconnect.NO
        return _refused(code, reply, "refused the recipient"), reconnect
    except smtplib.SMTPResponseException as exc:
        reconnect = _Reconnect.YES if exc.smtp_code == 421 else _Reconnect.NO
        return _refused(exc.smtp_code, exc.smtp_error, "refused the message"), reconnect
    except (BadHeaderError, ValueError, UnicodeError) as exc:
        error = f"The message cannot be sent as given: {exc}"
        return SendResult(ok=False, error=error), _Reconnect.NO
    except smtplib.SMTPServerDisconnected as exc:
        error = f"The mail server closed the connection: {exc}"
        return SendResult(ok=False, retryable=True, error=error), _Reconnect.RETRY
    except (OSError, smtplib.SMTPException) as exc:
        # Timeouts and resets: the message may be tried again later on a new connection.
        error = f"Mail server connection: {exc}"
        return SendResult(ok=False, retryable=True, error=error), _Reconnect.YES
    if not sent:
        error = "The mail backend sent nothing."
        return SendResult(ok=False, retryable=True, error=error), _Reconnect.NO
    return SendResult(ok=True, provider_id=message_id), _Reconnect.NO


def _refused(code: int, reply: bytes | str, what: str) -> SendResult:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return SendResult(
        ok=False,
        retryable=400 <= code < 500,
        error=f"The mail server {what}: {code} {text}".strip(),
    )


def _reopen(backend: BaseEmailBackend) -> SendResult | None:
    """Reconnect after a dropped connection; the failure for the rest of the batch, if any."""
    backend.close()
    try:
        backend.open()
    except (OSError, smtplib.SMTPException) as exc:
        return SendResult(ok=False, retryable=True, error=f"Mail server unreachable: {exc}")
    return None


def _sender_domain() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "watchhouse.invalid"


def _header(headers: dict[str, str], name: str) -> str:
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), "")


def _has_https_unsubscribe(headers: dict[str, str]) -> bool:
    return "<https://" in _header(headers, "List-Unsubscribe")
