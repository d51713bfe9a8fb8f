"""E-mail tips through a real SMTP conversation on loopback: the tip mail server takes the
mail, and its auto-replies and the investigators' questions go out to a second loopback SMTP
server."""

from __future__ import annotations

import hashlib
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.notify.loopback import LOOPBACK, SmtpServer, free_port, smtp_settings
from tests.tips.conftest import drain, jpeg_with_gps, queued
from watchhouse.audit.models import AuditEntry
from watchhouse.tips.models import MessageKind, Tip, TipChannel, TipFile, TipMessage
from watchhouse.tips.services.dialogue import tip_message_send
from watchhouse.tips.services.inbound import tip_mail_controller, tip_message_deliver
from watchhouse.tips.tasks import deliver_tip_message_task

# The SMTP handler stores tips in its own thread: it must see committed rows, and the test
# must see its commits.
pytestmark = pytest.mark.django_db(transaction=True)

TIPS = "tips@police.example"
PAT = "pat.doe@example.org"

Send = Callable[[EmailMessage], None]


@pytest.fixture
def outbox(settings: Any) -> Iterator[SmtpServer]:
    """The mail server the site sends through (auto-replies, questions)."""
    with SmtpServer() as server:
        smtp_settings(settings, server)
        settings.DEFAULT_FROM_EMAIL = "Metro Police <noreply@police.example>"
        settings.WATCHHOUSE_TIPS_EMAIL_ADDRESS = TIPS
        yield server


