"""Processing uploaded media for posts: pure functions, no models, no views.

The worker task that processes a :class:`~watchhouse.posts.models.MediaAsset` calls these:

- :func:`sniff` identifies an upload by its content (never its name) and refuses what may not
  be published.
- :func:`image_process` validates a photo and writes its resized, metadata-free copies.
- :func:`video_transcode` writes a web-friendly MP4 and a poster; :func:`audio_transcode` an
  MP3; :func:`probe_duration` reads a playing time.
- :func:`captions_validate` turns WebVTT or SubRip captions into safe WebVTT.

Unacceptable files raise :class:`MediaRejectedError` (a sentence for the uploader, nothing
written); ffmpeg failures raise :class:`TranscodeError` (a one-line reason, worth a retry
only if the cause was the server's). Output files appear under their final names only when
complete.
"""

from __future__ import annotations

from watchhouse.posts.media.audio import AudioResult, audio_transcode
from watchhouse.posts.media.captions import captions_validate
from watchhouse.posts.media.errors import MediaRejectedError, TranscodeError
from watchhouse.posts.media.ffmpeg import probe_duration
from watchhouse.posts.media.images import ImageResult, image_process
from watchhouse.posts.media.output import Rendition
from watchhouse.posts.media.sniff import Sniffed, sniff
from watchhouse.posts.media.video import VideoResult, video_transcode

__all__ = [
    "AudioResult",
    "ImageResult",
    "MediaRejectedError",
    "Rendition",
    "Sniffed",
    "TranscodeError",
    "VideoResult",
    "audio_transcode",
    "captions_validate",
    "image_process",
    "probe_duration",
    "sniff",
    "video_transcode",
]
