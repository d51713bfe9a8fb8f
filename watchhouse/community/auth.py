"""Which resident a request comes from: a resident signed in by an e-mailed link is remembered
in the session (residents have no password and are not staff users)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from watchhouse.community.models import Membership, MembershipStatus, Resident

SESSION_KEY = "community_resident_id"


def current_resident(request: HttpRequest) -> Resident | None:
    """The resident signed in on this browser, or None."""
    if hasattr(request, "_community_resident"):
        cached: Resident | None = request._community_resident
        return cached
    pk = request.session.get(SESSION_KEY)
    resident = Resident.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    request._community_resident = resident  # type: ignore[attr-defined]
    return resident


def resident_sign_in(request: HttpRequest, resident: Resident) -> None:
    """Remember ``resident`` on this browser (a new session key, so a fixed one cannot be
    planted)."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = resident.pk
    request._community_resident = resident  # type: ignore[attr-defined]


def resident_sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()
    request._community_resident = None  # type: ignore[attr-defined]


def verified_membership(resident: Resident | None, area_id: int) -> Membership | None:
    """The resident's verified membership of the area, or None (they may read, not post)."""
    if resident is None:
        return None
    return (
        Membership.objects.filter(
            resident=resident, area_id=area_id, status=MembershipStatus.VERIFIED
        )
        .select_related("area")
        .first()
    )


def verified_area_ids(resident: Resident | None) -> list[int]:
    if resident is None:
        return []
    return list(
        Membership.objects.filter(resident=resident, status=MembershipStatus.VERIFIED)
        .order_by("area_id")
        .values_list("area_id", flat=True)
    )


def resident_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send a visitor who is not signed in to the sign-in page, coming back here after."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if current_resident(request) is None:
            url = reverse("community:sign_in") + "?" + urlencode({"next": request.get_full_path()})
            return redirect(url)
        return view(request, *args, **kwargs)

    return wrapped