@pytest.fixture
def tipline(outbox: SmtpServer) -> Iterator[Controller]:
    """The tip mail server, as `watchhouse tips smtpd` runs it."""
    controller = tip_mail_controller(host=LOOPBACK, port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def send(tipline: Controller) -> Send:
    def deliver(message: EmailMessage) -> None:
        with smtplib.SMTP(LOOPBACK, tipline.port, timeout=10) as client:
            client.send_message(message)

    return deliver


def mail(subject: str, body: str, *, sender: str = PAT, to: str = TIPS) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Pat Doe <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def test_mail_with_a_photo_becomes_a_sealed_tip(
    send: Send, outbox: SmtpServer, tmp_path: Path
) -> None:
    """The text and the JPEG are kept (the file with its SHA-256), the sender's address is
    sealed, and the auto-reply gives the tip code."""
    photo = jpeg_with_gps(tmp_path / "van.jpg").read_bytes()
    message = mail("Van on Oak St", "The white van from the appeal is parked at 4100 Oak St.")
    message.add_attachment(photo, maintype="image", subtype="jpeg", filename="van.jpg")

    send(message)

    tip = Tip.objects.get()
    assert tip.channel == TipChannel.EMAIL
    what = tip.read_content()["what"]
    assert "Van on Oak St" in what and "parked at 4100 Oak St." in what
    assert tip.read_contact() == PAT
    assert PAT not in tip.contact and "4100 Oak" not in tip.content
    stored = TipFile.objects.get(tip=tip)
    assert stored.sha256 == hashlib.sha256(photo).hexdigest()
    assert stored.read_name() == "van.jpg"
    (reply,) = outbox.received
    assert reply.rcpt_tos == [PAT]
    assert f"[Tip {tip.code}]" in reply.message["Subject"]
    assert tip.code in reply.message.get_content()
    assert reply.message["Auto-Submitted"] == "auto-replied"


def test_reply_joins_the_tip_only_from_its_sender(send: Send, outbox: SmtpServer) -> None:
    """A reply with [Tip CODE] in the subject joins the tip when it comes from the address
    that sent it; the same subject from anyone else is a tip of its own."""
    send(mail("Break-ins", "Someone tries car doors on Pine St every night."))
    tip = Tip.objects.get()

    send(mail(f"Re: [Tip {tip.code}] Your tip was received", "He wears a grey hoodie."))

    assert Tip.objects.count() == 1
    (message,) = TipMessage.objects.filter(tip=tip)
    assert message.kind == MessageKind.FROM_TIPSTER
    assert message.read_body() == "He wears a grey hoodie."

    send(mail(f"Re: [Tip {tip.code}]", "It was me, not him.", sender="mallory@example.net"))

    assert Tip.objects.count() == 2
    assert TipMessage.objects.filter(tip=tip).count() == 1


def test_mail_for_another_address_is_refused(send: Send) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(mail("Hello", "Is this the chief?", to="chief@police.example"))

    assert refused.value.recipients["chief@police.example"][0] == 550
    assert not Tip.objects.exists()


def test_html_mail_is_kept_as_text_and_refused_attachments_are_listed(
    send: Send, outbox: SmtpServer
) -> None:
    """An HTML body is stored as its text, never as HTML; an attachment that is a web page is
    dropped, the tip is still taken, and the auto-reply says what was not kept."""
    message = EmailMessage()
    message["From"] = PAT
    message["To"] = TIPS
    message["Subject"] = "Graffiti"
    message.set_content(
        "<p>Fresh <b>graffiti</b> on the school wall.</p><script>alert(1)</script>",
        subtype="html",
    )
    message.add_attachment(
        b"<!doctype html><script>alert(1)</script>",
        maintype="image",
        subtype="jpeg",
        filename="wall.jpg",
    )

    send(message)

    tip = Tip.objects.get()
    what = tip.read_content()["what"]
    assert "Fresh graffiti on the school wall." in what
    assert "<" not in what and "alert(1)" not in what
    assert not TipFile.objects.exists()
    (reply,) = outbox.messages
    body = reply.get_content()
    assert "not kept" in body and "wall.jpg" in body


def test_mail_with_nothing_in_it_is_refused(send: Send) -> None:
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(mail("", ""))

    assert refused.value.smtp_code == 550
    assert not Tip.objects.exists()


def test_question_to_an_email_tipster_is_mailed_once(
    send: Send, outbox: SmtpServer, investigator: Any
) -> None:
    """The task mails the question with the tip code in the subject, records it as sent, and
    running it again sends nothing more."""
    send(mail("Stolen bike", "My neighbour sells new bikes every week."))
    tip = Tip.objects.get()
    question = tip_message_send(actor=investigator, tip=tip, body="Which house number?")
    assert queued("deliver_tip_message_task") == [[question.pk]]

    drain()

    questions = [m for m in outbox.messages if "A question about your tip" in m["Subject"]]
    (sent,) = questions
    assert f"[Tip {tip.code}]" in sent["Subject"]
    assert "Which house number?" in sent.get_content()
    assert sent["To"] == PAT
    question.refresh_from_db()
    assert question.delivery == "sent"
    assert tip_message_deliver(message_id=question.pk) == "already sent"
    assert len(outbox.messages) == 2  # the auto-reply and the question


def test_question_waits_out_a_mail_server_outage(
    send: Send, outbox: SmtpServer, investigator: Any, settings: Any
) -> None:
    """With the mail server down the task fails (so the worker retries it); a later run
    sends the question once."""
    send(mail("Dumping", "A truck dumps tyres behind the mill at night."))
    tip = Tip.objects.get()
    outbox.stop()
    question = tip_message_send(actor=investigator, tip=tip, body="What colour is the truck?")

    with pytest.raises(OSError, match="refused"):
        drain()

    question.refresh_from_db()
    assert question.delivery.startswith("will retry")
    with SmtpServer(port=outbox.port) as restarted:
        assert deliver_tip_message_task.call(question.pk) == "sent"
        assert deliver_tip_message_task.call(question.pk) == "already sent"
    (sent,) = restarted.messages
    assert "What colour is the truck?" in sent.get_content()
    question.refresh_from_db()
    assert question.delivery == "sent"


def test_refused_question_is_recorded_without_the_address(
    send: Send, outbox: SmtpServer, investigator: Any
) -> None:
    """A mail server that refuses the tipster's address for good: the tip was still taken,
    the question is recorded as refused (not retried), and the error stored in the clear does
    not repeat the address the server quoted."""
    outbox.refuse[PAT] = f"550 5.1.1 <{PAT}>: Recipient address rejected"
    send(mail("Speeding", "A grey car races down Elm every morning at 7."))
    tip = Tip.objects.get()
    assert outbox.received == []
    question = tip_message_send(actor=investigator, tip=tip, body="Did you see the plate?")

    drain()

    question.refresh_from_db()
    assert question.delivery.startswith("refused: 550")
    assert PAT not in question.delivery
    entry = AuditEntry.objects.get(action="tips.message_deliver")
    assert PAT not in str(entry.data)


def test_automatic_mail_gets_no_auto_reply(send: Send, outbox: SmtpServer) -> None:
    """An out-of-office or other automatic mail is kept but never answered (RFC 3834), so two
    robots cannot answer each other for ever."""
    message = mail("Out of office", "I am away until Monday.")
    message["Auto-Submitted"] = "auto-replied"

    send(message)

    assert Tip.objects.count() == 1
    assert outbox.received == []
