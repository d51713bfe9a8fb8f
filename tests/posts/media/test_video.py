"""Uploaded video becomes an H.264/AAC MP4 that starts playing at once, without the camera's
metadata, with a poster frame; damaged files fail with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.posts.media.conftest import (
    VIDEO_LOCATION,
    VIDEO_TITLE,
    ffprobe_json,
    files_in,
    sine_audio,
    video_with_metadata,
)
from watchhouse.posts.media import TranscodeError, probe_duration, video_transcode

pytestmark = pytest.mark.usefixtures("ffmpeg")


def top_level_boxes(path: Path) -> list[str]:
    """The ISO base media boxes at the top level of ``path``, in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        if size < 8:
            break
        offset += size
    return boxes


@pytest.fixture(scope="module")
def phone_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-second 1440 × 810 video with sound, a location and a title (made once)."""
    return video_with_metadata(
        tmp_path_factory.mktemp("src") / "phone.mov", size="1440x810", rate=10
    )


def test_video_becomes_a_web_mp4_without_metadata(tmp_path: Path, phone_video: Path) -> None:
    """H.264 yuv420p + AAC, at most 1280 × 720, faststart, no location, title or date."""
    assert VIDEO_LOCATION in ffprobe_json(phone_video)["format"]["tags"].values()
    seen: list[float] = []

    result = video_transcode(phone_video, tmp_path / "out", progress=seen.append)

    mp4 = result.mp4
    assert (mp4.name, mp4.mime, mp4.path) == ("mp4", "video/mp4", tmp_path / "out" / "video.mp4")
    assert mp4.bytes == mp4.path.stat().st_size
    assert (result.width, result.height) == (mp4.width, mp4.height) == (1280, 720)
    assert abs(result.duration_s - 2.0) < 0.1
    info = ffprobe_json(mp4.path)
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert streams["video"]["pix_fmt"] == "yuv420p"
    assert streams["audio"]["codec_name"] == "aac"
    tags = info["format"].get("tags", {})
    assert not {"location", "location-eng", "title", "creation_time"} & set(tags)
    data = mp4.path.read_bytes()
    assert VIDEO_LOCATION.encode() not in data
    assert VIDEO_TITLE.encode() not in data
    boxes = top_level_boxes(mp4.path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # +faststart

    poster = result.poster
    assert (poster.name, poster.mime, poster.path.name) == ("poster", "image/jpeg", "poster.jpg")
    with Image.open(poster.path) as image:
        assert image.format == "JPEG"
        assert image.size == (poster.width, poster.height) == (1280, 720)
        assert len(image.getexif()) == 0

    assert seen[-1] == 1.0
    assert all(0.0 <= value <= 1.0 for value in seen)
    assert seen == sorted(seen)
    assert files_in(tmp_path / "out") == ["poster.jpg", "video.mp4"]
    assert abs(probe_duration(mp4.path) - result.duration_s) < 0.01


def test_portrait_and_odd_sized_video_keeps_its_shape_with_even_sides(tmp_path: Path) -> None:
    """A phone held upright stays upright (720 × 1280 at most); odd sides become even."""
    upright = video_with_metadata(tmp_path / "upright.mp4", size="810x1440", seconds=0.5, rate=10)
    result = video_transcode(upright, tmp_path / "a")
    assert (result.width, result.height) == (720, 1280)
    odd = video_with_metadata(
        tmp_path / "odd.avi", size="321x241", seconds=0.5, video_codec=("mpeg4",)
    )
    result = video_transcode(odd, tmp_path / "b")
    assert result.width % 2 == 0 and result.height % 2 == 0
    assert abs(result.width / result.height - 321 / 241) < 0.02


def test_video_without_sound_works(tmp_path: Path) -> None:
    """A silent clip transcodes to an MP4 with one video stream."""
    silent = video_with_metadata(
        tmp_path / "silent.mkv", seconds=1, audio=False, rate=10, video_codec=("mpeg4",)
    )
    result = video_transcode(silent, tmp_path / "out")
    kinds = [s["codec_type"] for s in ffprobe_json(result.mp4.path)["streams"]]
    assert kinds == ["video"]
    assert abs(result.duration_s - 1.0) < 0.1


def test_a_truncated_video_fails_with_a_reason_and_writes_nothing(tmp_path: Path) -> None:
    """A clip cut short (its index lost) fails with ffmpeg's reason, not a half file."""
    src = video_with_metadata(tmp_path / "clip.mp4", seconds=1)
    src.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 3])
    with pytest.raises(TranscodeError) as caught:
        video_transcode(src, tmp_path / "out")
    reason = str(caught.value)
    assert reason.startswith("moov atom not found"), reason
    assert "\n" not in reason and str(tmp_path) not in reason
    assert files_in(tmp_path / "out") == []


def test_corrupt_frames_fail_rather_than_publish_a_short_clip(tmp_path: Path) -> None:
    """A clip whose frame data was overwritten does not pass for a complete one."""
    src = video_with_metadata(tmp_path / "clip.mkv", seconds=2, audio=False)
    data = bytearray(src.read_bytes())
    data[400:] = b"\x00" * (len(data) - 400)
    src.write_bytes(bytes(data))
    with pytest.raises(TranscodeError) as caught:
        video_transcode(src, tmp_path / "out")
    assert str(caught.value)
    assert files_in(tmp_path / "out") == []


def test_sound_alone_is_not_a_video(tmp_path: Path) -> None:
    """Audio handed to the video transcoder fails, saying there is no video."""
    src = sine_audio(tmp_path / "tone.m4a", "-c:a", "aac", seconds=0.5)
    with pytest.raises(TranscodeError, match="no video stream"):
        video_transcode(src, tmp_path / "out")
    assert files_in(tmp_path / "out") == []


def test_a_photo_is_not_handed_to_ffmpeg(tmp_path: Path) -> None:
    """A file that is not an audio/video container fails before ffmpeg reads it."""
    src = tmp_path / "photo.mp4"
    Image.new("RGB", (64, 48)).save(src, "JPEG")
    with pytest.raises(TranscodeError, match="not in an audio or video format"):
        video_transcode(src, tmp_path / "out")
