"""The public report form (no script needed) and a report's status page, found by its token.

A client may send :data:`REPORTS_PER_HOUR` reports an hour (counted with ``tips.guard``: a
keyed hash of the address, kept in the cache for the hour, never stored with a report). The
status page shows what the Open311 API shows: nothing about the reporter.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from watchhouse.community.models import ServiceRequest
from watchhouse.community.selectors import reports as selectors
from watchhouse.community.services.reports import DESCRIPTION_MAX, Reporter, report_submit
from watchhouse.core.errors import InvalidInputError
from watchhouse.tips import guard

REPORT_WINDOW = 3600


def reports_per_hour() -> int:
    """Reports one client may send in an hour (``WATCHHOUSE_COMMUNITY_REPORTS_PER_HOUR``)."""
    return int(settings.WATCHHOUSE_COMMUNITY_REPORTS_PER_HOUR)


class ReportForm(forms.Form):
    service = forms.ChoiceField(label=gettext_lazy("What is the problem?"))
    description = forms.CharField(
        label=gettext_lazy("Describe it"),
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    address = forms.CharField(
        label=gettext_lazy("Address or nearest corner"), max_length=300, required=False
    )
    lat = forms.FloatField(label=gettext_lazy("Latitude"), required=False)
    lon = forms.FloatField(label=gettext_lazy("Longitude"), required=False)
    email = forms.EmailField(
        label=gettext_lazy("Your e-mail (optional: to hear when it is dealt with)"),
        required=False,
    )
    name = forms.CharField(
        label=gettext_lazy("Your name (optional)"), max_length=100, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [  # type: ignore[attr-defined]
            (s.code, s.name) for s in selectors.service_list()
        ]


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def report_new(request: HttpRequest) -> HttpResponse:
    """The report form; a report taken leads to its status page."""
    form = ReportForm(request.POST if request.method == "POST" else None)
    error = ""
    status = 200
    if request.method == "POST":
        who = _client(request)
        if guard.over_limit(
            "community-report", who, limit=reports_per_hour(), window_seconds=REPORT_WINDOW
        ):
            error = _("Too many reports from here in the last hour. Please try again later.")
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                report = report_submit(
                    service_code=data["service"],
                    description=data["description"],
                    lat=data["lat"],
                    lon=data["lon"],
                    address=data["address"],
                    reporter=Reporter(email=data["email"], first_name=data["name"]),
                )
            except InvalidInputError as exc:
                error, status = str(exc), 400
            else:
                guard.count("community-report", who, window_seconds=REPORT_WINDOW)
                return redirect("community:report_status", token=report.token)
        else:
            status = 400
    return render(
        request, "community/reports/new.html", {"form": form, "error": error}, status=status
    )


@never_cache
@require_safe
def report_status(request: HttpRequest, token: str) -> HttpResponse:
    """Where a report stands: its status, the department's notes and dates."""
    try:
        report = selectors.report_by_token(token)
    except ServiceRequest.DoesNotExist:
        raise Http404("No such report.") from None
    return render(request, "community/reports/status.html", {"report": report})
