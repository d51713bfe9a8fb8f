"""Uploading media, processing it in the worker, and the staff's edits of it.

An upload is streamed to the private root under a random name (hashed and counted as it
arrives, refused past the size limit), identified by its content, recorded as a
:class:`~watchhouse.posts.models.MediaAsset` and handed to the worker after commit. The
worker claims the row with one conditional update, so exactly one worker processes it; a
worker that dies leaves a row whose claim goes stale after the worker lease, and the task
(handed back by the queue) claims it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.core.pagecache import pages_changed
from watchhouse.posts import media as processing
from watchhouse.posts import policy
from watchhouse.posts.models import MediaAsset, MediaKind, MediaStatus
from watchhouse.posts.storage import (
    StoredOriginal,
    original_rename,
    original_store,
    private_path,
    relative_to_public,
    renditions_clear,
)

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

logger = logging.getLogger(__name__)

# Renditions that must never be public: an image processor may hand back the staff copy
# (with its metadata) beside the public ones; it stays with the original, never in MEDIA_ROOT.
PRIVATE_RENDITIONS = frozenset({"staff", "original"})
CHUNK_BYTES = 1 << 20


class MediaBusyError(RuntimeError):
    """Another worker holds a live claim on the file; the task is tried again later."""


def _chunks(file: Any) -> Iterable[bytes]:
    if hasattr(file, "chunks"):
        return file.chunks(CHUNK_BYTES)
    return iter(lambda: file.read(CHUNK_BYTES), b"")


def media_upload(
    *, actor: User, file: Any, name: str = "", alt_text: str = "", caption: str = ""
) -> MediaAsset:
    """Keep an uploaded file and have the worker make its public copies.

    ``file`` is a Django ``File`` (or any binary file object). A file whose content is not an
    image, video or audio file we take, or that is too big, raises
    :class:`~watchhouse.posts.media.MediaRejectedError` (or ``UploadTooLargeError``) and
    leaves nothing behind.
    """
    require_role(actor, *policy.COMPOSER_ROLES, action="upload media")
    max_bytes = int(settings.WATCHHOUSE_POSTS_MAX_UPLOAD_BYTES)
    stored: StoredOriginal = original_store(_chunks(file), max_bytes=max_bytes)
    try:
        if stored.bytes == 0:
            raise processing.MediaRejectedError(_("The file is empty."))
        sniffed = processing.sniff(stored.path, max_bytes=max_bytes)
        kind = str(sniffed.kind)
        if kind not in MediaKind.values:
            raise processing.MediaRejectedError(
                _("Only images, video and audio files can be uploaded.")
            )
        image_limit = int(settings.WATCHHOUSE_POSTS_MAX_IMAGE_BYTES)
        if kind == MediaKind.IMAGE and stored.bytes > image_limit:
            raise processing.MediaRejectedError(
                _("An image may be at most %(mb)d MB.") % {"mb": image_limit // 1_000_000}
            )
        stored = original_rename(stored, sniffed.extension)
        with transaction.atomic():
            media = MediaAsset.objects.create(
                kind=kind,
                status=MediaStatus.UPLOADED,
                original=stored.relative,
                original_name=(name or getattr(file, "name", "") or "")[-255:].split("/")[-1],
                mime=sniffed.mime,
                bytes=stored.bytes,
                sha256=stored.sha256,
                alt_text=alt_text.strip()[:1000],
                caption=caption.strip()[:500],
                uploaded_by=actor,
            )
            audit_record(
                actor=actor,
                action="posts.media_upload",
                obj=media,
                data={"kind": kind, "bytes": stored.bytes},
            )
            _enqueue_processing(media.pk)
    except BaseException:
        stored.path.unlink(missing_ok=True)
        raise
    return media


def _enqueue_processing(media_id: int) -> None:
    def enqueue() -> None:
        from watchhouse.posts.tasks import process_media_task

        process_media_task.enqueue(media_id)

    transaction.on_commit(enqueue)


def media_retry(*, actor: User, media: MediaAsset) -> MediaAsset:
    """Hand a file whose processing failed back to the worker."""
    require_role(actor, *policy.COMPOSER_ROLES, action="retry media processing")
    with transaction.atomic():
        media = MediaAsset.objects.select_for_update().get(pk=media.pk)
        if media.status != MediaStatus.FAILED:
            raise InvalidInputError(_("Only a file whose processing failed can be retried."))
        media.status = MediaStatus.UPLOADED
        media.progress = 0.0
        media.error = ""
        media.claimed_at = None
        media.save(update_fields=["status", "progress", "error", "claimed_at", "updated_at"])
        audit_record(
            actor=actor, action="posts.media_retry", obj=media, data={"attempts": media.attempts}
        )
        _enqueue_processing(media.pk)
    return media


def media_update(
    *,
    actor: User,
    media: MediaAsset,
    alt_text: str,
    caption: str = "",
    chapters: list[dict[str, Any]] | None = None,
) -> MediaAsset:
    """Change a file's alt text, caption and (audio) chapters."""
    require_role(actor, *policy.COMPOSER_ROLES, action="change media")
    if len(alt_text.strip()) > 1000 or len(caption.strip()) > 500:
        raise InvalidInputError(_("Alt text is at most 1000 characters, a caption 500."))
    clean_chapters = _chapters_clean(chapters) if chapters is not None else None
    with transaction.atomic():
        media = MediaAsset.objects.select_for_update().get(pk=media.pk)
        media.alt_text = alt_text.strip()
        media.caption = caption.strip()
        fields = ["alt_text", "caption", "updated_at"]
        if clean_chapters is not None:
            media.chapters = clean_chapters
            fields.append("chapters")
        media.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="posts.media_update",
            obj=media,
            data={"alt_text": bool(media.alt_text), "chapters": len(media.chapters)},
        )
        # Alt text, captions and renditions show on public pages and in feeds.
        pages_changed("posts")
    return media


