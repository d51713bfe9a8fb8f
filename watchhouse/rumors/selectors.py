"""Reading rumors: the public answers (grouped by incident), the staff tracker, and how long
answers took."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import BooleanField, Case, Count, F, Max, Q, QuerySet, Value, When

from watchhouse.rumors.models import Incident, Rumor, RumorEvidence, RumorStatus

# Public rumors: a verdict, a "what we know" text, and the moment that became public.
PUBLIC = Q(answered_at__isnull=False) & ~Q(status=RumorStatus.UNVERIFIED) & ~Q(what_we_know="")
# A public rumor changed this long after its answer shows as "updated".
UPDATED_AFTER = timedelta(minutes=1)


def rumor_public_list() -> QuerySet[Rumor]:
    """Answered rumors, newest answer first, with their incident and correction post; each
    has ``was_updated`` (changed after its first answer)."""
    return (
        Rumor.objects.filter(PUBLIC)
        .select_related("incident", "correction")
        .annotate(
            was_updated=Case(
                When(updated_at__gt=F("answered_at") + UPDATED_AFTER, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .order_by("-answered_at", "-id")
    )


def rumor_public_get(pk: int) -> Rumor:
    """One public rumor; raises ``Rumor.DoesNotExist`` for any other."""
    return rumor_public_list().get(pk=pk)


@dataclass
class RumorGroup:
    """The public rumors of one incident (``incident`` None: the "Other" group)."""

    incident: Incident | None
    rumors: list[Rumor] = field(default_factory=list)


def rumor_public_groups() -> list[RumorGroup]:
    """Public rumors grouped by incident, the incident with the newest answer first; rumors
    without an incident come last, in an "Other" group."""
    groups: dict[int | None, RumorGroup] = {}
    for rumor in rumor_public_list():
        key = rumor.incident_id
        if key not in groups:
            groups[key] = RumorGroup(incident=rumor.incident)
        groups[key].rumors.append(rumor)
    other = groups.pop(None, None)
    return [*groups.values(), *([other] if other else [])]


def rumors_changed() -> datetime | None:
    """When any rumor last changed in a way the public may see (the feeds' Last-Modified)."""
    return Rumor.objects.aggregate(last=Max("updated_at"))["last"]


def rumor_list(
    *, status: str = "", incident: Incident | None = None, unanswered: bool = False
) -> QuerySet[Rumor]:
    """The staff tracker: every rumor, newest first seen first, filtered."""
    rumors = Rumor.objects.select_related("incident", "decided_by", "correction").annotate(
        evidence_count=Count("evidence")
    )
    if status:
        rumors = rumors.filter(status=status)
    if incident is not None:
        rumors = rumors.filter(incident=incident)
    if unanswered:
        rumors = rumors.filter(answered_at__isnull=True)
    return rumors.order_by("-first_seen_at", "-id")


def rumor_get(pk: int) -> Rumor:
    """One rumor for staff, with who decided and its correction; raises ``DoesNotExist``."""
    return Rumor.objects.select_related(
        "incident", "decided_by", "created_by", "correction", "source_comment"
    ).get(pk=pk)


def evidence_list(rumor: Rumor) -> QuerySet[RumorEvidence]:
    """The rumor's evidence, oldest first, with who added it."""
    return rumor.evidence.select_related("added_by").order_by("added_at", "id")


def incident_list() -> QuerySet[Incident]:
    """Incidents, newest first, each with its number of rumors."""
    return Incident.objects.annotate(rumor_count=Count("rumors")).order_by("-created_at", "-id")


def answer_minutes(rumor: Rumor) -> float | None:
    """Minutes from first seen to the public answer, or None while unanswered."""
    if rumor.answered_at is None:
        return None
    return max(0.0, (rumor.answered_at - rumor.first_seen_at).total_seconds() / 60)


def median_answer_minutes(rumors: QuerySet[Rumor] | None = None) -> float | None:
    """The median time from first seen to answer over answered ``rumors`` (all by default),
    in minutes; None when none is answered."""
    source = Rumor.objects.all() if rumors is None else rumors
    pairs = source.filter(answered_at__isnull=False).values_list("first_seen_at", "answered_at")
    minutes = [
        max(0.0, (answered - seen).total_seconds() / 60)
        for seen, answered in pairs
        if answered is not None
    ]
    return statistics.median(minutes) if minutes else None
