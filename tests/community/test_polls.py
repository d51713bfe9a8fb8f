"""Polls: creating them, one vote per verified resident, neighbourhood polls, results by
neighbourhood, the CSV export and the public pages."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.community.conftest import signed_in
from watchhouse.audit.models import AuditEntry
from watchhouse.community.models import Ballot, Poll
from watchhouse.community.services.polls import poll_close, poll_create, vote
from watchhouse.core.errors import InvalidInputError, NotPermittedError

pytestmark = pytest.mark.django_db


def _poll(actor: Any, **changes: Any) -> Poll:
    now = timezone.now()
    values: dict[str, Any] = {
        "question": "Where should the next community meeting be?",
        "description": "",
        "area": None,
        "multiple": False,
        "opens_at": now - timedelta(hours=1),
        "closes_at": now + timedelta(days=7),
        "choices": ["Library", "School gym", "Online"],
    }
    values.update(changes)
    return poll_create(actor=actor, **values)


def _ids(poll: Poll, *labels: str) -> list[int]:
    return [c.pk for c in poll.choices.all() if c.label in labels]


@pytest.fixture
def pio(make_staff: Any) -> Any:
    return make_staff("pio")


def test_create_is_audited_with_choices_in_order(pio: Any) -> None:
    """A poll keeps its choices in the order given, and the creation is audited."""
    poll = _poll(pio)
    assert [c.label for c in poll.choices.all()] == ["Library", "School gym", "Online"]
    entry = AuditEntry.objects.get(action="community.poll_create")
    assert entry.object_id == str(poll.pk)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"choices": ["Only one"]}, "between 2 and 10"),
        ({"choices": [str(n) for n in range(11)]}, "between 2 and 10"),
        ({"choices": ["Yes", "yes "]}, "same"),
        ({"question": "  "}, "question"),
        ({"closes_at": timezone.now() - timedelta(days=1)}, "close after it opens"),
    ],
)
def test_create_refuses_bad_polls(pio: Any, changes: dict[str, Any], message: str) -> None:
    """Too few or too many choices, duplicates, no question, or closing before opening are
    refused and nothing is stored."""
    with pytest.raises(InvalidInputError, match=message):
        _poll(pio, **changes)
    assert not Poll.objects.exists()


def test_roles_refused(make_staff: Any) -> None:
    """A dispatcher cannot create or close polls."""
    dispatcher = make_staff("dispatcher")
    with pytest.raises(NotPermittedError):
        _poll(dispatcher)
    poll = _poll(make_staff("pio"))
    with pytest.raises(NotPermittedError):
        poll_close(actor=dispatcher, poll=poll)
    assert poll.is_open()


def test_vote_once_second_refused(pio: Any, hoods: Any, make_resident: Any) -> None:
    """A verified resident votes once; a second vote is refused and the first stands."""
    ana = make_resident("ana@example.org", hoods["Old Mill"])
    poll = _poll(pio)
    ballot = vote(resident=ana, poll=poll, choice_ids=_ids(poll, "Library"))
    assert ballot.area == hoods["Old Mill"]
    with pytest.raises(InvalidInputError, match="already voted"):
        vote(resident=ana, poll=poll, choice_ids=_ids(poll, "Online"))
    assert Ballot.objects.filter(poll=poll).count() == 1
    assert [c.label for c in Ballot.objects.get(poll=poll).choices.all()] == ["Library"]


def test_single_and_multiple_choice(pio: Any, hoods: Any, make_resident: Any) -> None:
    """A single-choice poll refuses two answers; a multiple-choice poll takes them."""
    ana = make_resident("ana@example.org", hoods["Old Mill"])
    single = _poll(pio)
    with pytest.raises(InvalidInputError, match="one answer"):
        vote(resident=ana, poll=single, choice_ids=_ids(single, "Library", "Online"))
    several = _poll(pio, question="Which evenings suit you?", multiple=True,
                    choices=["Monday", "Tuesday", "Wednesday"])  # fmt: skip
    ballot = vote(resident=ana, poll=several, choice_ids=_ids(several, "Monday", "Wednesday"))
    assert sorted(c.label for c in ballot.choices.all()) == ["Monday", "Wednesday"]


def test_choice_of_another_poll_refused(pio: Any, hoods: Any, make_resident: Any) -> None:
    ana = make_resident("ana@example.org", hoods["Old Mill"])
    poll, other = _poll(pio), _poll(pio, question="Other?")
    with pytest.raises(InvalidInputError, match="not one of"):
        vote(resident=ana, poll=poll, choice_ids=_ids(other, "Library"))
    assert not Ballot.objects.exists()


def test_neighbourhood_poll_only_its_verified_members(
    pio: Any, hoods: Any, make_resident: Any
) -> None:
    """Only verified members of the poll's neighbourhood vote in it; a resident who is not
    verified anywhere cannot vote in a city-wide poll either."""
    poll = _poll(pio, area=hoods["Cedar Park"])
    outsider = make_resident("bo@example.org", hoods["Old Mill"])
    pending = make_resident("cy@example.org", hoods["Cedar Park"], status="pending")
    member = make_resident("di@example.org", hoods["Cedar Park"])
    for resident in (outsider, pending):
        with pytest.raises(InvalidInputError, match="verified residents of this neighbourhood"):
            vote(resident=resident, poll=poll, choice_ids=_ids(poll, "Library"))
    vote(resident=member, poll=poll, choice_ids=_ids(poll, "Library"))
    city = _poll(pio)
    with pytest.raises(InvalidInputError, match="verified residents"):
        vote(resident=pending, poll=city, choice_ids=_ids(city, "Library"))
    assert Ballot.objects.count() == 1


def test_closed_and_future_polls_refuse_votes(pio: Any, hoods: Any, make_resident: Any) -> None:
    ana = make_resident("ana@example.org", hoods["Old Mill"])
    poll = _poll(pio)
    poll_close(actor=pio, poll=poll)
    assert AuditEntry.objects.filter(action="community.poll_close").exists()
    poll.refresh_from_db()
    with pytest.raises(InvalidInputError, match="not open"):
        vote(resident=ana, poll=poll, choice_ids=_ids(poll, "Library"))
    later = _poll(pio, opens_at=timezone.now() + timedelta(days=1),
                  closes_at=timezone.now() + timedelta(days=2))  # fmt: skip
    with pytest.raises(InvalidInputError, match="not open"):
        vote(resident=ana, poll=later, choice_ids=_ids(later, "Library"))
    assert not Ballot.objects.exists()


def _vote_all(poll: Poll, hoods: Any, make_resident: Any) -> None:
    """Old Mill: Library, Library, Online; Cedar Park: Online."""
    plan = [("a", "Old Mill", "Library"), ("b", "Old Mill", "Library"),
            ("c", "Old Mill", "Online"), ("d", "Cedar Park", "Online")]  # fmt: skip
    for name, hood, label in plan:
        resident = make_resident(f"{name}@example.org", hoods[hood])
        vote(resident=resident, poll=poll, choice_ids=_ids(poll, label))


def test_results_by_area_and_csv(client: Client, pio: Any, hoods: Any, make_resident: Any) -> None:
    """The console shows results by neighbourhood and exports them as CSV, audited."""
    poll = _poll(pio)
    _vote_all(poll, hoods, make_resident)
    client.force_login(pio)
    page = client.get(reverse("console:community_poll", kwargs={"pk": poll.pk}))
    assert page.status_code == 200
    assert "Old Mill (3)" in page.content.decode()
    response = client.get(reverse("console:community_poll_csv", kwargs={"pk": poll.pk}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    votes = {(r["choice"], r["area"]): int(r["votes"]) for r in rows}
    assert votes[("Library", "All")] == 2
    assert votes[("Library", "Old Mill")] == 2
    assert votes[("Library", "Cedar Park")] == 0
    assert votes[("Online", "Old Mill")] == 1
    assert votes[("Online", "Cedar Park")] == 1
    assert votes[("School gym", "All")] == 0
    ballots = {r["area"]: int(r["ballots_from_area"]) for r in rows}
    assert ballots == {"All": 4, "Old Mill": 3, "Cedar Park": 1}
    assert AuditEntry.objects.filter(action="community.poll_export", actor=pio).exists()


def test_console_roles_refused(client: Client, make_staff: Any, pio: Any) -> None:
    poll = _poll(pio)
    client.force_login(make_staff("dispatcher"))
    assert client.get(reverse("console:community_polls")).status_code == 403
    assert (
        client.get(reverse("console:community_poll_csv", kwargs={"pk": poll.pk})).status_code == 403
    )
    assert not AuditEntry.objects.filter(action="community.poll_export").exists()


def test_console_creates_and_closes(client: Client, pio: Any, hoods: Any) -> None:
    client.force_login(pio)
    now = timezone.localtime()
    response = client.post(
        reverse("console:community_polls"),
        {
            "question": "Should the park close at 10 pm?",
            "area": hoods["Riverside"].pk,
            "opens_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "choices": "Yes\nNo\n\nNo opinion\n",
        },
    )
    poll = Poll.objects.get()
    assert response.status_code == 302
    assert poll.area == hoods["Riverside"]
    assert [c.label for c in poll.choices.all()] == ["Yes", "No", "No opinion"]
    client.post(reverse("console:community_poll_close", kwargs={"pk": poll.pk}))
    poll.refresh_from_db()
    assert not poll.is_open()


def test_public_pages_vote_and_results(
    client: Client, pio: Any, hoods: Any, make_resident: Any
) -> None:
    """Results are hidden until the resident votes; after voting they are shown, and a
    second vote through the page is refused with the message."""
    poll = _poll(pio)
    listing = client.get(reverse("community:polls"))
    assert poll.question in listing.content.decode()
    anonymous = client.get(reverse("community:poll", kwargs={"pk": poll.pk})).content.decode()
    assert "Sign in to vote" in anonymous
    assert "Results" not in anonymous.split("</nav>", 1)[1].split("Results are shown")[0]
    ana = make_resident("ana@example.org", hoods["Old Mill"])
    signed_in(client, ana)
    form = client.get(reverse("community:poll", kwargs={"pk": poll.pk})).content.decode()
    assert 'type="radio" name="choice"' in form
    url = reverse("community:poll_vote", kwargs={"pk": poll.pk})
    done = client.post(url, {"choice": _ids(poll, "Library")}, follow=True)
    page = done.content.decode()
    assert "your vote is counted" in page
    assert "<h2>Results</h2>" in page
    again = client.post(url, {"choice": _ids(poll, "Online")})
    assert again.status_code == 400
    assert "already voted" in again.content.decode()
    assert Ballot.objects.count() == 1


def test_public_vote_refused_for_outsider(
    client: Client, pio: Any, hoods: Any, make_resident: Any
) -> None:
    poll = _poll(pio, area=hoods["Linden Hill"])
    signed_in(client, make_resident("bo@example.org", hoods["Old Mill"]))
    page = client.get(reverse("community:poll", kwargs={"pk": poll.pk})).content.decode()
    assert "Only verified residents of Linden Hill" in page
    response = client.post(
        reverse("community:poll_vote", kwargs={"pk": poll.pk}), {"choice": _ids(poll, "Online")}
    )
    assert response.status_code == 400
    assert not Ballot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_votes_at_once_one_ballot(make_staff: Any, hoods: Any, make_resident: Any) -> None:
    """Two votes of one resident sent at the same moment leave exactly one ballot."""
    poll = _poll(make_staff("pio"))
    ana = make_resident("ana@example.org", hoods["Old Mill"])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def cast(label: str) -> None:
        barrier.wait()
        try:
            vote(resident=ana, poll=poll, choice_ids=_ids(poll, label))
            outcomes.append("ok")
        except InvalidInputError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=cast, args=(label,)) for label in ("Library", "Online")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert Ballot.objects.filter(poll=poll).count() == 1