def _chapters_clean(chapters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    clean = []
    for chapter in chapters:
        try:
            start = float(chapter["start_s"])
            title = str(chapter["title"]).strip()
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError(
                _("Each chapter needs a start in seconds and a title.")
            ) from None
        if start < 0 or not title:
            raise InvalidInputError(_("Each chapter needs a start in seconds and a title."))
        clean.append({"start_s": start, "title": title[:200]})
    return sorted(clean, key=lambda c: c["start_s"])


def media_captions_set(*, actor: User, media: MediaAsset, data: bytes) -> MediaAsset:
    """Store WebVTT captions for a video; refuses anything that is not valid WebVTT."""
    require_role(actor, *policy.COMPOSER_ROLES, action="change captions")
    if media.kind != MediaKind.VIDEO:
        raise InvalidInputError(_("Captions belong to a video."))
    text = processing.captions_validate(data)
    with transaction.atomic():
        media = MediaAsset.objects.select_for_update().get(pk=media.pk)
        media.captions_vtt = text
        media.save(update_fields=["captions_vtt", "updated_at"])
        audit_record(
            actor=actor, action="posts.media_captions", obj=media, data={"bytes": len(data)}
        )
        pages_changed("posts")
    return media


def media_original_read(*, actor: User, media: MediaAsset) -> Path:
    """The original file of ``media`` for a staff member (an audited read)."""
    require_role(actor, *policy.COMPOSER_ROLES, action="open original media files")
    path = private_path(media.original)
    with transaction.atomic():
        audit_record(actor=actor, action="posts.media_original_read", obj=media)
    return path


# --- The worker's part ---------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=max(int(settings.WATCHHOUSE_WORKER_LEASE_SECONDS), 1))


def media_claim(*, media_id: int) -> int | None:
    """Claim ``media_id`` for processing; return the attempt number, or None when it is not
    this worker's to process (ready, failed, or being processed by a live worker).

    One conditional UPDATE, so two workers never both win. A claim is stale once its
    ``claimed_at`` (refreshed by every progress report) is older than the worker lease.
    """
    now = timezone.now()
    claimable = Q(status=MediaStatus.UPLOADED) | Q(
        status=MediaStatus.PROCESSING, claimed_at__lt=now - _lease()
    )
    won = MediaAsset.objects.filter(claimable, pk=media_id).update(
        status=MediaStatus.PROCESSING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        progress=0.0,
        error="",
        updated_at=now,
    )
    if not won:
        return None
    return MediaAsset.objects.values_list("attempts", flat=True).get(pk=media_id)


def _progress_writer(media_id: int, attempt: int) -> Any:
    def report(fraction: float) -> None:
        # Its own short UPDATE (autocommit), so the uploader's page sees it at once; it also
        # renews the claim, so a long transcode is not mistaken for a dead one.
        MediaAsset.objects.filter(
            pk=media_id, status=MediaStatus.PROCESSING, attempts=attempt
        ).update(progress=min(max(float(fraction), 0.0), 1.0), claimed_at=timezone.now())

    return report


def _rendition_entry(rendition: Any) -> dict[str, Any]:
    return {
        "path": relative_to_public(rendition.path),
        "mime": rendition.mime,
        "width": rendition.width,
        "height": rendition.height,
        "bytes": rendition.bytes,
    }


def _renditions(items: Any) -> dict[str, dict[str, Any]]:
    values = items.values() if isinstance(items, dict) else items
    kept: dict[str, dict[str, Any]] = {}
    for rendition in values:
        if rendition.name in PRIVATE_RENDITIONS:
            if Path(rendition.path).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve()):
                Path(rendition.path).unlink(missing_ok=True)
            continue
        kept[rendition.name] = _rendition_entry(rendition)
    return kept


