"""Media uploads end to end through the worker's task: kept privately as received, checked by
content, processed to public copies without metadata; bad uploads change nothing; a failed
processing run says why and can be retried; captions, alt text and the staff-only original."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from freezegun import freeze_time
from PIL import Image

from tests.conftest import need
from tests.posts.conftest import (
    HAVE_FFMPEG,
    audio_file,
    committed,
    drain,
    jpeg_with_gps,
    queued,
    video_file,
)
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.posts.media import MediaRejectedError
from watchhouse.posts.models import MediaAsset
from watchhouse.posts.services import (
    media_captions_set,
    media_claim,
    media_original_read,
    media_process,
    media_retry,
    media_update,
    media_upload,
)
from watchhouse.posts.services.media import MediaBusyError
from watchhouse.posts.storage import UploadTooLargeError, private_path, public_path
from watchhouse.posts.tasks import process_media_task

pytestmark = pytest.mark.django_db

GPS_IFD = 0x8825


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def upload(actor, path: Path, **kwargs) -> MediaAsset:
    with path.open("rb") as handle, committed():
        return media_upload(actor=actor, file=File(handle, name=path.name), **kwargs)


def test_a_photo_is_kept_privately_and_published_without_its_metadata(pio, tmp_path, media_roots):
    public, private = media_roots
    photo = jpeg_with_gps(tmp_path / "DSC0001.jpg")
    media = upload(pio, photo, alt_text="The stolen bicycle")
    assert media.status == "uploaded" and media.kind == "image" and media.mime == "image/jpeg"
    assert media.sha256 == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert media.bytes == photo.stat().st_size and media.original_name == "DSC0001.jpg"
    original = private_path(media.original)
    assert original.is_relative_to(private) and "DSC0001" not in original.name
    assert queued("process_media_task") == [[media.pk]]
    assert AuditEntry.objects.filter(action="posts.media_upload", object_id=str(media.pk))

    drain()
    media.refresh_from_db()
    assert media.status == "ready" and media.progress == 1.0 and media.attempts == 1
    assert (media.width, media.height) == (800, 600)
    assert media.renditions
    for entry in media.renditions.values():
        copy = public_path(entry["path"])
        assert copy.is_relative_to(public / "posts" / str(media.pk))
        with Image.open(copy) as image:
            exif = image.getexif()
            assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD)
    with Image.open(original) as image:
        assert image.getexif().get_ifd(GPS_IFD)  # the staff copy keeps where it was taken
    assert not any(p.is_relative_to(public) for p in files_in(private))


def test_a_file_that_lies_about_its_type_changes_nothing(pio, media_roots):
    _public, private = media_roots
    fake = SimpleUploadedFile("photo.jpg", b"#!/bin/sh\nrm -rf /\n" * 50, "image/jpeg")
    with committed(), pytest.raises(MediaRejectedError):
        media_upload(actor=pio, file=fake)
    assert not MediaAsset.objects.exists() and files_in(private) == []
    assert queued("process_media_task") == []


def test_an_oversize_upload_changes_nothing(pio, settings, tmp_path, media_roots):
    _public, private = media_roots
    settings.WATCHHOUSE_POSTS_MAX_UPLOAD_BYTES = 10_000
    photo = jpeg_with_gps(tmp_path / "big.jpg", size=(1200, 900))
    assert photo.stat().st_size > 10_000
    with pytest.raises(UploadTooLargeError):
        upload(pio, photo)
    assert not MediaAsset.objects.exists() and files_in(private) == []


def test_an_image_over_the_image_limit_is_refused(pio, settings, tmp_path, media_roots):
    settings.WATCHHOUSE_POSTS_MAX_IMAGE_BYTES = 1_000
    with pytest.raises(MediaRejectedError, match="image"):
        upload(pio, jpeg_with_gps(tmp_path / "a.jpg"))
    assert not MediaAsset.objects.exists() and files_in(media_roots[1]) == []


def test_roles_that_do_not_write_posts_cannot_upload(make_staff, tmp_path, media_roots):
    with pytest.raises(NotPermittedError):
        upload(make_staff("analyst"), jpeg_with_gps(tmp_path / "a.jpg"))
    assert files_in(media_roots[1]) == []


def test_a_failed_processing_run_says_why_and_can_be_retried(pio, tmp_path):
    photo = jpeg_with_gps(tmp_path / "a.jpg")
    media = upload(pio, photo)
    original = private_path(media.original)
    good = original.read_bytes()
    original.write_bytes(good[:300])  # the disk copy broke before the worker got to it
    drain()
    media.refresh_from_db()
    assert media.status == "failed" and media.error and media.renditions == {}
    assert AuditEntry.objects.filter(action="posts.media_failed").exists()
    original.write_bytes(good)
    with committed():
        media_retry(actor=pio, media=media)
    media.refresh_from_db()
    assert media.status == "uploaded" and media.error == ""
    drain()
    media.refresh_from_db()
    assert media.status == "ready" and media.attempts == 2
    with pytest.raises(InvalidInputError):
        media_retry(actor=pio, media=media)


def test_a_repeated_task_leaves_a_ready_file_alone(pio, tmp_path):
    media = upload(pio, jpeg_with_gps(tmp_path / "a.jpg"))
    drain()
    assert process_media_task.call(media.pk) == "ready"
    media.refresh_from_db()
    assert media.attempts == 1


def test_alt_text_caption_and_the_audited_original(pio, make_staff, tmp_path):
    media = upload(pio, jpeg_with_gps(tmp_path / "a.jpg"))
    media = media_update(actor=pio, media=media, alt_text=" A red car ", caption="Seen Monday")
    assert (media.alt_text, media.caption) == ("A red car", "Seen Monday")
    path = media_original_read(actor=pio, media=media)
    assert path.read_bytes() == (tmp_path / "a.jpg").read_bytes()
    assert AuditEntry.objects.filter(action="posts.media_original_read", actor_id=pio.pk)
    with pytest.raises(NotPermittedError):
        media_original_read(actor=make_staff("analyst"), media=media)


@pytest.mark.slow
def test_a_video_is_transcoded_with_a_poster_and_takes_captions(pio, tmp_path):
    need(HAVE_FFMPEG, "ffmpeg and ffprobe are not installed")
    media = upload(pio, video_file(tmp_path / "clip.mov", seconds=2))
    assert media.kind == "video"
    drain()
    media.refresh_from_db()
    assert media.status == "ready", media.error
    assert set(media.renditions) == {"mp4", "poster"}
    assert media.renditions["mp4"]["mime"] == "video/mp4"
    assert public_path(media.renditions["mp4"]["path"]).stat().st_size > 0
    assert 1.5 < media.duration_s < 2.5 and media.width and media.height
    vtt = b"WEBVTT\n\n00:00.000 --> 00:01.500\nHello <script>x</script>there\n"
    media = media_captions_set(actor=pio, media=media, data=vtt)
    assert media.captions_vtt.startswith("WEBVTT") and "<script>" not in media.captions_vtt
    with pytest.raises(MediaRejectedError):
        media_captions_set(actor=pio, media=media, data=b"not captions at all")


@pytest.mark.slow
def test_audio_is_transcoded_with_its_duration(pio, tmp_path):
    need(HAVE_FFMPEG, "ffmpeg and ffprobe are not installed")
    media = upload(pio, audio_file(tmp_path / "episode.wav", seconds=3))
    assert media.kind == "audio"
    drain()
    media.refresh_from_db()
    assert media.status == "ready", media.error
    assert list(media.renditions) == ["audio"]
    assert media.renditions["audio"]["mime"].startswith("audio/")
    assert media.renditions["audio"]["bytes"] > 0
    assert 2.5 < media.duration_s < 3.5
    with pytest.raises(InvalidInputError):
        media_captions_set(actor=pio, media=media, data=b"WEBVTT\n")


def test_one_claim_wins_and_a_stale_claim_is_taken_over(pio, tmp_path, settings):
    settings.WATCHHOUSE_WORKER_LEASE_SECONDS = 30
    media = upload(pio, jpeg_with_gps(tmp_path / "a.jpg"))
    assert media_claim(media_id=media.pk) == 1
    assert media_claim(media_id=media.pk) is None  # a live worker holds it
    with pytest.raises(MediaBusyError):
        media_process(media_id=media.pk)  # the queue tries again later
    with freeze_time(timezone.now() + timedelta(seconds=31)):
        assert media_claim(media_id=media.pk) == 2  # its worker went silent: taken over
    MediaAsset.objects.filter(pk=media.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert media_process(media_id=media.pk) == "ready"
    media.refresh_from_db()
    assert media.attempts == 3 and media.status == "ready"
