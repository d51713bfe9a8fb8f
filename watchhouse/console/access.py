"""Who may open a console page: signed-in staff (with the second factor where required)
holding one of the page's roles."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from watchhouse.accounts.roles import Role


def staff_page(*roles: Role) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Let a view through only for staff holding one of ``roles`` (any staff if none given)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            verified = not settings.WATCHHOUSE_MFA_REQUIRED or user.is_verified()  # type: ignore[union-attr]
            if not user.is_authenticated or not user.is_staff or not verified:
                return redirect_to_login(request.get_full_path())
            if roles and not user.has_any_role(*roles):  # type: ignore[union-attr]
                return render(
                    request, "console/forbidden.html",
                    {"needed": [Role(r).label for r in roles]}, status=403,
                )
            return view(request, *args, **kwargs)

        wrapped.console_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator
