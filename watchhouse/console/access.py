"""Who may open a console page: signed-in staff (with the second factor where required)
holding one of the page's roles."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role, second_factor_ok
from watchhouse.core.errors import NotPermittedError, WatchhouseError


def staff_page(
    *roles: Role,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Let a view through only for staff holding one of ``roles`` (any staff if none given)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated or not user.is_staff or not second_factor_ok(user):
                return redirect_to_login(request.get_full_path())
            if roles and not acting_user(request).has_any_role(*roles):
                return render(
                    request,
                    "console/forbidden.html",
                    {"needed": [Role(r).label for r in roles]},
                    status=403,
                )
            return view(request, *args, **kwargs)

        wrapped.console_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator


def acting_user(request: HttpRequest) -> User:
    """The signed-in staff member of a request that :func:`staff_page` let through."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("acting_user() is only for views behind staff_page().")
    return user


def forbidden(request: HttpRequest, exc: Exception, roles: tuple[Role, ...]) -> HttpResponse:
    """The console's refusal page: the roles an action needs, and why it was refused."""
    return render(
        request,
        "console/forbidden.html",
        {"needed": [Role(r).label for r in roles], "reason": str(exc)},
        status=403,
    )


def action_run(
    request: HttpRequest,
    handler: Callable[[HttpRequest, User, Any], str],
    target: Any,
    *,
    roles: tuple[Role, ...],
    back: HttpResponse,
) -> HttpResponse:
    """Run one console action on ``target``: its confirmation (or the error) becomes a message
    on the page ``back`` returns to; a refusal shows the refusal page naming ``roles``."""
    try:
        messages.success(request, handler(request, acting_user(request), target))
    except NotPermittedError as exc:
        return forbidden(request, exc, roles)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
    return back
