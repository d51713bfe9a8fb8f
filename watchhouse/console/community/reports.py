"""Console pages for community reports: the triage list (open first), one report with its
status update form, and the Open311 API keys (a new key is shown once)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from watchhouse.community.models import ApiKey, ReportStatus, ServiceRequest
from watchhouse.community.policy import REPORT_ROLES
from watchhouse.community.selectors import reports as selectors
from watchhouse.community.services import reports as services
from watchhouse.console.access import acting_user, forbidden, staff_page
from watchhouse.core.errors import InvalidInputError, NotPermittedError

PAGE_SIZE = 50


class UpdateForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=ReportStatus.choices)
    status_notes = forms.CharField(
        label=gettext_lazy("Notes (public, and e-mailed to the reporter)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    expected_at = forms.DateTimeField(
        label=gettext_lazy("Expected by"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


@require_http_methods(["GET", "HEAD"])
@staff_page(*REPORT_ROLES)
def report_list(request: HttpRequest) -> HttpResponse:
    """Reports to triage: open ones first, newest first."""
    status = request.GET.get("status", "")
    if status not in ReportStatus.values:
        status = ""
    page = Paginator(selectors.report_triage_list(status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "console/community/reports/list.html",
        {"page": page, "status": status, "statuses": ReportStatus.choices},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(*REPORT_ROLES)
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One report, its reporter's details (staff only) and the status update form."""
    try:
        report = selectors.report_get(pk)
    except ServiceRequest.DoesNotExist:
        raise Http404("No such report.") from None
    initial = {
        "status": report.status,
        "status_notes": report.status_notes,
        "expected_at": report.expected_at,
    }
    form = UpdateForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.report_update(
                    actor=acting_user(request),
                    request=report,
                    status=form.cleaned_data["status"],
                    status_notes=form.cleaned_data["status_notes"],
                    expected_at=form.cleaned_data["expected_at"],
                )
            except NotPermittedError as exc:
                return forbidden(request, exc, REPORT_ROLES)
            except InvalidInputError as exc:
                messages.error(request, str(exc))
                status = 400
            else:
                messages.success(request, _("Report updated."))
                return redirect("console:community_report", pk=report.pk)
        else:
            status = 400
    return render(
        request,
        "console/community/reports/detail.html",
        {
            "report": report,
            "reporter": services.report_reporter_read(actor=acting_user(request), report=report),
            "form": form,
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(*REPORT_ROLES)
def api_keys(request: HttpRequest) -> HttpResponse:
    """Open311 API keys: issue one (shown this once) or revoke one."""
    actor = acting_user(request)
    new_key = ""
    status = 200
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                raw = request.POST.get("revoke", "")
                key = ApiKey.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
                if key is None:
                    raise Http404("No such key.")
                services.api_key_revoke(actor=actor, api_key=key)
                messages.success(request, _("Key revoked: it no longer works."))
                return redirect("console:community_api_keys")
            _key, new_key = services.api_key_create(actor=actor, name=request.POST.get("name", ""))
        except NotPermittedError as exc:
            return forbidden(request, exc, REPORT_ROLES)
        except InvalidInputError as exc:
            messages.error(request, str(exc))
            status = 400
    response = render(
        request,
        "console/community/reports/api_keys.html",
        {"keys": selectors.api_key_list(), "new_key": new_key},
        status=status,
    )
    # The new key is in this page: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response
