"""The page cache by section: a change retires the pages made from its section and no others,
and a query string is part of the key only where the view says so."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from watchhouse.core import pagecache

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("page_cache_on")]


class Counter:
    """A view body that says how many times it was rendered."""

    def __init__(self) -> None:
        self.renders = 0

    def __call__(self) -> tuple[HttpResponse, float]:
        self.renders += 1
        return HttpResponse(f"render {self.renders}"), 60.0


def get(path: str, render: Counter, *, query: bool = False) -> str:
    request: HttpRequest = RequestFactory().get(path)
    response = pagecache.serve(request, "page", render, query=query)
    return response.content.decode()


def bump(section: str, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        pagecache.pages_changed(section)


def test_a_change_retires_only_the_pages_of_its_section(
    django_capture_on_commit_callbacks: Any,
) -> None:
    news, alert, area = Counter(), Counter(), Counter()
    for _ in range(2):
        assert get("/news/", news) == "render 1"
        assert get("/alerts/7/", alert) == "render 1"
        assert get("/areas/neighbourhood/x/", area) == "render 1"
    bump("posts", django_capture_on_commit_callbacks)
    assert get("/news/", news) == "render 2"
    assert get("/alerts/7/", alert) == "render 1"
    # An area page shows posts too.
    assert get("/areas/neighbourhood/x/", area) == "render 2"
    bump("crime", django_capture_on_commit_callbacks)
    assert get("/news/", news) == "render 2"
    assert get("/areas/neighbourhood/x/", area) == "render 3"


def test_same_name_under_two_paths_is_two_pages() -> None:
    first, second = Counter(), Counter()
    assert get("/news/1-a/", first) == "render 1"
    assert get("/news/2-b/", second) == "render 1"
    assert first.renders == second.renders == 1


def test_query_string_is_keyed_only_where_the_view_allows_it() -> None:
    filtered = Counter()
    assert get("/news/?kind=event", filtered, query=True) == "render 1"
    assert get("/news/?kind=event", filtered, query=True) == "render 1"
    assert get("/news/?kind=appeal", filtered, query=True) == "render 2"
    plain = Counter()
    assert get("/podcast/?x=1", plain) == "render 1"
    assert get("/podcast/?x=1", plain) == "render 2"
    long_query = "/news/?q=" + "a" * (pagecache.QUERY_MAX + 1)
    assert get(long_query, filtered, query=True) == "render 3"
    assert get(long_query, filtered, query=True) == "render 4"


def test_pages_outside_the_routes_and_unknown_sections_are_refused() -> None:
    with pytest.raises(ValueError, match="not under a cached route"):
        get("/subscribe/", Counter())
    with pytest.raises(ValueError, match="No cached pages"):
        pagecache.pages_changed("tips")
