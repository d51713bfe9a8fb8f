"""The monitoring demo: every capability has something to show, nothing reaches the
internet, and loading it again adds nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from watchhouse.audit.models import AuditEntry
from watchhouse.monitoring import demo, policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    ApprovalState,
    Case,
    CaseState,
    Landmark,
    Match,
    MatchedPost,
    RuleState,
    Source,
    Story,
    WatchRule,
)
from watchhouse.monitoring.stream import processor_forget

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_stream() -> Iterator[None]:
    processor_forget()
    yield
    processor_forget()


def _snapshot() -> tuple[int, ...]:
    return (
        Source.objects.count(), Landmark.objects.count(), WatchRule.objects.count(),
        Approval.objects.count(), Case.objects.count(), MatchedPost.objects.count(),
        Match.objects.count(), Story.objects.count(),
        AuditEntry.objects.filter(action=policy.ACTION_RULE_REFUSE).count(),
    )  # fmt: skip


def test_the_demo_shows_every_capability_and_loads_twice_without_duplicates(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    for module in ("watchhouse.geo.demo", "watchhouse.accounts.demo"):
        __import__(module, fromlist=["load"]).load(stdout=out)
    demo.load(stdout=out)

    sources = {s.kind: s for s in Source.objects.all()}
    assert {"rss", "jetstream", "file"} <= set(sources)
    assert not sources["jetstream"].enabled and "internet" in sources["jetstream"].name
    assert sources["rss"].config["urls"][0].endswith("/alerts/feed.atom")
    assert (tmp_path / "demo" / "monitoring-posts.jsonl").exists()
    assert Landmark.objects.count() == len(demo.LANDMARKS)
    active = set(WatchRule.objects.filter(state=RuleState.ACTIVE).values_list("name", flat=True))
    assert {"Shots fired", "Gas leak", "Spanish: emergencias", "Flooding in Riverside",
            "Crowd trouble near the stadium", "Smoke and flames"} <= active  # fmt: skip
    assert AuditEntry.objects.filter(action=policy.ACTION_RULE_REFUSE).count() == 1
    override = Approval.objects.get(kind=ApprovalKind.RULE_OVERRIDE)
    assert override.state == ApprovalState.PENDING and override.requested_by.username == "analyst"
    case = Case.objects.get()
    assert case.state == CaseState.OPEN and case.approved_by.username == "demo"
    assert case.opened_by.username == "detective"

    # A story of near-duplicates, a classifier-only match, every rule with hits.
    assert Story.objects.filter(post_count__gte=demo.STORY_SIZE - 2).exists()
    classifier_only = [
        p for p in MatchedPost.objects.prefetch_related("matches")
        if all(m.rule_id is None for m in p.matches.all())
    ]  # fmt: skip
    assert [p.text for p in classifier_only] == [demo.demo_posts()[7].text]
    hit = set(Match.objects.exclude(rule=None).values_list("rule__name", flat=True))
    assert active <= hit
    # Chatter that matches nothing is counted, never stored.
    assert not MatchedPost.objects.filter(text__icontains="pizza").exists()
    assert all(p.url.startswith(demo.REMOTE_PREFIX) for p in MatchedPost.objects.all())

    before = _snapshot()
    processor_forget()
    demo.load(stdout=out)
    assert _snapshot() == before
    assert out.getvalue().count("Demo monitoring:") == 2
    assert "demo posts already in" in out.getvalue()
