"""Demo rumor control (run after the posts demo): the scenario's false "second shooter" rumor
answered with a correction post, a true one, and one still being checked.

Loading again changes nothing: the demo is found by its incident's name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from watchhouse.accounts.models import User
from watchhouse.rumors.models import Incident
from watchhouse.rumors.services import (
    incident_create,
    rumor_decide,
    rumor_evidence_add,
    rumor_open,
    rumor_publish_correction,
)

INCIDENT = "Roosevelt High lockdown"


def load(*, stdout: Any) -> None:
    """Create the demo incident and its rumors unless they are there."""
    if Incident.objects.filter(name=INCIDENT).exists():
        stdout.write("Demo rumors: already loaded (see /rumors/).")
        return
    pio = User.objects.get(username="pio")
    now = timezone.now()
    incident = incident_create(actor=pio, name=INCIDENT)
    shooter = rumor_open(
        actor=pio,
        claim="A second shooter is still at large near Roosevelt High",
        first_seen_at=now - timedelta(minutes=47),
        first_seen_where="Reposted screenshot in a neighbourhood group",
        incident=incident,
        links=["https://social.example/@someone/1130"],
    )
    rumor_evidence_add(
        actor=pio,
        rumor=shooter,
        kind="note",
        note="Scene commander confirmed at 14:10: one suspect, in custody; no second shooter.",
    )
    rumor_decide(
        actor=pio,
        rumor=shooter,
        status="false",
        what_we_know="There was one suspect, who is in custody. Officers searched the area and "
        "found no second person. The school is safe and pupils are being released to parents "
        "at the east gate.",
    )
    rumor_publish_correction(actor=pio, rumor=shooter)
    closed = rumor_open(
        actor=pio,
        claim="Roosevelt High is closed tomorrow",
        first_seen_at=now - timedelta(minutes=30),
        first_seen_where="Parents' group chat",
        incident=incident,
    )
    rumor_decide(
        actor=pio,
        rumor=closed,
        status="true",
        what_we_know="The school district confirms Roosevelt High is closed tomorrow; "
        "counsellors are available at the library from 9 am.",
    )
    rumor_open(
        actor=pio,
        claim="Police are searching every car leaving the area",
        first_seen_at=now - timedelta(minutes=10),
        first_seen_where="Local radio call-in",
        incident=incident,
    )
    stdout.write("Demo rumors: 3 about the Roosevelt High lockdown (2 answered, see /rumors/).")
