"""Transcoding uploaded video to a web-friendly MP4 and a poster frame with ffmpeg.

The public copy is H.264 (yuv420p, even dimensions, at most 1280 × 720 landscape or
720 × 1280 portrait, aspect kept) with AAC sound, ``+faststart`` (so playback starts before
the download ends) and no metadata: ``-map_metadata -1`` drops the container's tags (GPS
position, device, creation time), chapters, subtitles and data tracks (some cameras record a
GPS track as a data stream) are left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from watchhouse.posts.media.errors import TranscodeError
from watchhouse.posts.media.ffmpeg import (
    Probe,
    ProgressReporter,
    ffmpeg_run,
    ffprobe,
    input_options,
    input_url,
)
from watchhouse.posts.media.images import JPEG_QUALITY
from watchhouse.posts.media.magic import container, file_signature
from watchhouse.posts.media.output import (
    Rendition,
    output_commit,
    output_discard,
    output_partial,
)

# The longest side is at most 1280 px and the shortest at most 720 px (720p either way up);
# force_divisible_by keeps both even, as yuv420p needs.
SCALE = (
    "scale=w='if(gte(iw,ih),min(1280,iw),min(720,iw))'"
    ":h='if(gte(iw,ih),min(720,ih),min(1280,ih))'"
    ":force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1"
)
# A copy shorter than this share of the source's declared duration means ffmpeg skipped a
# damaged part of the file, which a viewer would notice.
COMPLETE_SHARE = 0.9


@dataclass(frozen=True)
class VideoResult:
    """The public MP4 and poster of a video, with the MP4's duration and size."""

    mp4: Rendition
    poster: Rendition
    duration_s: float
    width: int
    height: int


def demuxer_for(src: Path) -> str:
    """Return the ffmpeg demuxer for ``src``'s container signature; ffmpeg never guesses.

    Raises :class:`TranscodeError` when ``src`` is not an audio/video container.
    """
    found = container(*file_signature(src))
    if found is None:
        raise TranscodeError("The file is not in an audio or video format that can be read.")
    return found.demuxer


def remaining(deadline: float) -> float:
    """Seconds left until ``deadline`` (a :func:`time.monotonic` value), or an error."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TranscodeError("Processing took longer than allowed and was stopped.")
    return left


def check_complete(source: Probe, duration_s: float) -> None:
    """Raise :class:`TranscodeError` when the copy lost much of the source's length."""
    expected = source.duration_s
    if expected and duration_s < expected * COMPLETE_SHARE - 0.5:
        raise TranscodeError(
            f"Only {duration_s:.1f} s of {expected:.1f} s could be read; the file is damaged."
        )


def video_transcode(
    src: Path,
    out_dir: Path,
    *,
    progress: Callable[[float], None] | None = None,
    timeout_s: float = 3600,
) -> VideoResult:
    """Write ``video.mp4`` and ``poster.jpg`` for the video at ``src`` into ``out_dir``.

    ``progress`` receives a rising fraction (a few calls a second at most) and 1.0 at the
    end. Raises :class:`TranscodeError` with the reason when the file has no video, is
    corrupt, or the whole run takes longer than ``timeout_s``; no final file is then written.
    """
    deadline = time.monotonic() + timeout_s
    demuxer = demuxer_for(src)
    source = ffprobe(src, demuxer=demuxer, timeout_s=min(60.0, remaining(deadline)))
    if not source.video_streams:
        raise TranscodeError("The file has no video stream.")
    reporter = ProgressReporter(progress, source.duration_s)
    out_dir.mkdir(parents=True, exist_ok=True)
    mp4_part = output_partial(out_dir, "video.mp4")
    frame_part = output_partial(out_dir, "poster.png")
    poster_part = output_partial(out_dir, "poster.jpg")
    try:
        args = [*input_options(), "-f", demuxer, "-i", input_url(src)]
        args += ["-map", f"0:{source.video_streams[0]['index']}"]
        if source.audio_streams:
            args += ["-map", f"0:{source.audio_streams[0]['index']}"]
            args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
        args += ["-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn", "-vf", SCALE]
        args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high"]
        args += ["-pix_fmt", "yuv420p", "-max_muxing_queue_size", "1024"]
        args += ["-movflags", "+faststart", "-f", "mp4", "-y", mp4_part.name]
        ffmpeg_run(args, cwd=out_dir, src=src, timeout_s=remaining(deadline), progress=reporter)

        result = ffprobe(mp4_part, demuxer="mov", timeout_s=min(60.0, remaining(deadline)))
        if not result.video_streams or result.duration_s is None:
            raise TranscodeError("ffmpeg wrote no video.")
        check_complete(source, result.duration_s)
        stream = result.video_streams[0]
        width, height = int(stream["width"]), int(stream["height"])

        _poster_frame(mp4_part, frame_part, min(1.0, result.duration_s / 2), deadline)
        with Image.open(frame_part, formats=["PNG"]) as frame:
            poster = Image.frombytes("RGB", frame.size, frame.convert("RGB").tobytes())
        poster.save(poster_part, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        frame_part.unlink()

        poster_rendition = output_commit(
            poster_part, out_dir / "poster.jpg",
            name="poster", mime="image/jpeg", width=poster.width, height=poster.height,
        )  # fmt: skip
        mp4_rendition = output_commit(
            mp4_part, out_dir / "video.mp4",
            name="mp4", mime="video/mp4", width=width, height=height,
        )  # fmt: skip
    except BaseException:
        output_discard(mp4_part, frame_part, poster_part)
        raise
    reporter.done()
    return VideoResult(
        mp4=mp4_rendition,
        poster=poster_rendition,
        duration_s=result.duration_s,
        width=width,
        height=height,
    )


def _poster_frame(mp4: Path, frame: Path, at_s: float, deadline: float) -> None:
    """Write the frame at ``at_s`` (or, failing that, the first) of ``mp4`` as a PNG."""
    for seek in (at_s, 0.0):
        args = [*input_options(), "-ss", f"{seek:.3f}", "-f", "mov", "-i", input_url(mp4)]
        args += ["-map", "0:v:0", "-frames:v", "1", "-map_metadata", "-1"]
        args += ["-c:v", "png", "-f", "image2", "-update", "1", "-y", frame.name]
        ffmpeg_run(args, cwd=frame.parent, src=mp4, timeout_s=min(120.0, remaining(deadline)))
        if frame.exists() and frame.stat().st_size > 0:
            return
    raise TranscodeError("ffmpeg could not take a poster frame from the video.")
