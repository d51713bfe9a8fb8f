"""Fixtures of the conversation and moderation tests (loaded with ``pytest_plugins``): a
published agency post (for some neighbourhoods or the whole city), a moderator, and a
discussion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from watchhouse.community.models import Discussion, Resident
from watchhouse.geo.models import Area
from watchhouse.posts.models import Post
from watchhouse.posts.services import PostFields, post_create, post_publish


@pytest.fixture
def conversation_media(settings: Any, tmp_path: Path) -> None:
    """Media folders of the test's own (publishing a post may write renditions)."""
    settings.MEDIA_ROOT = tmp_path / "public-media"
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = tmp_path / "private-media"


@pytest.fixture
def moderator(make_staff: Callable[..., Any]) -> Any:
    """A public information officer (a moderator)."""
    return make_staff("pio")


@pytest.fixture
def publish_post(moderator: Any, conversation_media: None) -> Callable[..., Post]:
    """Publish an agency post for ``areas`` (none: the whole city)."""

    def make(*areas: Area, title: str = "Road works on Main Street") -> Post:
        fields = PostFields(
            kind="update",
            title=title,
            summary="Expect delays near the mill this week.",
            body="Crews work every night from 8 pm.",
            area_ids=tuple(a.pk for a in areas),
        )
        return post_publish(actor=moderator, post=post_create(actor=moderator, fields=fields))

    return make


@pytest.fixture
def start_discussion() -> Callable[..., Discussion]:
    """A discussion written straight to the database (for tests that are not about starting
    one)."""

    def make(author: Resident, area: Area, **fields: Any) -> Discussion:
        values = {"title": "Streetlight out on Elm", "body": "Dark since Monday."} | fields
        return Discussion.objects.create(author=author, area=area, **values)

    return make
