"""Encryption at rest (tips, evidence, residents' addresses): values, and files in chunks.

Keys come from ``WATCHHOUSE_ENCRYPTION_KEYS`` (Fernet keys, newest first). Text and small
values are Fernet tokens under the newest key; every key in the list still decrypts, so a new
key can be put first while the old ones stay readable, and ``watchhouse tips rotate-keys``
re-encrypts every value under the newest key without stopping the site.

Files use envelope encryption: each file gets its own random 256-bit data key, and only that
key, wrapped as a Fernet token, is stored in the database. The file itself is AES-256-GCM in
chunks of :data:`CHUNK` bytes (the STREAM construction of Hoang, Reyhanitabar, Rogaway and
Vizár, 2015, as age and Tink use it): each chunk's nonce is a random per-file prefix, the chunk
number and a last-chunk flag, so chunks cannot be reordered, dropped or cut off without the
read failing. Rotating keys re-wraps data keys and never rewrites a file: an original stays
written once. Chunks make the files seekable, so a reader can decode an image header without
decrypting the whole video behind it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"WHT1"
PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + PREFIX_BYTES
# Plaintext bytes per chunk; each stored chunk is this plus a 16-byte tag.
CHUNK = 1 << 20
TAG_BYTES = 16


class SealError(Exception):
    """A sealed value or file could not be opened: wrong key, or changed since it was written."""


def _configured_keys() -> list[bytes]:
    keys = [k.strip().encode() for k in settings.WATCHHOUSE_ENCRYPTION_KEYS if k.strip()]
    if keys:
        return keys
    if settings.PRODUCTION:
        raise ImproperlyConfigured(
            "WATCHHOUSE_ENCRYPTION_KEYS must hold at least one Fernet key in production "
            "(watchhouse tips new-key prints one)."
        )
    # Development and tests: a key derived from SECRET_KEY, so a demo needs no setup.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"watchhouse tips at rest"
    ).derive(settings.SECRET_KEY.encode())
    return [base64.urlsafe_b64encode(derived)]


@cache
def _keyring_for(keys: tuple[bytes, ...]) -> tuple[MultiFernet, Fernet]:
    try:
        fernets = [Fernet(k) for k in keys]
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "WATCHHOUSE_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe "
            "base64-encoded bytes)."
        ) from exc
    return MultiFernet(fernets), fernets[0]


def keyring() -> MultiFernet:
    """Every configured key; encrypts with the first, decrypts with any."""
    return _keyring_for(tuple(_configured_keys()))[0]


def new_key() -> str:
    """A fresh key for ``WATCHHOUSE_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()


def seal(value: str) -> str:
    """Encrypt ``value`` under the newest key; the empty string stays empty."""
    if value == "":
        return ""
    return keyring().encrypt(value.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    """Decrypt a value :func:`seal` wrote."""
    if token == "":
        return ""
    try:
        return keyring().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SealError("A sealed value cannot be decrypted with any configured key.") from exc


def seal_json(value: Any) -> str:
    return seal(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def unseal_json(token: str, default: Any = None) -> Any:
    if token == "":
        return default
    return json.loads(unseal(token))


def reseal(token: str) -> tuple[str, bool]:
    """Return ``token`` re-encrypted under the newest key, and whether it changed."""
    if token == "" or under_newest_key(token):
        return token, False
    try:
        return keyring().rotate(token.encode("ascii")).decode("ascii"), True
    except InvalidToken as exc:
        raise SealError("A sealed value cannot be decrypted with any configured key.") from exc


def under_newest_key(token: str) -> bool:
    """True when ``token`` is empty or already encrypted under the newest key."""
    if token == "":
        return True
    newest = _keyring_for(tuple(_configured_keys()))[1]
    try:
        newest.decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


def lookup_hash(value: str, *, purpose: str) -> str:
    """A keyed hash for finding a row by a secret value (a phone number, a reward code)
    without storing the value. Keyed by SECRET_KEY, so it cannot be reversed by hashing every
    phone number."""
    key = hashlib.sha256(f"watchhouse tips {purpose}".encode() + settings.SECRET_KEY.encode())
    return hashlib.blake2b(value.encode("utf-8"), key=key.digest(), digest_size=32).hexdigest()


# --- files -------------------------------------------------------------------------------------


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


@dataclass(frozen=True)
class SealedFile:
    """What :class:`SealingWriter` wrote: the data key (wrapped), size and SHA-256 of the
    plaintext, and the first bytes of it for recognising the file type."""

    wrapped_key: str
    size: int
    sha256: str
    head: bytes


class SealingWriter:
    """Encrypt a stream into ``path`` as it arrives, hashing the plaintext on the way.

    Nothing readable ever reaches the disk. :meth:`close` writes the last chunk and returns a
    :class:`SealedFile`; :meth:`abort` deletes what was written.
    """

    HEAD = 8192

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(self._key)
        self._prefix = secrets.token_bytes(PREFIX_BYTES)
        self._index = 0
        self._buffer = bytearray()
        self._sha = hashlib.sha256()
        self._size = 0
        self._head = bytearray()
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: a new file, never an existing one opened for writing.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._fh.write(MAGIC + self._prefix)

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._sha.update(data)
        self._size += len(data)
        if len(self._head) < self.HEAD:
            self._head += bytes(data[: self.HEAD - len(self._head)])
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index, last)
        self._fh.write(self._aead.encrypt(nonce, chunk, None))
        self._index += 1

    def close(self) -> SealedFile:
        """Write the last chunk, sync to disk and make the file read-only."""
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.chmod(self.path, 0o400)
        wrapped = keyring().encrypt(self._key).decode("ascii")
        return SealedFile(wrapped, self._size, self._sha.hexdigest(), bytes(self._head))

    def abort(self) -> None:
        """Forget the file: close and delete it."""
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)


