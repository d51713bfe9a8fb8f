"""Processing a tip file in the worker: its metadata record and a stripped preview.

The original is only ever read. Photos are decoded straight from the sealed file; ffmpeg and
ffprobe need a real file, so a video or sound recording is decrypted into a work folder
(mode 0700, under the private root) that is deleted as soon as the tools are done. The
preview is sealed like every other tip file. Nothing is saved until the end, in one
transaction, so a worker that dies half-way leaves the file as it was received and a re-run
starts clean (it first removes what the dead run left behind).
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from watchhouse.audit.services import audit_record
from watchhouse.core import crypto
from watchhouse.posts.media.errors import MediaRejectedError, TranscodeError
from watchhouse.posts.media.ffmpeg import Probe, ffmpeg_run, ffprobe, input_options, input_url
from watchhouse.posts.media.images import (
    DECODE_ERRORS,
    JPEG_QUALITY,
    image_open,
    pixels_only,
    to_srgb,
)
from watchhouse.posts.media.magic import HEAD_BYTES, image_format
from watchhouse.posts.media.video import demuxer_for
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import FileKind, FileStatus, TipFile

WORK = "tips/work"
PREVIEWS = "tips/previews"
# Longest side of a photo's preview, and width of a video's, in pixels.
PREVIEW_IMAGE_PX = 1280
PREVIEW_VIDEO_WIDTH = 640
# A preview of a long video is still made in full; this bounds a stuck ffmpeg.
TRANSCODE_TIMEOUT_S = 3600.0
# ISO 6709 as phones write it: "+38.6270-090.1994/" or "+38.6270-090.1994+150.000/".
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")
# Container tags that say where, when and with what a recording was made.
_LOCATION_TAGS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
_TIME_TAGS = ("com.apple.quicktime.creationdate", "creation_time", "date")
_MAKE_TAGS = ("com.apple.quicktime.make", "make", "com.android.manufacturer")
_MODEL_TAGS = ("com.apple.quicktime.model", "model", "com.android.model")
_SOFTWARE_TAGS = ("com.apple.quicktime.software", "software", "encoder")
# EXIF tags (base IFD, Exif IFD and GPS IFD numbers).
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825


@dataclass
class Outcome:
    """What processing found: the metadata record, the preview (sealed) and any problem."""

    metadata: dict[str, Any] = field(default_factory=dict)
    preview: str = ""
    preview_key: str = ""
    preview_mime: str = ""
    problem: str = ""


def tip_file_process(*, file_id: int) -> str:
    """Extract the file's metadata and make its stripped, sealed preview; mark it processed.

    Idempotent: a file already processed is left alone, and a re-run after a worker died
    removes the dead run's leftovers first. A file the tools cannot read is kept (it is
    evidence) as unreadable, with the reason. The original is never written to.
    """
    row = TipFile.objects.filter(pk=file_id).first()
    if row is None:
        return "gone"
    if row.status != FileStatus.RECEIVED:
        return f"already {row.status}"
    _leftovers_remove(row)
    outcome = Outcome(metadata={"kind": row.kind, "mime": row.mime, "bytes": row.size})
    try:
        if row.kind == FileKind.IMAGE:
            _image_process(row, outcome)
        elif row.kind in (FileKind.VIDEO, FileKind.AUDIO):
            _recording_process(row, outcome)
    except BaseException:
        _preview_discard(outcome)
        raise
    with transaction.atomic():
        current = TipFile.objects.select_for_update().get(pk=file_id)
        if current.status != FileStatus.RECEIVED:
            # Another worker finished first; its result stands.
            _preview_discard(outcome)
            return f"already {current.status}"
        current.metadata = crypto.seal_json(outcome.metadata)
        current.preview_path = outcome.preview
        current.preview_key = outcome.preview_key
        current.preview_mime = outcome.preview_mime
        current.status = FileStatus.UNREADABLE if outcome.problem else FileStatus.READY
        current.problem = outcome.problem[:300]
        current.save(
            update_fields=[
                "metadata",
                "preview_path",
                "preview_key",
                "preview_mime",
                "status",
                "problem",
            ]
        )
        audit_record(
            actor=None,
            action="tips.file_processed",
            obj=current,
            data={
                "tip": current.tip_id,
                "sha256": current.sha256,
                "status": current.status,
                "preview": bool(outcome.preview),
            },
        )
    return f"{current.status}: {current.kind}" + (" with preview" if outcome.preview else "")


# --- leftovers, work folder, previews ------------------------------------------------------


def _preview_folder(row: TipFile) -> str:
    return f"{PREVIEWS}/{row.pk}"


def _leftovers_remove(row: TipFile) -> None:
    """Delete what a run that died left: its work folder (plaintext) and a partial preview."""
    work = private_path(WORK)
    if work.is_dir():
        for stale in work.glob(f"{row.pk}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    folder = private_path(_preview_folder(row))
    if folder.is_dir():
        for stale in folder.iterdir():
            if stale.is_file():
                stale.unlink(missing_ok=True)


@contextlib.contextmanager
def _work_folder(row: TipFile) -> Iterator[Path]:
    """A fresh folder only this process's user can enter, deleted with everything in it."""
    parent = private_path(WORK)
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{row.pk}-", dir=parent))  # mode 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _preview_seal(row: TipFile, outcome: Outcome, chunks: Iterator[bytes], mime: str) -> None:
    relative = f"{_preview_folder(row)}/{secrets.token_hex(16)}"
    sealed = crypto.seal_file(private_path(relative), chunks)
    outcome.preview, outcome.preview_key, outcome.preview_mime = relative, sealed.wrapped_key, mime


