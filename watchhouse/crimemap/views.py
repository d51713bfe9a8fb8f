"""The console's crime section: import formats with their offence tables, and import reports.

Formats and reports hold no exact location (rejection details name ids and reasons, never
addresses), so every staff member may read them.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from watchhouse.console.access import staff_page
from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap import selectors
from watchhouse.crimemap.categories import Category
from watchhouse.crimemap.formats import format_list
from watchhouse.crimemap.models import ImportReport
from watchhouse.crimemap.privacy import privacy_policy


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
