"""A neighbourhood's public page shows its discussions, open polls and upcoming events, the
same for every visitor, and is retired from the page cache when they change."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from tests.community.conftest import signed_in
from watchhouse.community.models import Discussion, Poll, Visibility
from watchhouse.community.services.conversation import discussion_start
from watchhouse.geo.models import Area
from watchhouse.posts.models import Post, PostKind
from watchhouse.posts.states import PostState

pytestmark = pytest.mark.django_db

PAGE = "/areas/neighbourhood/old-mill/"


@pytest.fixture
def verifier(make_staff: Any) -> Any:
    return make_staff("pio")


def _community(html: bytes) -> str:
    """The community section of an area page."""
    match = re.search(
        r'<section aria-labelledby="area-community">.*?</section>', html.decode(), re.S
    )
    assert match, "no community section"
    return match.group(0)


def _discussion(area: Area, author: Any, title: str, **extra: Any) -> Discussion:
    return Discussion.objects.create(area=area, author=author, title=title, body="...", **extra)


def _poll(area: Area | None, question: str, staff: Any, opens: int, closes: int) -> Poll:
    now = timezone.now()
    return Poll.objects.create(
        question=question,
        area=area,
        opens_at=now + timedelta(days=opens),
        closes_at=now + timedelta(days=closes),
        created_by=staff,
    )


def _event(area: Area, title: str, staff: Any, starts: int, ends: int) -> Post:
    now = timezone.now()
    post = Post.objects.create(
        kind=PostKind.EVENT,
        state=PostState.PUBLISHED,
        title=title,
        slug=title.lower().replace(" ", "-"),
        author=staff,
        published_at=now - timedelta(days=1),
        event_start=now + timedelta(days=starts),
        event_end=now + timedelta(days=ends),
        event_location="Mill Street Hall",
    )
    post.areas.add(area)
    return post


def test_page_shows_discussions_polls_and_upcoming_events(
    hoods: Any, make_resident: Any, verifier: Any
) -> None:
    mill, cedar = hoods["Old Mill"], hoods["Cedar Park"]
    ana = make_resident("ana@example.org", area=mill, display_name="Ana")
    _discussion(mill, ana, "Streetlight out on Mill Street")
    _discussion(mill, ana, "Buy my bike", visibility=Visibility.HIDDEN, hidden_reason="spam")
    _discussion(cedar, ana, "Cedar Park picnic")
    _poll(mill, "Which night for the beat meeting?", verifier, -1, 3)
    _poll(None, "Should the city add bike patrols?", verifier, -1, 3)
    _poll(mill, "Closed question", verifier, -5, -1)
    _poll(mill, "Not yet open question", verifier, 2, 5)
    _poll(cedar, "Cedar question", verifier, -1, 3)
    _event(mill, "Coffee with a cop", verifier, 2, 2)
    _event(mill, "Last month's clean-up", verifier, -30, -30)

    section = _community(Client().get(PAGE).content)
    assert "Streetlight out on Mill Street" in section
    assert "/community/old-mill/" in section  # all discussions, and each one
    assert "Which night for the beat meeting?" in section
    assert "Should the city add bike patrols?" in section
    assert "Coffee with a cop" in section and "Mill Street Hall" in section
    for absent in (
        "Buy my bike",
        "Cedar Park picnic",
        "Closed question",
        "Not yet open question",
        "Cedar question",
        "clean-up",
    ):
        assert absent not in section
    assert 'href="/community/"' in section and "Join this neighbourhood" in section


def test_page_is_the_same_for_every_visitor(hoods: Any, make_resident: Any) -> None:
    """A verified member sees exactly what a visitor sees: the page is cached for everyone."""
    mill = hoods["Old Mill"]
    ana = make_resident("ana@example.org", area=mill, display_name="Ana")
    _discussion(mill, ana, "Streetlight out on Mill Street")
    visitor = _community(Client().get(PAGE).content)
    member = _community(signed_in(Client(), ana).get(PAGE).content)
    assert visitor == member
    assert "verified member" not in member


def test_other_kinds_of_area_have_no_community_section(hoods: Any) -> None:
    """Beats and districts have no members: the section is for neighbourhoods."""
    html = Client().get(PAGE).content.decode()
    assert 'aria-labelledby="area-community"' in html
    Area.objects.filter(slug="old-mill").update(kind="beat")
    other = Client().get("/areas/beat/old-mill/").content.decode()
    assert 'aria-labelledby="area-community"' not in other


def test_a_new_discussion_retires_the_cached_page(
    hoods: Any, make_resident: Any, page_cache_on: None
) -> None:
    mill = hoods["Old Mill"]
    ana = make_resident("ana@example.org", area=mill, display_name="Ana")
    visitor = Client()
    assert "No discussions here yet." in _community(visitor.get(PAGE).content)
    # Written behind the cache's back: the cached page is still served.
    _discussion(mill, ana, "Unannounced")
    assert "Unannounced" not in _community(Client().get(PAGE).content)
    with TestCase.captureOnCommitCallbacks(execute=True):
        discussion_start(
            resident=ana, area=mill, kind="general", title="Lost cat on Mill St", body="Grey."
        )
    fresh = _community(Client().get(PAGE).content)
    assert "Lost cat on Mill St" in fresh and "Unannounced" in fresh
