"""Real servers on 127.0.0.1 that stand in for the internet services notifications go to.

Each speaks the provider's documented protocol, binds a free port, records what it
received, and is used as a context manager (start on enter, stop on exit)::

    with SmtpServer(refuse={"gone@example.org": "550 5.1.1 No such user"}) as smtp: ...
    with PushService() as push: push.endpoint("alice") ...
    with TwilioServer("AC…", "token") as twilio: TwilioSms(..., base_url=twilio.url) ...
    with WebhookReceiver(secret="s3cret") as hook: hook.url ...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from watchhouse.notify.channels.webhook import WebhookSignatureError, webhook_verify

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


# --- SMTP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server took it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple[str, int]


class _SmtpHandler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        refusal = self.owner.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        received = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            message=message,
            peer=(str(session.peer[0]), int(session.peer[1])) if session.peer else ("", 0),
        )
        with self.owner.lock:
            self.owner.received.append(received)
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server that keeps every message it accepts.

    ``refuse`` maps a recipient address to the SMTP reply its RCPT TO gets, such as
    ``"550 5.1.1 No such user"`` or ``"451 4.3.0 Try again later"``. ``port`` reuses a
    port, to act out a server restart.
    """

    def __init__(self, refuse: Mapping[str, str] | None = None, *, port: int = 0) -> None:
        self.refuse = dict(refuse or {})
        self.host = LOOPBACK
        self.port = port or free_port()
        self.received: list[ReceivedMail] = []
        self.lock = threading.Lock()
        self._running = False
        self._controller = Controller(
            _SmtpHandler(self), hostname=self.host, port=self.port, server_hostname="loopback.test"
        )

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [mail.message for mail in self.received]

    @property
    def connections(self) -> int:
        """How many client connections delivered at least one message."""
        with self.lock:
            return len({mail.peer for mail in self.received})

    def __enter__(self) -> Self:
        self._controller.start()
        self._running = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening and drop every connection; stopping twice is harmless."""
        if self._running:
            self._running = False
            self._controller.stop()


def smtp_settings(settings: Any, server: SmtpServer, *, site_url: str = "") -> None:
    """Point Django's mail (pytest-django's ``settings``) at ``server``, as a deployment
    would at its own mail server, and its links at ``site_url`` when given."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    if site_url:
        settings.SITE_URL = site_url


# --- HTTP base --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as a loopback server received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), "")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Answer:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )


class LoopbackHttpServer:
    """A threaded HTTP/1.1 server; subclasses decide the answer in ``answer``."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5  # idle keep-alive connections end instead of holding a thread

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                split = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=split.path,
                    query=split.query,
                    headers=dict(self.headers.items()),
                    body=self.rfile.read(length) if length else b"",
                )
                with owner.lock:
                    owner.requests.append(request)
                answer = owner.answer(request)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # http.server dispatches on these names

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: the tests read ``requests`` instead."""

        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def answer(self, request: RecordedRequest) -> Answer:
        return Answer(200)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- Web Push (RFC 8030) ----------------------------------------------------------------


class PushService(LoopbackHttpServer):
    """A push service: ``endpoint(name)`` is a subscription's URL.

    A push to it answers 201 Created with the push message's URL in ``Location``, unless
    ``statuses[name]`` names another status (410 for an expired subscription, 429 for a
    rate limit, which also carries ``Retry-After: 30``). A push without ``TTL`` gets 400, as
    RFC 8030 requires.
    """

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, int] = {}
        self._ids = itertools.count(1)

    def endpoint(self, name: str) -> str:
        return f"{self.url}/push/{name}"

    def pushes(self, name: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path == f"/push/{name}"]

    def answer(self, request: RecordedRequest) -> Answer:
        name = request.path.removeprefix("/push/")
        if request.method != "POST" or not request.path.startswith("/push/"):
            return Answer(404)
        if not request.header("TTL").isdigit():
            return Answer(400, b"Missing or malformed TTL header")
        status = self.statuses.get(name, 201)
        if status == 201:
            return Answer(201, headers={"Location": f"{self.url}/message/{next(self._ids)}"})
        if status == 429:
            return Answer(429, b"Too many requests", {"Retry-After": "30"})
        return Answer(status, b"push service refusal")


