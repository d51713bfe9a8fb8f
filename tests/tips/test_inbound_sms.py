"""SMS tips through the real Twilio webhook: signed as Twilio signs, answered in TwiML."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.urls import reverse
from lxml import etree

from tests.alerts.conftest import town_create
from tests.notify.loopback import Answer, LoopbackHttpServer, RecordedRequest, twilio_signature
from tests.tips.conftest import jpeg_with_gps
from watchhouse.core import crypto
from watchhouse.notify.channels.sms import sms_count
from watchhouse.notify.models import Endpoint, Subscription
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import MessageKind, Tip, TipChannel, TipFile, TipMessage
from watchhouse.tips.services.dialogue import tip_message_send

pytestmark = pytest.mark.django_db

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token"
AGENCY = "+15005550006"
TIPS_LINE = "+15005550777"
TIPSTER = "+15551234567"

Text = Callable[..., HttpResponse]


@pytest.fixture
def text(client: Any, settings: Any) -> Text:
    """Post a text to the SMS webhook as Twilio does, signed with the auth token."""
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_FROM_NUMBER = AGENCY
    settings.WATCHHOUSE_TIPS_SMS_NUMBER = ""
    url = reverse("notify:sms_inbound")

    def send(
        body: str,
        *,
        sender: str = TIPSTER,
        to: str = AGENCY,
        forged: bool = False,
        media: Sequence[str] = (),
    ) -> HttpResponse:
        sid = "SM" + secrets.token_hex(16)
        params = {"From": sender, "To": to, "Body": body, "MessageSid": sid,
                  "AccountSid": SID, "NumMedia": str(len(media))}  # fmt: skip
        for index, media_url in enumerate(media):
            params[f"MediaUrl{index}"] = media_url
            params[f"MediaContentType{index}"] = "image/jpeg"
        signature = twilio_signature(TOKEN, settings.SITE_URL + url, params)
        response: HttpResponse = client.post(
            url, params, HTTP_X_TWILIO_SIGNATURE="forged" if forged else signature
        )
        return response

    return send


def reply(response: HttpResponse) -> str:
    """The text of a TwiML answer (empty when it sends nothing)."""
    assert response.status_code == 200, response.content
    root = etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False))
    return root.findtext("Message") or ""


def test_tip_text_opens_a_thread_and_later_texts_join_it(text: Text) -> None:
    """TIP opens a tip and the reply gives its code; the next text joins the same tip."""
    first = reply(text("TIP the white van is back at 4100 Oak St"))

    tip = Tip.objects.get()
    assert tip.channel == TipChannel.SMS
    assert tip.read_content()["what"] == "the white van is back at 4100 Oak St"
    assert tip.code in first
    assert "STATUS" in first and "Emergency? Call 911" in first
    assert sms_count(first).segments <= 3

    second = reply(text("It has a dented rear door"))

    assert Tip.objects.count() == 1
    (message,) = TipMessage.objects.filter(tip=tip)
    assert message.kind == MessageKind.FROM_TIPSTER
    assert message.read_body() == "It has a dented rear door"
    assert "dented" not in message.body
    assert tip.code in second
    tip.refresh_from_db()
    assert tip.unread_at is not None


def test_phone_number_is_stored_nowhere(text: Text, investigator: Any) -> None:
    """After a tip, a follow-up, a question and its answer, no table holds the number."""
    reply(text("tip: two men loading bikes into a truck"))
    tip = Tip.objects.get()
    tip_message_send(actor=investigator, tip=tip, body="Which way did the truck go?")
    reply(text("north on 5th"))

    digits = TIPSTER.lstrip("+")
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                if any(digits in str(value) or digits[-7:] in str(value) for value in row):
                    found.append(table)
    assert found == []
    assert tip.sender_hash and digits not in tip.sender_hash
    assert Tip.objects.filter(sender_hash=crypto.lookup_hash(TIPSTER, purpose="sms")).exists()


def test_question_arrives_in_the_reply_to_the_next_text(text: Text, investigator: Any) -> None:
    """An investigator's question waits for the tipster's next text, goes out in its reply,
    and is then marked read (and not sent twice)."""
    reply(text("TIP the man from the appeal is at the bus stop on Elm"))
    tip = Tip.objects.get()
    question = tip_message_send(actor=investigator, tip=tip, body="What was he wearing?")

    answer = reply(text("STATUS"))

    assert "What was he wearing?" in answer
    question.refresh_from_db()
    assert question.read_at is not None
    assert question.delivery == "sent"
    assert not TipMessage.objects.filter(kind=MessageKind.FROM_TIPSTER).exists()

    after = reply(text("A red jacket"))
    assert "What was he wearing?" not in after
    assert TipMessage.objects.get(kind=MessageKind.FROM_TIPSTER).read_body() == "A red jacket"
    assert reply(text("status")) == f"Tip {tip.code}: no new questions."


def test_long_questions_are_spread_over_replies_of_three_segments(
    text: Text, investigator: Any
) -> None:
    """Every reply fits in three SMS segments: a question that does not fit waits for the next
    STATUS, and one too long for any reply goes out shortened, saying so to staff."""
    reply(text("TIP someone is living in the empty house at 12 Birch"))
    tip = Tip.objects.get()
    short = tip_message_send(actor=investigator, tip=tip, body="How many people?")
    long = tip_message_send(actor=investigator, tip=tip, body="Describe them. " * 40)

    first = reply(text("STATUS"))
    assert sms_count(first).segments <= 3
    assert "How many people?" in first and "STATUS again" in first
    short.refresh_from_db()
    long.refresh_from_db()
    assert short.read_at is not None and long.read_at is None

    second = reply(text("STATUS"))
    assert sms_count(second).segments <= 3
    assert "Describe them." in second and second.endswith("…")
    long.refresh_from_db()
    assert long.read_at is not None and "shortened" in long.delivery


def test_stop_from_a_tipster_is_no_tip_and_still_unsubscribes(text: Text, tmp_path: Path) -> None:
    """A resident subscribed by texting an area name; after a tip, STOP still ends the alerts
    and adds nothing to the tip."""
    town_create(tmp_path)
    assert "alerts for Old Mill" in reply(text("Old Mill"))
    assert not Tip.objects.exists()
    reply(text("TIP loud party every night at the corner of Mill and 2nd"))

    stopped = reply(text("STOP"))

    assert "unsubscribed" in stopped
    assert Endpoint.objects.get().disabled_reason == "STOP"
    assert Tip.objects.count() == 1
    assert not TipMessage.objects.exists()


def test_area_name_from_a_new_number_still_subscribes(text: Text, tmp_path: Path) -> None:
    """A text without TIP from a number with no tip is the alerts' business, as before."""
    town_create(tmp_path)

    answer = reply(text("cedar park", sender="+15557654321"))

    assert "alerts for Cedar Park" in answer
    assert Subscription.objects.count() == 1
    assert not Tip.objects.exists()
    assert "Reply with a neighbourhood name" in reply(text("what is this", sender="+15550000001"))


