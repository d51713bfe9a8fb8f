"""Markdown becomes HTML that is safe to show as is: no script, no event handlers, no
javascript: or data: links, no raw HTML, no third-party images; links get rel."""

from __future__ import annotations

import pytest
from lxml import html as lxml_html

from watchhouse.posts.rendering import render_markdown, sanitise_html

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<iframe src=//evil.example></iframe>",
    "<style>body{display:none}</style>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javas&#99;ript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    "<div onmouseover=alert(1)>hover</div>",
    "<svg onload=alert(1)>",
    "![x](https://tracker.example/pixel.gif)",
    "<!-- comment --><b>x</b>",
    '<form action="//evil.example"><input name=p></form>',
]


def _elements(rendered: str) -> list:
    if not rendered:
        return []
    return list(lxml_html.fragment_fromstring(rendered, create_parent="div").iter())


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_come_out_harmless(attack):
    rendered = render_markdown(f"Before\n\n{attack}\n\nAfter")
    tags = {el.tag for el in _elements(rendered)}
    assert tags <= {"div", "p", "a", "strong", "em", "code", "b"}
    for element in _elements(rendered):
        for name, value in element.attrib.items():
            assert not name.startswith("on")
            assert not value.strip().lower().startswith(("javascript:", "data:"))
        if element.tag == "a":
            href = element.get("href", "")
            assert href.startswith(("http://", "https://", "mailto:")) or not href
    assert "After" in rendered


def test_the_sanitiser_alone_stops_what_markdown_would_let_through():
    """Even if the Markdown stage passed raw HTML, the allowlist catches it."""
    raw = (
        '<p onclick="x()">hi<script>alert(1)</script></p><img src=x onerror=y()>'
        '<a href="javascript:alert(1)">a</a><a href="https://example.org" target=_blank>b</a>'
    )
    clean = sanitise_html(raw)
    assert "script" not in clean and "onclick" not in clean and "onerror" not in clean
    assert "<img" not in clean and "javascript" not in clean and "target" not in clean
    assert '<a href="https://example.org" rel="nofollow noopener">b</a>' in clean


def test_markdown_still_renders_what_staff_write():
    text = (
        "# Heading\n\nSome **bold** and *italic* text with a [link](https://example.org).\n\n"
        "- one\n- two\n\n| Day | Time |\n|-----|------|\n| Mon | 9 am |\n\n> quoted\n\n"
        "`code` and <b>typed tags</b>"
    )
    rendered = render_markdown(text)
    assert "<h1>Heading</h1>" in rendered
    assert '<a href="https://example.org" rel="nofollow noopener">link</a>' in rendered
    assert "<li>one</li>" in rendered and "<td>Mon</td>" in rendered
    assert "<blockquote>" in rendered and "<code>code</code>" in rendered
    # Raw HTML is shown as the text it is, not obeyed.
    assert "&lt;b&gt;typed tags&lt;/b&gt;" in rendered


def test_empty_text_renders_to_nothing():
    assert render_markdown("  \n ") == ""
