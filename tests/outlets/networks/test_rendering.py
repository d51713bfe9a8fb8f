"""Each network gets a version of a post or an alert that fits its rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import regex
from django.utils import timezone

from watchhouse.alerts.models import Alert, AlertInfo, MsgType
from watchhouse.outlets.rendering import (
    fit,
    hashtag,
    preview,
    render,
    text_length,
    weighted_length,
)
from watchhouse.posts.public import post_url

LINK = "https://police.example.org/posts/7/a-rather-long-slug-for-the-road-works-on-main-street/"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one emoji, 7 code points
FLAG = "\U0001f1fa\U0001f1e6"
THUMB = "\U0001f44d\U0001f3fd"


# --- Counting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world", 12),
        ("Straße", 6),  # Latin-1 and Latin Extended weigh 1
        ("警察署", 6),  # CJK weighs 2
        ("e\u0301", 1),  # a combining mark composes (NFC) into one light character
        (FAMILY, 2),  # a ZWJ sequence is one emoji
        (FLAG + THUMB, 4),
        ("“quoted” — dash…", 17),  # quotes and dashes weigh 1, the ellipsis U+2026 2
        ("\u2122", 2),  # ™ is outside the light ranges
        (LINK, 23),
        (f"see {LINK} and http://a.co", 4 + 23 + 5 + 23),
    ],
)
def test_x_weighted_length(text: str, expected: int) -> None:
    """X's weighting: light ranges 1, others 2, an emoji 2, any URL 23."""
    assert weighted_length(text) == expected


def test_x_counts_bare_domains_at_least_as_x_may() -> None:
    """A bare domain X might link counts as 23, so the count never falls short of X's."""
    assert weighted_length("visit police.example.org today") == 6 + 23 + 6


def test_bluesky_counts_graphemes_and_whole_urls() -> None:
    assert text_length("bluesky", FAMILY * 3 + "e\u0301") == 4
    assert text_length("bluesky", LINK) == len(LINK)


def test_mastodon_counts_urls_as_23() -> None:
    assert text_length("mastodon", f"{FAMILY} {LINK}") == 1 + 1 + 23


# --- Fitting and threads ------------------------------------------------------------------


def test_exactly_at_the_limit_is_one_post_and_one_more_is_a_thread() -> None:
    at_limit = "a" * 280
    assert fit("x", at_limit) == ([at_limit], [])
    parts, warnings = fit("x", at_limit[:-1] + " b.")
    assert len(parts) == 2
    assert "thread" in warnings[-1]


def test_cjk_at_the_x_limit() -> None:
    """140 CJK characters are exactly 280; 141 are not."""
    assert fit("x", "警" * 140)[0] == ["警" * 140]
    parts, _warnings = fit("x", "警" * 141)
    assert len(parts) == 2
    assert all(weighted_length(p) <= 280 for p in parts)


def test_bluesky_300_emoji_graphemes_fit_and_301_thread() -> None:
    assert fit("bluesky", FAMILY * 300)[0] == [FAMILY * 300]
    parts, _warnings = fit("bluesky", FAMILY * 301)
    assert len(parts) == 2
    # No emoji is cut in half: every part is whole ZWJ sequences plus its marker.
    assert "".join(regex.sub(r" \(\d/\d\)$", "", p) for p in parts) == FAMILY * 301


def test_a_thread_splits_on_sentences_with_markers_and_the_link_first() -> None:
    sentences = [f"Sentence number {n} tells residents something useful." for n in range(1, 20)]
    text = "Road works\n\n" + " ".join(sentences)
    for network, limit in (("x", 280), ("bluesky", 300), ("mastodon", 500)):
        parts, warnings = fit(network, text, link=LINK, tags=["#Traffic"])
        count = len(parts)
        assert count > 1
        assert all(text_length(network, p) <= limit for p in parts), network
        assert all(
            p.endswith(f"({i}/{count})") or f"({i}/{count})\n\n#" in p
            for i, p in enumerate(parts, 1)
        )
        assert LINK in parts[0]
        assert all(LINK not in p for p in parts[1:])
        # Sentences stay whole: each appears intact in exactly one part.
        for sentence in sentences:
            assert sum(sentence in p for p in parts) == 1, (network, sentence)
        assert f"thread of {count}" in warnings[-1]


def test_a_sentence_longer_than_a_post_splits_on_words() -> None:
    words = " ".join(f"word{n}" for n in range(200))
    parts, _warnings = fit("x", words)
    assert all(weighted_length(p) <= 280 for p in parts)
    assert " ".join(regex.sub(r" \(\d+/\d+\)$", "", p) for p in parts) == words


def test_a_long_url_in_the_text_counts_23_on_x() -> None:
    long_url = "https://example.org/" + "x" * 400
    text = "A" * 240 + " " + long_url
    assert fit("x", text) == ([text], [])
    assert len(fit("bluesky", text)[0]) > 1


def test_a_link_too_long_for_bluesky_text_is_left_to_the_card() -> None:
    long_link = "https://police.example.org/" + "x" * 200
    parts, warnings = fit("bluesky", "Sentence. " * 40, link=long_link)
    assert all(text_length("bluesky", p) <= 300 for p in parts)
    assert all(long_link not in p for p in parts)
    assert "link is too long" in warnings[0]


def test_hashtags_that_do_not_fit_are_dropped_with_a_warning() -> None:
    text = "a" * 270
    parts, warnings = fit("x", text, tags=["#MainStreet"])
    assert parts == [text]
    assert "hashtags" in warnings[0]


