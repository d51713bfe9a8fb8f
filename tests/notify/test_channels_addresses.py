"""Push and webhook URLs are checked before any request leaves the machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.loopback import PushService, WebhookReceiver
from watchhouse.core.errors import InvalidInputError
from watchhouse.notify.channels.base import URL_MAX_LENGTH, AddressError, OutboundMessage, url_check
from watchhouse.notify.channels.webhook import webhook_send
from watchhouse.notify.channels.webpush import push_send, vapid_keys_generate

VAPID = vapid_keys_generate()
BAD_URLS = [
    ("", "empty"),
    ("ftp://{host}/hooks", "Only http and https"),
    ("file:///etc/passwd", "Only http and https"),
    ("javascript:alert(1)", "Only http and https"),
    ("//{host}/hooks", "Only http and https"),
    ("http://user:secret@{host}/hooks", "user name or password"),
    ("http://token@{host}/hooks", "user name or password"),
    ("http:///hooks", "no host"),
    ("http://{host}/ho oks", "spaces or control characters"),
    ("http://{host}/hooks\r\nX-Injected: 1", "spaces or control characters"),
    ("http://127.0.0.1:99999/hooks", "cannot be parsed"),
    ("http://{host}/" + "a" * URL_MAX_LENGTH, f"at most {URL_MAX_LENGTH}"),
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_url_check_names_the_problem(url: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        url_check(url.format(host="127.0.0.1:8000"))


@pytest.mark.parametrize(
    "url",
    [
        "https://fcm.googleapis.com/fcm/send/abc:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "http://127.0.0.1:8080/hooks?school=42",
        "https://[2001:db8::1]:8443/hooks",
    ],
)
def test_url_check_accepts_http_and_https(url: str) -> None:
    assert url_check(url) == url


def test_address_errors_are_input_errors() -> None:
    """Subscription forms and the API can show the reason as a 400."""
    assert issubclass(AddressError, InvalidInputError)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver("s3cret") as server:
        yield server


@pytest.fixture
def push() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_webhook_to_a_bad_url_never_leaves(
    receiver: WebhookReceiver, url: str, reason: str
) -> None:
    host = f"127.0.0.1:{receiver.port}"
    message = OutboundMessage(
        channel="webhook", address=url.format(host=host), payload={"a": 1}, secret="s3cret"
    )
    result = webhook_send(message)

    assert (result.ok, result.retryable, result.gone) == (False, False, False)
    assert reason in result.error
    assert receiver.requests == []


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_push_to_a_bad_url_never_leaves(push: PushService, url: str, reason: str) -> None:
    host = f"127.0.0.1:{push.port}"
    message = OutboundMessage(
        channel="push",
        address=url.format(host=host),
        text="hello",
        push_keys={"p256dh": "unused", "auth": "unused"},
    )
    result = push_send(message, vapid_private_key=VAPID[0], vapid_subject="mailto:a@b.example")

    assert (result.ok, result.retryable, result.gone) == (False, False, False)
    assert reason in result.error
    assert push.requests == []
