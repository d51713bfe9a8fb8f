"""The public monitoring transparency page: the policy, the kinds of rules in force, monthly
counts and the protected-activity deny-list. Counts only: no rule contents, authors, posts or
case numbers ever reach it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from watchhouse.monitoring.selectors import transparency
from watchhouse.monitoring.services.rules import max_rule_days

# Seconds the figures are reused before they are counted again, and a browser may keep a page.
FIGURES_TTL_S = 300
PAGE_MAX_AGE_S = 300
_FIGURES_KEY = "monitoring:transparency:figures"


def _figures() -> dict[str, Any]:
    figures = cache.get(_FIGURES_KEY)
    if figures is None:
        figures = {
            "months": transparency.transparency_months(12),
            "kinds": transparency.rule_kinds_in_force(),
        }
        cache.set(_FIGURES_KEY, figures, timeout=FIGURES_TTL_S)
    return figures


def _policy() -> dict[str, int]:
    return {
        "rule_max_days": max_rule_days(),
        "review_days": int(settings.WATCHHOUSE_MONITORING_REVIEW_DAYS),
        "closed_retention_days": int(settings.WATCHHOUSE_MONITORING_CLOSED_RETENTION_DAYS),
        "review_years": int(settings.WATCHHOUSE_MONITORING_REVIEW_YEARS),
        "search_max_metres": int(settings.WATCHHOUSE_MONITORING_SEARCH_MAX_METRES),
        "search_max_hours": int(settings.WATCHHOUSE_MONITORING_SEARCH_MAX_HOURS),
    }


@require_safe
def transparency_page(request: HttpRequest) -> HttpResponse:
    """The monitoring policy and its figures, for anyone; the figures are at most
    :data:`FIGURES_TTL_S` seconds old."""
    figures = _figures()
    response = render(
        request,
        "monitoring/transparency.html",
        {
            **figures,
            "policy": _policy(),
            "deny_groups": transparency.deny_list_public(),
        },
    )
    patch_cache_control(response, max_age=PAGE_MAX_AGE_S)
    return response
