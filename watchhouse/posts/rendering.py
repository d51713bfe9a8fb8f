"""Markdown to safe HTML: the XSS boundary of everything staff write for the public site.

Post bodies, officer bios and achievements are written in Markdown and shown as HTML, as is,
on public pages and in feeds. :func:`render_markdown` is the only way that HTML is made:
markdown-it-py (CommonMark plus tables, raw HTML off, so a ``<script>`` typed into a post is
shown as text) followed by nh3 with an explicit allowlist, so even a bug in the Markdown
stage cannot let script, styles, frames, event handlers or ``javascript:``/``data:`` URLs
through. Images are not allowed in Markdown: a post's pictures are attachments (resized,
metadata stripped, alt text required), and an ``<img>`` pointing elsewhere would load a third
party's asset on a public page.
"""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}
# Only web and mail links; relative links stay relative to this site.
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Links written by staff point away from the site: no ranking credit, no window.opener.
LINK_REL = "nofollow noopener"


@cache
def _parser() -> MarkdownIt:
    # "html": False escapes raw HTML blocks and inline tags instead of passing them through;
    # linkify stays off (it would need linkify-it-py, and bare text is no link by intent).
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def sanitise_html(html: str) -> str:
    """Return ``html`` with only the allowlisted tags, attributes and URL schemes kept;
    script and style elements go with their content and every link gets ``rel``."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Render Markdown ``text`` to HTML that is safe to show as is on a public page."""
    if not text.strip():
        return ""
    return sanitise_html(_parser().render(text)).strip()
