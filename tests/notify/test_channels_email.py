"""Email goes through Django's SMTP backend to a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.mail import get_connection
from pytest_django.fixtures import Settings

from tests.notify.loopback import SmtpServer
from watchhouse.notify.channels.base import ChannelError, OutboundMessage
from watchhouse.notify.channels.email import (
    email_message_id,
    email_send_batch,
    list_unsubscribe_headers,
)

REFUSED = "gone@example.org"
LATER = "busy@example.org"
CLOSING = "closing@example.org"


@pytest.fixture
def smtp(settings: Settings) -> Iterator[SmtpServer]:
    refuse = {
        REFUSED: "550 5.1.1 No such user here",
        LATER: "451 4.3.0 Mailbox busy, try later",
        CLOSING: "421 4.3.2 Service shutting down",
    }
    with SmtpServer(refuse=refuse) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        settings.DEFAULT_FROM_EMAIL = "Metro Police Alerts <alerts@police.example>"
        yield server


def alert_email(n: int, address: str = "") -> OutboundMessage:
    return OutboundMessage(
        channel="email",
        address=address or f"resident{n}@example.org",
        subject=f"Road closure on Market St\n(update {n})",
        text=f"Market St is closed between 12th and 14th. Update {n}.",
        html=f"<p>Market St is <b>closed</b>. Update {n}.</p>",
        headers=list_unsubscribe_headers(
            f"https://police.example/alerts/unsubscribe/tok{n}", "unsubscribe@police.example"
        ),
        idempotency_key=f"alert-7.sub-{n}.email",
    )


def test_batch_arrives_with_unsubscribe_headers_and_stable_message_ids(smtp: SmtpServer) -> None:
    """Three alerts arrive over one connection, each with one-click unsubscribe and its own
    Message-ID derived from the delivery's idempotency key."""
    batch = [alert_email(n) for n in (1, 2, 3)]
    results = email_send_batch(batch)

    assert [r.ok for r in results] == [True, True, True]
    assert smtp.connections == 1
    received = {mail.rcpt_tos[0]: mail for mail in smtp.received}
    assert set(received) == {m.address for m in batch}
    for n, (outbound, result) in enumerate(zip(batch, results, strict=True), start=1):
        mail = received[outbound.address]
        msg = mail.message
        assert mail.mail_from == "alerts@police.example"
        assert msg["Subject"] == f"Road closure on Market St (update {n})"
        assert msg["From"] == "Metro Police Alerts <alerts@police.example>"
        assert msg["List-Unsubscribe"] == (
            f"<https://police.example/alerts/unsubscribe/tok{n}>, "
            "<mailto:unsubscribe@police.example>"
        )
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["Message-ID"] == f"<alert-7.sub-{n}.email@police.example>"
        assert result.provider_id == msg["Message-ID"]
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert (
            text.get_content().strip() == f"Market St is closed between 12th and 14th. Update {n}."
        )
        assert "<b>closed</b>" in html.get_content()


def test_resend_carries_the_same_message_id(smtp: SmtpServer) -> None:
    """A worker that sends a delivery twice produces a recognisable duplicate."""
    email_send_batch([alert_email(1)])
    email_send_batch([alert_email(1)])

    first, second = smtp.messages
    assert first["Message-ID"] == second["Message-ID"] == email_message_id("alert-7.sub-1.email")


def test_refused_recipients_fail_alone_and_say_whether_to_retry(smtp: SmtpServer) -> None:
    """A 550 refusal is permanent, a 451 is retryable, and the rest of the batch is sent."""
    batch = [alert_email(1), alert_email(2, REFUSED), alert_email(3, LATER), alert_email(4)]
    ok, refused, later, last = email_send_batch(batch)

    assert ok.ok and last.ok
    assert not refused.ok and not refused.retryable and not refused.gone
    assert "550" in refused.error and "No such user" in refused.error
    assert not later.ok and later.retryable
    assert "451" in later.error
    assert sorted(mail.rcpt_tos[0] for mail in smtp.received) == [
        "resident1@example.org",
        "resident4@example.org",
    ]
    assert smtp.connections == 1


