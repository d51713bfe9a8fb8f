"""What a file is, from its first bytes: the signatures of accepted and refused types.

Pure functions over the head of a file; nothing here opens a decoder. A name or a declared
content type is never consulted, since both are chosen by whoever uploads the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

# How many leading bytes the checks look at (tar's "ustar" sits at offset 257).
HEAD_BYTES = 4096


@dataclass(frozen=True)
class Container:
    """An audio/video container recognised by its signature, and the demuxer that reads it."""

    demuxer: str  # the ffmpeg demuxer forced when reading it (never guessed by ffmpeg)
    family: str  # "mov", "matroska", "webm", "avi", "wav", "mp3", "aac", "ogg", "flac"
    brand: bytes = b""  # ISO base media major brand ("qt  " for QuickTime)


_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
# Atoms an old QuickTime file without an "ftyp" box may start with.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


def image_format(head: bytes) -> str | None:
    """Return Pillow's format name for an accepted image signature, or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(head)
        # AVIF files also list "mif1", so AVIF is checked first.
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    return None


def _ftyp_brands(head: bytes) -> set[bytes]:
    size = int.from_bytes(head[:4], "big")
    end = min(max(size, 16), len(head), 256)
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def _id3_end(head: bytes) -> int:
    """Offset of the first byte after an ID3v2 tag at the start of ``head`` (0 when none)."""
    if not head.startswith(b"ID3") or len(head) < 10:
        return 0
    size = 0
    for byte in head[6:10]:  # "synchsafe": 7 bits per byte
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def container(head: bytes, after_id3: bytes = b"") -> Container | None:
    """Return the audio/video container ``head`` starts with, or ``None``.

    ``after_id3`` is the start of the data following an ID3v2 tag (see :func:`file_signature`),
    since MP3, AAC and FLAC files may all begin with one.
    """
    if head[4:8] == b"ftyp":
        return Container("mov", "mov", head[8:12])
    if head[4:8] in _QUICKTIME_ATOMS:
        return Container("mov", "mov", b"qt  ")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # The EBML header names its DocType ("webm" or "matroska") in its first bytes.
        return Container("matroska", "webm" if b"webm" in head[:64] else "matroska")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Container("avi", "avi")
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return Container("wav", "wav")
    if head.startswith(b"OggS"):
        return Container("ogg", "ogg")
    if head.startswith(b"fLaC"):
        return Container("flac", "flac")
    frame = after_id3 if head.startswith(b"ID3") else head
    if head.startswith(b"ID3") and frame.startswith(b"fLaC"):
        return Container("flac", "flac")
    if len(frame) >= 2 and frame[0] == 0xFF:
        if frame[1] & 0xF6 == 0xF0:  # ADTS: 12-bit sync, layer bits 00
            return Container("aac", "aac")
        if frame[1] & 0xE0 == 0xE0 and frame[1] & 0x06:  # MPEG audio frame, layer I-III
            return Container("mp3", "mp3")
    if head.startswith(b"ID3"):
        # A tag followed by something else: the MP3 demuxer resynchronises or refuses it.
        return Container("mp3", "mp3")
    return None


def file_signature(path: Path) -> tuple[bytes, bytes]:
    """Return the first :data:`HEAD_BYTES` of ``path`` and the bytes after a leading ID3 tag."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        after = b""
        if skip := _id3_end(head):
            fh.seek(skip)
            after = fh.read(16)
    return head, after


def refusal(head: bytes) -> str | None:
    """Return why a file with this signature is refused outright, or ``None``.

    Archives are refused without being opened (so a ZIP bomb is never expanded); documents,
    programs and markup (HTML, SVG, XML can all carry script) are named as what they are.
    """
    not_media = _("not an image, video or audio file.")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        if b"[Content_Types].xml" in head or head[30:38] == b"mimetype":
            return _("This file is an office document or e-book (a ZIP archive), %s") % not_media
        return _("This file is a ZIP archive, %s") % not_media
    archives: list[tuple[bytes, str]] = [
        (b"\x1f\x8b", "gzip"),
        (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
        (b"Rar!\x1a\x07", "RAR"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"\x28\xb5\x2f\xfd", "Zstandard"),
        (b"MSCF", "Microsoft Cabinet"),
    ]
    for signature, name in archives:
        if head.startswith(signature):
            return _("This file is a %(kind)s archive, %(rest)s") % {
                "kind": name,
                "rest": not_media,
            }
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return _("This file is a bzip2 archive, %s") % not_media
    if head[257:262] == b"ustar":
        return _("This file is a tar archive, %s") % not_media
    if head.startswith(b"%PDF-"):
        return _("This file is a PDF document, %s") % not_media
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _("This file is a Microsoft Office document, %s") % not_media
    if head.startswith(b"{\\rtf"):
        return _("This file is a rich-text (RTF) document, %s") % not_media
    if head.startswith(b"%!PS"):
        return _("This file is a PostScript document, %s") % not_media
    if head.startswith(
        (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
    ):
        return _("This file is a program, %s") % not_media
    if head.startswith(b"\xca\xfe\xba\xbe"):
        return _("This file is a program, %s") % not_media
    if head.startswith(b"#!"):
        return _("This file is a script, %s") % not_media
    markup = _markup(head)
    if markup == "svg":
        return _(
            "This file is an SVG drawing, which can contain script; upload it as a PNG or "
            "JPEG image instead."
        )
    if markup == "html":
        return _("This file is a web page (HTML), %s") % not_media
    if markup == "xml":
        return _("This file is an XML document, %s") % not_media
    other_images: list[tuple[bytes, str]] = [
        (b"BM", "BMP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
        (b"8BPS", "Photoshop"),
        (b"\x00\x00\x01\x00", "icon"),
    ]
    for signature, name in other_images:
        if head.startswith(signature):
            return _(
                "%(kind)s images are not accepted; save it as a JPEG, PNG, WebP or GIF image."
            ) % {"kind": name}
    return None


def _markup(head: bytes) -> str | None:
    """ "svg", "html" or "xml" when ``head`` is markup (after any byte-order mark), else None."""
    text = head
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if text.startswith(bom):
            text = text[len(bom) :]
            break
    # UTF-16 markup: drop the zero bytes so the checks below see ASCII.
    text = text.replace(b"\x00", b"").lstrip().lower()
    if not text.startswith(b"<"):
        return None
    if b"<svg" in text:
        return "svg"
    is_html = text.startswith(b"<!doctype html") or b"<html" in text or b"<script" in text
    if not is_html and text.startswith((b"<?xml", b"<!doctype")):
        return "xml"
    # Any other markup is treated as HTML: a browser sniffing it would.
    return "html"
    if text.startswith(b"<?xml") or text.startswith(b"<!doctype"):
        return "xml"
    return "html"
