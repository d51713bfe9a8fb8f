"""Reading tips for the console: the inbox with its filters and search, one tip with
everything its page shows, and the weekly response-time figures.

Tip text is sealed, so a text search filters in SQL first (state, dates, ...) and then opens
only the remaining rows in Python.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from watchhouse.core import crypto
from watchhouse.tips.models import (
    QuestionTemplate,
    Tip,
    TipFile,
    TipLink,
    TipMessage,
)
from watchhouse.tips.states import TipState

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Assignee filter values besides a user id.
MINE = "mine"
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class TipFilters:
    """What the inbox shows; every field empty or None means "any"."""

    state: str = ""
    outcome: str = ""
    priority: int | None = None
    assignee: str = ""  # "mine", "unassigned" or a user id
    channel: str = ""
    area_id: int | None = None
    appeal_id: int | None = None
    has_files: bool | None = None
    unread: bool = False
    received_from: date | None = None
    received_to: date | None = None
    text: str = ""


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _sealed_matches(rows: list[tuple[int, str]], needle: str) -> set[int]:
    found = set()
    for pk, token in rows:
        try:
            text = crypto.unseal(token)
        except crypto.SealError:
            continue
        if needle in text.casefold():
            found.add(pk)
    return found


def _text_matches(candidates: QuerySet[Tip], text: str) -> set[int]:
    """Ids of ``candidates`` whose code, case numbers, what/where/when/reference, message
    bodies or file names contain ``text`` (case-insensitive)."""
    needle = text.casefold()
    found = set(
        candidates.filter(
            Q(code__icontains=text.strip()) | Q(links__case_number__icontains=text.strip())
        ).values_list("pk", flat=True)
    )
    rest = candidates.exclude(pk__in=found)
    for pk, token in rest.values_list("pk", "content"):
        try:
            content = crypto.unseal_json(token, {})
        except crypto.SealError:
            continue
        if not isinstance(content, dict):
            continue
        fields = ("what", "where", "when", "reference")
        if any(needle in str(content.get(f) or "").casefold() for f in fields):
            found.add(pk)
    remaining = rest.exclude(pk__in=found)
    found |= _sealed_matches(
        list(
            TipMessage.objects.filter(tip__in=remaining.values("pk")).values_list("tip_id", "body")
        ),
        needle,
    )
    remaining = rest.exclude(pk__in=found)
    found |= _sealed_matches(
        list(TipFile.objects.filter(tip__in=remaining.values("pk")).values_list("tip_id", "name")),
        needle,
    )
    return found


def tip_list(*, filters: TipFilters | None = None, actor: User | None = None) -> QuerySet[Tip]:
    """Tips matching ``filters``, newest first, with what the inbox shows loaded
    (``file_count`` and ``unread_count`` annotated). ``assignee="mine"`` needs ``actor``."""
    f = filters or TipFilters()
    tips = Tip.objects.select_related("assignee", "area", "appeal", "merged_into").annotate(
        file_count=Count("files", distinct=True)
    )
    if f.state:
        tips = tips.filter(state=f.state)
    if f.outcome:
        tips = tips.filter(outcome=f.outcome)
    if f.priority is not None:
        tips = tips.filter(priority=f.priority)
    if f.assignee == MINE:
        tips = tips.filter(assignee=actor) if actor is not None else tips.none()
    elif f.assignee == UNASSIGNED:
        tips = tips.filter(assignee__isnull=True)
    elif f.assignee.isdigit():
        tips = tips.filter(assignee_id=int(f.assignee))
    if f.channel:
        tips = tips.filter(channel=f.channel)
    if f.area_id is not None:
        tips = tips.filter(area_id=f.area_id)
    if f.appeal_id is not None:
        tips = tips.filter(Q(appeal_id=f.appeal_id) | Q(links__appeal_id=f.appeal_id))
    if f.has_files is not None:
        with_files = Exists(TipFile.objects.filter(tip=OuterRef("pk")))
        tips = tips.filter(with_files if f.has_files else ~with_files)
    if f.unread:
        tips = tips.filter(unread_at__isnull=False)
    if f.received_from is not None:
        tips = tips.filter(received_at__gte=_day_start(f.received_from))
    if f.received_to is not None:
        tips = tips.filter(received_at__lt=_day_start(f.received_to + timedelta(days=1)))
    if f.text.strip():
        ids = _text_matches(Tip.objects.filter(pk__in=tips.values("pk")), f.text.strip())
        tips = tips.filter(pk__in=ids)
    return tips.order_by("-received_at", "-id").distinct()


def tip_state_counts() -> dict[str, int]:
    """How many tips are in each state (every state present, zero included)."""
    counts = dict(Tip.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {state: counts.get(state, 0) for state in TipState.values}


def tip_get(pk: int) -> Tip:
    """One tip with its dialogue, files, links and merged duplicates (and their files) loaded.
    Raises ``Tip.DoesNotExist``."""
    return (
        Tip.objects.select_related("assignee", "area", "appeal", "merged_into")
        .prefetch_related(
            Prefetch("messages", queryset=TipMessage.objects.select_related("author")),
            Prefetch("files", queryset=TipFile.objects.order_by("received_at", "id")),
            Prefetch("links", queryset=TipLink.objects.select_related("appeal", "created_by")),
            Prefetch(
                "merged",
                queryset=Tip.objects.order_by("received_at").prefetch_related("files"),
            ),
        )
        .get(pk=pk)
    )


def tip_by_code(code: str) -> Tip | None:
    """The tip with this tip code (as typed), or None."""
    from watchhouse.tips.services.intake import code_format

    formatted = code_format(code)
    return Tip.objects.filter(code=formatted).first() if formatted else None


def question_template_list(*, active_only: bool = True) -> QuerySet[QuestionTemplate]:
    templates = QuestionTemplate.objects.all()
    return templates.filter(active=True) if active_only else templates


# --- Response times --------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekFigures:
    """Response times of the tips received in one ISO week (hours; None when no tip had one)."""

    week: str  # "2026-W48"
    starts: date
    received: int
    triage_median: float | None
    triage_p90: float | None
    reply_median: float | None
    reply_p90: float | None
    untriaged: int


def _percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (the spreadsheet PERCENTILE.INC)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 1)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def response_times_weekly(*, weeks: int = 12, today: date | None = None) -> list[WeekFigures]:
    """Per ISO week of receipt (local time), the last ``weeks`` weeks, newest first: tips
    received, median and 90th percentile hours to first triage and to first reply, and how
    many are still untriaged.

    Computed in Python from the plain timestamp columns, the same on every database.
    """
    today = today or timezone.localdate()
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=weeks - 1)
    rows = Tip.objects.filter(received_at__gte=_day_start(first_monday)).values_list(
        "received_at", "triaged_at", "first_reply_at"
    )
    triage: dict[date, list[float]] = defaultdict(list)
    reply: dict[date, list[float]] = defaultdict(list)
    received: dict[date, int] = defaultdict(int)
    untriaged: dict[date, int] = defaultdict(int)
    for received_at, triaged_at, first_reply_at in rows:
        day = timezone.localtime(received_at).date()
        monday = day - timedelta(days=day.weekday())
        received[monday] += 1
        if triaged_at is None:
            untriaged[monday] += 1
        else:
            triage[monday].append((triaged_at - received_at).total_seconds() / 3600)
        if first_reply_at is not None:
            reply[monday].append((first_reply_at - received_at).total_seconds() / 3600)
    figures = []
    for n in range(weeks):
        monday = this_monday - timedelta(weeks=n)
        year, week, _ = monday.isocalendar()
        figures.append(
            WeekFigures(
                week=f"{year}-W{week:02d}",
                starts=monday,
                received=received[monday],
                triage_median=_median(triage[monday]),
                triage_p90=_percentile(triage[monday], 0.9),
                reply_median=_median(reply[monday]),
                reply_p90=_percentile(reply[monday], 0.9),
                untriaged=untriaged[monday],
            )
        )
    return figures


def tipster_tip_get(pk: int) -> Tip | None:
    """The tip a tipster's sign-in cookie names (the cookie proved they hold its passphrase)."""
    return Tip.objects.filter(pk=pk).first()


def tip_file_list(tip: Tip) -> QuerySet[TipFile]:
    """A tip's files, oldest first."""
    return TipFile.objects.filter(tip=tip).order_by("received_at", "id")
