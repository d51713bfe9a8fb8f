"""Public poll pages: the list of open and recent polls, one poll with its vote form, voting.

Results are shown to a resident once they have voted, and to everyone once the poll has
closed: showing running totals before a vote would nudge voters toward the leading answer.
The pages depend on who is signed in, so they are never served from the page cache.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from watchhouse.community.auth import current_resident, verified_area_ids
from watchhouse.community.models import Poll
from watchhouse.community.selectors import polls as selectors
from watchhouse.community.services.polls import vote
from watchhouse.core.errors import InvalidInputError


def _poll(pk: int) -> Poll:
    try:
        poll = selectors.poll_get(pk)
    except Poll.DoesNotExist:
        raise Http404("No such poll.") from None
    if poll.opens_at > timezone.now():
        # Not published until it opens.
        raise Http404("No such poll.")
    return poll


@require_safe
def poll_list(request: HttpRequest) -> HttpResponse:
    """Polls open now, then those closed lately."""
    now = timezone.now()
    polls = list(selectors.poll_public_list())
    return render(
        request,
        "community/polls/list.html",
        {
            "open_polls": [p for p in polls if p.is_open(now)],
            "closed_polls": [p for p in polls if not p.is_open(now)],
        },
    )


def _detail(request: HttpRequest, poll: Poll, status: int = 200) -> HttpResponse:
    resident = current_resident(request)
    ballot = selectors.ballot_of(poll, resident)
    areas = verified_area_ids(resident)
    is_open = poll.is_open()
    may_vote = (
        is_open
        and ballot is None
        and bool(areas)
        and (poll.area_id is None or poll.area_id in areas)
    )
    show_results = ballot is not None or not is_open
    return render(
        request,
        "community/polls/detail.html",
        {
            "poll": poll,
            "choices": list(poll.choices.all()),
            "resident": resident,
            "ballot": ballot,
            "picked": {c.pk for c in ballot.choices.all()} if ballot is not None else set(),
            "is_open": is_open,
            "may_vote": may_vote,
            "results": selectors.poll_results(poll) if show_results else None,
        },
        status=status,
    )


@require_safe
def poll_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A poll: its question and choices, the vote form for a resident who may vote, and the
    results once they have voted or the poll has closed."""
    return _detail(request, _poll(pk))


@require_POST
def poll_vote(request: HttpRequest, pk: int) -> HttpResponse:
    """Cast the signed-in resident's ballot; a refusal is shown on the poll page."""
    poll = _poll(pk)
    resident = current_resident(request)
    if resident is None:
        messages.error(request, _("Sign in to vote."))
        return redirect("community:poll", pk=poll.pk)
    raw = request.POST.getlist("choice")
    try:
        ids = [int(value) for value in raw]
    except ValueError:
        ids = [-1]
    try:
        vote(resident=resident, poll=poll, choice_ids=ids)
    except InvalidInputError as exc:
        messages.error(request, str(exc))
        return _detail(request, poll, status=400)
    messages.success(request, _("Thank you: your vote is counted."))
    return redirect("community:poll", pk=poll.pk)
