"""The public timeline at /news/: what is listed, in which order, filtered and paged."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from watchhouse.posts.public import post_filter_make, timeline_page
from watchhouse.posts.states import PostState

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    return re.findall(r'<h3><a href="[^"]+">([^<]+)</a></h3>', response.content.decode())


def test_only_published_posts_are_listed_newest_first(client, make_post):
    make_post("First news")
    make_post("Second news")
    for state in (PostState.DRAFT, PostState.REVIEW, PostState.SCHEDULED):
        make_post(f"Hidden {state}", state=state)
    make_post("Taken back", state=PostState.RETRACTED)
    make_post("Old and archived", state=PostState.ARCHIVED)
    response = client.get(reverse("posts:list"))
    assert response.status_code == 200
    assert titles(response) == ["Second news", "First news"]
    assert "Hidden" not in response.content.decode()


def test_filters_by_kind_area_and_topic(client, make_post, town, topic):
    road = topic("Road safety")
    make_post("Mill update", areas=[town["Old Mill"]])
    make_post("Cedar event", kind="event", areas=[town["Cedar Park"]], topics=[road])
    make_post("Tip for all", kind="safety_tip", topics=[road])
    old_mill = town["Old Mill"].slug
    assert titles(client.get(reverse("posts:list"), {"kind": "event"})) == ["Cedar event"]
    assert titles(client.get(reverse("posts:list"), {"area": old_mill})) == ["Mill update"]
    assert titles(client.get(reverse("posts:list"), {"topic": "road-safety"})) == [
        "Tip for all",
        "Cedar event",
    ]
    both = client.get(reverse("posts:list"), {"topic": "road-safety", "kind": "safety_tip"})
    assert titles(both) == ["Tip for all"]
    assert client.get(reverse("posts:list"), {"kind": "nonsense"}).status_code == 404
    assert client.get(reverse("posts:list"), {"area": "atlantis"}).status_code == 404


def test_advertises_feeds_matching_the_filter(client, make_post, town):
    make_post("Mill update", areas=[town["Old Mill"]])
    page = client.get(reverse("posts:list"), {"area": town["Old Mill"].slug}).content.decode()
    links = re.findall(r'<link rel="alternate" type="([^"]+)" title="[^"]*" href="([^"]+)">', page)
    assert links == [
        ("application/rss+xml", "/news/feed.rss?area=old-mill"),
        ("application/atom+xml", "/news/feed.atom?area=old-mill"),
        ("application/feed+json", "/news/feed.json?area=old-mill"),
    ]


def test_pages_follow_each_other_without_gaps_or_repeats(client, make_post):
    made = [make_post(f"Post {n:02d}").title for n in range(45)]
    seen: list[str] = []
    url = reverse("posts:list")
    for _ in range(5):
        response = client.get(url)
        seen += titles(response)
        older = re.search(r'<a rel="next" href="([^"]+)"', response.content.decode())
        if older is None:
            break
        url = reverse("posts:list") + older.group(1).replace("&amp;", "&")
    assert seen == list(reversed(made))


def test_a_malformed_cursor_shows_the_first_page(client, make_post):
    make_post("Only post")
    response = client.get(reverse("posts:list"), {"after": "'; DROP TABLE x; --"})
    assert titles(response) == ["Only post"]


def test_cards_show_cover_with_srcset_and_alt_and_the_updated_mark(client, make_post, make_image):
    from django.utils import timezone

    post = make_post("With a picture", edited_at=timezone.now())
    cover = make_image(post, alt="Officers at the fair")
    page = client.get(reverse("posts:list")).content.decode()
    img = re.search(r"<img [^>]+>", page)
    assert img is not None
    assert 'alt="Officers at the fair"' in img.group(0)
    folder = f"/media/posts/{cover.pk}"
    assert f"{folder}/w320.jpg 320w, {folder}/w640.jpg 640w" in img.group(0)
    assert '<span class="updated">Updated</span>' in page


def test_titles_are_escaped(client, make_post):
    make_post("<script>alert(1)</script> Breaking")
    page = client.get(reverse("posts:list")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Breaking" in page


def test_timeline_query_count_does_not_grow_with_posts(
    make_post, make_image, topic, django_assert_num_queries
):
    road = topic("Road safety")
    for n in range(30):
        post = make_post(f"Post {n}", topics=[road])
        if n % 3 == 0:
            make_image(post)
    # The posts, then their visible media.
    with django_assert_num_queries(2):
        page = timeline_page()
        assert len(page.posts) == 20
        assert page.next_cursor
    # A topic filter is resolved with one query more.
    with django_assert_num_queries(1):
        post_filter = post_filter_make(kind="update", topic="road-safety")
    with django_assert_num_queries(2):
        assert len(timeline_page(post_filter, cursor=page.next_cursor).posts) == 10


def test_timeline_page_query_count(client, make_post, make_image, django_assert_num_queries):
    for n in range(25):
        make_image(make_post(f"Post {n}"))
    # Posts, their media, and the topic and area lists of the filter form.
    with django_assert_num_queries(4):
        assert client.get(reverse("posts:list")).status_code == 200


def test_cached_pages_show_new_posts_and_each_visitor_its_own_token(client, make_post, settings):
    """With the page cache on (as in production), a post published since the last visit is
    on the page at once, and the language form carries the visitor's own CSRF token."""
    from django.core.cache import cache

    settings.WATCHHOUSE_PAGE_CACHE = True
    cache.clear()
    make_post("First news")
    first = client.get(reverse("posts:list"))
    assert titles(first) == ["First news"]
    assert "WatchhouseCsrfTokenPlaceholderX" not in first.content.decode()
    assert 'name="csrfmiddlewaretoken"' in first.content.decode()
    again = client.get(reverse("posts:list"), headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    make_post("Second news")
    assert titles(client.get(reverse("posts:list"))) == ["Second news", "First news"]
    cache.clear()
