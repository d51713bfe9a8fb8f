"""Reviewing matched posts and stories, marking lawful assemblies, and the console's
selectors (queue, stories, rules, sources, pending approvals) with their query counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    Match,
    MatchedPost,
    ReviewState,
    Source,
    SourceKind,
    Story,
    WatchRule,
)
from watchhouse.monitoring.selectors.queue import (
    approvals_pending,
    queue_list,
    rule_list,
    source_list,
    story_list,
)
from watchhouse.monitoring.services import review as review_module
from watchhouse.monitoring.services.review import (
    post_review,
    story_mark_lawful_assembly,
    story_review,
)

pytestmark = pytest.mark.django_db

HANDLE = "@marcher.jones@social.example"
TEXT = "Crowd gathering peacefully at the courthouse steps"


@pytest.fixture
def analyst(make_staff: Any) -> Any:
    return make_staff("analyst")


@pytest.fixture
def supervisor(make_staff: Any) -> Any:
    return make_staff("supervisor")


def make_rule(owner: Any, name: str = "Fires") -> WatchRule:
    return WatchRule.objects.create(
        name=name, purpose="p" * 30, owner=owner, state="active", phrases=["fire"],
        expires_at=timezone.now() + timedelta(days=3),
    )  # fmt: skip


def make_story(title: str = "Fire at the mill") -> Story:
    return Story.objects.create(signature=title[:20], title=title)


def make_post(
    story: Story, n: int, *, rule: WatchRule | None = None, text: str = TEXT, handle: str = HANDLE
) -> MatchedPost:
    post = MatchedPost.objects.create(
        source_kind=SourceKind.FILE, remote_id=f"post-{story.pk}-{n}", author_handle=handle,
        text=text, posted_at=timezone.now(), story=story, score=0.9,
    )  # fmt: skip
    Match.objects.create(post=post, rule=rule, reason={"rule": rule.name if rule else None})
    story.post_count += 1
    story.save(update_fields=["post_count"])
    return post


def test_post_review_is_audited(analyst: Any) -> None:
    """A new post is passed on or dismissed once, by whom and when, on the record."""
    post = make_post(make_story(), 1, rule=make_rule(analyst))
    post_review(actor=analyst, post_id=post.pk, state=ReviewState.ACTIONED, note="Told dispatch")
    post.refresh_from_db()
    assert post.review == ReviewState.ACTIONED
    assert post.reviewed_by == analyst
    assert post.reviewed_at is not None
    [entry] = AuditEntry.objects.filter(action=policy.ACTION_REVIEW)
    assert entry.object_id == str(post.pk)
    assert entry.data["state"] == "actioned"
    assert entry.justification == "Told dispatch"
    with pytest.raises(InvalidInputError, match="already been reviewed"):
        post_review(actor=analyst, post_id=post.pk, state=ReviewState.DISMISSED)


def test_review_state_must_be_a_decision(analyst: Any, make_staff: Any) -> None:
    """Back to "new" is not a decision, and only analysts and supervisors review."""
    post = make_post(make_story(), 1)
    with pytest.raises(InvalidInputError):
        post_review(actor=analyst, post_id=post.pk, state=ReviewState.NEW)
    with pytest.raises(NotPermittedError):
        post_review(actor=make_staff("pio"), post_id=post.pk, state=ReviewState.DISMISSED)
    assert not AuditEntry.objects.filter(action=policy.ACTION_REVIEW).exists()


def test_story_review_decides_every_new_post(analyst: Any) -> None:
    """Dismissing a story dismisses its new posts at once; already reviewed posts keep their
    decision."""
    story = make_story()
    first, *rest = [make_post(story, n) for n in range(4)]
    post_review(actor=analyst, post_id=first.pk, state=ReviewState.ACTIONED)
    assert story_review(actor=analyst, story_id=story.pk, state=ReviewState.DISMISSED) == 3
    states = dict(MatchedPost.objects.values_list("pk", "review"))
    assert states[first.pk] == ReviewState.ACTIONED
    assert {states[p.pk] for p in rest} == {ReviewState.DISMISSED}
    entry = AuditEntry.objects.filter(action=policy.ACTION_REVIEW).order_by("-seq").first()
    assert entry is not None
    assert entry.object_type == "monitoring.story"
    assert entry.data == {"state": "dismissed", "posts": 3}


def test_lawful_assembly_needs_a_supervisor_and_hides_authors(
    analyst: Any, supervisor: Any
) -> None:
    """Marked a lawful assembly, a story's posts leave the queue and the story list shows
    counts only: no title, author or text."""
    rule = make_rule(analyst)
    story = make_story(title=TEXT)
    for n in range(3):
        make_post(story, n, rule=rule)
    with pytest.raises(NotPermittedError):
        story_mark_lawful_assembly(actor=analyst, story_id=story.pk)

    story_mark_lawful_assembly(actor=supervisor, story_id=story.pk)
    story.refresh_from_db()
    assert story.lawful_assembly
    assert story.lawful_assembly_by == supervisor
    [entry] = AuditEntry.objects.filter(action=review_module.ACTION_STORY_LAWFUL)
    assert entry.data == {"lawful_assembly": True, "posts": 3}

    assert queue_list() == []
    [row] = story_list()
    assert row.withheld
    assert row.posts == 3
    assert row.new == 3
    assert TEXT not in row.title
    assert HANDLE not in repr(row)
    assert TEXT not in repr(row)

    story_mark_lawful_assembly(actor=supervisor, story_id=story.pk, lawful=False)
    assert len(queue_list()) == 3


def test_queue_list_newest_first_and_since(analyst: Any, django_assert_num_queries: Any) -> None:
    """The queue holds new posts newest first with matches, rules and story in two queries;
    ``since_id`` gives only later posts (the live view)."""
    rule = make_rule(analyst)
    posts = [make_post(make_story(f"Story {n}"), n, rule=rule) for n in range(5)]
    with django_assert_num_queries(2):
        queue = queue_list()
        reasons = [
            (m.rule.name if m.rule else "", p.story.title) for p in queue for m in p.matches.all()
        ]
    assert [p.pk for p in queue] == [p.pk for p in reversed(posts)]
    assert reasons[0] == ("Fires", "Story 4")
    assert [p.pk for p in queue_list(since_id=posts[2].pk)] == [posts[4].pk, posts[3].pk]
    assert len(queue_list(limit=2)) == 2
    post_review(actor=analyst, post_id=posts[0].pk, state=ReviewState.DISMISSED)
    assert [p.pk for p in queue_list(state=ReviewState.DISMISSED)] == [posts[0].pk]


def test_story_list_counts_and_reasons(analyst: Any, django_assert_num_queries: Any) -> None:
    """Stories come newest first with their post counts and the reasons they matched."""
    fires, floods = make_rule(analyst, "Fires"), make_rule(analyst, "Floods")
    old = make_story("Old")
    make_post(old, 1, rule=fires)
    Story.objects.filter(pk=old.pk).update(last_seen_at=timezone.now() - timedelta(hours=2))
    story = make_story("Mill fire")
    make_post(story, 1, rule=fires)
    make_post(story, 2, rule=floods)
    make_post(story, 3, rule=None)
    with django_assert_num_queries(2):
        rows = story_list()
    assert [r.title for r in rows] == ["Mill fire", "Old"]
    assert rows[0].posts == 3
    assert rows[0].reasons == ["Fires", "Floods", "classifier"]
    assert not rows[0].withheld
    assert [r.title for r in story_list(since=timezone.now() - timedelta(hours=1))] == ["Mill fire"]


def test_console_lists_load_in_one_query(
    analyst: Any, supervisor: Any, django_assert_num_queries: Any
) -> None:
    """Rules, sources and pending approvals each load in one query with what they show."""
    rule = make_rule(analyst)
    Source.objects.create(kind=SourceKind.RSS, name="City news", created_by=analyst)
    Approval.objects.create(
        kind=ApprovalKind.RULE_OVERRIDE, rule=rule, justification="j" * 40,
        requested_by=analyst,
    )  # fmt: skip
    with django_assert_num_queries(1):
        assert [r.owner.username for r in rule_list()] == [analyst.username]
    with django_assert_num_queries(1):
        assert [s.created_by.username for s in source_list()] == [analyst.username]
    with django_assert_num_queries(1):
        assert [(a.requested_by.username, a.rule.name) for a in approvals_pending()] == [
            (analyst.username, "Fires")
        ]
