"""Search over listed posts, on SQLite FTS5 and PostgreSQL full-text alike."""

from __future__ import annotations

import pytest
from django.urls import reverse

from watchhouse.posts.search import fts5_query, post_search
from watchhouse.posts.states import PostState

pytestmark = pytest.mark.django_db

NASTY = ['"foo AND (', "foo OR", "NEAR(a b", "*", "'; DROP TABLE posts_post; --", "title:x",
         "a\x00b", '"""', "-", "((((", "^foo", "burglary -", "\\"]  # fmt: skip


@pytest.fixture
def posts(make_post):
    return {
        "bikes": make_post(
            "Bicycle thefts rising", body="Lock your bike with a D-lock near the station."
        ),
        "burglary": make_post(
            "Burglary prevention", summary="Close windows at night.", body="Lock the doors."
        ),
        "bikes_draft": make_post("Bicycle draft", state=PostState.DRAFT, body="bicycle"),
        "bikes_retracted": make_post("Bicycle myth", state=PostState.RETRACTED),
    }


def test_finds_listed_posts_by_word(posts):
    assert [p.title for p in post_search("bicycle", limit=10)] == ["Bicycle thefts rising"]
    assert [p.title for p in post_search("windows", limit=10)] == ["Burglary prevention"]
    assert [p.title for p in post_search("station lock", limit=10)] == ["Bicycle thefts rising"]
    assert post_search("submarine", limit=10) == []


def test_stems_words(posts):
    assert [p.title for p in post_search("thefts", limit=10)] == ["Bicycle thefts rising"]
    assert [p.title for p in post_search("theft", limit=10)] == ["Bicycle thefts rising"]


def test_title_matches_rank_first(make_post):
    make_post("Safety tips", body="Remember: a parked car is not a safe. Lock it.")
    make_post("Car break-ins", body="Several cars were opened.")
    assert [p.title for p in post_search("car", limit=10)][0] == "Car break-ins"


def test_follows_edits(posts):
    post = posts["burglary"]
    post.title = "Garden shed security"
    post.save()
    assert post_search("burglary", limit=10) == []
    assert [p.title for p in post_search("shed", limit=10)] == ["Garden shed security"]


@pytest.mark.parametrize("q", NASTY)
def test_any_input_is_a_plain_search(posts, q):
    assert isinstance(post_search(q, limit=10), list)


def test_query_syntax_is_quoted_for_fts5():
    assert fts5_query('"foo AND (') == '"foo" "AND"'
    assert fts5_query("((") == ""


def test_search_page(client, posts):
    page = client.get(reverse("posts:search"), {"q": "bicycle"}).content.decode()
    assert "Bicycle thefts rising" in page
    assert "Bicycle draft" not in page
    assert "Bicycle myth" not in page
    nasty = client.get(reverse("posts:search"), {"q": '"foo AND ('})
    assert nasty.status_code == 200
    assert "No posts match “&quot;foo AND (”." in nasty.content.decode()


def test_paging(make_post):
    for n in range(5):
        make_post(f"Patrol report {n}")
    first = post_search("patrol", limit=3)
    second = post_search("patrol", limit=3, offset=3)
    assert len(first) == 3
    assert len(second) == 2
    assert not {p.pk for p in first} & {p.pk for p in second}


def test_resolved_appeals_are_never_found(make_post):
    make_post("Missing: Robin Example", kind="missing", redacted=True, outcome="found")
    assert post_search("Robin", limit=10) == []
