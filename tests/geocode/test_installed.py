"""The geocode app is installed and routed (the other tests here are skipped otherwise)."""

from __future__ import annotations

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from tests.conftest import need


def test_geocode_app_is_installed_and_routed():
    try:
        routed = bool(reverse("geocode:search"))
    except NoReverseMatch:
        routed = False
    need(
        apps.is_installed("watchhouse.geocode") and routed,
        "add watchhouse.geocode to INSTALLED_APPS and include watchhouse.geocode.urls",
    )
    assert reverse("geocode:search") == "/geocode/search"
