"""SMS: counting as a phone does, carrier keywords, and the provider interface with Twilio."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

import requests

from watchhouse.notify.channels.base import (
    ChannelError,
    OutboundMessage,
    SendResult,
    channel_require,
    retry_after_seconds,
)

# The GSM 03.38 (3GPP TS 23.038) default alphabet in code order 0x00-0x7F. 0x1B is the
# escape to the extension table, not a character, so it stands as "" here. 0x09 is the
# capital C with cedilla that phones show; a small one is not in the alphabet.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"
    "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as the escape septet plus its own, so counts as two.
GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")

# Keywords carriers require every sender to honour (CTIA; the defaults of Twilio's
# opt-out handling, which since 2025 also include REVOKE and OPTOUT).
SMS_KEYWORDS = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"), "STOP"
    ),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "START"),
    **dict.fromkeys(("HELP", "INFO"), "HELP"),
}
# What does not change which keyword a reply is: spacing ("stop all"), hyphens ("opt-out")
# and the full stop or exclamation mark a phone's keyboard may add.
_KEYWORD_NOISE = re.compile(r"[\s\-_.!]+")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# Twilio refuses longer bodies (error 21617).
SMS_BODY_MAX = 1600
# Characters XML 1.0 cannot carry at all.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class SmsCount:
    """How a text travels as SMS.

    ``units`` are GSM-7 septets (two for an extension-table character) or UCS-2 code units
    (two for a character outside the Basic Multilingual Plane, such as an emoji).
    ``per_segment`` is the room in each segment: 160/70 for a single-segment message,
    153/67 once a message is split, because each part carries a concatenation header.
    """

    encoding: str
    characters: int
    units: int
    segments: int
    per_segment: int


def sms_count(text: str) -> SmsCount:
    """Count ``text`` as a phone would send it.

    GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table,
    otherwise UCS-2. A split never separates an escape from its character, nor the two
    halves of a surrogate pair, so a part may hold one unit less than ``per_segment``.
    An empty text is zero segments.
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        encoding, single, multi = "GSM-7", 160, 153
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        encoding, single, multi = "UCS-2", 70, 67
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units = sum(costs)
    if units <= single:
        return SmsCount(encoding, len(text), units, 1 if units else 0, single)
    return SmsCount(encoding, len(text), units, _segments(costs, multi), multi)


def _segments(costs: Iterable[int], room: int) -> int:
    segments, used = 1, 0
    for cost in costs:
        if used + cost > room:
            segments, used = segments + 1, 0
        used += cost
    return segments


def sms_keyword(body: str) -> str | None:
    """``"STOP"``, ``"START"`` or ``"HELP"`` when the whole reply is such a keyword, else None.

    Case, spacing, hyphens and a trailing full stop or exclamation mark do not matter
    ("Stop.", "stop all", "opt-out"); a keyword inside a sentence is not one.
    """
    return SMS_KEYWORDS.get(_KEYWORD_NOISE.sub("", body).upper())


@dataclass(frozen=True)
class InboundSms:
    """A text a resident sent to the agency's number."""

    from_number: str
    to_number: str
    body: str
    provider_id: str


class SmsProvider(Protocol):
    """What the notify tasks need from an SMS provider."""

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one text; never raises for a problem with this message or number."""
        ...

    def verify_inbound(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Whether an inbound request to ``url`` with form ``params`` came from the provider."""
        ...


