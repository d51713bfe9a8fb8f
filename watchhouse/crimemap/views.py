"""The console's crime section: import formats with their offence tables, and import reports.

Formats and reports hold no exact location (rejection details name ids and reasons, never
addresses), so every staff member may read them.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from watchhouse.console.access import acting_user, staff_page
from watchhouse.core.errors import InvalidInputError, WatchhouseError
from watchhouse.crimemap import selectors
from watchhouse.crimemap.categories import Category
from watchhouse.crimemap.feeds import upload_import
from watchhouse.crimemap.formats import BUILT_IN, MAPPING_FORMAT, format_list
from watchhouse.crimemap.models import ImportReport
from watchhouse.crimemap.privacy import privacy_policy
from watchhouse.crimemap.services import IMPORT_ROLES


class ImportForm(forms.Form):
    """An incident export uploaded in the console."""

    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[(name, name) for name in BUILT_IN]
        + [(MAPPING_FORMAT, gettext_lazy("Another layout, with a mapping file"))],
    )
    file = forms.FileField(label=gettext_lazy("Export (.csv or .parquet)"))
    mapping = forms.FileField(label=gettext_lazy("Mapping file (.toml)"), required=False)
    jurisdiction = forms.CharField(
        label=gettext_lazy("Jurisdiction"), max_length=200, required=False,
        help_text=gettext_lazy("Needed only when Watchhouse serves several."),
    )  # fmt: skip
    since = forms.DateField(
        label=gettext_lazy("Only incidents from"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    withdraw_missing = forms.BooleanField(
        label=gettext_lazy("This is a full export: withdraw incidents it no longer holds"),
        required=False,
    )


@staff_page()
def crime_home(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.import_report_list(), 50).get_page(request.GET.get("page"))
    policy = privacy_policy()
    return render(
        request,
        "console/crime/home.html",
        {
            "formats": format_list(),
            "page": page,
            "categories": [
                (value, label, value in policy.withheld_categories)
                for value, label in Category.choices
            ],
            "policy": policy,
        },
    )


@staff_page()
def crime_format(request: HttpRequest, name: str) -> HttpResponse:
    try:
        mapping = selectors.format_detail(name)
    except InvalidInputError as exc:
        raise Http404(str(exc)) from exc
    return render(
        request,
        "console/crime/format.html",
        {"mapping": mapping, "rows": selectors.format_offence_table(mapping)},
    )


@staff_page()
def crime_report(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        report = selectors.import_report_get(pk=pk)
    except ImportReport.DoesNotExist as exc:
        raise Http404("No such import report.") from exc
    return render(request, "console/crime/report.html", {"report": report})


@staff_page(*IMPORT_ROLES)
def crime_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = upload_import(
                actor=acting_user(request), upload=data["file"], format=data["format"],
                mapping=data.get("mapping"), jurisdiction=data.get("jurisdiction"),
                since=data.get("since"), withdraw_missing=data["withdraw_missing"],
            )  # fmt: skip
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Imported: %(summary)s") % {"summary": report.summary})
            return redirect("crimemap:report", pk=report.pk)
    return render(
        request, "console/crime/import.html", {"form": form},
        status=400 if form.errors else 200,
    )  # fmt: skip
