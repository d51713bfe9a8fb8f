"""Reading polls and their results (overall and by neighbourhood)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from watchhouse.community.models import Ballot, Poll, PollChoice, Resident

# How long a closed poll stays in the public list of recent polls.
RECENT_DAYS = 60


def poll_public_list() -> QuerySet[Poll]:
    """Polls open now or closed in the last :data:`RECENT_DAYS` days (not those yet to open),
    the latest to close first."""
    now = timezone.now()
    return (
        Poll.objects.select_related("area")
        .filter(opens_at__lte=now, closes_at__gte=now - timedelta(days=RECENT_DAYS))
        .order_by("-closes_at", "-id")
    )


def poll_list() -> QuerySet[Poll]:
    """Every poll for the console, newest first, with its ballot count (``ballot_count``)."""
    return Poll.objects.select_related("area", "created_by").annotate(ballot_count=Count("ballots"))


def poll_get(pk: int) -> Poll:
    """The poll ``pk`` with its area. Raises ``Poll.DoesNotExist``."""
    return Poll.objects.select_related("area").prefetch_related("choices").get(pk=pk)


def ballot_of(poll: Poll, resident: Resident | None) -> Ballot | None:
    """``resident``'s ballot in ``poll``, or None."""
    if resident is None:
        return None
    return Ballot.objects.filter(poll=poll, resident=resident).prefetch_related("choices").first()


@dataclass
class ChoiceResult:
    choice: PollChoice
    votes: int
    by_area: dict[int, int] = field(default_factory=dict)

    def share_of(self, total: int) -> int:
        """Per cent of ``total`` ballots that picked this choice, rounded."""
        return round(100 * self.votes / total) if total else 0


@dataclass
class PollResults:
    """Counts per choice, overall and per neighbourhood the ballots came from."""

    poll: Poll
    ballots: int
    choices: list[ChoiceResult]
    areas: list[tuple[int, str, int]]  # area id, name, ballots from it

    def rows(self) -> list[tuple[ChoiceResult, int, list[int]]]:
        """Each choice with its share and its count in each of :attr:`areas`, in order."""
        return [
            (r, r.share_of(self.ballots), [r.by_area.get(a, 0) for a, _n, _b in self.areas])
            for r in self.choices
        ]


def poll_results(poll: Poll) -> PollResults:
    """The results of ``poll``: ballots cast, votes for each choice overall and from each
    neighbourhood (a ballot of a multiple-choice poll counts once for each choice it
    picked)."""
    choices = list(PollChoice.objects.filter(poll=poll).order_by("position", "id"))
    through = Ballot.choices.through
    per_area = (
        through.objects.filter(ballot__poll=poll)
        .values("pollchoice_id", "ballot__area_id")
        .annotate(n=Count("id"))
    )
    results = {c.pk: ChoiceResult(choice=c, votes=0) for c in choices}
    for row in per_area:
        result = results.get(row["pollchoice_id"])
        if result is None:
            continue
        result.votes += row["n"]
        result.by_area[row["ballot__area_id"]] = row["n"]
    areas = list(
        Ballot.objects.filter(poll=poll)
        .values("area_id", "area__name")
        .annotate(n=Count("id", filter=Q(poll=poll)))
        .order_by("area__name", "area_id")
    )
    return PollResults(
        poll=poll,
        ballots=Ballot.objects.filter(poll=poll).count(),
        choices=list(results.values()),
        areas=[(a["area_id"], a["area__name"], a["n"]) for a in areas],
    )


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def poll_results_csv(results: PollResults) -> str:
    """The results as CSV: one row per choice and neighbourhood (and an "All" row per
    choice), with the ballots from that neighbourhood."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["poll", "question", "choice", "area", "votes", "ballots_from_area"])
    question = _cell(results.poll.question)
    for result in results.choices:
        label = _cell(result.choice.label)
        writer.writerow([results.poll.pk, question, label, "All", result.votes, results.ballots])
        for area_id, name, ballots in results.areas:
            writer.writerow(
                [
                    results.poll.pk,
                    question,
                    label,
                    _cell(name),
                    result.by_area.get(area_id, 0),
                    ballots,
                ]
            )
    return out.getvalue()
