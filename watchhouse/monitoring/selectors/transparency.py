"""Figures for the public transparency page, all counts, all from the audit log and the rules.

Nothing here names a person, a post, a case or what a rule looks for: the page publishes how
much monitoring was done and under which controls, not its contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from watchhouse.audit.models import AuditEntry
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import RuleState, WatchRule
from watchhouse.monitoring.protected_terms import NAMED_PERSON, deny_groups, protected_names

# Which audit actions each column counts.
COLUMNS: dict[str, tuple[str, ...]] = {
    "watches": (policy.ACTION_RULE_CREATE,),
    "searches": (policy.ACTION_SEARCH,),
    "approvals": (policy.ACTION_APPROVAL_APPROVE,),
    "refusals": (
        policy.ACTION_RULE_REFUSE,
        policy.ACTION_APPROVAL_REFUSE,
        policy.ACTION_CASE_REFUSE,
        policy.ACTION_REFUSED_INPUT,
    ),
    "exports": (policy.ACTION_EXPORT,),
    "purges": (policy.ACTION_CASE_PURGE,),
    "overrides": (policy.ACTION_RULE_OVERRIDE,),
}


@dataclass(frozen=True)
class MonthRow:
    """One calendar month (in the agency's time zone) of counted actions."""

    month: date
    watches: int = 0
    searches: int = 0
    approvals: int = 0
    refusals: int = 0
    exports: int = 0
    purges: int = 0
    overrides: int = 0


@dataclass(frozen=True)
class RuleKinds:
    """How many live rules there are, and of each kind (a rule can be of several kinds)."""

    total: int
    phrase: int
    place: int
    language: int
    person_centred: int
    override: int


@dataclass(frozen=True)
class DenyGroup:
    """A group of the deny-list as published; ``named`` counts entries not shown by name."""

    group: str
    label: str
    reason: str
    terms: list[str]
    named: int


def _month_start(moment: datetime) -> date:
    local = timezone.localtime(moment)
    return date(local.year, local.month, 1)


def _months_back(first: date, count: int) -> list[date]:
    months = []
    year, month = first.year, first.month
    for _i in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def transparency_months(months: int = 12) -> list[MonthRow]:
    """The last ``months`` calendar months, newest first (the current one so far), each with
    how many watches were created, person-centred searches run, approvals given, requests
    refused, exports made, cases purged and protected-activity overrides approved."""
    wanted = _months_back(_month_start(timezone.now()), max(1, months))
    oldest = wanted[-1]
    since = datetime(oldest.year, oldest.month, 1, tzinfo=timezone.get_current_timezone())
    column_of = {action: column for column, actions in COLUMNS.items() for action in actions}
    counts = (
        AuditEntry.objects.filter(created_at__gte=since, action__in=list(column_of))
        .annotate(month=TruncMonth("created_at", tzinfo=timezone.get_current_timezone()))
        .values("month", "action")
        .annotate(n=Count("id"))
        # The model's default ordering would add its field to GROUP BY.
        .order_by()
    )
    table: dict[date, dict[str, int]] = {m: dict.fromkeys(COLUMNS, 0) for m in wanted}
    for row in counts:
        month = row["month"]
        key = (
            _month_start(month) if isinstance(month, datetime) else date(month.year, month.month, 1)
        )
        if key in table:
            table[key][column_of[row["action"]]] += row["n"]
    return [MonthRow(month=m, **table[m]) for m in wanted]


def rule_kinds_in_force() -> RuleKinds:
    """Counts of the rules live now, by kind: phrases or expression, place, language,
    person-centred (named accounts) and protected-activity overrides."""
    now = timezone.now()
    live = WatchRule.objects.filter(state=RuleState.ACTIVE, expires_at__gt=now).exclude(
        starts_at__gt=now
    )
    rows = list(
        live.values_list(
            "phrases", "expression", "area_id", "radius_m", "languages", "authors",
            "override_nexus",
        ).order_by()
    )  # fmt: skip
    return RuleKinds(
        total=len(rows),
        phrase=sum(1 for r in rows if r[0] or r[1]),
        place=sum(1 for r in rows if r[2] or r[3]),
        language=sum(1 for r in rows if r[4]),
        person_centred=sum(1 for r in rows if r[5]),
        override=sum(1 for r in rows if r[6]),
    )


def deny_list_public() -> list[DenyGroup]:
    """The deny-list groups with their terms; the agency's named people as a count only."""
    named = len([n for n in protected_names() if n.strip()])
    return [
        DenyGroup(
            group=group, label=label, reason=reason, terms=terms,
            named=named if group == NAMED_PERSON else 0,
        )
        for group, label, reason, terms in deny_groups()
    ]  # fmt: skip
