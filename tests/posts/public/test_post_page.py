"""A post's public page: canonical address, media, notices, link previews, calendar files."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from tests.posts.public.conftest import aware
from watchhouse.posts.models import AppealOutcome
from watchhouse.posts.public import post_url
from watchhouse.posts.states import PostState

pytestmark = pytest.mark.django_db


def meta(page: str, key: str) -> str | None:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', page)
    return found.group(1) if found else None


def test_other_slugs_redirect_to_the_canonical_address(client, make_post):
    post = make_post("Bridge closed tonight")
    response = client.get(f"/news/{post.pk}-old-title/")
    assert response.status_code == 301
    assert response["Location"] == f"/news/{post.pk}-bridge-closed-tonight/"
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("state", [PostState.DRAFT, PostState.REVIEW, PostState.SCHEDULED])
def test_unpublished_posts_are_not_found(client, make_post, state):
    post = make_post("Secret plan", state=state)
    assert client.get(f"/news/{post.pk}-secret-plan/").status_code == 404
    assert client.get(reverse("posts:ics", kwargs={"pk": post.pk})).status_code == 404


def test_body_html_is_shown_as_html_and_the_title_escaped(client, make_post):
    post = make_post(
        "<script>alert('x')</script>",
        body_html="<p>Call <strong>311</strong> for potholes.</p>",
    )
    page = client.get(post_url(post)).content.decode()
    assert "<p>Call <strong>311</strong> for potholes.</p>" in page
    assert "<script>alert" not in page
    assert "<h1>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</h1>" in page


def test_open_graph_and_twitter_tags_are_absolute(client, make_post, make_image):
    post = make_post("Found dog", summary="A brown dog waits at the station.")
    dog = make_image(post, alt="A brown dog")
    page = client.get(post_url(post)).content.decode()
    assert meta(page, "og:title") == "Found dog"
    assert meta(page, "og:description") == "A brown dog waits at the station."
    assert meta(page, "og:type") == "article"
    assert meta(page, "og:url") == f"https://police.example.org{post_url(post)}"
    assert meta(page, "og:image") == f"https://police.example.org/media/posts/{dog.pk}/w640.jpg"
    assert meta(page, "og:image:alt") == "A brown dog"
    assert meta(page, "twitter:card") == "summary_large_image"
    published = meta(page, "article:published_time")
    assert published is not None
    assert published.startswith(f"{timezone.localtime(post.published_at):%Y-%m-%dT%H:%M}")


def test_edited_posts_show_the_updated_mark(client, make_post):
    post = make_post("Edited", edited_at=aware(2026, 3, 4, 15, 30))
    page = client.get(post_url(post)).content.decode()
    assert "Updated March 4, 2026, 3:30 p.m." in page
    assert meta(page, "article:modified_time") is not None


def test_retracted_post_keeps_its_page_with_the_notice(client, make_post):
    post = make_post(
        "Wrong suspect description",
        state=PostState.RETRACTED,
        retracted_at=timezone.now(),
        retraction_note="The description we gave was wrong.",
    )
    page = client.get(post_url(post)).content.decode()
    assert "This post has been retracted." in page
    assert "The description we gave was wrong." in page
    assert '<article class="post retracted">' in page
    assert "Wrong suspect description" in page


def test_resolved_appeal_shows_only_the_neutral_notice(client, make_post, make_image):
    post = make_post(
        "Missing: Jordan Example, 14",
        kind="missing",
        summary="Jordan was last seen near the river.",
        body_html="<p>Jordan Example wears a red coat.</p>",
        outcome=AppealOutcome.FOUND,
        outcome_at=timezone.now(),
        redacted=True,
    )
    face = make_image(post, hidden=True, original_name="jordan-face.jpg", alt="Jordan")
    response = client.get(f"/news/{post.pk}-missing-jordan-example-14/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/news/{post.pk}-resolved/"
    assert "This appeal is closed (found)." in page
    assert "Jordan" not in page
    assert "jordan-face" not in page
    assert f"/media/posts/{face.pk}/" not in page
    assert "Send a tip about this" not in page and "/tips/new?appeal=" not in page
    assert meta(page, "og:image") is None


def test_hidden_media_is_never_rendered(client, make_post, make_image):
    post = make_post("Help us identify", kind="appeal")
    make_image(post, alt="Shown picture")
    make_image(post, alt="Hidden picture", hidden=True, role="gallery")
    page = client.get(post_url(post)).content.decode()
    assert "Shown picture" in page
    assert "Hidden picture" not in page
    assert "IMG_0001" not in page  # original file names never reach the public


def test_appeals_link_to_the_tip_form(client, make_post):
    appeal = make_post("Who is this?", kind="appeal")
    page = client.get(post_url(appeal)).content.decode()
    assert f'href="/tips/new?appeal={appeal.pk}"' in page
    assert "Send a tip about this" in page
    update = make_post("Road works")
    assert "Send a tip about this" not in client.get(post_url(update)).content.decode()


def test_event_page_and_calendar_file(client, make_post):
    start = aware(2026, 6, 1, 18, 0)
    event = make_post(
        "Coffee with a cop",
        kind="event",
        event_start=start,
        event_end=start + timedelta(hours=2),
        event_location="Mill Street Library",
        version=3,
    )
    page = client.get(post_url(event)).content.decode()
    assert "Mill Street Library" in page
    assert "June 1, 2026, 6 p.m." in page
    response = client.get(reverse("posts:ics", kwargs={"pk": event.pk}))
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Coffee with a cop"
    assert str(vevent["LOCATION"]) == "Mill Street Library"
    assert vevent.decoded("DTSTART") == start
    assert vevent.decoded("DTEND") == start + timedelta(hours=2)
    uid = str(vevent["UID"])
    event.title = "Coffee with a cop (moved)"
    event.save()
    again = Calendar.from_ical(client.get(reverse("posts:ics", kwargs={"pk": event.pk})).content)
    assert str(again.walk("VEVENT")[0]["UID"]) == uid
    update = make_post("Not an event")
    assert client.get(reverse("posts:ics", kwargs={"pk": update.pk})).status_code == 404


def test_spotlight_links_to_the_officer(client, make_post, make_officer):
    officer = make_officer("Officer Lee Park")
    post = make_post("Meet Officer Park", kind="story", officer=officer)
    page = client.get(post_url(post)).content.decode()
    assert 'href="/officers/officer-lee-park/"' in page


def test_video_post_has_a_player_with_poster_and_captions(client, make_post, make_video):
    from tests.conftest import need
    from tests.posts.public.conftest import HAVE_FFMPEG

    need(HAVE_FFMPEG, "ffmpeg is not installed (apt-get install ffmpeg)")
    post = make_post("Training day", kind="video")
    video = make_video(post, captions="WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n")
    page = client.get(post_url(post)).content.decode()
    folder = f"/media/posts/{video.pk}"
    assert f'<video controls preload="metadata" poster="{folder}/poster.jpg"' in page
    assert f'<source src="{folder}/video.mp4" type="video/mp4">' in page
    captions_url = f"/news/media/{video.pk}/captions.vtt"
    assert f'<track kind="captions" src="{captions_url}"' in page
    captions = client.get(captions_url)
    assert captions["Content-Type"] == "text/vtt; charset=utf-8"
    assert captions.content.startswith(b"WEBVTT")
    assert "evidence-clip" not in page


def test_captions_of_unpublished_videos_are_not_served(client, make_post, make_video):
    from tests.conftest import need
    from tests.posts.public.conftest import HAVE_FFMPEG

    need(HAVE_FFMPEG, "ffmpeg is not installed (apt-get install ffmpeg)")
    draft = make_post("Draft video", kind="video", state=PostState.DRAFT)
    video = make_video(draft, captions="WEBVTT\n")
    assert client.get(f"/news/media/{video.pk}/captions.vtt").status_code == 404


def test_podcast_page_lists_episodes_with_players(client, make_post, make_audio):
    episode = make_post("Episode 1: Meet the chief", kind="podcast")
    audio = make_audio(episode)
    make_post("Episode without audio", kind="podcast")
    page = client.get(reverse("posts:podcast")).content.decode()
    assert "Episode 1: Meet the chief" in page
    assert "Episode without audio" not in page
    assert f'<audio controls preload="none" src="/media/posts/{audio.pk}/audio.mp3">' in page
    assert 'href="/podcast/feed.rss"' in page
