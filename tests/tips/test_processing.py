"""Processing tip files in the worker: the metadata record, stripped previews, unreadable
files kept as evidence, and a worker that dies half-way."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.mediafiles import ffmpeg_make
from tests.tips.conftest import committed, drain, jpeg_with_gps, sealed_path, sealed_upload
from watchhouse.audit.models import AuditEntry
from watchhouse.core import crypto
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import FileStatus, TipFile
from watchhouse.tips.services import processing
from watchhouse.tips.services.processing import tip_file_process

pytestmark = pytest.mark.django_db


def tagged_video(path: Path) -> Path:
    """An MP4 as a phone writes it: where and when it was made, and the phone's make."""
    return ffmpeg_make(
        path,
        "-f", "lavfi", "-i", "testsrc=size=960x540:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        "-metadata", "creation_time=2026-03-04T05:06:07Z",
        "-metadata", "location=+38.6270-090.1994/",
        "-metadata", "com.apple.quicktime.make=QuillPhone",
        "-movflags", "use_metadata_tags",
    )  # fmt: skip


def probe(path: Path) -> dict:
    out = subprocess.run(  # noqa: S603 - fixed arguments
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",  # noqa: S607
         str(path)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def preview_bytes(row: TipFile) -> bytes:
    with crypto.open_sealed(private_path(row.preview_path), row.preview_key) as fh:
        return fh.read()


def original_sha256(row: TipFile) -> str:
    with crypto.open_sealed(private_path(row.path), row.wrapped_key) as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def submitted(submit, upload) -> TipFile:
    with committed():
        receipt = submit(files=[upload])
    return TipFile.objects.get(tip=receipt.tip)


def test_photo_metadata_and_stripped_preview(submit, tmp_path) -> None:
    """The record holds the photo's GPS position in signed decimal degrees and the camera
    make; the preview is a sealed JPEG of at most 1280 px with no EXIF at all."""
    photo = jpeg_with_gps(tmp_path / "p.jpg", size=(3000, 2000))
    row = submitted(submit, sealed_path(photo))
    assert row.status == FileStatus.RECEIVED
    drain()
    row.refresh_from_db()
    assert row.status == FileStatus.READY
    assert row.problem == ""
    meta = row.read_metadata()
    assert meta["latitude"] == pytest.approx(39.95)
    assert meta["longitude"] == pytest.approx(-89.35)
    assert meta["make"] == "TestCam"
    assert (meta["width"], meta["height"]) == (3000, 2000)
    assert "TestCam" not in row.metadata
    assert row.preview_mime == "image/jpeg"
    raw = private_path(row.preview_path).read_bytes()
    assert b"\xff\xd8\xff" not in raw[:16]  # sealed, not a JPEG on disk
    with Image.open(io.BytesIO(preview_bytes(row))) as preview:
        assert preview.format == "JPEG"
        assert max(preview.size) == 1280
        assert not preview.getexif()
        assert "exif" not in preview.info
        assert "icc_profile" not in preview.info
    assert b"TestCam" not in preview_bytes(row)
    entry = AuditEntry.objects.get(action="tips.file_processed")
    assert entry.actor is None
    assert entry.data["status"] == FileStatus.READY
    # Already processed: a second run changes nothing.
    before = (row.preview_path, row.metadata)
    assert tip_file_process(file_id=row.pk).startswith("already")
    row.refresh_from_db()
    assert (row.preview_path, row.metadata) == before
    assert original_sha256(row) == hashlib.sha256(photo.read_bytes()).hexdigest()


def test_video_metadata_and_preview_without_tags(submit, tmp_path) -> None:
    """The record holds the video's place and time tags; the preview is a small playable
    MP4 that carries none of them."""
    video = tagged_video(tmp_path / "clip.mp4")
    row = submitted(submit, sealed_path(video))
    drain()
    row.refresh_from_db()
    assert row.status == FileStatus.READY, row.problem
    meta = row.read_metadata()
    assert meta["latitude"] == pytest.approx(38.627)
    assert meta["longitude"] == pytest.approx(-90.1994)
    assert meta["taken_at"].startswith("2026-03-04T05:06:07")
    assert meta["make"] == "QuillPhone"
    assert meta["duration_s"] == pytest.approx(2.0, abs=0.2)
    assert (meta["width"], meta["height"], meta["video_codec"]) == (960, 540, "h264")
    assert row.preview_mime == "video/mp4"
    out = tmp_path / "preview.mp4"
    out.write_bytes(preview_bytes(row))
    found = probe(out)
    video_stream = next(s for s in found["streams"] if s["codec_type"] == "video")
    assert video_stream["codec_name"] == "h264"
    assert video_stream["width"] <= 640
    assert {s["codec_type"] for s in found["streams"]} == {"video", "audio"}
    assert float(found["format"]["duration"]) == pytest.approx(2.0, abs=0.2)
    tags = found["format"].get("tags", {})
    assert not {"location", "location-eng", "com.apple.quicktime.make"} & set(tags)
    assert not tags.get("creation_time", "").startswith("2026")
    assert b"QuillPhone" not in out.read_bytes()
    assert b"+38.6270" not in out.read_bytes()
    assert not any(private_path(processing.WORK).iterdir())


def test_file_that_lies_is_kept_unreadable(submit) -> None:
    """An MP4 signature followed by garbage is kept as evidence, marked unreadable with the
    reason, and the original still decrypts to the bytes received."""
    junk = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 400
    row = submitted(submit, sealed_upload(junk, name="clip.mp4"))
    assert row.kind == "video"
    drain()
    row.refresh_from_db()
    assert row.status == FileStatus.UNREADABLE
    assert "cannot be read" in row.problem
    assert row.preview_path == ""
    assert private_path(row.path).exists()
    assert original_sha256(row) == row.sha256 == hashlib.sha256(junk).hexdigest()
    assert not any(private_path(processing.WORK).iterdir())


def test_worker_dying_mid_processing_loses_nothing(submit, tmp_path, monkeypatch) -> None:
    """A worker stopped while ffmpeg runs, before its clean-up ran, leaves the tip and its
    file intact; the next run removes the plaintext work file and finishes the job."""
    video = tagged_video(tmp_path / "clip.mp4")
    row = submitted(submit, sealed_path(video))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the worker's process is going away

    monkeypatch.setattr(processing, "ffmpeg_run", killed)
    # The machine dies: the work folder's deletion never happens.
    monkeypatch.setattr(processing.shutil, "rmtree", lambda *a, **k: None)
    with pytest.raises(KeyboardInterrupt):
        tip_file_process(file_id=row.pk)
    monkeypatch.undo()
    row.refresh_from_db()
    assert row.status == FileStatus.RECEIVED
    assert (row.metadata, row.preview_path) == ("", "")
    assert original_sha256(row) == hashlib.sha256(video.read_bytes()).hexdigest()
    left = list(private_path(processing.WORK).iterdir())
    assert len(left) == 1  # the dead run's plaintext copy
    assert not AuditEntry.objects.filter(action="tips.file_processed").exists()

    assert tip_file_process(file_id=row.pk).startswith(FileStatus.READY)
    row.refresh_from_db()
    assert row.status == FileStatus.READY
    assert row.read_metadata()["make"] == "QuillPhone"
    assert not any(private_path(processing.WORK).iterdir())
    assert original_sha256(row) == row.sha256
    assert len(list(private_path(row.preview_path).parent.iterdir())) == 1
