"""What each channel carries for an alert, and handing it to the channel adapters."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import requests
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone, translation
from django.utils.translation import gettext

from watchhouse.notify.channels.base import ChannelError, OutboundMessage, SendResult
from watchhouse.notify.links import manage_url, unsubscribe_url

if TYPE_CHECKING:
    from watchhouse.alerts.models import Alert, AlertInfo
    from watchhouse.notify.models import Delivery, Endpoint


def alert_info_for(alert: Alert, language: str) -> AlertInfo:
    """The alert's texts in ``language``, or in its first language when it has none."""
    infos = list(alert.infos.all())
    return next((i for i in infos if i.language == language), infos[0])


def _texts(alert: Alert, language: str) -> dict[str, Any]:
    """What every message of the alert in ``language`` shares, whoever it goes to."""
    info = alert_info_for(alert, language)
    with translation.override(info.language):
        label = alert.get_category_display()
        if alert.msg_type != "Alert":
            label = f"{label} · {alert.get_msg_type_display()}"
        body = [info.headline, "", info.description]
        if info.instruction:
            body += ["", info.instruction]
        body += [
            "",
            f"{gettext('Details')}: {settings.SITE_URL}{alert.get_absolute_url()}",
            f"{gettext('Expires')}: {timezone.localtime(alert.expires):%Y-%m-%d %H:%M %Z}",
            "",
            "-- ",
            settings.WATCHHOUSE_AGENCY_NAME,
            f"{gettext('Change or stop these alerts')}: ",
        ]
    subject = f"[{label}] {info.headline}"
    link = f"{settings.SITE_URL}{alert.get_absolute_url()}"
    return {
        "info": info,
        "subject": subject,
        "link": link,
        # The e-mail text up to the resident's own signed link, which ends it.
        "email_text": "\n".join(body),
        "push": {
            "title": subject,
            "body": info.wea_long or info.description[:300],
            "url": link,
            "tag": alert.root.identifier,
        },
        "webhook": {
            "identifier": alert.identifier,
            "msgType": alert.msg_type,
            "references": alert.references.identifier if alert.references else "",
            "category": alert.category,
            "language": info.language,
            "headline": info.headline,
            "description": info.description,
            "instruction": info.instruction,
            "expires": alert.expires.isoformat(),
            "url": link,
            "cap": f"{settings.SITE_URL}/alerts/{alert.pk}.cap",
        },
    }


def unsubscribe_headers(url: str) -> dict[str, str]:
    """``List-Unsubscribe`` for a resident's signed link, one-click where the link is https."""
    headers = {"List-Unsubscribe": f"<{url}>"}
    # RFC 8058 one-click needs https; mail providers ignore it otherwise.
    if url.startswith("https://"):
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def outbound_message(
    delivery: Delivery,
    endpoint: Endpoint,
    alert: Alert,
    public_id: object,
    *,
    parts: dict[str, Any] | None = None,
) -> OutboundMessage:
    """The message one delivery sends.

    ``parts``, a dict kept across the deliveries of one alert, holds what its messages in
    each language share, so only the resident's signed links are made per message.
    """
    texts = parts.get(delivery.language) if parts is not None else None
    if texts is None:
        texts = _texts(alert, delivery.language)
        if parts is not None:
            parts[delivery.language] = texts
    common: dict[str, Any] = {
        "channel": endpoint.channel,
        "address": endpoint.address,
        "idempotency_key": delivery.idempotency_key,
    }
    if endpoint.channel == "email":
        return OutboundMessage(
            subject=texts["subject"],
            text=texts["email_text"] + manage_url(public_id),
            headers=unsubscribe_headers(unsubscribe_url(public_id)),
            **common,
        )
    if endpoint.channel == "sms":
        info = texts["info"]
        return OutboundMessage(text=(info.sms_text or info.headline), **common)
    if endpoint.channel == "push":
        return OutboundMessage(payload=dict(texts["push"]), push_keys=dict(endpoint.keys), **common)
    payload = {**texts["webhook"], "manage": manage_url(public_id)}
    return OutboundMessage(payload=payload, secret=str(endpoint.keys.get("secret", "")), **common)


def _session() -> requests.Session:
    """One HTTP session for a batch, kept open across its messages.

    ``requests`` reads proxy, netrc and CA settings from the environment again for every
    request, a large share of the cost of a post on a fast network. When no proxy is set,
    the session stops doing that and takes the CA bundle from the environment once.
    """
    session = requests.Session()
    if not urllib.request.getproxies():
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


class Sender(Protocol):
    def __call__(self, message: OutboundMessage) -> SendResult: ...


@contextmanager
def channel_sender(channel: str, *, alert: Alert) -> Iterator[Sender]:
    """A function that sends one message on ``channel``, with its connection held open."""
    if channel == "email":
        from watchhouse.notify.channels.email import email_send_batch

        connection: BaseEmailBackend | None = get_connection(fail_silently=False)
        try:
            connection.open()  # type: ignore[union-attr]
        except OSError:
            connection = None  # email_send_batch reports the server as unreachable

        def send_email(message: OutboundMessage) -> SendResult:
            return email_send_batch([message], connection=connection)[0]

        try:
            yield send_email
        finally:
            if connection is not None:
                connection.close()
    elif channel == "push":
        from watchhouse.notify.channels.webpush import push_send

        private_key = str(getattr(settings, "WATCHHOUSE_VAPID_PRIVATE_KEY", ""))
        subject = str(getattr(settings, "WATCHHOUSE_VAPID_SUBJECT", "")) or (
            f"mailto:{settings.DEFAULT_FROM_EMAIL}"
        )
        ttl = max(int((alert.expires - timezone.now()).total_seconds()), 0)
        urgency = "high" if alert.category == "alert" else "normal"
        with _session() as session:

            def send_push(message: OutboundMessage) -> SendResult:
                if not private_key:
                    raise ChannelError("WATCHHOUSE_VAPID_PRIVATE_KEY is not set.")
                return push_send(
                    message, vapid_private_key=private_key, vapid_subject=subject,
                    ttl=ttl, urgency=urgency, session=session,
                )  # fmt: skip

            yield send_push
    elif channel == "sms":
        from watchhouse.notify.channels.sms import TwilioSms

        sid = str(getattr(settings, "TWILIO_ACCOUNT_SID", ""))
        if not sid:

            def no_sms(message: OutboundMessage) -> SendResult:
                raise ChannelError("TWILIO_ACCOUNT_SID is not set.")

            yield no_sms
            return
        provider = TwilioSms(
            sid,
            str(getattr(settings, "TWILIO_AUTH_TOKEN", "")),
            str(getattr(settings, "TWILIO_FROM_NUMBER", "")),
            base_url=str(getattr(settings, "TWILIO_BASE_URL", "https://api.twilio.com")),
        )
        try:
            yield provider.send
        finally:
            provider.close()
    elif channel == "webhook":
        from watchhouse.notify.channels.webhook import webhook_send

        with _session() as session:
            yield lambda message: webhook_send(message, session=session)
    else:
        raise ChannelError(f"Unknown channel {channel!r}.")
