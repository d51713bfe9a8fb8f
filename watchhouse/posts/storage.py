"""Where media files live on disk.

Originals, as received, go under ``WATCHHOUSE_PRIVATE_MEDIA_ROOT`` (never served under
``MEDIA_URL``) with a random name: a file's own name is the uploader's, may hold a person's
name, and must not decide where anything is written. The public copies the worker makes go
under ``MEDIA_ROOT/posts/<media id>/``. Paths stored in the database are relative to their
root, so a root can move.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from watchhouse.core.errors import InvalidInputError


class UploadTooLargeError(InvalidInputError):
    """The upload is bigger than the largest file taken; nothing was kept."""


@dataclass(frozen=True)
class StoredOriginal:
    """An upload streamed to the private root: where, how big, and its SHA-256."""

    relative: str
    path: Path
    bytes: int
    sha256: str


def private_root() -> Path:
    return Path(settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT)


def public_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def private_path(relative: str) -> Path:
    """The absolute path of an original; refuses a path that leaves the private root."""
    return _inside(private_root(), relative)


def public_path(relative: str) -> Path:
    """The absolute path of a public copy; refuses a path that leaves MEDIA_ROOT."""
    return _inside(public_root(), relative)


def _inside(root: Path, relative: str) -> Path:
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise InvalidInputError("A media path points outside its folder.")
    return path


def rendition_dir(media_id: int) -> Path:
    """The folder of one asset's public copies (MEDIA_ROOT/posts/<id>/)."""
    return public_root() / "posts" / str(media_id)


def relative_to_public(path: str | os.PathLike[str]) -> str:
    """``path`` relative to MEDIA_ROOT, as stored in ``MediaAsset.renditions``."""
    return Path(path).resolve().relative_to(public_root().resolve()).as_posix()


def original_store(chunks: Iterable[bytes], *, max_bytes: int) -> StoredOriginal:
    """Stream ``chunks`` to a new random file under the private root, hashing as it goes.

    Raises :class:`UploadTooLargeError` (and deletes what was written) once more than
    ``max_bytes`` arrive, so an oversize upload never fills the disk.
    """
    month = timezone.now().strftime("%Y/%m")
    relative = f"originals/{month}/{secrets.token_hex(16)}"
    path = private_path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("xb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLargeError(
                        f"The file is larger than the {_size_text(max_bytes)} allowed."
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StoredOriginal(relative=relative, path=path, bytes=size, sha256=digest.hexdigest())


def original_rename(stored: StoredOriginal, extension: str) -> StoredOriginal:
    """Give a stored original the extension its sniffed content calls for."""
    extension = "".join(c for c in extension.lower().lstrip(".") if c.isalnum())[:8]
    if not extension:
        return stored
    relative = f"{stored.relative}.{extension}"
    path = private_path(relative)
    stored.path.rename(path)
    return StoredOriginal(relative=relative, path=path, bytes=stored.bytes, sha256=stored.sha256)


def renditions_clear(media_id: int) -> Path:
    """Empty (and create) the folder of an asset's public copies; return it. A dead attempt
    may have left half-written files there."""
    folder = rendition_dir(media_id)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _size_text(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"
