"""Django admin, for superusers only, behind the staff sign-in with its second factor."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class SuperuserAdminSite(admin.AdminSite):
    site_header = "Watchhouse administration (superusers)"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_superuser):
            return False
        return not settings.WATCHHOUSE_MFA_REQUIRED or user.is_verified()  # type: ignore[union-attr]

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        next_url = request.GET.get("next", reverse("admin:index"))
        return HttpResponseRedirect(reverse("accounts:login") + "?" + urlencode({"next": next_url}))


class WatchhouseAdminConfig(AdminConfig):
    default_site = "watchhouse.config.admin.SuperuserAdminSite"
