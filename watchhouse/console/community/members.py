"""Verifying residents: the queue of memberships waiting for verification (their sealed
addresses shown to staff only, each view of them audited), printing postcards with codes,
and approving or refusing on a member of staff's word."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from watchhouse.community.models import Membership
from watchhouse.community.policy import MEMBERSHIP_ROLES
from watchhouse.community.selectors.residents import membership_pending_list
from watchhouse.community.services import residents as services
from watchhouse.console.access import acting_user, forbidden, staff_page
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.geo.models import Area, AreaKind

# Most memberships one page of the queue shows (oldest first).
QUEUE_MAX = 200


def _area_id(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@never_cache
@staff_page(*MEMBERSHIP_ROLES)
def members(request: HttpRequest) -> HttpResponse:
    area_id = _area_id(request.GET.get("area", ""))
    pending = list(membership_pending_list(area_id=area_id)[:QUEUE_MAX])
    try:
        rows = services.membership_queue_read(actor=acting_user(request), memberships=pending)
    except NotPermittedError as exc:
        return forbidden(request, exc, MEMBERSHIP_ROLES)
    return render(
        request,
        "console/community/members/queue.html",
        {
            "rows": rows,
            "area_id": area_id,
            "areas": Area.objects.filter(kind=AreaKind.NEIGHBOURHOOD).order_by("name"),
            "queue_max": QUEUE_MAX,
            "attempts_max": services.POSTCARD_ATTEMPTS,
        },
    )


def _chosen(request: HttpRequest) -> list[Membership]:
    ids = [int(v) for v in request.POST.getlist("membership") if v.isdigit()]
    return list(Membership.objects.filter(pk__in=ids).order_by("pk"))


@never_cache
@staff_page(*MEMBERSHIP_ROLES)
@require_POST
def members_print(request: HttpRequest) -> HttpResponse:
    """The PDF of new postcards for the chosen memberships, made once: it cannot be
    downloaded again (the codes are not kept), only printed anew with new codes."""
    try:
        batch, pdf = services.postcard_batch_create(
            actor=acting_user(request), memberships=_chosen(request)
        )
    except NotPermittedError as exc:
        return forbidden(request, exc, MEMBERSHIP_ROLES)
    except InvalidInputError as exc:
        messages.error(request, str(exc))
        return redirect("console:community_members")
    response = HttpResponse(pdf, content_type="application/pdf")
    stamp = timezone.localtime(batch.created_at).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="postcards-{batch.pk}-{stamp}.pdf"'
    return response


@staff_page(*MEMBERSHIP_ROLES)
@require_POST
def members_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    membership = Membership.objects.select_related("resident", "area").filter(pk=pk).first()
    if membership is None:
        messages.error(request, _("No such membership."))
        return redirect("console:community_members")
    actor = acting_user(request)
    try:
        if decision == "approve":
            services.membership_approve(actor=actor, membership=membership)
            messages.success(
                request,
                _("%(name)s is now a verified member of %(area)s.")
                % {"name": membership.resident.display_name, "area": membership.area.name},
            )
        else:
            services.membership_reject(
                actor=actor, membership=membership, reason=request.POST.get("reason", "")
            )
            messages.success(
                request,
                _("%(name)s was not verified for %(area)s.")
                % {"name": membership.resident.display_name, "area": membership.area.name},
            )
    except NotPermittedError as exc:
        return forbidden(request, exc, MEMBERSHIP_ROLES)
    except InvalidInputError as exc:
        messages.error(request, str(exc))
    return redirect("console:community_members")