def test_facebook_does_not_thread() -> None:
    parts, warnings = fit("facebook", "word " * 20_000, link=LINK)
    assert len(parts) == 1
    assert len(parts[0]) <= 63206
    assert LINK not in parts[0]  # Facebook gets the link as its own field
    assert "shortened" in warnings[0]


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("Main Street", "#MainStreet"),
        ("Café du Parc", "#CafeDuParc"),
        ("north-east district", "#NorthEastDistrict"),
        ("Beat 3", "#Beat3"),
        ("42", ""),
        ("警察", ""),
    ],
)
def test_hashtags_are_camel_case_ascii(name: str, tag: str) -> None:
    assert hashtag(name) == tag


# --- Posts --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_post_renders_title_summary_link_and_hashtags(make_post: Any) -> None:
    post = make_post(topics=("Road safety", "Traffic"))
    result = render("mastodon", post=post)
    assert result.link == f"https://police.example.org{post_url(post)}"
    assert result.parts == [
        f"Road works on Main Street\n\nExpect delays.\n\n{result.link}\n\n#RoadSafety #Traffic"
    ]
    assert result.hashtags == ["#RoadSafety", "#Traffic"]
    facebook = render("facebook", post=post)
    assert result.link not in facebook.parts[0]


@pytest.mark.django_db
def test_a_post_without_summary_uses_the_body_as_plain_text(make_post: Any) -> None:
    post = make_post(summary="", body="Crews work **every night** <b>from</b> 8 pm &amp; later.")
    post.body_html = "<p>Crews work <strong>every night</strong> from 8 pm &amp; later.</p>"
    post.save()
    text = render("x", post=post).parts[0]
    assert "Crews work every night from 8 pm & later." in text
    assert "<" not in text


@pytest.mark.django_db
def test_media_limits_alt_text_and_sizes(make_post: Any) -> None:
    """X takes four of five photos; Bluesky drops one over 1,000,000 bytes; missing alt
    text is a warning; only public renditions under MEDIA_ROOT go out."""
    post = make_post(
        images=(
            ("Car", 640, False),
            ("", 640, False),
            ("Van", 640, False),
            ("Bike", 640, False),
            ("Too big", 1200, True),
        )
    )
    x = render("x", post=post)
    assert [m.alt for m in x.media] == ["Car", "", "Van", "Bike"]
    assert any("no alt text" in w for w in x.warnings)
    assert any("Only 4 images" in w for w in x.warnings)
    assert all(m.path.is_file() and m.width == 640 for m in x.media)  # the largest rendition
    bluesky = render("bluesky", post=post)
    assert [m.alt for m in bluesky.media] == ["Car", "", "Van", "Bike"]
    assert any("1,000,000 bytes" in w for w in bluesky.warnings)
    facebook = render("facebook", post=post)
    assert len(facebook.media) == 5


@pytest.mark.django_db
def test_a_video_goes_alone_where_images_cannot_join_it(make_post: Any) -> None:
    post = make_post(images=(("Car", 640, False),), video=True)
    x = render("x", post=post)
    assert [m.kind for m in x.media] == ["video"]
    assert any("video cannot go with images" in w for w in x.warnings)
    bluesky = render("bluesky", post=post)
    assert [m.kind for m in bluesky.media] == ["image"]
    assert any("does not take videos" in w for w in bluesky.warnings)


@pytest.mark.django_db
def test_a_rendition_outside_media_root_is_never_sent(make_post: Any, staff: Any) -> None:
    post = make_post(images=(("Car", 640, False),))
    media = post.media.get()
    media.renditions = {"w640": {**media.renditions["w640"], "path": "../../etc/passwd"}}
    media.save()
    result = render("x", post=post)
    assert result.media == []
    assert any("no public copy" in w for w in result.warnings)


@pytest.mark.django_db
def test_preview_shows_parts_counts_and_warnings(make_post: Any) -> None:
    post = make_post(summary="", body="Short. " * 60, images=(("", 640, False),))
    shown = preview("x", post=post)
    assert shown["thread"] is True
    assert shown["limit"] == 280
    assert len(shown["parts"]) == len(shown["counts"]) > 1
    assert all(count <= 280 for count in shown["counts"])
    assert shown["media"][0]["kind"] == "image"
    assert any("alt text" in w for w in shown["warnings"])
    assert preview("bluesky", post=make_post())["link_card"] is True


# --- Alerts -------------------------------------------------------------------------------


def make_alert(staff: Any, msg_type: str = MsgType.ALERT) -> Alert:
    alert = Alert.objects.create(
        identifier=f"urn:oid:test.{Alert.objects.count()}",
        msg_type=msg_type,
        category="traffic",
        event="Road closure",
        urgency="Immediate",
        severity="Moderate",
        certainty="Observed",
        expires=timezone.now() + timedelta(hours=4),
        created_by=staff,
    )
    AlertInfo.objects.create(
        alert=alert,
        language="en-US",
        headline="Main Street closed at 5th",
        description="A water main broke.",
        instruction="Use Oak Avenue instead.",
    )
    return alert


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("msg_type", "prefix"),
    [
        (MsgType.ALERT, "Traffic:"),
        (MsgType.UPDATE, "UPDATE: Traffic:"),
        (MsgType.CANCEL, "CANCELLED: Traffic:"),
    ],
)
def test_an_alert_says_what_it_is(staff: Any, msg_type: str, prefix: str) -> None:
    alert = make_alert(staff, msg_type)
    result = render("x", alert=alert)
    link = f"https://police.example.org{alert.get_absolute_url()}"
    assert result.parts == [
        f"{prefix} Main Street closed at 5th\n\nA water main broke.\n\nUse Oak Avenue instead."
        f"\n\n{link}"
    ]
    assert result.link == link


def test_render_refuses_unknown_networks_and_both_or_neither() -> None:
    with pytest.raises(ValueError, match="network"):
        render("myspace", post=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="post or an alert"):
        render("x")
