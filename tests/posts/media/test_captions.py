"""Captions are accepted as WebVTT or SubRip and come out as WebVTT with no HTML in them."""

from __future__ import annotations

import pytest

from watchhouse.posts.media import MediaRejectedError, captions_validate

VTT = """WEBVTT - Chief's briefing
Kind: captions

NOTE written by the PIO

intro
00:01.000 --> 00:04.500 align:start line:90% evil:yes
<v Chief Ramos>Good evening.</v>
<i>Traffic</i> on <b>Main St</b> & the mill.

00:00:05.000 --> 00:00:07.250
<c.yellow.bg_blue>Stay safe.</c>
"""


def test_webvtt_is_normalised() -> None:
    """Timings are spelled out, unknown settings, notes and identifiers dropped, text kept."""
    assert captions_validate(VTT.encode()) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:04.500 align:start line:90%\n"
        "<v Chief Ramos>Good evening.</v>\n"
        "<i>Traffic</i> on <b>Main St</b> &amp; the mill.\n\n"
        "00:00:05.000 --> 00:00:07.250\n"
        "<c.yellow.bg_blue>Stay safe.</c>\n"
    )


def test_the_result_is_accepted_again_unchanged() -> None:
    """Normalised captions validate to themselves (they are valid WebVTT)."""
    once = captions_validate(VTT.encode())
    assert captions_validate(once.encode()) == once


def test_subrip_is_converted_to_webvtt() -> None:
    """An .srt file (Windows line ends, BOM, numbered cues) becomes WebVTT."""
    srt = (
        '\ufeff1\r\n00:00:01,000 --> 00:00:03,500\r\n{\\an8}<font color="red">Hello</font>, '
        "<i>neighbours</i>\r\n\r\n2\r\n00:00:04,000 --> 00:00:06,000\r\nSecond line\r\n"
        "continues\r\n"
    )
    assert captions_validate(srt.encode()) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:03.500\nHello, <i>neighbours</i>\n\n"
        "00:00:04.000 --> 00:00:06.000\nSecond line\ncontinues\n"
    )


def test_script_and_html_never_come_through() -> None:
    """Script, event handlers and other HTML are removed; stray brackets are escaped."""
    vtt = (
        "WEBVTT\n\n00:01.000 --> 00:02.000\n"
        "<script>alert(document.cookie)</script>Look <img src=x onerror=alert(1)>here\n"
        '<b onclick="steal()">bold</b> <v <i>Eve</v> <c.x"y>z</c> 3 < 4 &lt;ok&gt;\n'
        "<u>unclosed\n\n00:03.000 --> 00:04.000\n"
        '<v onmouseover=alert(1) style="x">Mallory</v> <v O\'Brien-Smith, Jr.>Hi</v>\n'
    )
    text = captions_validate(vtt.encode())
    for bad in ("<script", "alert(", "<img", "onerror", "onclick", "steal", '"', "="):
        assert bad not in text, bad
    assert "Look here" in text
    assert "<b>bold</b>" in text
    assert "3 &lt; 4 &lt;ok&gt;" in text
    assert "<u>unclosed</u>" in text
    assert "<c>z</c>" in text
    assert "<v onmouseoveralert1 stylex>Mallory</v>" in text
    assert "<v O'Brien-Smith, Jr.>Hi</v>" in text


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"Hello, this is a transcript.\n", "line 1: this is not a WebVTT or SubRip"),
        (b"WEBVTT\n\n00:01.000 --> 00:04.000\nok\n\n00:05.000 -> 00:06.000\nbad\n", "line 6"),
        (
            b"WEBVTT\n\n00:01.000 --> 00:04.000\nok\n\n00:09.000 --> 00:06.000\nbad\n",
            "line 6: the cue ends before it starts",
        ),  # fmt: skip
        (
            b"WEBVTT\n\n00:05.000 --> 00:06.000\nok\n\n00:01.000 --> 00:02.000\nx\n",
            "line 6: the cue starts before the cue above it",
        ),  # fmt: skip
        (
            b"WEBVTT\n\n00:01.000 --> 00:04.000\nok\n00:05.000 --> 00:06.000\nx\n",
            "line 5: a blank line is missing",
        ),  # fmt: skip
        (b"WEBVTT\n\n00:01.000 --> 00:04.000\ncaf\xe9\n", "line 4: the file is not UTF-8"),
        (b"WEBVTT\n\nNOTE nothing else\n", "has no captions in it"),
        (b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03.000 -> 4\nx\n", "line 6"),
        (b"WEBVTT\n\n00:61.000 --> 00:62.000\nx\n", "line 3"),
        (b"WEBVTT\n\n00:01.000 --> 00:02.000\n\x00\x01\n", "binary data"),
    ],
)
def test_bad_captions_are_refused_naming_the_line(data: bytes, words: str) -> None:
    """Each problem is reported with the line it is on."""
    with pytest.raises(MediaRejectedError) as caught:
        captions_validate(data)
    assert words in str(caught.value)
