"""The resident's pages: sign in by an e-mailed link, the community home, joining one's
neighbourhood and entering the postcard code.

None of these pages is cached (they depend on who asks); the sign-in link page sends no
referrer elsewhere, since its address holds the token.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from watchhouse.community.auth import (
    current_resident,
    resident_required,
    resident_sign_in,
    resident_sign_out,
)
from watchhouse.community.models import MembershipStatus
from watchhouse.community.selectors.residents import resident_memberships
from watchhouse.community.services import residents as services
from watchhouse.core.errors import InvalidInputError


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    resident = current_resident(request)
    memberships = list(resident_memberships(resident)) if resident is not None else []
    return render(
        request,
        "community/residents/home.html",
        {
            "resident": resident,
            "memberships": memberships,
            "verified": [m for m in memberships if m.status == MembershipStatus.VERIFIED],
            "awaiting_postcard": any(
                m.status == MembershipStatus.PENDING and m.postcard_batch_id for m in memberships
            ),
        },
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    next_path = services.safe_next(request.POST.get("next") or request.GET.get("next", ""))
    context: dict[str, object] = {"next": next_path, "email": ""}
    if request.method != "POST":
        return render(request, "community/residents/sign_in.html", context)
    email = request.POST.get("email", "")
    context["email"] = email[:254]
    try:
        services.signin_link_request(
            email=email, next_path=next_path, client=_client(request), language=get_language()
        )
    except services.SignInThrottledError as exc:
        context["error"] = str(exc)
        return render(request, "community/residents/sign_in.html", context, status=429)
    except InvalidInputError as exc:
        context["error"] = str(exc)
        return render(request, "community/residents/sign_in.html", context, status=400)
    return render(request, "community/residents/sign_in_sent.html", context)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (mail scanners open links; only a person presses the button);
    POST uses the link."""
    next_path = services.safe_next(request.GET.get("next", ""))
    state = services.signin_link_state(token)
    context: dict[str, object] = {"next": next_path, "state": state, "token": token}
    if not state.usable:
        return _no_referrer(
            render(request, "community/residents/sign_in_refused.html", context, status=400)
        )
    if request.method != "POST":
        return _no_referrer(render(request, "community/residents/sign_in_confirm.html", context))
    display_name = request.POST.get("display_name", "")
    context["display_name"] = display_name[:60]
    try:
        resident = services.signin_link_consume(
            token=token, display_name=display_name, language=get_language()
        )
    except services.SignInLinkError as exc:
        context["problem"] = str(exc)
        return _no_referrer(
            render(request, "community/residents/sign_in_refused.html", context, status=400)
        )
    except InvalidInputError as exc:
        context["error"] = str(exc)
        return _no_referrer(
            render(request, "community/residents/sign_in_confirm.html", context, status=400)
        )
    resident_sign_in(request, resident)
    messages.success(request, _("You are signed in as %(name)s.") % {"name": resident})
    return redirect(next_path or reverse("community:home"))


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # Same-origin, not no-referrer: browsers then post forms with "Origin: null", which the
    # CSRF check refuses.
    response["Referrer-Policy"] = "same-origin"
    return response


@require_POST
def sign_out(request: HttpRequest) -> HttpResponseRedirect:
    resident_sign_out(request)
    return redirect("community:home")


@never_cache
@resident_required
@require_http_methods(["GET", "HEAD", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    resident = current_resident(request)
    assert resident is not None  # noqa: S101 - resident_required let the request through
    context: dict[str, object] = {"address": ""}
    if request.method == "POST":
        address = request.POST.get("address", "")
        context["address"] = address[:200]
        try:
            membership = services.membership_request(resident=resident, address=address)
        except InvalidInputError as exc:
            context["error"] = str(exc)
            return render(request, "community/residents/join.html", context, status=400)
        messages.success(
            request,
            _(
                "You asked to join %(area)s. The department will mail a postcard with a code "
                "to your address, or verify you another way."
            )
            % {"area": membership.area.name},
        )
        return redirect("community:home")
    return render(request, "community/residents/join.html", context)


@never_cache
@resident_required
@require_http_methods(["GET", "HEAD", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    resident = current_resident(request)
    assert resident is not None  # noqa: S101 - resident_required let the request through
    context: dict[str, object] = {}
    if request.method == "POST":
        try:
            membership = services.membership_verify_code(
                resident=resident, code=request.POST.get("code", "")[:40]
            )
        except InvalidInputError as exc:
            context["error"] = str(exc)
            return render(request, "community/residents/verify.html", context, status=400)
        messages.success(
            request,
            _("You are a verified member of %(area)s.") % {"area": membership.area.name},
        )
        return redirect("community:home")
    return render(request, "community/residents/verify.html", context)
