"""The audit log for supervisors: filter, page, verify."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from watchhouse.accounts.roles import Role
from watchhouse.audit.selectors import audit_chain_verify, audit_entry_list
from watchhouse.console.access import staff_page


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False)
    action = forms.CharField(label=_("Action starts with"), required=False)
    object_type = forms.CharField(label=_("Object type"), required=False)
    object_id = forms.CharField(label=_("Object id"), required=False)
    since = forms.DateTimeField(label=_("From"), required=False)
    until = forms.DateTimeField(label=_("Until"), required=False)
    text = forms.CharField(label=_("Text"), required=False)


@staff_page(Role.SUPERVISOR, Role.ADMIN)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = audit_entry_list(**{k: v for k, v in filters.items() if v})
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "console/audit/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "status": 400 if form.errors else 200,
        },
        status=400 if form.errors else 200,
    )


@require_POST
@staff_page(Role.SUPERVISOR, Role.ADMIN)
def audit_verify(request: HttpRequest) -> HttpResponse:
    report = audit_chain_verify()
    return render(request, "console/audit/verify.html", {"report": report})
