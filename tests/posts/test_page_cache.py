"""Cached public post pages and feeds follow every change at once, even when answered by the
fast path in front of Django."""

from __future__ import annotations

from typing import Any

import pytest

from tests.wsgi import call
from watchhouse.posts.services import post_publish, post_retract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("page_cache_on")]


@pytest.mark.parametrize("path", ["/news/", "/news/feed.atom", "/news/feed.json"])
def test_a_published_or_retracted_post_shows_at_once_through_the_fast_path(
    front: Any, path: str, pio: Any, make_post: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = post_publish(actor=pio, post=make_post(title="First closure"))
    for _ in range(2):  # the second answer comes from the fast path
        status, _headers, body = call(front, path)
        assert status.startswith("200") and b"First closure" in body
    with django_capture_on_commit_callbacks(execute=True):
        post_publish(actor=pio, post=make_post(title="Second closure"))
    assert b"Second closure" in call(front, path)[2]
    with django_capture_on_commit_callbacks(execute=True):
        post_retract(actor=pio, post=first, reason="Wrong street.")
    assert b"First closure" not in call(front, path)[2]
