"""Reading incidents, import reports and formats.

The public reads incidents only through :func:`incident_public_list`, which returns the public
columns and nothing else. Exact locations are read one incident at a time through
:func:`incident_exact_get`, which needs the analyst role and writes an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Case, F, QuerySet, When

from watchhouse.accounts.roles import Role, require_role
from watchhouse.audit.services import audit_record
from watchhouse.crimemap.categories import NIBRS, Category, CrimesAgainst
from watchhouse.crimemap.formats import format_get
from watchhouse.crimemap.mappings import Mapping
from watchhouse.crimemap.models import ImportReport, Incident
from watchhouse.crimemap.privacy import privacy_policy
from watchhouse.crimemap.states import IncidentState
from watchhouse.geo.models import Jurisdiction

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Every column the public may see of an incident (``public_time`` is empty when withheld).
PUBLIC_FIELDS = (
    "id", "occurred_date", "public_time", "precision", "category", "nibrs_code",
    "crimes_against", "offence_label", "offence_count", "firearm", "withheld", "public_place",
    "public_place_kind", "public_lat", "public_lon", "public_h3", "block_id",
    "neighbourhood_id", "beat_id", "district_id", "ward_id", "area_label",
)  # fmt: skip


def incident_public_list(
    *,
    jurisdiction: Jurisdiction,
    start: date | None = None,
    end: date | None = None,
    category: str | None = None,
) -> QuerySet[Incident, dict[str, object]]:
    """The jurisdiction's active incidents as dicts of :data:`PUBLIC_FIELDS` (local dates
    ``start`` to ``end`` inclusive), newest first. No exact address or point is in them;
    withheld incidents carry no place, no point and no time of day."""
    incidents = Incident.objects.filter(jurisdiction=jurisdiction, state=IncidentState.ACTIVE)
    if start is not None:
        incidents = incidents.filter(occurred_date__gte=start)
    if end is not None:
        incidents = incidents.filter(occurred_date__lte=end)
    if category:
        incidents = incidents.filter(category=category)
    return (
        incidents.annotate(
            public_time=Case(When(withheld=True, then=None), default=F("occurred_at"))
        )
        .order_by("-occurred_date", "-id")
        .values(*PUBLIC_FIELDS)
    )


@dataclass(frozen=True)
class ExactLocation:
    """Where an incident really happened, as the source gave it."""

    incident_id: int
    record_id: str
    address: str
    lat: float | None
    lon: float | None


def incident_exact_get(*, actor: User, incident_id: int, justification: str = "") -> ExactLocation:
    """The exact address and point of one incident, for an analyst; the read is audited.

    Raises :class:`~watchhouse.core.errors.NotPermittedError` without the analyst role and
    ``Incident.DoesNotExist`` for an unknown id.
    """
    require_role(actor, Role.ANALYST, action="read exact incident locations")
    with transaction.atomic():
        incident = Incident.objects.only(
            "id", "record_id", "exact_address", "exact_lat", "exact_lon"
        ).get(pk=incident_id)
        audit_record(
            actor=actor,
            action="crimemap.exact_location_read",
            obj=incident,
            justification=justification,
            data={"record_id": incident.record_id},
        )
    return ExactLocation(
        incident_id=incident.pk,
        record_id=incident.record_id,
        address=incident.exact_address,
        lat=incident.exact_lat,
        lon=incident.exact_lon,
    )


def import_report_list() -> QuerySet[ImportReport]:
    """Import reports, newest first, with their source, jurisdiction and actor."""
    return ImportReport.objects.select_related("source__jurisdiction", "actor").defer("mapping")


def import_report_get(*, pk: int) -> ImportReport:
    """One import report with its kept rejections; raises ``ImportReport.DoesNotExist``."""
    return (
        ImportReport.objects.select_related("source__jurisdiction", "actor")
        .prefetch_related("rejections")
        .get(pk=pk)
    )


@dataclass(frozen=True)
class OffenceRow:
    """One line of a format's offence table, as staff see it."""

    value: str
    category: str
    category_label: str
    nibrs: str
    against: str
    withheld: bool


def format_offence_table(mapping: Mapping) -> list[OffenceRow]:
    """What each offence value of a format maps to: its own rules, then (for formats with a
    NIBRS column) the NIBRS table; ``withheld`` under the privacy policy in force."""
    policy = privacy_policy()

    def hidden(category: str, nibrs: str) -> bool:
        return category in policy.withheld_categories or nibrs in policy.withheld_nibrs

    rows = []
    for rule in mapping.rules:
        nibrs = rule.nibrs
        against = (
            rule.against if rule.against is not None else (NIBRS[nibrs].against if nibrs else "")
        )
        rows.append(
            OffenceRow(
                value=rule.text,
                category=rule.category,
                category_label=str(Category(rule.category).label),
                nibrs=nibrs,
                against=str(CrimesAgainst(against).label),
                withheld=rule.withhold or hidden(rule.category, nibrs),
            )
        )
    if mapping.nibrs_column:
        for code, offence in NIBRS.items():
            rows.append(
                OffenceRow(
                    value=f"{code} {offence.name}",
                    category=offence.category,
                    category_label=str(Category(offence.category).label),
                    nibrs=code,
                    against=str(CrimesAgainst(offence.against).label),
                    withheld=hidden(offence.category, code),
                )
            )
    return rows


def format_detail(name: str) -> Mapping:
    """The built-in format ``name``; raises InvalidInputError for an unknown one."""
    return format_get(name)
