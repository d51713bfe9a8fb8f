"""The public rumor-control page and its feeds: answered rumors only, grouped by incident,
with verdict, "what we know" and the correction; feeds readers parse; the page cache follows
every answer at once."""

from __future__ import annotations

import json
from typing import Any

import feedparser
import pytest
from django.urls import reverse

from tests.rumors.conftest_rumors import answered_rumor, open_rumor
from tests.wsgi import call
from watchhouse.posts.public import post_url
from watchhouse.rumors.services import incident_create, rumor_decide, rumor_publish_correction

pytestmark = pytest.mark.django_db


def test_the_page_groups_answered_rumors_by_incident_with_their_verdict(
    client: Any, pio: Any
) -> None:
    storm = incident_create(actor=pio, name="Storm of 3 March")
    answered_rumor(pio, "The dam has burst", incident=storm, what_we_know="The dam is intact.")
    answered_rumor(
        pio, "Shelters are open at the school", status="true", what_we_know="Open until 8 pm."
    )
    open_rumor(pio, "Looters are on Main Street")
    response = client.get(reverse("rumors:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The dam has burst" in page and "The dam is intact." in page
    assert "Shelters are open at the school" in page
    assert "Looters are on Main Street" not in page
    # The incident's group comes before "Other", each verdict in words as well as colour.
    assert page.index("Storm of 3 March") < page.index("The dam has burst")
    assert page.index("The dam has burst") < page.index(">Other</h2>") < page.index("Shelters are")
    assert 'class="verdict verdict-false">False<' in page
    assert 'class="verdict verdict-true">True<' in page
    assert "Answered" in page


def test_an_unanswered_rumor_has_no_public_page(client: Any, pio: Any) -> None:
    rumor = open_rumor(pio)
    assert client.get(reverse("rumors:detail", args=[rumor.pk])).status_code == 404
    rumor_decide(actor=pio, rumor=rumor, status="false", what_we_know="It stands.")
    response = client.get(reverse("rumors:detail", args=[rumor.pk]))
    assert response.status_code == 200 and b"It stands." in response.content


def test_what_we_know_is_plain_text(client: Any, pio: Any) -> None:
    answered_rumor(pio, what_we_know="<script>alert(1)</script> The bridge stands.")
    page = client.get(reverse("rumors:list")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; The bridge stands." in page


def test_rumor_to_correction_to_the_news_the_rumor_page_and_the_feeds(
    client: Any, pio: Any
) -> None:
    """The issue's round trip: a rumor, its correction post, on /rumors/ and in its feeds."""
    rumor = open_rumor(pio, "The Route 9 bridge has collapsed")
    rumor_decide(
        actor=pio, rumor=rumor, status="false", what_we_know="The bridge is standing and open."
    )
    post = rumor_publish_correction(actor=pio, rumor=rumor, title="Route 9 bridge: it stands")
    news = client.get(reverse("posts:list")).content.decode()
    assert "Route 9 bridge: it stands" in news
    page = client.get(reverse("rumors:list")).content.decode()
    assert f'href="{post_url(post)}"' in page
    assert client.get(post_url(post)).status_code == 200

    rss = feedparser.parse(client.get(reverse("rumors:feed_rss")).content)
    assert not rss.bozo and rss.version == "rss20"
    [item] = rss.entries
    assert item.title == "False: The Route 9 bridge has collapsed"
    assert "The bridge is standing and open." in item.summary
    assert post_url(post) in item.content[0].value
    assert item.link.endswith(reverse("rumors:detail", args=[rumor.pk]))

    atom = feedparser.parse(client.get(reverse("rumors:feed_atom")).content)
    assert not atom.bozo and atom.version == "atom10"
    [entry] = atom.entries
    assert entry.title == "False: The Route 9 bridge has collapsed"
    assert "The bridge is standing and open." in entry.summary
    assert any(link.href.endswith(post_url(post)) for link in entry.links)
    assert "False" in [tag.term for tag in entry.tags]

    response = client.get(reverse("rumors:feed_json"))
    assert response["Content-Type"].startswith("application/feed+json")
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    [item] = feed["items"]
    assert item["title"] == "False: The Route 9 bridge has collapsed"
    assert item["_watchhouse"]["verdict"] == "false"
    assert item["external_url"].endswith(post_url(post))
    assert "The bridge is standing and open." in item["content_text"]


def test_an_unanswered_rumor_is_in_no_feed(client: Any, pio: Any) -> None:
    open_rumor(pio, "Looters are on Main Street")
    for name in ("rumors:feed_rss", "rumors:feed_atom"):
        assert feedparser.parse(client.get(reverse(name)).content).entries == []
    assert json.loads(client.get(reverse("rumors:feed_json")).content)["items"] == []


def test_a_feed_answers_304_while_nothing_changed(client: Any, pio: Any) -> None:
    answered_rumor(pio)
    first = client.get(reverse("rumors:feed_atom"))
    assert first["ETag"] and first["Last-Modified"]
    again = client.get(reverse("rumors:feed_atom"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    answered_rumor(pio, "Schools are closed")
    changed = client.get(reverse("rumors:feed_atom"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and b"Schools are closed" in changed.content


@pytest.mark.usefixtures("page_cache_on")
@pytest.mark.parametrize("path", ["/rumors/", "/rumors/feed.rss", "/rumors/feed.json"])
def test_a_new_answer_shows_at_once_through_the_page_cache(
    front: Any, pio: Any, path: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        answered_rumor(pio, "The dam has burst")
    for _ in range(2):  # the second answer comes from the fast path
        status, _headers, body = call(front, path)
        assert status.startswith("200") and b"The dam has burst" in body
    assert b"Schools are closed" not in body
    with django_capture_on_commit_callbacks(execute=True):
        rumor = open_rumor(pio, "Schools are closed")
    assert b"Schools are closed" not in call(front, path)[2]
    with django_capture_on_commit_callbacks(execute=True):
        rumor_decide(actor=pio, rumor=rumor, status="false", what_we_know="Schools are open.")
    assert b"Schools are closed" in call(front, path)[2]


def test_the_home_page_lists_rumor_control(client: Any) -> None:
    page = client.get(reverse("web:home")).content.decode()
    assert reverse("rumors:list") in page and "Rumor control" in page
