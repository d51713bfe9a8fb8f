"""Running Debian's ffmpeg and ffprobe safely: argument lists, timeouts, progress, reasons.

Inputs are always passed as ``file:`` URLs with ``-protocol_whitelist file`` so that a name
beginning with ``-`` is never read as an option, and a crafted file (a playlist, a reference
movie) can never make ffmpeg open a network address or another local file.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchhouse.posts.media.errors import TranscodeError

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
# ffprobe reads headers only; a minute is generous even for a slow disk.
PROBE_TIMEOUT_S = 60.0
# Progress callbacks are throttled to this interval (the caller may write to the database).
PROGRESS_INTERVAL_S = 0.25
# Lines ffmpeg prints after the real error; they say nothing about the cause.
_NOISE = re.compile(
    r"^(Conversion failed!|Exiting normally.*|Error while .*|Error opening output files?.*"
    r"|Error initializing output stream.*|Error closing .*|Nothing was written.*)$"
)
# "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5581c8f0] moov atom not found" → "moov atom not found".
_CONTEXT_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


class ToolMissingError(TranscodeError):
    """ffmpeg or ffprobe is not installed: a server problem, not a problem with the file."""


def input_url(path: Path) -> str:
    """Return the URL ffmpeg should read ``path`` through (never an option, never a protocol)."""
    return "file:" + str(path.resolve())


def input_options() -> list[str]:
    """Input options that keep ffmpeg to the one local file it was given."""
    return ["-protocol_whitelist", "file"]


def error_reason(stderr: bytes, path: Path | None = None) -> str:
    """Return the last meaningful line ffmpeg or ffprobe wrote, without paths or addresses.

    When that line is only the generic verdict on the input ("Invalid data found when
    processing input"), the specific line before it ("moov atom not found") leads.
    """
    meaningful: list[str] = []
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = _CONTEXT_PREFIX.sub("", raw.strip())
        if path is not None:
            # The uploader should see the reason, not the server's folder layout.
            line = line.replace(input_url(path), "input").replace(str(path.resolve()), "input")
        if line and not _NOISE.match(line):
            meaningful.append(line)
    if not meaningful:
        return ""
    last = meaningful[-1]
    if last.startswith("input: "):
        verdict = last.removeprefix("input: ")
        specific = [line for line in meaningful[:-1] if not line.startswith("input: ")]
        last = f"{specific[-1]} ({verdict})" if specific else verdict
    return last[:300]


@dataclass(frozen=True)
class Probe:
    """What ffprobe found in a file."""

    format_name: str
    duration_s: float | None
    streams: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def video_streams(self) -> list[dict[str, Any]]:
        """Real video streams: cover art or a thumbnail attached to audio does not count."""
        return [
            s
            for s in self.streams
            if s.get("codec_type") == "video"
            and not s.get("disposition", {}).get("attached_pic")
            and not s.get("disposition", {}).get("still_image")
        ]

    @property
    def audio_streams(self) -> list[dict[str, Any]]:
        """Audio streams."""
        return [s for s in self.streams if s.get("codec_type") == "audio"]


def _float(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


def ffprobe(path: Path, *, demuxer: str | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Describe ``path``'s container and streams, read with ``demuxer`` when one is given.

    Raises :class:`TranscodeError` with ffprobe's reason when it cannot read the file.
    """
    args = [FFPROBE, "-hide_banner", "-v", "error", *input_options()]
    if demuxer:
        args += ["-f", demuxer]
    args += ["-print_format", "json", "-show_format", "-show_streams", input_url(path)]
    try:
        result = subprocess.run(  # noqa: S603 - fixed tool, arguments built here
            args, capture_output=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError as exc:
        raise ToolMissingError("ffprobe is not installed on the server.") from exc
    except subprocess.TimeoutExpired as exc:
        raise TranscodeError(f"ffprobe took longer than {timeout_s:g} s and was stopped.") from exc
    if result.returncode != 0:
        raise TranscodeError(
            error_reason(result.stderr, path) or "ffprobe could not read the file."
        )
    try:
        data = json.loads(result.stdout or b"{}")
    except ValueError as exc:
        raise TranscodeError("ffprobe printed something that is not JSON.") from exc
    fmt = data.get("format", {})
    streams = list(data.get("streams", []))
    duration = _float(fmt.get("duration"))
    if duration is None:
        durations = [d for d in (_float(s.get("duration")) for s in streams) if d]
        duration = max(durations) if durations else None
    return Probe(
        format_name=str(fmt.get("format_name", "")),
        duration_s=duration,
        streams=streams,
        tags={str(k).lower(): str(v) for k, v in fmt.get("tags", {}).items()},
    )


def probe_duration(path: Path) -> float:
    """Return the playing time of ``path`` in seconds, as ffprobe reads it.

    Raises :class:`TranscodeError` when the file cannot be read or has no duration.
    """
    duration = ffprobe(path).duration_s
    if duration is None:
        raise TranscodeError("ffprobe found no duration in the file.")
    return duration


class ProgressReporter:
    """Turns ffmpeg's ``out_time`` into a monotonic 0..1 fraction, a few calls a second."""

    def __init__(self, callback: Callable[[float], None] | None, duration_s: float | None):
        self._callback = callback
        self._duration = duration_s
        self._last_value = 0.0
        self._last_call = 0.0

    def at(self, seconds: float) -> None:
        """Report that ffmpeg has written ``seconds`` of output."""
        if not self._duration:
            return
        # Cap below 1: the run is not finished until the file is complete and renamed.
        self._report(min(max(seconds / self._duration, 0.0), 0.99), force=False)

    def done(self) -> None:
        """Report completion (1.0), whatever was reported before."""
        self._report(1.0, force=True)

    def _report(self, value: float, *, force: bool) -> None:
        if self._callback is None or value < self._last_value:
            return
        now = time.monotonic()
        if not force and (value == self._last_value or now - self._last_call < PROGRESS_INTERVAL_S):
            return
        self._last_value, self._last_call = value, now
        self._callback(value)


def ffmpeg_run(
    args: Sequence[str],
    *,
    cwd: Path,
    src: Path,
    timeout_s: float,
    progress: ProgressReporter | None = None,
) -> None:
    """Run ``ffmpeg <args>`` in ``cwd``, feeding ``progress``; stop it after ``timeout_s``.

    Raises :class:`TranscodeError` with the last meaningful error line when ffmpeg fails, and
    with the time limit when it was stopped.
    """
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-nostats"]
    cmd += ["-progress", "pipe:1", *args]
    timed_out = threading.Event()
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen(  # noqa: S603 - fixed tool, arguments built here
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd
            )
        except FileNotFoundError as exc:
            raise ToolMissingError("ffmpeg is not installed on the server.") from exc

        def stop() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout_s, stop)
        timer.daemon = True
        # Leaving the with block closes the pipe and reaps ffmpeg, even on an exception.
        with proc:
            timer.start()
            try:
                assert proc.stdout is not None  # noqa: S101 - stdout=PIPE above
                for line in proc.stdout:
                    key, _, value = line.strip().partition(b"=")
                    if key == b"out_time_us" and progress is not None:
                        microseconds = _float(value.decode("ascii", "replace"))
                        if microseconds is not None:
                            progress.at(microseconds / 1_000_000)
                # Still under the timer: ffmpeg may be finishing the file after its last line.
                proc.wait()
            except BaseException:
                proc.kill()  # the caller gave up (an error in the callback, an interrupt)
                raise
            finally:
                timer.cancel()
        if timed_out.is_set():
            raise TranscodeError(f"ffmpeg took longer than {timeout_s:g} s and was stopped.")
        if proc.returncode != 0:
            stderr.seek(0)
            reason = error_reason(stderr.read(), src)
            raise TranscodeError(reason or f"ffmpeg failed with exit status {proc.returncode}.")
