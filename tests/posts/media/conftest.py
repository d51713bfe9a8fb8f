"""Files the media tests process, made in the test itself (Pillow, ffmpeg, plain bytes)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import need

HAVE_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None

# Values written into test files' metadata; none may appear in a public copy.
GPS_DATUM = "WGS-84-WATCHHOUSE-TEST"
CAMERA_MAKE = "WatchhouseTestCam"
VIDEO_LOCATION = "+40.6892-074.0445/"
VIDEO_TITLE = "Suspect seen at 12 Elm Street"


@pytest.fixture
def ffmpeg() -> None:
    """Skip (locally) or fail (CI) a test that needs Debian's ffmpeg and ffprobe."""
    need(HAVE_FFMPEG, "ffmpeg and ffprobe are not installed (apt-get install ffmpeg)")


def ffmpeg_make(path: Path, *args: str) -> Path:
    """Run ffmpeg to make a test file at ``path``."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)],
        check=True,
        timeout=120,
    )
    return path


def ffprobe_json(path: Path) -> dict[str, Any]:
    """What ffprobe says about ``path`` (format and streams, with tags)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def video_with_metadata(
    path: Path,
    *,
    size: str = "320x240",
    seconds: float = 2,
    audio: bool = True,
    rate: int = 25,
    video_codec: tuple[str, ...] = ("libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
) -> Path:
    """A test-pattern video with a tone, carrying a location, a title and a creation time."""
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        args += ["-c:a", "libopus" if path.suffix == ".webm" else "aac"]
    args += ["-c:v", *video_codec]
    args += ["-metadata", f"location={VIDEO_LOCATION}", "-metadata", f"title={VIDEO_TITLE}"]
    args += ["-metadata", "creation_time=2024-05-06T07:08:09Z"]
    return ffmpeg_make(path, *args)


def sine_audio(path: Path, *args: str, seconds: float = 2) -> Path:
    """A tone of ``seconds`` seconds, encoded as ``path``'s extension says."""
    return ffmpeg_make(path, "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", *args)


def jpeg_with_gps(
    path: Path, size: tuple[int, int] = (2000, 1500), orientation: int | None = None
) -> Path:
    """A JPEG photo whose EXIF names the camera and where it was taken."""
    image = Image.new("RGB", size, (40, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE  # Make
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x8825] = {  # GPS IFD
        1: "N", 2: (39.0, 57.0, 12.5), 3: "W", 4: (89.0, 21.0, 7.25), 18: GPS_DATUM,
    }  # fmt: skip
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/>WatchhouseXMP</x:xmpmeta>'
    image.save(path, "JPEG", exif=exif, comment=b"taken at the scene", xmp=xmp)
    return path


def gps_latitude_bytes() -> tuple[bytes, bytes]:
    """The latitude written by :func:`jpeg_with_gps` as EXIF rationals, in both byte orders."""
    values = (39, 1, 57, 1, 25, 2)
    return struct.pack(">6I", *values), struct.pack("<6I", *values)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width`` × ``height`` pixels."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )
    return path


def files_in(folder: Path) -> list[str]:
    """Names of the files in ``folder`` (none when it does not exist)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
