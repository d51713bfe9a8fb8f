"""Staff, roles and API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from watchhouse.accounts.models import ApiToken, User
from watchhouse.accounts.roles import Role
from watchhouse.accounts.selectors import staff_list as select_staff
from watchhouse.accounts.services import api_token_create, api_token_revoke, staff_set_roles
from watchhouse.console.access import acting_user, staff_page
from watchhouse.core.errors import InvalidInputError


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class TokenForm(forms.Form):
    name = forms.CharField(label=_("What uses this token"), max_length=100)
    days = forms.IntegerField(
        label=_("Days until it expires"), min_value=1, max_value=366, initial=90
    )


@staff_page(Role.ADMIN)
def staff_list(request: HttpRequest) -> HttpResponse:
    return render(request, "console/accounts/staff_list.html", {"staff": select_staff()})


@staff_page(Role.ADMIN)
def staff_roles(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id, is_staff=True)
    form = RolesForm(request.POST or None, initial={"roles": sorted(member.role_set)})
    if request.method == "POST" and form.is_valid():
        staff_set_roles(actor=acting_user(request), user=member, roles=form.cleaned_data["roles"])
        messages.success(request, _("Roles of %(name)s saved.") % {"name": member.username})
        return redirect("console:staff")
    return render(request, "console/accounts/staff_roles.html", {"member": member, "form": form})


@staff_page()
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_key = api_token_create(
                actor=acting_user(request),
                user=acting_user(request),
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
            )
        except InvalidInputError as exc:
            form.add_error(None, str(exc))
    tokens = ApiToken.objects.filter(user=acting_user(request)).order_by("-created_at")
    return render(
        request,
        "console/accounts/tokens.html",
        {"form": form, "tokens": tokens, "new_key": new_key},
        status=400 if form.errors else 200,
    )


@require_POST
@staff_page()
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=acting_user(request))
    api_token_revoke(actor=acting_user(request), token=token)
    messages.success(request, _("Token revoked."))
    return redirect("console:tokens")