def test_dropped_connection_is_reopened_for_the_rest_of_the_batch(smtp: SmtpServer) -> None:
    """After a 421 the server hangs up; that message is retryable and the next ones go
    through a new connection."""
    results = email_send_batch([alert_email(1), alert_email(2, CLOSING), alert_email(3)])

    assert [(r.ok, r.retryable) for r in results] == [(True, False), (False, True), (True, False)]
    assert "421" in results[1].error
    assert smtp.connections == 2


def test_connection_held_by_the_caller_stays_usable(smtp: SmtpServer) -> None:
    """A worker that holds one connection for many one-message batches keeps it working
    after the server drops it."""
    connection = get_connection()
    connection.open()
    try:
        first = email_send_batch([alert_email(1, CLOSING)], connection=connection)
        second = email_send_batch([alert_email(2)], connection=connection)
        third = email_send_batch([alert_email(3)], connection=connection)
    finally:
        connection.close()

    assert (first[0].ok, first[0].retryable) == (False, True)
    assert second[0].ok and third[0].ok
    assert smtp.connections == 1  # the second connection carried both later messages


def test_message_after_a_server_restart_goes_out_on_a_new_connection(
    smtp: SmtpServer, settings: Settings
) -> None:
    """A held connection the server has since closed costs no delivery attempt."""
    connection = get_connection()
    connection.open()
    try:
        assert email_send_batch([alert_email(1)], connection=connection)[0].ok
        smtp.stop()
        with SmtpServer(port=smtp.port) as restarted:
            (result,) = email_send_batch([alert_email(2)], connection=connection)
            assert result.ok, result.error
            assert [mail.rcpt_tos for mail in restarted.received] == [["resident2@example.org"]]
    finally:
        connection.close()


@pytest.mark.parametrize(
    "address", ["resident1@example.org\nBcc: everyone@example.org", "not an address", " "]
)
def test_malformed_address_fails_alone(smtp: SmtpServer, address: str) -> None:
    """An address that cannot be sent to is a permanent failure; the batch goes on."""
    bad, good = email_send_batch([alert_email(1, address), alert_email(2)])

    assert (bad.ok, bad.retryable, bad.gone) == (False, False, False)
    assert bad.error
    assert good.ok
    assert [mail.rcpt_tos for mail in smtp.received] == [["resident2@example.org"]]


def test_unreachable_server_makes_every_message_retryable() -> None:
    """With nothing listening, each message is reported retryable, none lost."""
    with SmtpServer() as server:
        port = server.port
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port, timeout=2
    )
    results = email_send_batch([alert_email(1), alert_email(2)], connection=connection)

    assert [(r.ok, r.retryable) for r in results] == [(False, True), (False, True)]
    assert "unreachable" in results[0].error


def test_one_click_unsubscribe_needs_https() -> None:
    """RFC 8058 one-click works only with an https URI, so another scheme is refused."""
    with pytest.raises(ValueError, match="https"):
        list_unsubscribe_headers("http://police.example/unsubscribe/tok")


def test_message_for_another_channel_is_a_programming_error() -> None:
    with pytest.raises(ChannelError, match="'sms' message was given to the 'email'"):
        email_send_batch([OutboundMessage(channel="sms", address="+15551234567", text="hi")])


def test_unusual_idempotency_keys_still_give_a_valid_stable_message_id() -> None:
    """Keys with characters a Message-ID cannot carry are hashed, deterministically."""
    first = email_message_id("alert 7 / sub <3>")
    assert first == email_message_id("alert 7 / sub <3>")
    assert first != email_message_id("alert 7 / sub <4>")
    assert " " not in first and first.count("<") == 1 and first.endswith(">")
