"""The two ways processing an upload can fail.

:class:`MediaRejectedError` means the file itself is not acceptable (wrong type, too big, a
decompression bomb, broken captions); its message is a sentence the uploader can act on.
:class:`TranscodeError` means ffmpeg or ffprobe could not finish (corrupt stream, timeout);
its message is a one-line reason, kept so a failed upload can show why and be retried.
"""

from __future__ import annotations

from watchhouse.core.errors import InvalidInputError


class MediaRejectedError(InvalidInputError, ValueError):
    """The uploaded file is not acceptable; ``str(e)`` says why in one user-facing sentence."""


class TranscodeError(RuntimeError):
    """ffmpeg or ffprobe failed or timed out; ``str(e)`` is a one-line reason."""
