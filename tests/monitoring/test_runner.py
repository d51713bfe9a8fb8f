"""Running sources through the stream: ingest, crash and resume, back-pressure, commands."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.alerts.conftest import town_create
from tests.factories import StaffFactory
from watchhouse.monitoring import runner
from watchhouse.monitoring.connectors import files
from watchhouse.monitoring.models import (
    Match,
    MatchedPost,
    RuleState,
    Source,
    SourceKind,
    StreamCount,
    WatchRule,
)
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.stream import processor_current, processor_forget

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_processor() -> Iterator[None]:
    processor_forget()
    yield
    processor_forget()


@pytest.fixture
def staff() -> Any:
    return StaffFactory(roles=["analyst"])


@pytest.fixture
def fire_rule(staff: Any) -> WatchRule:
    return WatchRule.objects.create(
        name="Fires",
        purpose="Fires in town",
        owner=staff,
        state=RuleState.ACTIVE,
        phrases=["fire"],
        expires_at=timezone.now() + timedelta(days=1),
    )


def posts_file(path: Path, rows: int, *, every: int = 3) -> tuple[Path, set[str]]:
    """A JSONL file of ``rows`` posts; every ``every``-th says "fire" (those ids returned)."""
    matching = set()
    with path.open("w", encoding="utf-8") as handle:
        for n in range(rows):
            text = f"fire near block {n}" if n % every == 0 else f"quiet evening number {n}"
            if n % every == 0:
                matching.add(f"p{n}")
            handle.write(json.dumps({"id": f"p{n}", "text": text, "author": f"a{n}"}) + "\n")
    return path, matching


def file_source(staff: Any, path: Path) -> Source:
    return Source.objects.create(
        kind=SourceKind.FILE, name="archive", config={"path": str(path)}, created_by=staff
    )


def count(name: str) -> int:
    return sum(StreamCount.objects.filter(name=name).values_list("value", flat=True))


def test_posts_ingest_stores_matches_and_counts(fire_rule: WatchRule) -> None:
    """posts_ingest processes and stores at once, with the real default scorer."""
    now = datetime(2026, 6, 1, tzinfo=UTC)
    posts = [
        PublicPost(source="inbox", remote_id=f"r{n}", text=t, posted_at=now, author_handle=f"u{n}")
        for n, t in enumerate(["House fire!", "hello", "hello again"])
    ]
    counts = runner.posts_ingest(posts)
    assert counts["received"] == 3
    assert counts["matched"] == 1
    assert counts["discarded"] == 2
    stored = MatchedPost.objects.get()
    assert stored.source_kind == "inbox"
    assert stored.matches.get().reason["classifier"] == processor_current().scorer.name


def test_a_rule_created_later_is_used_at_once(fire_rule: WatchRule, staff: Any) -> None:
    """The cached processor is rebuilt when rules change."""
    now = datetime(2026, 6, 1, tzinfo=UTC)
    first = processor_current()
    WatchRule.objects.create(
        name="Floods", purpose="p", owner=staff, state=RuleState.ACTIVE, phrases=["flood"],
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    assert processor_current() is not first
    runner.posts_ingest([PublicPost(source="file", remote_id="f", text="flood!", posted_at=now)])
    assert MatchedPost.objects.get().matches.get().rule.name == "Floods"


def test_a_worker_killed_between_batches_resumes_from_the_committed_cursor(
    fire_rule: WatchRule, staff: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When storing the second batch fails, the first batch and its cursor stay committed;
    the next run re-reads from there and every match is stored exactly once."""
    monkeypatch.setattr(files, "BATCH_ROWS", 10)
    path, matching = posts_file(tmp_path / "posts.jsonl", 30)
    source = file_source(staff, path)
    real_store = runner.stream_batch_store
    calls = []

    def dying_store(**kwargs: Any) -> Any:
        calls.append(kwargs["cursor"])
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_store(**kwargs)

    monkeypatch.setattr(runner, "stream_batch_store", dying_store)
    with pytest.raises(RuntimeError, match="worker killed"):
        runner.source_run(source.pk, once=True)
    source.refresh_from_db()
    assert source.cursor == "10"
    assert "worker killed" in source.last_error
    assert MatchedPost.objects.count() == 4  # p0, p3, p6, p9

    runner.source_run(source.pk, once=True)
    source.refresh_from_db()
    assert source.cursor == "30"
    assert set(MatchedPost.objects.values_list("remote_id", flat=True)) == matching
    assert Match.objects.count() == len(matching)
    assert count("received") == 30
    assert count("matched") == len(matching)


