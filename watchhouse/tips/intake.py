"""Receiving a tipster's files: sealed as they stream in, then recognised by their content.

:class:`SealingUploadHandler` replaces Django's upload handlers for the tip forms: each file's
bytes are hashed (SHA-256) and encrypted chunk by chunk into a staging file under the private
root as they come off the socket, so a file never sits in memory and never touches the disk
readable. :func:`file_classify` then decides what it is from its first bytes (never the name or
the declared type), and decodes an image's header to refuse decompression bombs. Videos are
probed in full by the worker, which keeps a file it cannot read as evidence and says so.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from watchhouse.core import crypto
from watchhouse.posts.media.errors import MediaRejectedError
from watchhouse.posts.media.images import IMAGE_TYPES, image_open
from watchhouse.posts.media.magic import container, image_format, refusal
from watchhouse.posts.storage import private_path

STAGING = "tips/staging"

# Container family of a recognised signature -> (kind, MIME type).
_CONTAINER_TYPES = {
    "mov": ("video", "video/mp4"),
    "webm": ("video", "video/webm"),
    "matroska": ("video", "video/x-matroska"),
    "avi": ("video", "video/x-msvideo"),
    "wav": ("audio", "audio/wav"),
    "mp3": ("audio", "audio/mpeg"),
    "aac": ("audio", "audio/aac"),
    "ogg": ("audio", "audio/ogg"),
    "flac": ("audio", "audio/flac"),
}


class SealedUpload(UploadedFile):
    """A file the handler sealed to staging: where, its SHA-256, size and first bytes.

    ``too_large`` is set (and nothing kept) when it went over the size limit.
    """

    def __init__(self, *, name: str, relative: str, sealed: crypto.SealedFile | None) -> None:
        super().__init__(file=None, name=name, size=sealed.size if sealed else 0)
        self.relative = relative
        self.sealed = sealed

    @property
    def too_large(self) -> bool:
        return self.sealed is None

    def close(self) -> None:
        """Nothing to close: the handler closed the sealed file. (Django closes uploads when a
        request ends or its parsing fails; the inherited close() would fail on ``file=None``.)"""

    def discard(self) -> None:
        """Delete the staged file (it was refused, or the submission failed)."""
        if self.relative:
            private_path(self.relative).unlink(missing_ok=True)


class SealingUploadHandler(FileUploadHandler):
    """Seal every uploaded file of the request to staging as its chunks arrive."""

    chunk_size = 256 * 1024

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.max_bytes = int(settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES)
        self._writer: crypto.SealingWriter | None = None
        self._relative = ""
        self._over = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._relative = f"{STAGING}/{secrets.token_hex(16)}"
        self._writer = crypto.SealingWriter(private_path(self._relative))
        self._over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        writer = self._writer
        if writer is None or self._over:
            return
        if writer.size + len(raw_data) > self.max_bytes:
            # Keep reading the request (so the client gets an answer) but keep nothing.
            writer.abort()
            self._over = True
            return
        writer.write(raw_data)
        return

    def file_complete(self, file_size: int) -> SealedUpload | None:
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        name = self.file_name or ""
        if self._over:
            return SealedUpload(name=name, relative="", sealed=None)
        return SealedUpload(name=name, relative=self._relative, sealed=writer.close())

    def upload_interrupted(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None


@dataclass(frozen=True)
class Classified:
    """What a file is: "image", "video", "audio" or "document", and its MIME type."""

    kind: str
    mime: str


def _accepted() -> str:
    return _("Photos (JPEG, PNG, WebP, GIF, HEIC), videos, sound recordings and PDF documents.")


def file_classify(upload: SealedUpload) -> Classified:
    """Recognise a sealed upload by its content, or refuse it with a sentence for the tipster.

    Raises :class:`MediaRejectedError` for an empty or oversize file, an archive, a program, a
    web page or SVG drawing (both can carry script), a picture that declares a decompression
    bomb's size, or anything not recognised.
    """
    limit = int(settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES)
    label = upload.name or _("This file")
    if upload.sealed is None:
        raise MediaRejectedError(
            _("%(name)s is larger than the %(limit)s accepted; nothing of it was kept.")
            % {"name": label, "limit": filesizeformat(limit)}
        )
    head = upload.sealed.head
    if upload.sealed.size == 0:
        raise MediaRejectedError(_("%(name)s is empty.") % {"name": label})
    if head.startswith(b"%PDF-"):
        return Classified("document", "application/pdf")
    if reason := refusal(head):
        raise MediaRejectedError(f"{label}: {reason}")
    if fmt := image_format(head):
        path = private_path(upload.relative)
        try:
            with crypto.open_sealed(path, upload.sealed.wrapped_key) as fh, image_open(fh, fmt):
                pass
        except MediaRejectedError as exc:
            raise MediaRejectedError(f"{label}: {exc}") from exc
        return Classified("image", IMAGE_TYPES[fmt][0])
    after_id3 = b""
    if head.startswith(b"ID3") and len(head) >= 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        after_id3 = head[10 + size : 10 + size + 16]
    if found := container(head, after_id3):
        kind, mime = _CONTAINER_TYPES[found.family]
        return Classified(kind, mime)
    raise MediaRejectedError(
        _("%(name)s is not a file that can be taken. Accepted: %(accepted)s")
        % {"name": label, "accepted": _accepted()}
    )


def staged_move(upload: SealedUpload, tip_code: str) -> str:
    """Move a staged file to its place among the tip's evidence; return the new relative path.

    A rename within one file system: the sealed bytes are not rewritten.
    """
    relative = f"tips/evidence/{tip_code}/{secrets.token_hex(16)}"
    target = private_path(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    Path(private_path(upload.relative)).rename(target)
    upload.relative = ""
    return relative


def staging_sweep(*, older_than_seconds: int = 24 * 3600) -> int:
    """Delete staged uploads older than ``older_than_seconds``: what a request that died mid-way
    left behind (a tip that was stored had its files moved out of staging). Returns how many."""
    import time

    folder = private_path(STAGING)
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