# --- Twilio Messages API ----------------------------------------------------------------

# Twilio's test-credential numbers and the errors they trigger.
TWILIO_MAGIC_NUMBERS = {
    "+15005550001": (400, 21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (400, 21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (400, 21408, "Permission to send an SMS has not been enabled for the region"),
    "+15005550004": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (400, 21614, "'To' number is not a valid mobile number"),
}
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature as Twilio's docs define it: base64(HMAC-SHA1(auth token,
    URL + each parameter name and value, in parameter-name order))."""
    data = url
    for name in sorted(params):
        data += name + params[name]
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _twilio_error(status: int, code: int, message: str, **headers: str) -> Answer:
    return Answer.json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        **headers,
    )


class TwilioServer(LoopbackHttpServer):
    """Twilio's REST API for one account: ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

    Checks HTTP basic auth (20003 otherwise) and the form (To, From, Body), answers 201 with
    a Message resource, and knows Twilio's magic test numbers. ``rate_limited`` makes it
    answer 429/20429 and ``outage`` 503/20503. ``send_inbound`` posts an incoming text to a
    webhook, signed as Twilio signs it.
    """

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.rate_limited = False
        self.outage = False
        self.created: list[dict[str, Any]] = []

    def answer(self, request: RecordedRequest) -> Answer:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.header("Authorization") != f"Basic {expected}":
            return _twilio_error(401, 20003, "Authenticate")
        if request.method != "POST" or request.path != path:
            return _twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        if self.rate_limited:
            return _twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "1"})
        if self.outage:
            return _twilio_error(503, 20503, "Service Unavailable")
        form = request.form()
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _twilio_error(400, 21602, "Message body is required.")
        if to in TWILIO_MAGIC_NUMBERS:
            return _twilio_error(*TWILIO_MAGIC_NUMBERS[to])
        if not _E164.fullmatch(to):
            return _twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        sid = "SM" + secrets.token_hex(16)
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self.lock:
            self.created.append({**resource, "status_callback": form.get("StatusCallback", "")})
        return Answer.json(201, resource)

    def send_inbound(
        self, webhook_url: str, *, from_number: str, to_number: str, body: str
    ) -> requests.Response:
        """POST an incoming text to ``webhook_url`` as Twilio does, with its signature."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": from_number,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to_number,
        }
        signature = twilio_signature(self.auth_token, webhook_url, params)
        return requests.post(
            webhook_url, data=params, headers={"X-Twilio-Signature": signature}, timeout=5
        )


# --- Webhook receiver -------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    request: RecordedRequest
    reason: str


class WebhookReceiver(LoopbackHttpServer):
    """A partner's endpoint that checks every request with ``webhook_verify``.

    A verified request is kept in ``accepted`` and answered with ``status`` (200, or e.g.
    503 to act out an outage); a request that fails verification is kept in ``rejected``
    with the reason and answered 401 with the reason as the body. ``clock`` is the
    receiver's time, so a test can replay a request later.
    """

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.secret = secret
        self.clock = clock
        self.status = 200
        self.accepted: list[RecordedRequest] = []
        self.rejected: list[Rejection] = []

    def answer(self, request: RecordedRequest) -> Answer:
        try:
            webhook_verify(self.secret, request.body, request.headers, now=int(self.clock()))
        except WebhookSignatureError as exc:
            with self.lock:
                self.rejected.append(Rejection(request, str(exc)))
            return Answer(401, str(exc).encode(), {"Content-Type": "text/plain"})
        with self.lock:
            self.accepted.append(request)
        if self.status == 503:
            return Answer(503, b"Service unavailable", {"Retry-After": "120"})
        return Answer(self.status)

    def payloads(self) -> list[Any]:
        with self.lock:
            return [json.loads(request.body) for request in self.accepted]

    def replay(self, request: RecordedRequest) -> requests.Response:
        """Send a recorded request again, byte for byte."""
        return requests.post(
            self.url + request.path, data=request.body, headers=request.headers, timeout=5
        )
