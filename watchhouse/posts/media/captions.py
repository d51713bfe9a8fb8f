"""Checking uploaded captions and normalising them to plain, safe WebVTT.

WebVTT is accepted as is (after validation) and SubRip (.srt) is converted. Cue text keeps
only the WebVTT tags that style text (``<b>``, ``<i>``, ``<u>``, ``<v>``, ``<c>``) with safe
class names and escaped voice names; every other tag is dropped (the text inside stays, except
inside ``<script>`` and ``<style>``), and stray ``<`` and ``&`` are escaped, so the captions can
be shown as a transcript on a page without any HTML reaching it. Comments (NOTE), STYLE and
REGION blocks and cue identifiers are left out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from watchhouse.posts.media.errors import MediaRejectedError

# A captions file for even a three-hour film is well under a megabyte.
MAX_CAPTION_BYTES = 2_000_000

_VTT_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_VTT_TIMING = re.compile(rf"^{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t]+(.*))?$")
_SRT_TIME = r"(\d{1,3}):([0-5]?\d):([0-5]?\d)[,.](\d{1,3})"
_SRT_TIMING = re.compile(rf"^{_SRT_TIME}[ \t]*-->[ \t]*{_SRT_TIME}(?:[ \t]+.*)?$")
_SETTINGS = {
    "vertical": re.compile(r"^(rl|lr)$"),
    "line": re.compile(r"^(-?\d+|\d{1,3}(\.\d+)?%)(,(start|center|end))?$"),
    "position": re.compile(r"^\d{1,3}(\.\d+)?%(,(line-left|center|line-right))?$"),
    "size": re.compile(r"^\d{1,3}(\.\d+)?%$"),
    "align": re.compile(r"^(start|center|end|left|right)$"),
}
_TAG = re.compile(r"<(/?)([^<>\s./]*)([^<>\n]*)>")
_ALLOWED_TAGS = frozenset({"b", "i", "u", "v", "c"})
_DROP_CONTENT = frozenset({"script", "style"})
_CLASS = re.compile(r"^[A-Za-z0-9_-]+$")
_VOICE_DROP = re.compile(r"[^\w .,'’-]")
_ENTITY = re.compile(r"&(amp|lt|gt|nbsp|lrm|rlm);")
# SubRip files often carry ASS positioning codes such as {\an8}.
_ASS_CODE = re.compile(r"\{\\[^}]*\}")


@dataclass(frozen=True)
class _Cue:
    start_ms: int
    end_ms: int
    settings: str
    lines: list[str]


def _reject(line: int, message: str) -> MediaRejectedError:
    return MediaRejectedError(
        _("Captions, line %(line)d: %(message)s") % {"line": line, "message": message}
    )


def _ms(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(
        millis.ljust(3, "0")
    )


def _timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def captions_validate(data: bytes) -> str:
    """Return ``data`` (WebVTT or SubRip) as normalised, sanitised WebVTT text.

    Raises :class:`MediaRejectedError` naming the line when the file is not UTF-8 WebVTT or
    SubRip, a timing is malformed or runs backwards, or there are no cues.
    """
    if len(data) > MAX_CAPTION_BYTES:
        raise MediaRejectedError(
            _("This captions file is larger than %(limit)d MB.")
            % {"limit": MAX_CAPTION_BYTES // 1_000_000}
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _reject(line, _("the file is not UTF-8 text; save it as UTF-8.")) from exc
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        raise MediaRejectedError(_("This captions file contains binary data."))
    lines = text.split("\n")
    first = lines[0] if lines else ""
    if first == "WEBVTT" or first.startswith(("WEBVTT ", "WEBVTT\t")):
        cues = _parse_vtt(lines)
    elif _looks_like_srt(lines):
        cues = _parse_srt(lines)
    else:
        raise _reject(
            1,
            _("this is not a WebVTT or SubRip captions file (a WebVTT file starts with “WEBVTT”)."),
        )
    if not cues:
        raise MediaRejectedError(_("This captions file has no captions in it."))
    out = ["WEBVTT", ""]
    for cue in cues:
        timing = f"{_timestamp(cue.start_ms)} --> {_timestamp(cue.end_ms)}"
        out.append(f"{timing} {cue.settings}".rstrip())
        out.extend(cue.lines)
        out.append("")
    return "\n".join(out)


def _blocks(lines: list[str], start: int) -> list[tuple[int, list[str]]]:
    """Split ``lines[start:]`` at blank lines into (1-based first line number, lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(lines[start:], start=start + 1):
        if line.strip() == "":
            if current:
                blocks.append((first, current))
                current = []
            continue
        if not current:
            first = number
        current.append(line)
    if current:
        blocks.append((first, current))
    return blocks


def _parse_vtt(lines: list[str]) -> list[_Cue]:
    # The header runs to the first blank line.
    header_end = next((i for i, line in enumerate(lines) if line.strip() == ""), len(lines))
    for offset, line in enumerate(lines[1:header_end], start=2):
        if "-->" in line:
            raise _reject(offset, _("a blank line must follow the WEBVTT header."))
    cues: list[_Cue] = []
    for first, block in _blocks(lines, header_end):
        head = block[0]
        if head.startswith("NOTE") and (len(head) == 4 or head[4] in " \t"):
            continue
        if head in ("STYLE", "REGION") and not cues:
            continue
        timing_at = 0 if "-->" in head else 1
        if timing_at >= len(block) or "-->" not in block[timing_at]:
            raise _reject(
                first, _("expected a cue timing such as “00:00:01.000 --> 00:00:04.000”.")
            )
        line_number = first + timing_at
        match = _VTT_TIMING.match(block[timing_at].strip())
        if match is None:
            raise _reject(
                line_number,
                _(
                    "the cue timing “%(timing)s” is not valid (expected "
                    "“00:00:01.000 --> 00:00:04.000”)."
                )
                % {"timing": block[timing_at].strip()[:80]},
            )
        groups = match.groups()
        start, end = _ms(*groups[0:4]), _ms(*groups[4:8])
        payload = block[timing_at + 1 :]
        cues.append(_cue(line_number, start, end, _settings(groups[8] or ""), payload, cues))
    return cues


def _looks_like_srt(lines: list[str]) -> bool:
    content = [line.strip() for line in lines if line.strip()][:2]
    if not content:
        return False
    timing = content[1] if content[0].isdigit() and len(content) > 1 else content[0]
    return bool(_SRT_TIMING.match(timing))


def _parse_srt(lines: list[str]) -> list[_Cue]:
    cues: list[_Cue] = []
    for first, block in _blocks(lines, 0):
        timing_at = 1 if block[0].strip().isdigit() and len(block) > 1 else 0
        line_number = first + timing_at
        match = _SRT_TIMING.match(block[timing_at].strip())
        if match is None:
            raise _reject(
                line_number,
                _(
                    "the subtitle timing “%(timing)s” is not valid (expected "
                    "“00:00:01,000 --> 00:00:04,000”)."
                )
                % {"timing": block[timing_at].strip()[:80]},
            )
        groups = match.groups()
        start, end = _ms(*groups[0:4]), _ms(*groups[4:8])
        payload = [_ASS_CODE.sub("", line) for line in block[timing_at + 1 :]]
        cues.append(_cue(line_number, start, end, "", payload, cues))
    return cues


def _cue(
    line_number: int, start: int, end: int, settings: str, payload: list[str], before: list[_Cue]
) -> _Cue:
    if end <= start:
        raise _reject(line_number, _("the cue ends before it starts."))
    if before and start < before[-1].start_ms:
        raise _reject(line_number, _("the cue starts before the cue above it."))
    for offset, line in enumerate(payload, start=1):
        if "-->" in line:
            raise _reject(line_number + offset, _("a blank line is missing before this timing."))
    text = _sanitise("\n".join(payload))
    return _Cue(start, end, settings, [line for line in text.split("\n") if line.strip()])


def _settings(raw: str) -> str:
    """Keep the cue settings WebVTT defines, with valid values; drop the rest."""
    kept: list[str] = []
    for item in raw.split():
        key, sep, value = item.partition(":")
        pattern = _SETTINGS.get(key)
        if sep and pattern is not None and pattern.match(value):
            kept.append(f"{key}:{value}")
    return " ".join(kept)


def _escape_text(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` in cue text, keeping the entities WebVTT knows."""
    parts = _ENTITY.split(text)
    # re.split with one group alternates text and entity names.
    out: list[str] = []
    for index, part in enumerate(parts):
        out.append(f"&{part};" if index % 2 else html.escape(part, quote=False))
    return "".join(out)


def _sanitise(text: str) -> str:
    """Keep text and the allowed WebVTT tags (balanced, attributes checked); drop the rest."""
    out: list[str] = []
    stack: list[str] = []
    dropping: str | None = None
    position = 0
    for match in _TAG.finditer(text):
        if dropping is None:
            out.append(_escape_text(text[position : match.start()]))
        position = match.end()
        closing, name, rest = match.group(1) == "/", match.group(2).lower(), match.group(3)
        if dropping is not None:
            if closing and name == dropping:
                dropping = None
            continue
        if name in _DROP_CONTENT and not closing:
            dropping = name
            continue
        if name not in _ALLOWED_TAGS:
            continue
        if closing:
            if name in stack:
                while stack:
                    top = stack.pop()
                    out.append(f"</{top}>")
                    if top == name:
                        break
            continue
        out.append(_open_tag(name, rest))
        stack.append(name)
    if dropping is None:
        out.append(_escape_text(text[position:]))
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out)


def _open_tag(name: str, rest: str) -> str:
    """Rebuild a start tag from its name, its safe classes and (for ``<v>``) the voice."""
    classes_part, _sep, annotation = rest.partition(" ") if rest[:1] != " " else ("", "", rest)
    classes = [c for c in classes_part.split(".") if c and _CLASS.match(c)]
    tag = name + "".join(f".{c}" for c in classes)
    if name == "v":
        # Letters, digits and name punctuation only: without "=" or quotes, a page that
        # shows the cue as HTML can never read the voice as an attribute with a value.
        voice = " ".join(_VOICE_DROP.sub("", html.unescape(annotation)).split())
        return f"<{tag} {voice}>" if voice else f"<{tag}>"
    return f"<{tag}>"
