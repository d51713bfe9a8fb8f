"""Reads of case workspaces. The person-centred ones take a :class:`Case` the caller already
got through the purpose gate (``services.cases.case_get``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    Case,
    CaseAccount,
    CaseItem,
    Dissemination,
    Evidence,
)

if TYPE_CHECKING:
    from watchhouse.accounts.models import User


def case_list_for(user: User) -> QuerySet[Case]:
    """Cases a member works on: an investigator's own; for supervisors every case, since they
    decide on requests and answer for the reviews."""
    cases = Case.objects.select_related("opened_by", "approved_by")
    if user.has_any_role(*policy.SUPERVISOR_ROLES):
        return cases.all()
    return cases.filter(opened_by=user)


def case_summary_get(case_id: int) -> Case:
    """A case's request (number, title, justification, predicate, state), not its data."""
    return Case.objects.select_related("opened_by", "approved_by").get(pk=case_id)


def case_timeline(case: Case) -> list[CaseItem]:
    """The case's items in the order they were posted."""
    return list(
        CaseItem.objects.filter(case=case).prefetch_related("evidence").order_by("posted_at", "pk")
    )


def case_places(case: Case) -> dict[str, Any]:
    """Every place the case's items name, carry or show in EXIF, as a GeoJSON FeatureCollection
    whose properties say how each was found and which item it came from."""
    features = []
    for item in case_timeline(case):
        for place in item.places:
            if not isinstance(place, dict) or place.get("lat") is None or place.get("lon") is None:
                continue
            found_by = place.get("found_by") or place.get("kind") or "mention"
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point",
                             "coordinates": [float(place["lon"]), float(place["lat"])]},
                "properties": {
                    "name": place.get("name") or "",
                    "found_by": found_by,
                    "item": item.pk,
                    "author": item.author_handle,
                    "posted_at": item.posted_at.isoformat(),
                },
            })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def case_accounts(case: Case) -> list[CaseAccount]:
    return list(CaseAccount.objects.filter(case=case).select_related("approval"))


def case_approvals(case: Case) -> list[Approval]:
    """The case's second-person requests, newest first."""
    return list(Approval.objects.filter(case=case).select_related("requested_by", "decided_by"))


def case_evidence(case: Case) -> list[Evidence]:
    return list(Evidence.objects.filter(case=case).select_related("item", "preserved_by"))


def case_disseminations(case: Case) -> list[Dissemination]:
    return list(Dissemination.objects.filter(case=case).select_related("shared_by", "approval"))
