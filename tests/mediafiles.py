"""Real media files made for tests: photos with EXIF GPS (Pillow), video and sound (ffmpeg)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image


def jpeg_with_gps(path: Path, size: tuple[int, int] = (800, 600)) -> Path:
    """A JPEG photo whose EXIF says where it was taken."""
    image = Image.new("RGB", size, (40, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    gps = {1: "N", 2: (39.0, 57.0, 0.0), 3: "W", 4: (89.0, 21.0, 0.0)}
    exif[0x8825] = gps
    image.save(path, "JPEG", exif=exif)
    return path


def ffmpeg_make(path: Path, *args: str) -> Path:
    """Run ffmpeg to make a test file at ``path``."""
    subprocess.run(  # noqa: S603 - fixed arguments, test files only
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)],  # noqa: S607
        check=True,
        timeout=120,
    )
    return path


def video_file(path: Path, *, seconds: int = 2, size: str = "320x240") -> Path:
    return ffmpeg_make(
        path,
        "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
    )  # fmt: skip


def audio_file(path: Path, *, seconds: int = 2) -> Path:
    return ffmpeg_make(
        path, "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", "-c:a", "pcm_s16le"
    )
