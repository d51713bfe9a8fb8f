"""SMS: counting as a phone does, carrier keywords, and Twilio through a loopback server
that speaks its Messages API and signs inbound webhooks as Twilio does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple

import pytest
import requests
from django.http import QueryDict
from lxml import etree

from tests.notify.loopback import (
    Answer,
    LoopbackHttpServer,
    RecordedRequest,
    TwilioServer,
    free_port,
    twilio_signature,
)
from watchhouse.notify.channels.base import ChannelError, OutboundMessage
from watchhouse.notify.channels.sms import (
    InboundSms,
    TwilioSms,
    sms_count,
    sms_keyword,
    twilio_inbound,
    twiml_message,
)

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token"
AGENCY = "+13145550100"
RESIDENT = "+13145550123"


# --- counting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0, 0, 0, 160)),
        ("a" * 160, ("GSM-7", 160, 160, 1, 160)),
        ("a" * 161, ("GSM-7", 161, 161, 2, 153)),
        ("a" * 306, ("GSM-7", 306, 306, 2, 153)),
        ("a" * 307, ("GSM-7", 307, 307, 3, 153)),
        ("€", ("GSM-7", 1, 2, 1, 160)),
        ("€" * 80, ("GSM-7", 80, 160, 1, 160)),
        ("{[~|^\\]}", ("GSM-7", 8, 16, 1, 160)),
        ("é" * 160, ("GSM-7", 160, 160, 1, 160)),
        ("Año nuevo, señal: ÑÜÖÄ ¿¡ £$¥ ΔΦΓΛΩΠΨΣΘΞ", ("GSM-7", 40, 40, 1, 160)),
        # An escape never ends one segment with its character starting the next.
        ("a" * 152 + "€" + "a" * 152, ("GSM-7", 305, 306, 3, 153)),
        ("ç", ("UCS-2", 1, 1, 1, 70)),  # only capital Ç is in the GSM alphabet
        ("It’s closed", ("UCS-2", 11, 11, 1, 70)),  # a typographic apostrophe
        ("ж" * 70, ("UCS-2", 70, 70, 1, 70)),
        ("ж" * 71, ("UCS-2", 71, 71, 2, 67)),
        ("ж" * 134, ("UCS-2", 134, 134, 2, 67)),
        ("ж" * 135, ("UCS-2", 135, 135, 3, 67)),
        ("🚨", ("UCS-2", 1, 2, 1, 70)),
        ("a" * 68 + "🚨", ("UCS-2", 69, 70, 1, 70)),
        ("a" * 69 + "🚨", ("UCS-2", 70, 71, 2, 67)),
        # A surrogate pair is never split between segments either.
        ("a" * 66 + "🚨" + "a" * 66, ("UCS-2", 133, 134, 3, 67)),
    ],
)
def test_sms_count(text: str, expected: tuple[str, int, int, int, int]) -> None:
    assert astuple(sms_count(text)) == expected


# --- keywords --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "STOP"), (" stop ", "STOP"), ("Stop.", "STOP"), ("stop all", "STOP"),
        ("STOPALL", "STOP"), ("unsubscribe", "STOP"), ("Cancel", "STOP"), ("end", "STOP"),
        ("quit!", "STOP"), ("opt-out", "STOP"), ("REVOKE", "STOP"),
        ("start", "START"), ("Yes", "START"), ("UNSTOP", "START"),
        ("help", "HELP"), ("Info", "HELP"),
        ("please stop", None), ("stopped", None), ("help me", None), ("63103", None), ("", None),
    ],
)  # fmt: skip
def test_sms_keyword(body: str, keyword: str | None) -> None:
    assert sms_keyword(body) == keyword


# --- sending through Twilio ------------------------------------------------------------


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer(SID, TOKEN) as server:
        yield server


@pytest.fixture
def provider(twilio: TwilioServer) -> Iterator[TwilioSms]:
    sms = TwilioSms(
        SID,
        TOKEN,
        AGENCY,
        base_url=twilio.url,
        status_callback="https://police.example/notify/sms/status",
        timeout=5,
    )
    yield sms
    sms.close()


def text(to: str = RESIDENT, body: str = "Shelter in place near 5th & Pine.") -> OutboundMessage:
    return OutboundMessage(channel="sms", address=to, text=body, idempotency_key="alert-7.sms")


def test_send_creates_a_twilio_message(twilio: TwilioServer, provider: TwilioSms) -> None:
    """The form Twilio documents is posted with basic auth; the SID comes back."""
    result = provider.send(text())

    assert result.ok, result.error
    (created,) = twilio.created
    assert result.provider_id == created["sid"]
    assert created["sid"].startswith("SM") and created["status"] == "queued"
    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.form() == {
        "To": RESIDENT,
        "From": AGENCY,
        "Body": "Shelter in place near 5th & Pine.",
        "StatusCallback": "https://police.example/notify/sms/status",
    }


@pytest.mark.parametrize(
    ("to", "code", "gone"),
    [("+15005550004", 21610, True), ("+15005550001", 21211, False),
     ("+15005550009", 21614, False)],
)  # fmt: skip
def test_twilio_refusals_are_permanent(provider: TwilioSms, to: str, code: int, gone: bool) -> None:
    """A recipient who replied STOP is gone; an invalid number is refused for good."""
    result = provider.send(text(to))

    assert (result.ok, result.retryable, result.gone) == (False, False, gone)
    assert f"error {code}" in result.error
    assert f"https://www.twilio.com/docs/errors/{code}" in result.error


def test_rate_limit_is_retryable(twilio: TwilioServer, provider: TwilioSms) -> None:
    twilio.rate_limited = True
    result = provider.send(text())

    assert (result.ok, result.retryable, result.gone) == (False, True, False)
    assert result.retry_after == 1
    assert "20429" in result.error


def test_outage_is_retryable(twilio: TwilioServer, provider: TwilioSms) -> None:
    twilio.outage = True
    result = provider.send(text())

    assert (result.ok, result.retryable) == (False, True)
    assert "HTTP 503" in result.error


def test_wrong_credentials_say_so(twilio: TwilioServer) -> None:
    with TwilioSms(SID, "wrong-token", AGENCY, base_url=twilio.url) as sms:
        result = sms.send(text())

    assert (result.ok, result.retryable, result.gone) == (False, False, False)
    assert "20003" in result.error and "auth token" in result.error


def test_unreachable_twilio_is_retryable() -> None:
    sms = TwilioSms(SID, TOKEN, AGENCY, base_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    result = sms.send(text())
    sms.close()

    assert (result.ok, result.retryable) == (False, True)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (text(to="3145550123"), "E.164"),
        (text(to="+1 314 555 0123"), "E.164"),
        (text(body=""), "empty"),
        (text(body="a" * 1601), "at most 1600"),
    ],
)
def test_bad_messages_are_refused_before_sending(
    twilio: TwilioServer, provider: TwilioSms, message: OutboundMessage, error: str
) -> None:
    result = provider.send(message)

    assert not result.ok and not result.retryable
    assert error in result.error
    assert twilio.requests == []


# --- inbound texts ---------------------------------------------------------------------

# Twilio's documented request-validation example.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signature_matches_twilio_documented_example() -> None:
    sms = TwilioSms(SID, "12345", AGENCY)

    assert twilio_signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert sms.verify_inbound(DOC_URL, DOC_PARAMS, DOC_SIGNATURE)
    assert not sms.verify_inbound(DOC_URL, {**DOC_PARAMS, "Digits": "9999"}, DOC_SIGNATURE)
    assert not sms.verify_inbound(DOC_URL + "&baz=3", DOC_PARAMS, DOC_SIGNATURE)
    assert not sms.verify_inbound(DOC_URL, DOC_PARAMS, "")
    assert not TwilioSms(SID, "54321", AGENCY).verify_inbound(DOC_URL, DOC_PARAMS, DOC_SIGNATURE)


def test_signature_with_repeated_parameters() -> None:
    """Repeated form fields count each distinct value once, in order (Twilio's vector)."""
    params = QueryDict("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234")

    assert TwilioSms(SID, "12345", AGENCY).verify_inbound(
        DOC_URL, params, "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    )


def test_signature_over_url_with_or_without_port() -> None:
    """As Twilio's own validators do, a URL matches with or without its port."""
    params = {"Body": "STOP", "From": RESIDENT}
    signature = twilio_signature(TOKEN, "https://police.example/sms", params)
    sms = TwilioSms(SID, TOKEN, AGENCY)

    assert sms.verify_inbound("https://police.example:443/sms", params, signature)
    assert sms.verify_inbound("https://police.example/sms", params, signature)
    assert not sms.verify_inbound("https://police.example/sms/", params, signature)
    assert not sms.verify_inbound("http://police.example/sms", params, signature)


class AgencySmsWebhook(LoopbackHttpServer):
    """The agency's inbound-SMS endpoint: verify, read, answer with TwiML."""

    def __init__(self, provider: TwilioSms) -> None:
        super().__init__()
        self.provider = provider
        self.inbound: list[InboundSms] = []

    def answer(self, request: RecordedRequest) -> Answer:
        params = request.form()
        url = self.url + request.path
        if not self.provider.verify_inbound(url, params, request.header("X-Twilio-Signature")):
            return Answer(403, b"Bad signature")
        inbound = twilio_inbound(params)
        self.inbound.append(inbound)
        reply = {"STOP": "You are unsubscribed.", "HELP": "Metro Police alerts: help <here>"}
        xml = twiml_message(reply.get(sms_keyword(inbound.body) or "", ""))
        return Answer(200, xml.encode(), {"Content-Type": "text/xml"})


def test_inbound_text_posted_by_twilio_is_verified_and_answered(twilio: TwilioServer) -> None:
    """Twilio posts a resident's HELP; the agency verifies it and replies in TwiML."""
    provider = TwilioSms(SID, TOKEN, AGENCY)
    with AgencySmsWebhook(provider) as agency:
        response = twilio.send_inbound(
            agency.url + "/sms/inbound", from_number=RESIDENT, to_number=AGENCY, body=" help "
        )

    assert response.status_code == 200
    reply = parse(response.content)
    assert reply.tag == "Response"
    assert reply.findtext("Message") == "Metro Police alerts: help <here>"
    (inbound,) = agency.inbound
    assert (inbound.from_number, inbound.to_number, inbound.body) == (RESIDENT, AGENCY, " help ")
    assert inbound.provider_id.startswith("SM")


def test_forged_inbound_text_is_refused(twilio: TwilioServer) -> None:
    """A request whose body was changed after Twilio signed it gets 403."""
    provider = TwilioSms(SID, TOKEN, AGENCY)
    with AgencySmsWebhook(provider) as agency:
        url = agency.url + "/sms/inbound"
        params = {"From": RESIDENT, "To": AGENCY, "Body": "START", "MessageSid": "SM1"}
        signature = twilio_signature(TOKEN, url, params)
        forged = {**params, "From": "+13145550999"}
        response = requests.post(
            url, data=forged, headers={"X-Twilio-Signature": signature}, timeout=5
        )

    assert response.status_code == 403
    assert agency.inbound == []


def test_twilio_inbound_needs_from_to_and_sid() -> None:
    with pytest.raises(ChannelError, match="no From, MessageSid"):
        twilio_inbound({"To": AGENCY, "Body": "STOP"})
    assert twilio_inbound({"From": RESIDENT, "To": AGENCY, "SmsSid": "SM9"}) == InboundSms(
        RESIDENT, AGENCY, "", "SM9"
    )


def parse(xml: str | bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml, parser)


def test_twiml_reply_is_escaped_text() -> None:
    """Markup in a reply is sent as text, and characters XML cannot carry are dropped."""
    xml = twiml_message('<script>alert("x")</script> & \x07bell')

    assert "<script>" not in xml
    assert parse(xml).findtext("Message") == '<script>alert("x")</script> & bell'
    assert parse(twiml_message("")).find("Message") is None
