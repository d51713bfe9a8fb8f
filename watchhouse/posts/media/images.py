"""Validating photos and making their public copies with Pillow.

The public copies hold pixels and nothing else: no EXIF (so no GPS position, camera serial
or time), no XMP, IPTC, comments or embedded thumbnails. Colours are converted to sRGB, so
no ICC profile needs to travel with them. The original is only ever read.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from watchhouse.posts.media.errors import MediaRejectedError
from watchhouse.posts.media.magic import HEAD_BYTES, image_format
from watchhouse.posts.media.output import (
    Rendition,
    output_commit,
    output_discard,
    output_partial,
)

# Largest picture accepted, in pixels: 60 MP holds every phone and most camera photos and
# decodes in about 180 MB; anything bigger is almost certainly a decompression bomb.
MAX_IMAGE_PIXELS = 60_000_000
# JPEG quality of public copies: visually lossless for photos at a third of the size.
JPEG_QUALITY = 85
DEFAULT_WIDTHS = (320, 640, 1280, 1920)

# Pillow format → (MIME type, usual extension) for the images accepted.
IMAGE_TYPES: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
    "GIF": ("image/gif", ".gif"),
    "HEIF": ("image/heic", ".heic"),
    "AVIF": ("image/avif", ".avif"),
}
# What a decoder may raise on a damaged or hostile file.
DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    ZeroDivisionError,
)


@dataclass(frozen=True)
class ImageResult:
    """A validated photo: its upright size, its original MIME type and its public copies."""

    width: int
    height: int
    mime: str
    renditions: list[Rendition]


def image_readable(fmt: str) -> bool:
    """True when this Pillow build can decode ``fmt`` (HEIF needs a plugin)."""
    Image.init()
    return fmt in Image.OPEN


def _damaged(fmt: str) -> MediaRejectedError:
    return MediaRejectedError(
        _("This %(kind)s image cannot be read; it may be damaged or incomplete.")
        % {"kind": fmt.replace("WEBP", "WebP")}
    )


def _bomb(width: int, height: int) -> MediaRejectedError:
    return MediaRejectedError(
        _(
            "This image claims to be %(width)d × %(height)d pixels, more than the %(limit)d "
            "megapixels accepted; it may be a decompression bomb."
        )
        % {"width": width, "height": height, "limit": MAX_IMAGE_PIXELS // 1_000_000}
    )


@contextmanager
def image_open(path: Path | BinaryIO, fmt: str) -> Iterator[Image.Image]:
    """Open ``path`` (a path or a seekable file) with the one decoder for ``fmt`` after checking
    its declared size.

    Only the header is read here; the pixel count it declares is checked against
    :data:`MAX_IMAGE_PIXELS` before anything is decoded. Raises :class:`MediaRejectedError`.
    """
    if not image_readable(fmt):
        raise MediaRejectedError(
            _("%(kind)s images cannot be read here; save it as a JPEG or PNG image.")
            % {"kind": fmt}
        )
    # Pillow's own process-wide limit (Image.MAX_IMAGE_PIXELS) warns or raises first for
    # the largest bombs; the warning is an exception where warnings are errors. Either way
    # the stricter check below is what decides.
    try:
        image = Image.open(path, formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejectedError(
            _(
                "This image declares a size far larger than accepted; it may be a "
                "decompression bomb."
            )
        ) from exc
    except DECODE_ERRORS as exc:
        raise _damaged(fmt) from exc
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise _damaged(fmt)
        if width * height > MAX_IMAGE_PIXELS:
            raise _bomb(width, height)
        yield image


def _upright(path: Path, fmt: str) -> Image.Image:
    """Decode the whole first frame, turned the way the camera's EXIF says it was held."""
    # verify() walks the file's structure (PNG checksums, chunk lengths) without decoding.
    with image_open(path, fmt) as image:
        try:
            image.verify()
        except DECODE_ERRORS as exc:
            raise _damaged(fmt) from exc
    with image_open(path, fmt) as image:
        try:
            image.load()
        except DECODE_ERRORS as exc:
            raise _damaged(fmt) from exc
        try:
            upright = ImageOps.exif_transpose(image)
        except DECODE_ERRORS:
            # Unreadable EXIF says nothing reliable about orientation: keep the pixels as
            # stored rather than refuse an otherwise good photo.
            upright = image.copy()
        try:
            icc = image.info.get("icc_profile")
            has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
                "transparency" in image.info
            )
            return to_srgb(upright, icc, "RGBA" if has_alpha else "RGB")
        except DECODE_ERRORS as exc:
            raise _damaged(fmt) from exc


def to_srgb(image: Image.Image, icc: bytes | None, mode: str) -> Image.Image:
    """Return ``image`` in ``mode``, its colours converted to sRGB when it carries a profile."""
    if image.mode.startswith("I"):
        # 16-bit greyscale: Pillow's direct conversion clips instead of scaling to 8 bits.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode=mode
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            # A broken or unusual profile: the pixels are still right enough untransformed.
            converted = None
        if converted is not None:
            return converted
    return image.convert(mode)


def pixels_only(image: Image.Image) -> Image.Image:
    """A new image with ``image``'s pixels and no ``info`` at all (so nothing else is saved)."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def image_process(
    src: Path, out_dir: Path, *, widths: tuple[int, ...] = DEFAULT_WIDTHS
) -> ImageResult:
    """Validate the photo at ``src`` and write its public copies to ``out_dir``.

    One copy per width in ``widths`` that is not larger than the upright original (or one at
    the original width when it is narrower than all of them), named ``w<width>``, smallest
    first; JPEG, or PNG when the picture has real transparency. Every copy holds pixels only.
    ``mime`` is the original's type. Raises :class:`MediaRejectedError` (nothing written)
    when the file is not an accepted, intact image within :data:`MAX_IMAGE_PIXELS`.
    """
    with src.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    fmt = image_format(head)
    if fmt is None:
        raise MediaRejectedError(_("This file is not a JPEG, PNG, WebP or GIF image."))
    mime = IMAGE_TYPES[fmt][0]
    picture = _upright(src, fmt)
    if picture.mode == "RGBA" and picture.getchannel("A").getextrema()[0] == 255:
        picture = picture.convert("RGB")  # fully opaque: a JPEG is far smaller
    width, height = picture.size
    targets = sorted({w for w in widths if 0 < w <= width}) or [width]
    if picture.mode == "RGBA":
        out_format, out_mime, suffix = "PNG", "image/png", ".png"
        options: dict[str, object] = {"compress_level": 6}
    else:
        out_format, out_mime, suffix = "JPEG", "image/jpeg", ".jpg"
        options = {"quality": JPEG_QUALITY, "optimize": True, "progressive": True}

    out_dir.mkdir(parents=True, exist_ok=True)
    renditions: list[Rendition] = []
    partial: Path | None = None
    try:
        for target in targets:
            size = (target, max(1, round(height * target / width)))
            resized = (
                picture
                if size == picture.size
                else picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
            )
            name = f"w{target}"
            partial = output_partial(out_dir, name + suffix)
            pixels_only(resized).save(partial, format=out_format, **options)
            renditions.append(
                output_commit(
                    partial,
                    out_dir / (name + suffix),
                    name=name,
                    mime=out_mime,
                    width=size[0],
                    height=size[1],
                )
            )
            partial = None
    except BaseException:
        output_discard(*(r.path for r in renditions), *([partial] if partial else []))
        raise
    return ImageResult(width=width, height=height, mime=mime, renditions=renditions)
