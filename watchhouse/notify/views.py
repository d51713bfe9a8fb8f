"""Subscribing without an account, confirming, managing and leaving; the SMS webhook;
the Web Push service worker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from watchhouse.core.errors import InvalidInputError
from watchhouse.notify import selectors, services
from watchhouse.notify.forms import ChoicesForm, SubscribeForm
from watchhouse.notify.links import manage_token_read, manage_url
from watchhouse.notify.models import Channel, PlaceKind, SubscriptionStatus
from watchhouse.notify.ratelimit import client_hit

if TYPE_CHECKING:
    from watchhouse.notify.channels.sms import InboundSms

SERVICE_WORKER = Path(__file__).parent / "static" / "notify" / "sw.js"


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def _rate_ok(request: HttpRequest) -> bool:
    limit = int(getattr(settings, "WATCHHOUSE_SUBSCRIBE_RATE_LIMIT", 10))
    window = int(getattr(settings, "WATCHHOUSE_SUBSCRIBE_RATE_WINDOW_SECONDS", 3600))
    return client_hit("subscribe", _client(request), limit=limit, window_seconds=window)


def _vapid_public_key() -> str:
    return str(getattr(settings, "WATCHHOUSE_VAPID_PUBLIC_KEY", ""))


def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not _rate_ok(request):
            return render(request, "notify/too_many.html", status=429)
        if form.is_valid():
            try:
                subscription, endpoints = services.subscription_create(
                    choices=form.choices(),
                    email=form.cleaned_data.get("email") or "",
                    push=form.cleaned_data.get("push_subscription"),
                    webhook_url=form.cleaned_data.get("webhook_url") or "",
                )
            except InvalidInputError as exc:
                form.add_error(None, str(exc))
            else:
                return render(
                    request,
                    "notify/subscribed.html",
                    {
                        "subscription": subscription,
                        "pending_email": any(
                            e.channel == Channel.EMAIL and e.confirmed_at is None for e in endpoints
                        ),
                        "webhook": next(
                            (e for e in endpoints if e.channel == Channel.WEBHOOK), None
                        ),
                        "manage_url": manage_url(subscription.public_id)
                        if subscription.status == SubscriptionStatus.ACTIVE
                        else "",
                    },
                )
        status = 400
    return render(
        request,
        "notify/subscribe.html",
        {"form": form, "vapid_public_key": _vapid_public_key()},
        status=status,
    )


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (link scanners must not confirm for people); POST confirms."""
    if request.method == "POST":
        try:
            endpoint = services.endpoint_confirm(token=token)
        except InvalidInputError as exc:
            return render(request, "notify/link_error.html", {"error": str(exc)}, status=400)
        public_id = endpoint.subscription.public_id
        return render(request, "notify/confirmed.html", {"manage_url": manage_url(public_id)})
    return render(request, "notify/confirm.html", {"token": token})


def _initial(subscription: object) -> dict[str, object]:
    places = list(subscription.places.all())  # type: ignore[attr-defined]
    point = next((p for p in places if p.kind == PlaceKind.POINT), None)
    initial: dict[str, object] = {
        "areas": [p.area_id for p in places if p.kind == PlaceKind.AREA],
        "everywhere": any(p.kind == PlaceKind.JURISDICTION for p in places),
        "categories": [
            c
            for c in services.CATEGORIES
            if subscription.wants(c)  # type: ignore[attr-defined]
        ],
        "language": subscription.language,  # type: ignore[attr-defined]
        "digest_period": subscription.digest_period,  # type: ignore[attr-defined]
        "quiet_start": subscription.quiet_start,  # type: ignore[attr-defined]
        "quiet_end": subscription.quiet_end,  # type: ignore[attr-defined]
    }
    if point is not None and point.radius_m:
        initial.update(lat=point.lat, lon=point.lon, radius=f"{point.radius_m / 1609.344:g}")
    return initial


def manage(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscription = selectors.subscription_get(manage_token_read(token))
    except (InvalidInputError, ValueError, selectors.Subscription.DoesNotExist) as exc:
        message = str(exc) if isinstance(exc, InvalidInputError) else "No such subscription."
        return render(request, "notify/link_error.html", {"error": message}, status=400)
    form = ChoicesForm(request.POST or None, initial=_initial(subscription))
    saved = False
    if request.method == "POST" and form.is_valid():
        try:
            services.subscription_change(token=token, choices=form.choices())
        except InvalidInputError as exc:
            form.add_error(None, str(exc))
        else:
            saved = True
            subscription = selectors.subscription_get(str(subscription.public_id))
    return render(
        request,
        "notify/manage.html",
        {
            "subscription": subscription,
            "form": form,
            "saved": saved,
            "token": token,
            "endpoints": [
                (e.get_channel_display(), e.is_live) for e in subscription.endpoints.all()
            ],
        },
        status=400 if form.errors else 200,
    )


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks; POST unsubscribes, with or without a form (RFC 8058 one-click), so it is
    exempt from CSRF: the signed token is what authorises it."""
    if request.method != "POST":
        try:
            manage_token_read(token)
        except InvalidInputError as exc:
            return render(request, "notify/link_error.html", {"error": str(exc)}, status=400)
        return render(request, "notify/unsubscribe.html", {"token": token})
    try:
        services.subscription_unsubscribe(token=token)
    except InvalidInputError as exc:
        return render(request, "notify/link_error.html", {"error": str(exc)}, status=400)
    return render(request, "notify/unsubscribed.html")


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """Twilio's inbound-message webhook; only requests Twilio signed are acted on."""
    from watchhouse.notify.channels.sms import TwilioSms, twilio_inbound, twiml_message

    sid = str(getattr(settings, "TWILIO_ACCOUNT_SID", ""))
    token = str(getattr(settings, "TWILIO_AUTH_TOKEN", ""))
    if not sid or not token:
        return HttpResponse("SMS is not configured.", status=503, content_type="text/plain")
    provider = TwilioSms(sid, token, str(getattr(settings, "TWILIO_FROM_NUMBER", "")))
    try:
        url = f"{settings.SITE_URL}{reverse('notify:sms_inbound')}"
        params = {k: request.POST.get(k, "") for k in request.POST}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not provider.verify_inbound(url, params, signature):
            return HttpResponse("Bad signature.", status=403, content_type="text/plain")
    finally:
        provider.close()
    try:
        inbound = twilio_inbound(params)
        # Tips first: a tip text, or a text from a number with an open tip, is answered there.
        tip_reply = _sms_tip_reply(inbound, params)
        if tip_reply is not None:
            return HttpResponse(twiml_message(tip_reply), content_type="application/xml")
        reply = services.sms_inbound_handle(from_number=inbound.from_number, body=inbound.body)
    except InvalidInputError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return HttpResponse(twiml_message(reply), content_type="application/xml")


def _sms_tip_reply(inbound: InboundSms, params: dict[str, str]) -> str | None:
    """The tips' reply to a text, or None when it is not for tips."""
    from watchhouse.core.context import anonymous_request
    from watchhouse.tips.services.inbound import sms_media_fetch, sms_tip_handle

    with anonymous_request():
        return sms_tip_handle(
            from_number=inbound.from_number,
            to_number=inbound.to_number,
            body=inbound.body,
            media=sms_media_fetch(params),
        )


def service_worker(request: HttpRequest) -> HttpResponse:
    """The Web Push service worker, allowed to control the whole site."""
    response = HttpResponse(
        SERVICE_WORKER.read_bytes(), content_type="application/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