def test_any_text_to_the_tips_number_is_a_tip(text: Text, settings: Any) -> None:
    """With a number of its own for tips, a text to it needs no keyword."""
    settings.WATCHHOUSE_TIPS_SMS_NUMBER = TIPS_LINE

    answer = reply(text("Someone is breaking into cars on Pine St", to=TIPS_LINE))

    tip = Tip.objects.get()
    assert tip.code in answer
    assert tip.read_content()["what"] == "Someone is breaking into cars on Pine St"


def test_forged_text_is_refused_and_nothing_stored(text: Text) -> None:
    response = text("TIP this was changed after signing", forged=True)

    assert response.status_code == 403
    assert not Tip.objects.exists()
    assert not TipMessage.objects.exists()


class TwilioMedia(LoopbackHttpServer):
    """Twilio's media resources for one account: the photo, to the account's basic auth."""

    def __init__(self, photo: bytes) -> None:
        super().__init__()
        self.photo = photo

    def media_url(self, name: str) -> str:
        return f"{self.url}/2010-04-01/Accounts/{SID}/Messages/MM1/Media/{name}"

    def answer(self, request: RecordedRequest) -> Answer:
        expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if request.header("Authorization") != f"Basic {expected}":
            return Answer(401, b"Authenticate")
        return Answer(200, self.photo, {"Content-Type": "image/jpeg"})


@pytest.fixture
def media_server(tmp_path: Path, settings: Any) -> Iterator[TwilioMedia]:
    photo = jpeg_with_gps(tmp_path / "van.jpg").read_bytes()
    with TwilioMedia(photo) as server:
        settings.TWILIO_BASE_URL = server.url
        yield server


def test_mms_photo_is_sealed_with_its_hash(text: Text, media_server: TwilioMedia) -> None:
    """A photo sent by MMS is fetched with the account's credentials, sealed, and kept with
    the SHA-256 of what Twilio held."""
    answer = reply(text("TIP this van", media=[media_server.media_url("ME1")]))

    tip = Tip.objects.get()
    assert tip.code in answer
    stored = TipFile.objects.get(tip=tip)
    assert stored.kind == "image"
    assert stored.sha256 == hashlib.sha256(media_server.photo).hexdigest()
    assert media_server.photo[:100] not in private_path(stored.path).read_bytes()
    assert not list((private_path("tips/staging")).glob("*"))
