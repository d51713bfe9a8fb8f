"""Transcoding uploaded sound (podcast episodes) to MP3 with ffmpeg.

MP3 (libmp3lame, 128 kbit/s constant, 44.1 kHz, at most two channels) plays in every
browser and every podcast app, which AAC in M4A does not quite match for older players. The
copy carries no tags at all (no ID3 tag, no cover art, no encoder's GPS or device fields);
the episode's title and artwork come from the feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchhouse.posts.media.errors import TranscodeError
from watchhouse.posts.media.ffmpeg import (
    ProgressReporter,
    ffmpeg_run,
    ffprobe,
    input_options,
    input_url,
)
from watchhouse.posts.media.output import (
    Rendition,
    output_commit,
    output_discard,
    output_partial,
)
from watchhouse.posts.media.video import check_complete, demuxer_for, remaining

AUDIO_BITRATE = "128k"
AUDIO_SAMPLE_RATE = "44100"


@dataclass(frozen=True)
class AudioResult:
    """The public MP3 of a sound file and its duration (from ffprobe of the MP3)."""

    audio: Rendition
    duration_s: float


def audio_transcode(
    src: Path,
    out_dir: Path,
    *,
    progress: Callable[[float], None] | None = None,
    timeout_s: float = 3600,
) -> AudioResult:
    """Write ``audio.mp3`` for the first audio stream of ``src`` into ``out_dir``.

    ``progress`` receives a rising fraction and 1.0 at the end. Raises
    :class:`TranscodeError` with the reason when there is no audio, the file is corrupt or
    the run takes longer than ``timeout_s``; no final file is then written.
    """
    deadline = time.monotonic() + timeout_s
    demuxer = demuxer_for(src)
    source = ffprobe(src, demuxer=demuxer, timeout_s=min(60.0, remaining(deadline)))
    if not source.audio_streams:
        raise TranscodeError("The file has no audio stream.")
    stream = source.audio_streams[0]
    channels = min(int(stream.get("channels") or 2), 2)
    reporter = ProgressReporter(progress, source.duration_s)
    out_dir.mkdir(parents=True, exist_ok=True)
    part = output_partial(out_dir, "audio.mp3")
    try:
        args = [
            *input_options(),
            "-f",
            demuxer,
            "-i",
            input_url(src),
            "-map",
            f"0:{stream['index']}",
        ]
        args += ["-vn", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
        args += ["-c:a", "libmp3lame", "-b:a", AUDIO_BITRATE, "-ar", AUDIO_SAMPLE_RATE]
        args += ["-ac", str(channels), "-id3v2_version", "0", "-write_xing", "1"]
        args += ["-f", "mp3", "-y", part.name]
        ffmpeg_run(args, cwd=out_dir, src=src, timeout_s=remaining(deadline), progress=reporter)
        result = ffprobe(part, demuxer="mp3", timeout_s=min(60.0, remaining(deadline)))
        if not result.audio_streams or result.duration_s is None:
            raise TranscodeError("ffmpeg wrote no audio.")
        check_complete(source, result.duration_s)
        rendition = output_commit(
            part, out_dir / "audio.mp3", name="audio", mime="audio/mpeg", width=None, height=None
        )
    except BaseException:
        output_discard(part)
        raise
    reporter.done()
    return AudioResult(audio=rendition, duration_s=result.duration_s)