def _preview_discard(outcome: Outcome) -> None:
    if outcome.preview:
        private_path(outcome.preview).unlink(missing_ok=True)
        outcome.preview = ""


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(crypto.CHUNK):
            yield chunk


# --- photos --------------------------------------------------------------------------------


def _image_process(row: TipFile, outcome: Outcome) -> None:
    source = private_path(row.path)
    with crypto.open_sealed(source, row.wrapped_key) as fh:
        fmt = image_format(fh.read(HEAD_BYTES))
        fh.seek(0)
        if fmt is None:
            outcome.problem = _("This file is not a photo that can be read.")
            return
        try:
            with image_open(fh, fmt) as image:
                outcome.metadata.update(_exif_record(image))
                image.load()
                preview = _image_preview(image)
        except MediaRejectedError as exc:
            outcome.problem = str(exc)
            return
        except DECODE_ERRORS:
            outcome.problem = _(
                "This photo cannot be decoded; it may be damaged or incomplete. The file is "
                "kept as it was received."
            )
            return
    buffer = io.BytesIO()
    pixels_only(preview).save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    _preview_seal(row, outcome, iter([buffer.getvalue()]), "image/jpeg")


def _image_preview(image: Image.Image) -> Image.Image:
    """The picture upright, in sRGB, at most :data:`PREVIEW_IMAGE_PX` on its longest side."""
    try:
        upright = ImageOps.exif_transpose(image)
    except DECODE_ERRORS:
        upright = image.copy()
    icc = image.info.get("icc_profile")
    picture = to_srgb(upright, icc if isinstance(icc, bytes) else None, "RGB")
    picture.thumbnail((PREVIEW_IMAGE_PX, PREVIEW_IMAGE_PX), Image.Resampling.LANCZOS)
    return picture


def _number(value: Any) -> float | None:
    try:
        return float(Fraction(value)) if not isinstance(value, float) else value
    except (TypeError, ValueError, ZeroDivisionError):
        try:
            return float(value)
        except (TypeError, ValueError, ZeroDivisionError):
            return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    cleaned = str(value).strip("\x00 ").strip()
    return cleaned[:200] or None


def _degrees(dms: Any, ref: Any) -> float | None:
    """Decimal degrees from EXIF's (degrees, minutes, seconds), negative south and west."""
    try:
        parts = [_number(part) for part in dms]
    except TypeError:
        return None
    if len(parts) != 3 or any(p is None for p in parts):
        return None
    d, m, s = (p or 0.0 for p in parts)
    value = d + m / 60 + s / 3600
    if _text(ref) in ("S", "W"):
        value = -value
    return round(value, 7)


def _exif_record(image: Image.Image) -> dict[str, Any]:
    """Time, place and device the photo's EXIF states, with its pixel size."""
    record: dict[str, Any] = {"format": image.format, "width": image.width, "height": image.height}
    try:
        exif = image.getexif()
        extra = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
    except DECODE_ERRORS:
        return record
    fields = {
        "taken_at": _text(extra.get(0x9003)) or _text(exif.get(0x0132)),
        "make": _text(exif.get(0x010F)),
        "model": _text(exif.get(0x0110)),
        "software": _text(exif.get(0x0131)),
        "lens": _text(extra.get(0xA434)),
        "orientation": exif.get(0x0112),
    }
    record.update({k: v for k, v in fields.items() if v is not None})
    if gps:
        lat = _degrees(gps.get(2), gps.get(1)) if gps.get(2) else None
        lon = _degrees(gps.get(4), gps.get(3)) if gps.get(4) else None
        if lat is not None and lon is not None:
            record["latitude"], record["longitude"] = lat, lon
        altitude = _number(gps.get(6)) if gps.get(6) is not None else None
        if altitude is not None:
            below = gps.get(5) in (1, b"\x01")
            record["altitude_m"] = round(-altitude if below else altitude, 2)
    return record