class TwilioSms(SmsProvider):
    """Twilio's Programmable Messaging API (2010-04-01 Messages resource).

    Twilio offers no idempotency key for creating a message: a request that timed out after
    it was sent may still have been accepted, so its result says so and is retryable, and
    the caller decides whether a possible duplicate is better than a possible loss.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        base_url: str = "https://api.twilio.com",
        status_callback: str = "",
        timeout: float = 10,
    ) -> None:
        self.account_sid = account_sid
        self.from_number = from_number
        self.status_callback = status_callback
        self.timeout = timeout
        self.messages_url = (
            f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        )
        self._auth_token = auth_token
        self._session = requests.Session()
        self._session.auth = (account_sid, auth_token)

    def __repr__(self) -> str:
        return f"TwilioSms(account_sid={self.account_sid!r}, from_number={self.from_number!r})"

    def close(self) -> None:
        """Close the pooled connections to Twilio."""
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: OutboundMessage) -> SendResult:
        """Create the message; ``provider_id`` is Twilio's message SID (``SM…``).

        21610 (the recipient replied STOP) means the number is gone; 429/20429 and 5xx are
        retryable; 21211 (invalid number), 20003 (credentials) and other refusals are not.
        """
        channel_require(message, "sms")
        if not _E164.fullmatch(message.address):
            return SendResult(
                ok=False, error=f"{message.address!r} is not a phone number in E.164 form."
            )
        if not message.text:
            return SendResult(ok=False, error="The text message is empty.")
        if len(message.text) > SMS_BODY_MAX:
            return SendResult(
                ok=False,
                error=f"The text is {len(message.text)} characters; Twilio takes at most "
                f"{SMS_BODY_MAX}.",
            )
        form = {"To": message.address, "From": self.from_number, "Body": message.text}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = self._session.post(
                self.messages_url, data=form, timeout=self.timeout, allow_redirects=False
            )
        except requests.ConnectionError as exc:
            # Includes connect timeouts: nothing reached Twilio.
            return SendResult(ok=False, retryable=True, error=f"Twilio is unreachable: {exc}")
        except requests.Timeout:
            return SendResult(
                ok=False,
                retryable=True,
                error=f"Twilio did not answer within {self.timeout} s; "
                "it may have accepted the message.",
            )
        except requests.RequestException as exc:
            return SendResult(ok=False, retryable=True, error=f"Request to Twilio failed: {exc}")
        with response:
            return self._result(response)

    def _result(self, response: requests.Response) -> SendResult:
        data = _json_object(response)
        status = response.status_code
        if status in (200, 201):
            return SendResult(ok=True, provider_id=str(data.get("sid", "")))
        code = data.get("code")
        error = f"Twilio answered HTTP {status}"
        if code:
            error += f", error {code}"
        if data.get("message"):
            error += f": {data['message']}"
        if data.get("more_info"):
            error += f" ({data['more_info']})"
        if code == 21610:
            return SendResult(ok=False, gone=True, error=error)
        if status == 429 or code == 20429 or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return SendResult(ok=False, retryable=True, error=error, retry_after=retry_after)
        if code == 20003 or status == 401:
            error += " - Twilio refused the account SID and auth token; check the settings."
        return SendResult(ok=False, error=error)

    def verify_inbound(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Check ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed by the auth token, of the
        full URL followed by each POST parameter's name and value, sorted by name.

        Twilio may sign the URL with or without an explicit port, so both are tried.
        """
        if not signature:
            return False
        expected = signature.encode()
        return any(
            hmac.compare_digest(self._signature(candidate, params).encode(), expected)
            for candidate in _with_and_without_port(url)
        )

    def _signature(self, url: str, params: Mapping[str, str]) -> str:
        signed = url + "".join(name + value for name, value in _sorted_params(params))
        digest = hmac.new(self._auth_token.encode(), signed.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()


def twilio_inbound(params: Mapping[str, str]) -> InboundSms:
    """The text in a Twilio incoming-message webhook's form parameters."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    missing = [name for name, value in (("From", params.get("From")), ("To", params.get("To")),
                                        ("MessageSid", sid)) if not value]  # fmt: skip
    if missing:
        raise ChannelError(f"Not a Twilio incoming message: no {', '.join(missing)}.")
    return InboundSms(
        from_number=params["From"],
        to_number=params["To"],
        body=params.get("Body", ""),
        provider_id=sid,
    )


def twiml_message(text: str) -> str:
    """A TwiML reply sending ``text`` back; an empty text gives a reply that sends nothing."""
    if not text:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    body = escape(_XML_INVALID.sub("", text), {'"': "&quot;"})
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{body}</Message></Response>'


def _sorted_params(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """Parameters sorted by name. A repeated name (a Django QueryDict) contributes each of its
    distinct values in order, as Twilio's own validators do."""
    getlist: Any = getattr(params, "getlist", None)
    pairs: list[tuple[str, str]] = []
    for name in sorted(set(params)):
        values = getlist(name) if callable(getlist) else [params[name]]
        pairs.extend((name, value) for value in sorted(set(values)))
    return pairs


def _with_and_without_port(url: str) -> list[str]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return [url]
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host = hostport[: hostport.rindex(":")] if parts.port else hostport
    without = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:{port}"))
    return list(dict.fromkeys([url, without, with_port]))


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
