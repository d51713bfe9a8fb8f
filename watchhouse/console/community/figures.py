"""The community figures page: engagement, conversation, moderation, rumors and reports over
the last 7, 30 or 90 days."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from watchhouse.community.policy import FIGURES_ROLES
from watchhouse.community.selectors.figures import PERIODS, community_figures
from watchhouse.console.access import staff_page


@require_safe
@staff_page(*FIGURES_ROLES)
def figures(request: HttpRequest) -> HttpResponse:
    """The figures of the chosen period (``?days=7|30|90``, 30 by default)."""
    raw = request.GET.get("days", "")
    days = int(raw) if raw.isdigit() and int(raw) in PERIODS else 30
    figures = community_figures(days=days)
    post_rows = [(p, [p.views.get(c, 0) for c in figures.channels]) for p in figures.posts]
    spans = {
        "reply": _span(figures.median_reply),
        "rumor": _span(figures.median_rumor_answer),
        "close": _span(figures.median_report_close),
    }
    return render(
        request,
        "console/community/figures/figures.html",
        {"figures": figures, "periods": PERIODS, "post_rows": post_rows, "spans": spans},
    )


def _span(value: timedelta | None) -> str:
    """A duration in hours and minutes ("—" when there is none)."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