def seal_file(path: Path, chunks: Iterator[bytes] | list[bytes]) -> SealedFile:
    """Encrypt ``chunks`` into a new file at ``path``."""
    writer = SealingWriter(path)
    try:
        for chunk in chunks:
            writer.write(chunk)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def unwrap_key(wrapped_key: str) -> bytes:
    try:
        return keyring().decrypt(wrapped_key.encode("ascii"))
    except InvalidToken as exc:
        raise SealError("A file's key cannot be unwrapped with any configured key.") from exc


class SealedReader(io.RawIOBase):
    """Read (and seek in) the plaintext of a file :class:`SealingWriter` wrote.

    Every chunk is authenticated before a byte of it is returned; a changed, reordered or cut
    short file raises :class:`SealError`.
    """

    def __init__(self, path: Path, wrapped_key: str) -> None:
        super().__init__()
        self._aead = AESGCM(unwrap_key(wrapped_key))
        self._fh = path.open("rb")
        header = self._fh.read(HEADER_BYTES)
        if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
            self._fh.close()
            raise SealError(f"{path.name} is not a sealed file.")
        self._prefix = header[len(MAGIC) :]
        stored = path.stat().st_size - HEADER_BYTES
        self._chunks = max(1, -(-stored // (CHUNK + TAG_BYTES)))
        last_stored = stored - (self._chunks - 1) * (CHUNK + TAG_BYTES)
        if last_stored < TAG_BYTES:
            self._fh.close()
            raise SealError(f"{path.name} is cut short.")
        self._size = (self._chunks - 1) * CHUNK + last_stored - TAG_BYTES
        self._pos = 0
        self._cached_index = -1
        self._cached = b""

    @property
    def size(self) -> int:
        """The plaintext size in bytes."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _chunk(self, index: int) -> bytes:
        if index != self._cached_index:
            self._fh.seek(HEADER_BYTES + index * (CHUNK + TAG_BYTES))
            stored = self._fh.read(CHUNK + TAG_BYTES)
            last = index == self._chunks - 1
            try:
                self._cached = self._aead.decrypt(_nonce(self._prefix, index, last), stored, None)
            except InvalidTag as exc:
                raise SealError("A sealed file was changed or cut short.") from exc
            self._cached_index = index
        return self._cached

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        index, offset = divmod(self._pos, CHUNK)
        data = self._chunk(index)[offset : offset + len(view)]
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def chunks(self) -> Iterator[bytes]:
        """The plaintext from the current position to the end, a chunk at a time."""
        while self._pos < self._size:
            index, offset = divmod(self._pos, CHUNK)
            data = self._chunk(index)[offset:]
            self._pos += len(data)
            # The whole file has been read: a chunk cached now is not needed again.
            yield data

    def close(self) -> None:
        self._fh.close()
        self._cached = b""
        super().close()


def open_sealed(path: Path, wrapped_key: str) -> io.BufferedReader:
    """A buffered reader over :class:`SealedReader`, for libraries that read small pieces."""
    return io.BufferedReader(SealedReader(path, wrapped_key), buffer_size=64 * 1024)
