"""Deciding what an upload is from its content alone, and refusing what may not be published.

Order of checks: size (empty, too large) → signatures refused outright (archives are never
opened, so a ZIP bomb is never expanded; documents, programs, HTML and SVG) → image
signatures, confirmed by Pillow reading the header (and its declared size) → audio/video
container signatures, confirmed by ffprobe reading the file with the one demuxer the
signature names. Anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from watchhouse.posts.media.errors import MediaRejectedError, TranscodeError
from watchhouse.posts.media.ffmpeg import Probe, ToolMissingError, ffprobe
from watchhouse.posts.media.images import IMAGE_TYPES, image_open
from watchhouse.posts.media.magic import Container, container, file_signature, image_format, refusal


@dataclass(frozen=True)
class Sniffed:
    """What an upload is: its kind ("image", "video" or "audio"), MIME type and extension."""

    kind: str
    mime: str
    extension: str


def _accepted() -> str:
    return _(
        "Accepted: JPEG, PNG, WebP and GIF images; MP4, MOV, WebM, MKV and AVI videos; MP3, "
        "M4A, AAC, WAV, Ogg/Opus and FLAC audio."
    )


# Container family → its short name, and how it is named in a sentence.
_LABELS = {
    "mov": ("MP4", "an MP4 or QuickTime video"),
    "matroska": ("Matroska", "a Matroska (MKV) video"),
    "webm": ("WebM", "a WebM video"),
    "avi": ("AVI", "an AVI video"),
    "wav": ("WAV", "a WAV sound file"),
    "mp3": ("MP3", "an MP3 sound file"),
    "aac": ("AAC", "an AAC sound file"),
    "ogg": ("Ogg", "an Ogg sound file"),
    "flac": ("FLAC", "a FLAC sound file"),
}
_AUDIO_ONLY_TYPES = {
    "wav": ("audio/wav", ".wav"),
    "mp3": ("audio/mpeg", ".mp3"),
    "aac": ("audio/aac", ".aac"),
    "flac": ("audio/flac", ".flac"),
    "ogg": ("audio/ogg", ".ogg"),
}

# Container family → (type with video, type with sound only); sound alone in an AVI is too
# unusual to be anything but a mistake.
_VIDEO_CONTAINER_TYPES: dict[str, tuple[tuple[str, str], tuple[str, str] | None]] = {
    "mov": (("video/mp4", ".mp4"), ("audio/mp4", ".m4a")),
    "webm": (("video/webm", ".webm"), ("audio/webm", ".webm")),
    "matroska": (("video/x-matroska", ".mkv"), ("audio/x-matroska", ".mka")),
    "avi": (("video/x-msvideo", ".avi"), None),
}


def sniff(path: Path, *, max_bytes: int) -> Sniffed:
    """Identify the upload at ``path`` by its content, or refuse it.

    Never looks at the file name or a declared type. Raises :class:`MediaRejectedError`
    (a sentence for the uploader) when the file is empty, larger than ``max_bytes``, of a
    type not accepted, or not what its signature claims; :class:`TranscodeError` only when
    the server cannot run ffprobe.
    """
    size = path.stat().st_size
    if size == 0:
        raise MediaRejectedError(_("This file is empty."))
    if size > max_bytes:
        raise MediaRejectedError(
            _("This file is %(size)s; the largest file accepted is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(max_bytes)}
        )
    head, after_id3 = file_signature(path)
    if reason := refusal(head):
        raise MediaRejectedError(reason)
    if fmt := image_format(head):
        with image_open(path, fmt):
            pass
        mime, extension = IMAGE_TYPES[fmt]
        return Sniffed("image", mime, extension)
    if found := container(head, after_id3):
        return _sniff_container(path, found)
    raise MediaRejectedError(
        _("This file is not an image, video or audio file that can be published. %s") % _accepted()
    )


def _sniff_container(path: Path, found: Container) -> Sniffed:
    label, described = _LABELS[found.family]
    try:
        probe = ffprobe(path, demuxer=found.demuxer)
    except TranscodeError as exc:
        if isinstance(exc, ToolMissingError):
            raise
        raise MediaRejectedError(
            _("This file looks like %(kind)s but cannot be read; it may be damaged or incomplete.")
            % {"kind": described}
        ) from exc
    video, audio = probe.video_streams, probe.audio_streams
    if not video and not audio:
        raise MediaRejectedError(
            _("This %(kind)s file holds no sound or pictures.") % {"kind": label}
        )
    if any(not s.get("codec_name") for s in (*video[:1], *audio[:1])):
        raise MediaRejectedError(
            _("This %(kind)s file uses a codec that cannot be read.") % {"kind": label}
        )
    if found.family in _AUDIO_ONLY_TYPES:
        if video:
            raise MediaRejectedError(
                _("Video in a %(kind)s file is not accepted; upload an MP4 or WebM video.")
                % {"kind": label}
            )
        mime, extension = _AUDIO_ONLY_TYPES[found.family]
        if found.family == "ogg" and audio[0].get("codec_name") == "opus":
            extension = ".opus"
        return Sniffed("audio", mime, extension)
    return _sniff_video_container(found, probe, label)


def _sniff_video_container(found: Container, probe: Probe, label: str) -> Sniffed:
    video_type, audio_type = _VIDEO_CONTAINER_TYPES[found.family]
    if probe.video_streams:
        if found.family == "mov" and found.brand == b"qt  ":
            return Sniffed("video", "video/quicktime", ".mov")
        return Sniffed("video", *video_type)
    if audio_type is None:
        raise MediaRejectedError(_("This %(kind)s file holds no video.") % {"kind": label})
    return Sniffed("audio", *audio_type)