def test_back_pressure_sheds_only_posts_that_cannot_match(
    fire_rule: WatchRule, staff: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A flood beyond the queue's size sheds unmatchable posts (counted); every post that
    could match is stored."""
    settings.WATCHHOUSE_MONITORING_QUEUE_SIZE = 5
    monkeypatch.setattr(files, "BATCH_ROWS", 20)
    town_create(tmp_path)
    path = tmp_path / "flood.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for n in range(60):
            text = ["fire on the hill", "what a day in Cedar Park", "nothing to see"][n % 3]
            handle.write(json.dumps({"id": f"p{n}", "text": f"{text} {n}", "author": f"a{n}"}))
            handle.write("\n")
    source = file_source(staff, path)
    counts = runner.source_run(source.pk, once=True)
    assert counts["shed"] == 20
    assert count("shed") == 20
    assert count("received") == 60
    # Every "fire" post matched the rule; place-only posts reached the classifier and were
    # discarded by its score, not shed.
    assert MatchedPost.objects.count() == 20
    assert count("discarded") == 20


def test_post_queue_blocks_rather_than_dropping_matchable_posts() -> None:
    """When even the matchable posts do not fit, the reader waits for the worker."""
    from watchhouse.monitoring.connectors.base import Batch

    now = datetime(2026, 6, 1, tzinfo=UTC)
    stop = threading.Event()
    queue = runner.PostQueue(3, lambda post: True, stop)
    make = lambda n: [PublicPost(source="file", remote_id=str(i), text="x", posted_at=now)  # noqa: E731
                      for i in range(n)]  # fmt: skip
    queue.put(Batch(make(3), "1"))
    put_done = threading.Event()

    def put_second() -> None:
        queue.put(Batch(make(2), "2"))
        put_done.set()

    thread = threading.Thread(target=put_second)
    thread.start()
    assert not put_done.wait(0.5)
    first = queue.get(1.0)
    assert first is not None and first[0].cursor == "1"
    assert put_done.wait(2.0)
    second = queue.get(1.0)
    assert second is not None and len(second[0].posts) == 2 and second[1] == 0
    thread.join()


def test_import_command(fire_rule: WatchRule, tmp_path: Path) -> None:
    """`monitoring import FILE` pushes a file through the stream and prints the counts."""
    path, matching = posts_file(tmp_path / "posts.jsonl", 9)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    out = io.StringIO()
    call_command("monitoring", "import", str(path), stdout=out)
    assert "received 9" in out.getvalue()
    assert "matched 3" in out.getvalue()
    assert "refused_malformed 1" in out.getvalue()
    assert set(MatchedPost.objects.values_list("remote_id", flat=True)) == matching
    assert count("refused_malformed") == 1


def test_run_once_command_reads_every_enabled_source(
    fire_rule: WatchRule, staff: Any, tmp_path: Path
) -> None:
    """`monitoring run --once` reads each enabled source to its end and saves the cursor."""
    path, matching = posts_file(tmp_path / "posts.jsonl", 12)
    source = file_source(staff, path)
    out = io.StringIO()
    call_command("monitoring", "run", "--once", stdout=out)
    source.refresh_from_db()
    assert source.cursor == "12"
    assert "archive: received 12" in out.getvalue()
    assert MatchedPost.objects.filter(source=source).count() == len(matching)
