"""Where a photo says it was taken: the GPS block of an image's EXIF, and a bounded fetch of an
image a public post carries.

Only the position is read; nothing about faces or people is ever looked at (guardrail 4).
"""

from __future__ import annotations

import io
import warnings
from fractions import Fraction
from typing import Any

import requests
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
FETCH_TIMEOUT = 5.0
GPS_IFD = 0x8825
_LAT_REF, _LAT, _LON_REF, _LON = 1, 2, 3, 4


class ImageFetchError(Exception):
    """The image could not be had: refused address, timeout, not an image, over the limit."""


def _degrees(value: Any) -> float:
    parts = [float(Fraction(str(part))) if not isinstance(part, float) else part for part in value]
    while len(parts) < 3:
        parts.append(0.0)
    return parts[0] + parts[1] / 60 + parts[2] / 3600


def exif_gps(data: bytes) -> tuple[float, float] | None:
    """The latitude and longitude an image's EXIF GPS block records, or None when it has none
    (or the bytes are not an image Pillow reads, or the position is out of range)."""
    try:
        with warnings.catch_warnings():
            # A decompression-bomb warning is a refusal here, not a crash of the collection.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                gps = image.getexif().get_ifd(GPS_IFD)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning):
        return None
    if not gps or _LAT not in gps or _LON not in gps:
        return None
    try:
        lat = _degrees(gps[_LAT])
        lon = _degrees(gps[_LON])
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(_LAT_REF, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(_LON_REF, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return round(lat, 7), round(lon, 7)


def image_fetch(url: str, *, timeout: float = FETCH_TIMEOUT) -> bytes:
    """GET an image a public post links to: http(s) to a public address only, ``image/*``,
    at most 10 MB, within ``timeout`` seconds per read."""
    from watchhouse.outlets.activitypub.remote import RemoteFetchError, check_address

    try:
        check_address(url)
    except RemoteFetchError as error:
        raise ImageFetchError(str(error)) from error
    try:
        with requests.get(url, timeout=timeout, stream=True, allow_redirects=False) as response:
            if response.status_code != 200:
                raise ImageFetchError(f"{url[:200]} answered {response.status_code}.")
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not kind.startswith("image/"):
                raise ImageFetchError(f"{url[:200]} is {kind or 'untyped'}, not an image.")
            body = bytearray()
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > MAX_IMAGE_BYTES:
                    raise ImageFetchError(f"{url[:200]} is over 10 MB.")
    except requests.RequestException as error:
        raise ImageFetchError(
            f"{url[:200]} could not be fetched: {type(error).__name__}"
        ) from error
    return bytes(body)


def image_gps(url: str) -> tuple[float, float] | None:
    """The EXIF position of the image at ``url``; None when it has none or cannot be fetched."""
    try:
        return exif_gps(image_fetch(url))
    except ImageFetchError:
        return None
