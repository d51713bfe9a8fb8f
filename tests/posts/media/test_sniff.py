"""Uploads are identified by their content, and everything that may not be published is
refused with a sentence that says what the file is."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.posts.media.conftest import (
    ffmpeg_make,
    jpeg_with_gps,
    png_bomb,
    sine_audio,
    video_with_metadata,
)
from watchhouse.posts.media import MediaRejectedError, Sniffed, sniff

MB = 1_000_000


def image_bytes(fmt: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (40, 30), (200, 10, 10)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime", "extension"),
    [
        ("JPEG", "image/jpeg", ".jpg"),
        ("PNG", "image/png", ".png"),
        ("WEBP", "image/webp", ".webp"),
        ("GIF", "image/gif", ".gif"),
    ],
)
def test_images_are_known_by_content_not_name(
    tmp_path: Path, fmt: str, mime: str, extension: str
) -> None:
    """An image named like a program is still recognised as the image it is."""
    path = tmp_path / "holiday.exe"
    path.write_bytes(image_bytes(fmt))
    assert sniff(path, max_bytes=MB) == Sniffed("image", mime, extension)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # A small zip bomb: megabytes of zeros in a few kilobytes.
        archive.writestr("photo.jpg", b"\x00" * 5_000_000)
    return buffer.getvalue()


def tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("a.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        (
            "photo.jpg",
            zip_bytes(),
            "This file is a ZIP archive, not an image, video or audio file.",
        ),
        ("photo.png", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "web page (HTML)"),
        ("photo.png", b"\xef\xbb\xbf  <html><body onload=x()>", "web page (HTML)"),
        (
            "logo.png",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>",
            "SVG drawing",
        ),  # fmt: skip
        ("data.jpg", b'<?xml version="1.0"?><data/>', "XML document"),
        ("clip.mp4", gzip.compress(b"x" * 1000), "gzip archive"),
        ("clip.mp4", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 32, "7-Zip archive"),
        ("clip.mp4", tar_bytes(), "tar archive"),
        ("photo.jpg", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n", "PDF document"),
        ("photo.jpg", b"MZ\x90\x00\x03" + b"\x00" * 64, "program"),
        ("photo.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "program"),
        ("song.mp3", b"#!/bin/sh\nrm -rf /\n", "script"),
        ("photo.jpg", b"BM" + b"\x00" * 64, "BMP images are not accepted"),
        (
            "photo.jpg",
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
            "HEIF",
        ),  # fmt: skip
        ("photo.jpg", b"just some text, not a picture\n", "not an image, video or audio file"),
    ],
)
def test_files_that_are_not_media_are_refused_saying_what_they_are(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    """Archives, documents, programs and markup are refused, whatever their name."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MediaRejectedError) as caught:
        sniff(path, max_bytes=10 * MB)
    assert words in str(caught.value)


def test_empty_and_oversize_files_are_refused(tmp_path: Path) -> None:
    """An empty file and one over the limit are refused, the limit named in the message."""
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(MediaRejectedError, match="empty"):
        sniff(empty, max_bytes=MB)
    big = tmp_path / "big.jpg"
    big.write_bytes(image_bytes("JPEG") + b"\x00" * 2000)
    with pytest.raises(MediaRejectedError, match="largest file accepted is 1.0"):
        sniff(big, max_bytes=1024)


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    """A few hundred bytes declaring 9,000 × 9,000 pixels are refused before decoding."""
    path = png_bomb(tmp_path / "small.png", 9_000, 9_000)
    assert path.stat().st_size < 1000
    with pytest.raises(MediaRejectedError) as caught:
        sniff(path, max_bytes=MB)
    assert str(caught.value) == (
        "This image claims to be 9000 × 9000 pixels, more than the 60 megapixels accepted; "
        "it may be a decompression bomb."
    )


def test_an_image_signature_over_garbage_is_refused(tmp_path: Path) -> None:
    """A file that starts like a PNG but is not one is refused as unreadable."""
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"this is not a PNG at all" * 10)
    with pytest.raises(MediaRejectedError, match="cannot be read"):
        sniff(path, max_bytes=MB)


