"""Podcast audio becomes a tagless MP3 with its duration and size recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.posts.media.conftest import (
    VIDEO_LOCATION,
    ffmpeg_make,
    ffprobe_json,
    files_in,
    sine_audio,
    video_with_metadata,
)
from watchhouse.posts.media import TranscodeError, audio_transcode, probe_duration

pytestmark = pytest.mark.usefixtures("ffmpeg")


def test_audio_becomes_a_tagless_mp3(tmp_path: Path) -> None:
    """A tagged WAV becomes a 44.1 kHz MP3 with no ID3 tag; duration and bytes are right."""
    src = sine_audio(
        tmp_path / "episode.wav", "-ar", "48000", "-metadata", "title=Chief's briefing",
        "-metadata", "artist=Sgt Diaz", "-metadata", f"comment={VIDEO_LOCATION}",
    )  # fmt: skip
    assert abs(probe_duration(src) - 2.0) < 0.01
    seen: list[float] = []

    result = audio_transcode(src, tmp_path / "out", progress=seen.append)

    audio = result.audio
    assert (audio.name, audio.mime, audio.path) == (
        "audio",
        "audio/mpeg",
        tmp_path / "out" / "audio.mp3",
    )
    assert (audio.width, audio.height) == (None, None)
    assert audio.bytes == audio.path.stat().st_size > 0
    assert abs(result.duration_s - 2.0) < 0.1
    info = ffprobe_json(audio.path)
    [stream] = info["streams"]
    assert (stream["codec_name"], stream["sample_rate"]) == ("mp3", "44100")
    assert 120_000 <= int(info["format"]["bit_rate"]) <= 136_000
    assert not info["format"].get("tags")
    data = audio.path.read_bytes()
    assert not data.startswith(b"ID3")
    assert b"Diaz" not in data and VIDEO_LOCATION.encode() not in data
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert files_in(tmp_path / "out") == ["audio.mp3"]


def test_cover_art_is_left_out(tmp_path: Path) -> None:
    """An MP3 with a cover picture yields an MP3 of sound only."""
    cover = tmp_path / "cover.png"
    Image.new("RGB", (64, 64), (10, 200, 10)).save(cover)
    src = ffmpeg_make(
        tmp_path / "in.mp3",
        "-f", "lavfi", "-i", "sine=duration=1", "-i", str(cover),
        "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg",
        "-disposition:v", "attached_pic", "-id3v2_version", "3",
    )  # fmt: skip
    result = audio_transcode(src, tmp_path / "out")
    assert [s["codec_type"] for s in ffprobe_json(result.audio.path)["streams"]] == ["audio"]
    assert abs(result.duration_s - 1.0) < 0.1


def test_the_sound_of_a_video_can_be_a_podcast(tmp_path: Path) -> None:
    """The sound track of an MP4 recording becomes the episode's MP3."""
    src = video_with_metadata(tmp_path / "talk.mp4", seconds=1)
    result = audio_transcode(src, tmp_path / "out")
    assert abs(result.duration_s - 1.0) < 0.1
    assert VIDEO_LOCATION.encode() not in result.audio.path.read_bytes()


def test_a_file_without_sound_fails_and_writes_nothing(tmp_path: Path) -> None:
    """A silent video is not an episode: the reason says there is no audio."""
    src = video_with_metadata(tmp_path / "silent.mp4", seconds=0.5, audio=False)
    with pytest.raises(TranscodeError, match="no audio stream"):
        audio_transcode(src, tmp_path / "out")
    assert files_in(tmp_path / "out") == []


def test_a_truncated_file_fails_with_a_reason(tmp_path: Path) -> None:
    """An M4A cut short fails with a reason; it is never published as if complete."""
    src = sine_audio(tmp_path / "tone.m4a", "-c:a", "aac", seconds=2)
    src.write_bytes(src.read_bytes()[:-4000])
    with pytest.raises(TranscodeError) as caught:
        audio_transcode(src, tmp_path / "out")
    assert str(caught.value)
    assert files_in(tmp_path / "out") == []
