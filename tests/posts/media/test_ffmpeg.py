"""ffmpeg runs are bounded in time and report progress sparingly, never backwards."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from watchhouse.posts.media import TranscodeError
from watchhouse.posts.media.ffmpeg import (
    PROGRESS_INTERVAL_S,
    ProgressReporter,
    error_reason,
    ffmpeg_run,
)


@pytest.mark.usefixtures("ffmpeg")
def test_ffmpeg_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    """A run longer than its limit is killed and reported as such."""
    endless = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-f", "null", "-"]
    started = time.monotonic()
    with pytest.raises(TranscodeError, match=r"longer than 0\.5 s"):
        ffmpeg_run(endless, cwd=tmp_path, src=tmp_path / "none", timeout_s=0.5)
    assert time.monotonic() - started < 5


def test_progress_is_reported_a_few_times_a_second_and_never_backwards() -> None:
    """A flood of ffmpeg updates becomes one call per interval; 1.0 comes only at the end."""
    seen: list[float] = []
    reporter = ProgressReporter(seen.append, duration_s=100.0)
    for second in range(1, 50):
        reporter.at(second)
    assert seen == [0.01]
    time.sleep(PROGRESS_INTERVAL_S + 0.05)
    reporter.at(20.0)
    reporter.at(10.0)  # ffmpeg's clock may step back; the bar does not
    time.sleep(PROGRESS_INTERVAL_S + 0.05)
    reporter.at(10.0)
    reporter.at(500.0)  # past the end: capped below 1 until the file is complete
    time.sleep(PROGRESS_INTERVAL_S + 0.05)
    reporter.at(500.0)
    reporter.done()
    assert seen == [0.01, 0.2, 0.99, 1.0]


def test_the_reason_names_the_cause_not_the_server_paths(tmp_path: Path) -> None:
    """ffmpeg's specific complaint leads; paths and decoder addresses are removed."""
    src = tmp_path / "upload.mp4"
    stderr = (
        f"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0a1b2c0] moov atom not found\n"
        f"file:{src}: Invalid data found when processing input\nConversion failed!\n"
    ).encode()
    assert error_reason(stderr, src) == (
        "moov atom not found (Invalid data found when processing input)"
    )
    assert error_reason(b"", src) == ""
