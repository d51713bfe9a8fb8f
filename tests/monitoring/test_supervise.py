"""`monitoring run` as `watchhouse serve` starts it: sources follow the console's switch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.monitoring.test_runner import file_source, fire_rule, fresh_processor, posts_file, staff
from watchhouse.monitoring import runner
from watchhouse.monitoring.models import MatchedPost, Source, WatchRule

pytestmark = pytest.mark.django_db(transaction=True)

__all__ = ["fire_rule", "fresh_processor", "staff"]  # fixtures shared with the runner tests


def _until(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_sources_start_when_switched_on_and_stop_when_switched_off(
    fire_rule: WatchRule, staff: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A source switched on while the stream runs is read within the check interval; one
    switched off stops being read; a pull source is read again after the poll interval."""
    monkeypatch.setattr(runner, "SOURCES_CHECK_SECONDS", 0.1)
    settings.WATCHHOUSE_MONITORING_POLL_SECONDS = 0.2
    path, matching = posts_file(tmp_path / "posts.jsonl", 9)
    source = file_source(staff, path)
    Source.objects.filter(pk=source.pk).update(enabled=False)
    stop = threading.Event()
    thread = threading.Thread(target=runner._supervise, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        assert MatchedPost.objects.count() == 0, "a switched-off source was read"
        Source.objects.filter(pk=source.pk).update(enabled=True)
        assert _until(lambda: MatchedPost.objects.count() == len(matching))
        # The file grows: the next poll reads on from the saved cursor.
        with path.open("a", encoding="utf-8") as handle:
            handle.write('{"id": "late", "text": "fire at the depot", "author": "z"}\n')
        assert _until(lambda: MatchedPost.objects.filter(remote_id="late").exists())
        Source.objects.filter(pk=source.pk).update(enabled=False)
        time.sleep(0.5)
        with path.open("a", encoding="utf-8") as handle:
            handle.write('{"id": "after", "text": "fire again", "author": "z"}\n')
        time.sleep(1.0)
        assert not MatchedPost.objects.filter(remote_id="after").exists()
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
