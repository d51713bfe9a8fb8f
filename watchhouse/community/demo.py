"""Demo community over Alderford (run after the posts demo): residents verified and waiting, a
neighbourhood conversation with the department's reply and a hidden comment, a safety concern
written behaviour first, a comment on a post, a city-wide poll with votes, community reports
open and closed, and post views for the figures page.

Everything goes through the same services the pages use. Loading again changes nothing: the
demo is found by its first resident's e-mail address.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from watchhouse.accounts.models import User
from watchhouse.community.models import (
    Membership,
    ModerationReason,
    PostView,
    Resident,
)
from watchhouse.community.services.conversation import (
    agency_reply,
    comment_create,
    discussion_start,
)
from watchhouse.community.services.moderation import moderation_hide, profiling_terms_seed
from watchhouse.community.services.polls import poll_create, vote
from watchhouse.community.services.reports import (
    Reporter,
    report_services_default,
    report_submit,
    report_update,
)
from watchhouse.community.services.residents import membership_approve
from watchhouse.core import crypto
from watchhouse.geo.models import Area, AreaKind
from watchhouse.posts.models import Post, PostState

RESIDENTS = [
    ("maria@example.invalid", "Maria L.", "14 Mill Lane", True),
    ("tom@example.invalid", "Tom B.", "3 Mill Lane", True),
    ("jun@example.invalid", "Jun P.", "88 Cedar Road", False),
]


def _member(resident: Resident, area: Area, address: str, verify: bool, staff: User) -> None:
    membership = Membership.objects.create(
        resident=resident, area=area, address=crypto.seal(address)
    )
    if verify:
        membership_approve(actor=staff, membership=membership)


def load(*, stdout: Any) -> None:
    """Create the demo residents, conversation, poll, reports and views unless they are there."""
    if Resident.objects.filter(email=RESIDENTS[0][0]).exists():
        stdout.write("Demo community: already loaded (sign in at /community/).")
        return
    hood = Area.objects.filter(kind=AreaKind.NEIGHBOURHOOD).order_by("name").first()
    if hood is None:
        stdout.write("Demo community: no neighbourhoods, skipped.")
        return
    pio = User.objects.get(username="pio")
    demo = User.objects.get(username="demo")
    profiling_terms_seed()
    residents = []
    for email, name, address, verify in RESIDENTS:
        resident = Resident.objects.create(email=email, display_name=name)
        _member(resident, hood, address, verify, demo)
        residents.append(resident)
    maria, tom, _jun = residents

    talk = discussion_start(
        resident=maria,
        area=hood,
        kind="general",
        title="Streetlights out on Mill Lane",
        body="Three lights have been out for a week between the school and the bridge. "
        "Has anyone reported it?",
    )
    comment_create(resident=tom, discussion=talk, body="I reported it last night as well.")
    agency_reply(
        actor=pio,
        discussion=talk,
        body="Thank you both. The city's lighting crew has the report and plans to fix them "
        "on Thursday; until then the beat officers patrol the stretch after dark.",
    )
    off_topic = comment_create(
        resident=tom, discussion=talk, body="Anyone selling a used bike? DM me."
    )
    moderation_hide(
        actor=pio,
        item=off_topic,
        reason=ModerationReason.OFF_TOPIC,
        note="Moved to the neighbourhood marketplace.",
    )
    discussion_start(
        resident=maria,
        area=hood,
        kind="safety",
        title="Someone trying car doors on Mill Lane",
        body="Around 2 am a person walked down the lane pulling on car door handles.",
        behaviour="Tried the handles of four parked cars, then walked towards the bridge.",
        clothing="Grey hooded jacket, dark trousers, white trainers, small backpack.",
        person_description="Tall, slim, hood up.",
    )
    post = (
        Post.objects.filter(state=PostState.PUBLISHED, kind="safety_tip")
        .order_by("published_at")
        .first()
        or Post.objects.filter(state=PostState.PUBLISHED).order_by("published_at").first()
    )
    if post is not None and (not post.areas.exists() or post.areas.filter(pk=hood.pk).exists()):
        comment_create(resident=maria, post=post, body="Useful, thank you. Sharing with my street.")
    now = timezone.now()
    poll = poll_create(
        actor=pio,
        question="Which time suits you for the next community meeting?",
        description="Meetings are at the library; we will pick the time most people can make.",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=13),
        choices=["Tuesday 6 pm", "Thursday 7 pm", "Saturday 10 am"],
    )
    choices = list(poll.choices.order_by("position", "id"))
    vote(resident=maria, poll=poll, choice_ids=[choices[1].pk])
    vote(resident=tom, poll=poll, choice_ids=[choices[2].pk])
    report_services_default()
    centre = hood.shape.representative_point()
    report_submit(
        service_code="graffiti",
        description="Graffiti on the bus shelter by the school, offensive words.",
        lat=centre.y,
        lon=centre.x,
        reporter=Reporter(email="maria@example.invalid", first_name="Maria"),
    )
    fixed = report_submit(
        service_code="streetlight",
        description="Three streetlights out between the school and the bridge.",
        lat=centre.y,
        lon=centre.x,
    )
    report_update(
        actor=demo,
        request=fixed,
        status="closed",
        status_notes="Lighting crew replaced the three lamps.",
    )
    if post is not None:
        PostView.objects.create(post=post, day=now.date(), channel="web", count=42)
    stdout.write(
        f"Demo community: 3 residents in {hood.name} (one waiting for verification), "
        "2 discussions, a poll, 2 reports (see /community/ and the console)."
    )