def test_a_real_photo_with_a_lying_name_is_an_image(tmp_path: Path) -> None:
    """A camera JPEG named .mp4 is an image/jpeg."""
    path = jpeg_with_gps(tmp_path / "clip.mp4", size=(64, 48))
    assert sniff(path, max_bytes=MB) == Sniffed("image", "image/jpeg", ".jpg")


@pytest.mark.usefixtures("ffmpeg")
@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("a.bin", ("-c:v", "libx264", "-f", "mp4"), Sniffed("video", "video/mp4", ".mp4")),
        ("a.bin", ("-c:v", "libx264", "-f", "mov"), Sniffed("video", "video/quicktime", ".mov")),
        ("a.bin", ("-c:v", "libvpx", "-f", "webm"), Sniffed("video", "video/webm", ".webm")),
        (
            "a.bin",
            ("-c:v", "libx264", "-f", "matroska"),
            Sniffed("video", "video/x-matroska", ".mkv"),
        ),  # fmt: skip
        ("a.bin", ("-c:v", "mpeg4", "-f", "avi"), Sniffed("video", "video/x-msvideo", ".avi")),
    ],
)
def test_video_containers_are_known_by_content(
    tmp_path: Path, name: str, args: tuple[str, ...], expected: Sniffed
) -> None:
    """MP4, QuickTime, WebM, Matroska and AVI are recognised whatever the file is called."""
    path = ffmpeg_make(
        tmp_path / name, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5", *args
    )
    assert sniff(path, max_bytes=10 * MB) == expected


@pytest.mark.usefixtures("ffmpeg")
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-c:a", "pcm_s16le", "-f", "wav"), Sniffed("audio", "audio/wav", ".wav")),
        (("-c:a", "libmp3lame", "-f", "mp3"), Sniffed("audio", "audio/mpeg", ".mp3")),
        (("-c:a", "aac", "-f", "ipod"), Sniffed("audio", "audio/mp4", ".m4a")),
        (("-c:a", "aac", "-f", "adts"), Sniffed("audio", "audio/aac", ".aac")),
        (("-c:a", "libopus", "-f", "ogg"), Sniffed("audio", "audio/ogg", ".opus")),
        (("-c:a", "libvorbis", "-f", "ogg"), Sniffed("audio", "audio/ogg", ".ogg")),
        (("-c:a", "flac", "-f", "flac"), Sniffed("audio", "audio/flac", ".flac")),
    ],
)
def test_audio_formats_are_known_by_content(
    tmp_path: Path, args: tuple[str, ...], expected: Sniffed
) -> None:
    """WAV, MP3, M4A, AAC, Ogg (Opus, Vorbis) and FLAC are audio."""
    path = sine_audio(tmp_path / "upload.dat", *args, seconds=0.5)
    assert sniff(path, max_bytes=10 * MB) == expected


@pytest.mark.usefixtures("ffmpeg")
def test_cover_art_does_not_make_an_mp3_a_video(tmp_path: Path) -> None:
    """An MP3 with an embedded cover picture is audio."""
    cover = tmp_path / "cover.png"
    Image.new("RGB", (64, 64), (10, 200, 10)).save(cover)
    path = ffmpeg_make(
        tmp_path / "episode",
        "-f", "lavfi", "-i", "sine=duration=0.5", "-i", str(cover),
        "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg",
        "-disposition:v", "attached_pic", "-id3v2_version", "3", "-f", "mp3",
    )  # fmt: skip
    assert sniff(path, max_bytes=10 * MB) == Sniffed("audio", "audio/mpeg", ".mp3")


@pytest.mark.usefixtures("ffmpeg")
def test_a_video_signature_over_garbage_is_refused(tmp_path: Path) -> None:
    """A file that starts like an MP4 but holds no playable streams is refused."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x17" * 4000)
    with pytest.raises(
        MediaRejectedError, match="looks like an MP4 or QuickTime video but cannot be read"
    ):
        sniff(path, max_bytes=MB)


@pytest.mark.usefixtures("ffmpeg")
def test_a_truncated_video_is_refused(tmp_path: Path) -> None:
    """An MP4 cut off before its index is refused as damaged or incomplete."""
    path = video_with_metadata(tmp_path / "clip.mp4", seconds=1)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MediaRejectedError, match="damaged or incomplete"):
        sniff(path, max_bytes=MB)
