"""Agency polls: staff create and close them; verified residents vote once each.

A neighbourhood poll takes ballots only from verified members of that neighbourhood; a
city-wide poll from any verified resident. Every ballot records the neighbourhood it was cast
from, so results can be read by neighbourhood.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.community.models import (
    Ballot,
    Membership,
    MembershipStatus,
    Poll,
    PollChoice,
    Resident,
)
from watchhouse.community.policy import POLL_ROLES
from watchhouse.core.errors import InvalidInputError
from watchhouse.core.pagecache import pages_changed
from watchhouse.geo.models import Area

MIN_CHOICES = 2
MAX_CHOICES = 10
QUESTION_MAX = 300
CHOICE_MAX = 200


def _changed() -> None:
    # Neighbourhood pages (cached) list their open polls.
    pages_changed("community")


def poll_create(
    *,
    actor: User,
    question: str,
    description: str = "",
    area: Area | None = None,
    multiple: bool = False,
    opens_at: datetime,
    closes_at: datetime,
    choices: Sequence[str],
) -> Poll:
    """Create a poll for ``area`` (city-wide when None) with 2 to 10 distinct choices, open
    from ``opens_at`` until ``closes_at``."""
    require_role(actor, *POLL_ROLES, action="create polls")
    question = question.strip()
    if not question:
        raise InvalidInputError(_("A poll needs a question."))
    if len(question) > QUESTION_MAX:
        raise InvalidInputError(
            _("The question is too long (at most %(n)d characters).") % {"n": QUESTION_MAX}
        )
    labels = [c.strip() for c in choices if c.strip()]
    if len(labels) < MIN_CHOICES or len(labels) > MAX_CHOICES:
        raise InvalidInputError(
            _("A poll needs between %(low)d and %(high)d choices.")
            % {"low": MIN_CHOICES, "high": MAX_CHOICES}
        )
    if len({label.casefold() for label in labels}) != len(labels):
        raise InvalidInputError(_("Two choices are the same; each choice must be different."))
    if any(len(label) > CHOICE_MAX for label in labels):
        raise InvalidInputError(
            _("A choice is too long (at most %(n)d characters).") % {"n": CHOICE_MAX}
        )
    if closes_at <= opens_at:
        raise InvalidInputError(_("A poll must close after it opens."))
    with transaction.atomic():
        poll = Poll.objects.create(
            question=question,
            description=description.strip(),
            area=area,
            multiple=multiple,
            opens_at=opens_at,
            closes_at=closes_at,
            created_by=actor,
        )
        PollChoice.objects.bulk_create(
            PollChoice(poll=poll, label=label, position=n) for n, label in enumerate(labels)
        )
        audit_record(
            actor=actor,
            action="community.poll_create",
            obj=poll,
            data={
                "area": area.pk if area is not None else None,
                "choices": labels,
                "multiple": multiple,
                "opens_at": opens_at.isoformat(),
                "closes_at": closes_at.isoformat(),
            },
        )
        _changed()
    return poll


def poll_close(*, actor: User, poll: Poll) -> Poll:
    """Close ``poll`` now (a poll not yet open closes before it ever opens)."""
    require_role(actor, *POLL_ROLES, action="close polls")
    with transaction.atomic():
        locked = Poll.objects.select_for_update().get(pk=poll.pk)
        now = timezone.now()
        if locked.closes_at <= now:
            raise InvalidInputError(_("This poll is already closed."))
        locked.closes_at = now
        if locked.opens_at > now:
            locked.opens_at = now
        locked.save(update_fields=["closes_at", "opens_at"])
        audit_record(actor=actor, action="community.poll_close", obj=locked)
        _changed()
    return locked


def _voting_area(resident: Resident, poll: Poll) -> int:
    """The neighbourhood ``resident`` votes from in ``poll``; refuses residents who may not
    vote in it."""
    verified = Membership.objects.filter(resident=resident, status=MembershipStatus.VERIFIED)
    if poll.area_id is not None:
        verified = verified.filter(area_id=poll.area_id)
    area_id = verified.order_by("id").values_list("area_id", flat=True).first()
    if area_id is None:
        if poll.area_id is not None:
            raise InvalidInputError(
                _("Only verified residents of this neighbourhood can vote in this poll.")
            )
        raise InvalidInputError(_("Only verified residents can vote in polls."))
    return area_id


def vote(*, resident: Resident, poll: Poll, choice_ids: Sequence[int]) -> Ballot:
    """Cast ``resident``'s one ballot in ``poll`` for ``choice_ids``.

    Refused (nothing stored) unless the poll is open, the resident is verified where the poll
    asks, the choices belong to the poll (exactly one unless the poll allows several), and the
    resident has not voted in it before (also when two votes race).
    """
    if not poll.is_open():
        raise InvalidInputError(_("This poll is not open for voting."))
    area_id = _voting_area(resident, poll)
    wanted = {int(c) for c in choice_ids}
    if not wanted:
        raise InvalidInputError(_("Choose an answer before voting."))
    if len(wanted) > 1 and not poll.multiple:
        raise InvalidInputError(_("This poll takes one answer only."))
    choices = list(PollChoice.objects.filter(poll=poll, pk__in=wanted))
    if len(choices) != len(wanted):
        raise InvalidInputError(_("That answer is not one of this poll's choices."))
    already = _("You have already voted in this poll; each resident votes once.")
    if Ballot.objects.filter(poll=poll, resident=resident).exists():
        raise InvalidInputError(already)
    try:
        with transaction.atomic():
            ballot = Ballot.objects.create(poll=poll, resident=resident, area_id=area_id)
            ballot.choices.set(choices)
            audit_record(
                actor=None,
                action="community.vote",
                obj=poll,
                # Which resident voted is in the ballot; the audit entry keeps no choice.
                data={"ballot": ballot.pk, "resident": resident.pk, "area": area_id},
            )
    except IntegrityError:
        # Another request of the same resident won the race for the one ballot.
        raise InvalidInputError(already) from None
    return ballot


def poll_results_export(*, actor: User, poll: Poll) -> str:
    """The poll's results by neighbourhood as CSV, for staff who run polls; the export is
    audited."""
    from watchhouse.community.selectors.polls import poll_results, poll_results_csv

    require_role(actor, *POLL_ROLES, action="export poll results")
    with transaction.atomic():
        text = poll_results_csv(poll_results(poll))
        audit_record(actor=actor, action="community.poll_export", obj=poll)
    return text
