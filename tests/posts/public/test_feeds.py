"""The feeds as feed readers and podcast apps read them (feedparser), and their validators."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser
import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import etree
from PIL import Image

from watchhouse.posts.public import post_url
from watchhouse.posts.states import PostState

pytestmark = pytest.mark.django_db

FEEDS = ["/news/feed.rss", "/news/feed.atom"]
ITUNES = {"itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd"}
PODCAST = {"podcast": "https://podcastindex.org/namespace/1.0"}


@pytest.fixture
def posts(make_post, make_image, town, topic):
    road = topic("Road safety")
    older = make_post("Bridge repairs", areas=[town["Old Mill"]], topics=[road])
    make_image(older, alt="The bridge")
    newer = make_post("Coffee with a cop", kind="event", areas=[town["Cedar Park"]])
    for state in (PostState.DRAFT, PostState.REVIEW, PostState.SCHEDULED, PostState.RETRACTED):
        make_post(f"Not listed {state}", state=state)
    return older, newer


@pytest.mark.parametrize("url", FEEDS)
def test_feed_readers_parse_every_field(client, posts, url):
    older, newer = posts
    response = client.get(url)
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "News from Watchhouse Demo Police Department"
    assert parsed.feed.link == "https://police.example.org/news/"
    assert [e.title for e in parsed.entries] == ["Coffee with a cop", "Bridge repairs"]
    first = parsed.entries[1]
    assert first.link == f"https://police.example.org/news/{older.pk}-bridge-repairs/"
    assert first.id == f"tag:police.example.org,{older.created_at:%Y-%m-%d}:posts/{older.pk}"
    assert first.published_parsed[:5] == older.published_at.utctimetuple()[:5]
    assert first.summary
    assert "<strong>Bridge repairs</strong>" in first.content[0].value
    assert {t.term for t in first.tags} == {"Update", "Road safety"}
    assert "Not listed" not in response.content.decode()


def test_rss_enclosure_is_the_cover_image(client, posts):
    older, _ = posts
    cover = older.media.get()
    parsed = feedparser.parse(client.get("/news/feed.rss").content)
    (enclosure,) = parsed.entries[1].enclosures
    assert enclosure.href == f"https://police.example.org/media/posts/{cover.pk}/w640.jpg"
    assert enclosure.type == "image/jpeg"
    assert int(enclosure.length) > 0


def test_json_feed_has_the_required_fields_of_version_1_1(client, posts):
    older, newer = posts
    response = client.get("/news/feed.json")
    assert response["Content-Type"] == "application/feed+json; charset=utf-8"
    feed = json.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"]
    assert feed["home_page_url"] == "https://police.example.org/news/"
    assert feed["feed_url"] == "https://police.example.org/news/feed.json"
    assert [i["title"] for i in feed["items"]] == ["Coffee with a cop", "Bridge repairs"]
    for item in feed["items"]:
        assert isinstance(item["id"], str)
        assert item["url"].startswith("https://police.example.org/news/")
        assert item["content_html"]
        assert item["date_published"].endswith("+00:00")
        assert item["date_modified"]
        assert isinstance(item["tags"], list)
    cover = older.media.get()
    assert (
        feed["items"][1]["image"] == f"https://police.example.org/media/posts/{cover.pk}/w640.jpg"
    )


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_feeds_per_kind_area_and_topic(client, posts, town, fmt):
    def titles(query: dict[str, str]) -> list[str]:
        response = client.get(f"/news/feed.{fmt}", query)
        if fmt == "json":
            return [i["title"] for i in json.loads(response.content)["items"]]
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0
        return [e.title for e in parsed.entries]

    assert titles({"kind": "event"}) == ["Coffee with a cop"]
    assert titles({"area": town["Old Mill"].slug}) == ["Bridge repairs"]
    assert titles({"topic": "road-safety"}) == ["Bridge repairs"]
    assert client.get(f"/news/feed.{fmt}", {"topic": "nope"}).status_code == 404


@pytest.mark.parametrize("url", [*FEEDS, "/news/feed.json", "/podcast/feed.rss"])
def test_conditional_requests_get_304_until_a_post_changes(client, posts, url):
    older, _ = posts
    first = client.get(url)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert "max-age" in first["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    older.title = "Bridge repairs finished"
    older.edited_at = timezone.now()
    older.save()
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    if "podcast" not in url:
        assert "Bridge repairs finished" in changed.content.decode()


def test_retracting_a_post_takes_it_out_of_the_feeds(client, posts):
    older, _ = posts
    etag = client.get("/news/feed.atom")["ETag"]
    older.state = PostState.RETRACTED
    older.save()
    response = client.get("/news/feed.atom", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert "Bridge repairs" not in response.content.decode()


def test_a_304_costs_one_query(client, posts, django_assert_num_queries):
    etag = client.get("/news/feed.rss", {"area": "old-mill"})["ETag"]
    with django_assert_num_queries(1):
        response = client.get(
            "/news/feed.rss", {"area": "old-mill"}, headers={"If-None-Match": etag}
        )
    assert response.status_code == 304


@pytest.fixture
def episodes(make_post, make_audio):
    first = make_post("Episode 1: Meet the chief", kind="podcast")
    make_audio(first, seconds=754.0, size=4096)
    second = make_post("Episode 2: Bike theft", kind="podcast")
    make_audio(second, seconds=3725.0, size=8192)
    make_post("Episode 3 (no audio yet)", kind="podcast")
    draft = make_post("Episode 4 (draft)", kind="podcast", state=PostState.DRAFT)
    make_audio(draft)
    return first, second


def test_podcast_feed_has_apples_required_tags(client, episodes):
    first, second = episodes
    response = client.get("/podcast/feed.rss")
    assert response["Content-Type"] == "application/rss+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    channel = parsed.feed
    assert channel.title
    assert channel.subtitle  # <description>
    assert channel.language == "en"
    assert channel.image.href == "https://police.example.org/podcast/artwork.png"
    assert channel.tags[0].term == "Government"
    # Apple asks for "true" or "false"; feedparser only knows the older "yes"/"clean".
    assert "itunes_explicit" in channel
    assert channel.itunes_explicit is not True
    document = etree.fromstring(response.content)
    assert document.findtext("channel/itunes:explicit", namespaces=ITUNES) == "false"
    assert document.findtext("channel/item/itunes:explicit", namespaces=ITUNES) == "false"
    assert [e.title for e in parsed.entries] == [
        "Episode 2: Bike theft",
        "Episode 1: Meet the chief",
    ]
    latest = parsed.entries[0]
    (enclosure,) = latest.enclosures
    audio = second.media.get()
    assert enclosure.href == f"https://police.example.org/media/posts/{audio.pk}/audio.mp3"
    assert enclosure.length == "8192"
    assert enclosure.type == "audio/mpeg"
    assert latest.itunes_duration == "1:02:05"
    assert parsed.entries[1].itunes_duration == "0:12:34"
    assert latest.id == f"tag:police.example.org,{second.created_at:%Y-%m-%d}:posts/{second.pk}"
    assert latest.guidislink is False
    assert latest.published_parsed is not None


def test_podcast_guids_do_not_change_when_an_episode_is_edited(client, episodes):
    first, _ = episodes
    before = {
        e.title: e.id for e in feedparser.parse(client.get("/podcast/feed.rss").content).entries
    }
    first.title = "Episode 1: Meet the new chief"
    first.slug = "episode-1-meet-the-new-chief"
    first.edited_at = timezone.now() + timedelta(seconds=1)
    first.save()
    after = {
        e.title: e.id for e in feedparser.parse(client.get("/podcast/feed.rss").content).entries
    }
    assert after["Episode 1: Meet the new chief"] == before["Episode 1: Meet the chief"]


def test_podcast_artwork_is_a_square_png_of_at_least_1400_px(client):
    import io

    response = client.get(reverse("posts:podcast_artwork"))
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    assert image.size[0] == image.size[1] >= 1400


def test_feeds_from_the_page_cache_answer_conditional_requests(client, posts, settings):
    """With the page cache on (production), repeats come from the cache, If-None-Match and
    If-Modified-Since still get 304, and an edit reaches the feed at once."""
    from django.core.cache import cache

    settings.WATCHHOUSE_PAGE_CACHE = True
    cache.clear()
    older, _ = posts
    first = client.get("/news/feed.atom")
    assert first.status_code == 200
    assert feedparser.parse(first.content).bozo == 0
    etag, modified = first["ETag"], first["Last-Modified"]
    assert client.get("/news/feed.atom", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/news/feed.atom", headers={"If-Modified-Since": modified}).status_code == 304
    older.title = "Bridge repairs finished"
    older.edited_at = timezone.now()
    older.save()
    changed = client.get("/news/feed.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Bridge repairs finished" in changed.content.decode()
    cache.clear()


def test_episode_chapters_are_linked_and_served(client, make_post, make_audio):
    episode = make_post("Episode 5: Night shift", kind="podcast")
    audio = make_audio(episode)
    audio.chapters = [{"start_s": 95, "title": "On patrol"}, {"start_s": 0, "title": "Intro"}]
    audio.save()
    feed = client.get("/podcast/feed.rss").content
    assert feedparser.parse(feed).bozo == 0
    document = etree.fromstring(feed)
    link = document.find("channel/item/podcast:chapters", namespaces=PODCAST)
    assert link is not None
    assert link.get("type") == "application/json+chapters"
    response = client.get(link.get("url").removeprefix("https://police.example.org"))
    assert response["Content-Type"] == "application/json+chapters"
    assert json.loads(response.content) == {
        "version": "1.2.0",
        "chapters": [
            {"startTime": 0.0, "title": "Intro"},
            {"startTime": 95.0, "title": "On patrol"},
        ],
    }
    page = client.get(post_url(episode)).content.decode()
    assert "0:01:35</span> On patrol" in page
    plain = make_post("Episode 6", kind="podcast")
    make_audio(plain)
    assert client.get(reverse("posts:chapters", kwargs={"pk": plain.pk})).status_code == 404
