"""Staff sign-in: password first, then the authenticator code."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchhouse.accounts.models import User
from watchhouse.accounts.services import login_record

PENDING_KEY = "watchhouse_pending_user"
NEXT_KEY = "watchhouse_login_next"


class TotpForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Check the user name and password; ask for the second factor when the member has one."""
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
        if device is not None:
            request.session.cycle_key()
            request.session[PENDING_KEY] = user.pk
            request.session[NEXT_KEY] = next_url
            return redirect("accounts:verify")
        if settings.WATCHHOUSE_MFA_REQUIRED:
            form.add_error(
                None,
                _(
                    "Staff must sign in with an authenticator app. Ask an administrator to set "
                    "one up for you (watchhouse createstaff or the console)."
                ),
            )
        else:
            auth.login(request, user)
            login_record(user=user, succeeded=True, step="password")
            return redirect(next_url)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": request.GET.get("next", "")},
        status=400 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    """Check the authenticator code of the member whose password was just accepted."""
    user_id = request.session.get(PENDING_KEY)
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        return redirect("accounts:login")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return redirect("accounts:login")
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, why = device.verify_is_allowed()
        if not allowed:
            form.add_error(
                "token",
                _("Too many wrong codes. Wait a little and try again with a fresh code."),
            )
        elif device.verify_token(form.cleaned_data["token"]):
            next_url = request.session.pop(NEXT_KEY, reverse(settings.LOGIN_REDIRECT_URL))
            request.session.pop(PENDING_KEY, None)
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, device)
            login_record(user=user, succeeded=True, step="totp")
            return redirect(next_url)
        else:
            login_record(user=user, succeeded=False, step="totp")
            form.add_error("token", _("That code is not right. Codes change every 30 seconds."))
    return render(
        request, "accounts/verify.html", {"form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    return redirect("web:home")
