"""The stream processor and the store: what is kept, what is counted, what is forgotten."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.alerts.conftest import town_create
from tests.factories import StaffFactory
from watchhouse.monitoring.matching import CompiledRules
from watchhouse.monitoring.models import (
    Match,
    MatchedPost,
    ReviewState,
    RuleState,
    Story,
    StreamCount,
    WatchRule,
)
from watchhouse.monitoring.places import Gazetteer
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.services.stream import matched_posts_expire, stream_batch_store
from watchhouse.monitoring.stream import StreamProcessor
from watchhouse.monitoring.tasks import purge_unreviewed_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class KeywordScorer:
    """Stand-in scorer for these tests: 0.95 when the text says "explosion", else 0.1."""

    name = "keyword-test"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score_many(self, texts: Sequence[str]) -> list[float]:
        self.calls.append(len(texts))
        return [0.95 if "explosion" in t else 0.1 for t in texts]


def post(text: str, n: int | str = 0, **fields: Any) -> PublicPost:
    values: dict[str, Any] = {
        "source": "file",
        "remote_id": f"id-{n}",
        "text": text,
        "posted_at": NOW,
        "author_handle": f"user{n}",
        "language": "en",
    }
    values.update(fields)
    return PublicPost(**values)


@pytest.fixture
def town(tmp_path: Path) -> dict[str, Any]:
    return town_create(tmp_path)


@pytest.fixture
def fire_rule(town: dict[str, Any]) -> WatchRule:
    return WatchRule.objects.create(
        name="Fires",
        purpose="Fires in town",
        owner=StaffFactory(roles=["analyst"]),
        state=RuleState.ACTIVE,
        phrases=["fire", "smoke"],
        expires_at=timezone.now() + timedelta(days=1),
    )


def processor(scorer: Any = None) -> StreamProcessor:
    return StreamProcessor(
        CompiledRules.from_database(), Gazetteer.from_database(), scorer or KeywordScorer()
    )


def test_duplicates_are_dropped_and_counted(fire_rule: WatchRule) -> None:
    """The same post delivered twice, or the same author repeating a text, is kept once."""
    stream = processor()
    result = stream.process(
        [
            post("fire on oak", 1),
            post("fire on oak", 1),
            post("Fire  on OAK", 2, author_handle="user1"),
        ]
    )
    assert result.counts["received"] == 3
    assert result.counts["duplicates"] == 2
    assert result.counts["matched"] == 1
    again = stream.process([post("fire on oak", 1)])
    assert again.counts["duplicates"] == 1


def test_giant_posts_are_refused_and_counted(fire_rule: WatchRule, settings: Any) -> None:
    """A post over the size limit is refused, counted, and never matched."""
    settings.WATCHHOUSE_MONITORING_MAX_POST_CHARS = 100
    result = processor().process([post("fire " * 50, 1), post("fire", 2)])
    assert result.counts["refused_giant"] == 1
    assert [m.post.remote_id for m in result.matched] == ["id-2"]
    stream_batch_store(source=None, result=result)
    assert StreamCount.objects.get(name="refused_giant").value == 1
    assert StreamCount.objects.get(name="received").value == 2


def test_unmatched_posts_are_never_stored(fire_rule: WatchRule) -> None:
    """Posts that match nothing are counted as discarded and leave no row behind."""
    result = processor().process([post(f"lovely weather number {n}", n) for n in range(20)])
    stream_batch_store(source=None, result=result)
    assert MatchedPost.objects.count() == 0
    assert Story.objects.count() == 0
    assert StreamCount.objects.get(name="discarded").value == 20
    assert StreamCount.objects.get(name="received").value == 20


def test_classifier_only_match_needs_a_local_place(town: dict[str, Any]) -> None:
    """With no rule, a high score alone is not enough: it needs a place in the jurisdiction;
    posts without any candidate or place are never scored."""
    scorer = KeywordScorer()
    result = processor(scorer).process(
        [
            post("explosion in Cedar Park", 1),
            post("explosion somewhere far away", 2),
            post("explosion", 3, lat=40.8, lon=-91.0),
            post("huge explosion", 4, lat=39.955, lon=-89.345),
            post("nice day in Old Mill", 5),
        ]
    )
    assert sorted(m.post.remote_id for m in result.matched) == ["id-1", "id-4"]
    assert all(m.classifier_hit and not m.hits for m in result.matched)
    # Only the three posts with a place reached the classifier, in one call.
    assert scorer.calls == [3]
    report = stream_batch_store(source=None, result=result)
    assert report.posts == 2
    match = Match.objects.get(post__remote_id="id-1")
    assert match.rule is None
    assert match.reason["classifier"] == "keyword-test"
    assert match.reason["score"] == 0.95
    assert match.reason["place"]["name"] == "Cedar Park"


def test_matches_are_stored_with_their_reason(fire_rule: WatchRule) -> None:
    """A rule match is stored with the rule, the phrases that fired, the place and score."""
    result = processor().process([post("Smoke and f\u200bire over Riverside", 1)])
    report = stream_batch_store(source=None, result=result)
    assert report.posts == 1
    stored = MatchedPost.objects.get()
    assert stored.review == ReviewState.NEW
    assert stored.places[0]["name"] == "Riverside"
    match = stored.matches.get()
    assert match.rule == fire_rule
    assert match.reason["rule"] == "Fires"
    assert match.reason["phrases"] == ["fire", "smoke"]
    assert match.reason["score"] == 0.1


def test_a_batch_stored_twice_is_held_once(fire_rule: WatchRule) -> None:
    """Storing the same posts again (a re-read after a crash) adds no copy."""
    result = processor().process([post("fire", 1), post("smoke", 2)])
    stream_batch_store(source=None, result=result)
    again = stream_batch_store(source=None, result=result)
    assert again.posts == 0
    assert again.already_held == 2
    assert MatchedPost.objects.count() == 2
    assert Match.objects.count() == 2


def test_retweets_cluster_into_one_story(fire_rule: WatchRule) -> None:
    """Fifty retweets and copies of one post are one story of fifty posts; a different
    post is another story."""
    text = "Huge fire at the old warehouse on the river, firefighters on scene now"
    posts = [post(text, 0)] + [
        post(f"RT @user0: {text} https://t.co/x{n}", n, author_handle=f"fan{n}")
        for n in range(1, 50)
    ]
    stream = processor()
    first = stream.process(posts[:20])
    second = stream.process(posts[20:] + [post("smoke seen near the school on elm", 99)])
    stream_batch_store(source=None, result=first)
    stream_batch_store(source=None, result=second)
    stories = list(Story.objects.order_by("-post_count"))
    assert [s.post_count for s in stories] == [50, 1]
    assert stories[0].title == text
    assert stories[0].top_score == pytest.approx(0.1)
    assert stories[0].posts.count() == 50


def test_stories_are_not_joined_after_the_window(fire_rule: WatchRule) -> None:
    """The same text after the story window starts a new story."""
    stream = processor()
    text = "fire at the big mill on water street today"
    stream_batch_store(source=None, result=stream.process([post(text, 1)]))
    Story.objects.update(last_seen_at=timezone.now() - timedelta(minutes=11))
    stream_batch_store(source=None, result=stream.process([post(text, 2)]))
    assert sorted(Story.objects.values_list("post_count", flat=True)) == [1, 1]


def test_story_memory_forgets_after_the_window() -> None:
    """The clusterer joins near-duplicates within its window and forgets them after."""
    from watchhouse.monitoring.stories import StoryClusterer

    stories = StoryClusterer(600)
    a = stories.assign("rt @x: big fire at the mill on water street today", 0)
    b = stories.assign("big fire at the mill on water street today!! https://t.co/abc", 10)
    c = stories.assign("a completely different text about a parade downtown", 20)
    assert a == b != c
    stories.assign("unrelated words here for the clock", 1000)
    assert len(stories) == 16


def test_unreviewed_matches_expire(fire_rule: WatchRule, settings: Any) -> None:
    """Matches nobody reviewed within the review period are deleted; reviewed ones stay."""
    settings.WATCHHOUSE_MONITORING_REVIEW_DAYS = 30
    stream_batch_store(source=None, result=processor().process([post("fire", 1), post("smoke", 2)]))
    old = timezone.now() - timedelta(days=31)
    MatchedPost.objects.update(received_at=old)
    MatchedPost.objects.filter(remote_id="id-2").update(review=ReviewState.DISMISSED)
    assert purge_unreviewed_task.call() == 1
    assert list(MatchedPost.objects.values_list("remote_id", flat=True)) == ["id-2"]
    assert matched_posts_expire() == 0


def test_the_shedding_prefilter_keeps_everything_that_could_match(
    fire_rule: WatchRule, settings: Any
) -> None:
    """Only posts with no phrase, no place and no coordinates may be shed; giant posts are
    kept so that they are counted as refused."""
    settings.WATCHHOUSE_MONITORING_MAX_POST_CHARS = 100
    stream = processor()
    assert not stream.could_match(post("lovely weather", 1))
    assert stream.could_match(post("Fire!", 2))
    assert stream.could_match(post("lovely weather in old mill", 3))
    assert stream.could_match(post("lovely weather", 4, lat=40.0, lon=-89.0))
    assert stream.could_match(post("x" * 101, 5))
