"""Django admin, for superusers only, behind the staff sign-in with its second factor."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from watchhouse.accounts.roles import second_factor_ok


class SuperuserAdminSite(admin.AdminSite):
    site_header = "Watchhouse administration (superusers)"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_superuser):
            return False
        return second_factor_ok(user)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        next_url = request.GET.get("next", reverse("admin:index"))
        return HttpResponseRedirect(reverse("accounts:login") + "?" + urlencode({"next": next_url}))


class WatchhouseAdminConfig(AdminConfig):
    default_site = "watchhouse.config.admin.SuperuserAdminSite"