def media_process(*, media_id: int) -> str:
    """Make the public copies of an uploaded file (the worker acts); return its status.

    Idempotent: a file that is ready, failed or claimed by a live worker is left alone. A
    transcode or content failure marks it failed with the reason; anything else (the worker
    being stopped, the database going away) leaves the claim to go stale, so the queue's
    retry, or another worker, processes it again.
    """
    attempt = media_claim(media_id=media_id)
    if attempt is None:
        status = MediaAsset.objects.filter(pk=media_id).values_list("status", flat=True).first()
        if status == MediaStatus.PROCESSING:
            # Claimed by a worker that may have just died: the queue tries again after a
            # backoff, by when a dead worker's claim has gone stale.
            raise MediaBusyError(f"Media {media_id} is claimed by another worker.")
        return status or "missing"
    media = MediaAsset.objects.get(pk=media_id)
    src = private_path(media.original)
    out_dir = renditions_clear(media_id)
    progress = _progress_writer(media_id, attempt)
    changes: dict[str, Any] = {}
    try:
        if media.kind == MediaKind.IMAGE:
            image = processing.image_process(src, out_dir)
            changes = {
                "width": image.width,
                "height": image.height,
                "renditions": _renditions(image.renditions),
            }
        elif media.kind == MediaKind.VIDEO:
            video = processing.video_transcode(src, out_dir, progress=progress)
            changes = {
                "width": video.width,
                "height": video.height,
                "duration_s": video.duration_s,
                "renditions": _renditions([video.mp4, video.poster]),
            }
        else:
            audio = processing.audio_transcode(src, out_dir, progress=progress)
            changes = {"duration_s": audio.duration_s, "renditions": _renditions([audio.audio])}
    except (processing.TranscodeError, processing.MediaRejectedError) as exc:
        return _finish(media_id, attempt, status=MediaStatus.FAILED, error=str(exc)[:1000])
    except Exception as exc:
        # A bug or a broken file the processors did not foresee: reported like a failed
        # transcode, so staff see it and can retry, instead of the file hanging in processing.
        logger.exception("Media %s: processing failed unexpectedly.", media_id)
        reason = _("Processing failed unexpectedly (%(error)s).") % {"error": type(exc).__name__}
        return _finish(media_id, attempt, status=MediaStatus.FAILED, error=reason)
    return _finish(media_id, attempt, status=MediaStatus.READY, **changes)


def _finish(media_id: int, attempt: int, *, status: str, **changes: Any) -> str:
    now = timezone.now()
    with transaction.atomic():
        done = MediaAsset.objects.filter(
            pk=media_id, status=MediaStatus.PROCESSING, attempts=attempt
        ).update(
            status=status,
            progress=1.0 if status == MediaStatus.READY else F("progress"),
            processed_at=now,
            updated_at=now,
            **changes,
        )
        if not done:
            # Another worker took the file over after this one stalled: its result stands.
            logger.warning(
                "Media %s: attempt %s lost its claim; result dropped.", media_id, attempt
            )
            return "lost"
        media = MediaAsset.objects.get(pk=media_id)
        audit_record(
            actor=None,
            action="posts.media_ready" if status == MediaStatus.READY else "posts.media_failed",
            obj=media,
            data={"attempt": attempt, "renditions": len(media.renditions)},
        )
        pages_changed("posts")
    return status