# --- video and sound -----------------------------------------------------------------------


def _recording_process(row: TipFile, outcome: Outcome) -> None:
    with _work_folder(row) as work:
        plain = work / "original"
        # "x": a new file, in a folder only this user can enter; deleted with the folder.
        with (
            crypto.SealedReader(private_path(row.path), row.wrapped_key) as reader,
            plain.open("xb") as out,
        ):
            for chunk in reader.chunks():
                out.write(chunk)
        try:
            demuxer = demuxer_for(plain)
            probe = ffprobe(plain, demuxer=demuxer)
        except TranscodeError as exc:
            outcome.problem = _(
                "This recording cannot be read (%(reason)s). The file is kept as it was received."
            ) % {"reason": str(exc).rstrip(".")}
            return
        outcome.metadata.update(_probe_record(probe))
        if not probe.video_streams:
            return
        preview = work / "preview.mp4"
        try:
            _video_preview(plain, demuxer, probe, preview)
        except TranscodeError as exc:
            outcome.problem = _(
                "No preview could be made of this video (%(reason)s). The file is kept as it "
                "was received."
            ) % {"reason": str(exc).rstrip(".")}
            return
        _preview_seal(row, outcome, _file_chunks(preview), "video/mp4")


def _first_tag(tags: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if tags.get(name):
            return tags[name][:200]
    return None


def _iso6709(value: str) -> dict[str, float] | None:
    match = _ISO6709.match(value.strip())
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    found = {"latitude": lat, "longitude": lon}
    if match.group(3):
        found["altitude_m"] = float(match.group(3))
    return found


def _probe_record(probe: Probe) -> dict[str, Any]:
    """Time, place, device, length and streams as the container's tags state them."""
    tags = dict(probe.tags)
    for stream in probe.streams:
        for key, value in (stream.get("tags") or {}).items():
            tags.setdefault(str(key).lower(), str(value))
    record: dict[str, Any] = {"format": probe.format_name}
    if probe.duration_s is not None:
        record["duration_s"] = round(probe.duration_s, 3)
    fields = {
        "taken_at": _first_tag(tags, _TIME_TAGS),
        "make": _first_tag(tags, _MAKE_TAGS),
        "model": _first_tag(tags, _MODEL_TAGS),
        "software": _first_tag(tags, _SOFTWARE_TAGS),
    }
    record.update({k: v for k, v in fields.items() if v is not None})
    location = _first_tag(tags, _LOCATION_TAGS)
    if location:
        record["location"] = location
        record.update(_iso6709(location) or {})
    if probe.video_streams:
        video = probe.video_streams[0]
        record["video_codec"] = str(video.get("codec_name", ""))
        record["width"], record["height"] = video.get("width"), video.get("height")
    if probe.audio_streams:
        record["audio_codec"] = str(probe.audio_streams[0].get("codec_name", ""))
    # Every tag, for what the fields above do not name (investigators only).
    record["tags"] = {k[:100]: v[:500] for k, v in list(tags.items())[:100]}
    return record


def _video_preview(src: Path, demuxer: str, probe: Probe, out: Path) -> None:
    """An H.264/AAC MP4 at most :data:`PREVIEW_VIDEO_WIDTH` wide, with no metadata at all."""
    args = [*input_options(), "-f", demuxer, "-i", input_url(src)]
    args += ["-map", f"0:{probe.video_streams[0]['index']}"]
    if probe.audio_streams:
        args += ["-map", f"0:{probe.audio_streams[0]['index']}"]
        args += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    args += ["-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn"]
    args += ["-vf", f"scale=w='trunc(min({PREVIEW_VIDEO_WIDTH},iw)/2)*2':h=-2,setsar=1"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p"]
    args += ["-movflags", "+faststart", "-f", "mp4", "-y", out.name]
    ffmpeg_run(args, cwd=out.parent, src=src, timeout_s=TRANSCODE_TIMEOUT_S)
    result = ffprobe(out, demuxer="mov")
    if not result.video_streams:
        raise TranscodeError("ffmpeg wrote no video.")
