"""The rumor-control feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1) so newsrooms can follow the
answers: one entry per public rumor, titled with its verdict and claim, its content "what we
know", linking to the rumor's page (and to the correction post when there is one).

Written with the same lxml helpers and the same conditional answers as the news feeds
(:mod:`watchhouse.posts.feeds`): Last-Modified and ETag follow
:func:`~watchhouse.rumors.selectors.rumors_changed`, and anonymous readers get the feed from
the shared page cache, retired by the "rumors" section.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from lxml import etree

from watchhouse.posts import public as posts_public

# The news feeds' writing helpers: the same XML, dates and page-cache answers.
from watchhouse.posts.feeds import (
    ATOM_NS,
    CONTENT_NS,
    FORMATS,
    feed_response,
    rfc822_date,
    rfc3339_date,
    xml_add,
    xml_bytes,
)
from watchhouse.rumors import selectors
from watchhouse.rumors.models import Rumor, RumorStatus

# Entries in each feed.
FEED_SIZE = 100


def rumor_guid(rumor: Rumor) -> str:
    """The rumor's permanent id in every feed: a ``tag:`` URI (RFC 4151) edits never change."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"tag:{host},{rumor.created_at:%Y-%m-%d}:rumors/{rumor.pk}"


def feed_title() -> str:
    return _("Rumor control from %(agency)s") % {"agency": settings.WATCHHOUSE_AGENCY_NAME}


def feed_url(fmt: str) -> str:
    return reverse(f"rumors:feed_{fmt}")


def entry_title(rumor: Rumor) -> str:
    """ "False: <claim>": the verdict first, so a headline alone tells the answer."""
    return _("%(verdict)s: %(claim)s") % {
        "verdict": RumorStatus(rumor.status).label,
        "claim": rumor.claim,
    }


def entry_html(rumor: Rumor) -> str:
    """The entry's content: verdict, "what we know", the statement and the correction link,
    as HTML made from plain text (every character escaped)."""
    parts = [
        "<p><strong>{}</strong> {}</p>".format(
            escape(_("Verdict:")), escape(RumorStatus(rumor.status).label)
        ),
        "<p><strong>{}</strong> {}</p>".format(escape(_("Claim:")), escape(rumor.claim)),
        linebreaks(rumor.what_we_know, autoescape=True),
    ]
    if rumor.statement:
        parts.append(linebreaks(rumor.statement, autoescape=True))
    if rumor.correction is not None:
        url = posts_public.absolute(posts_public.post_url(rumor.correction))
        parts.append('<p><a href="{}">{}</a></p>'.format(escape(url), escape(_("The correction"))))
    return "\n".join(parts)


def entry_text(rumor: Rumor) -> str:
    lines = [
        f"{_('Verdict:')} {RumorStatus(rumor.status).label}",
        f"{_('Claim:')} {rumor.claim}",
        "",
        rumor.what_we_know,
    ]
    if rumor.statement:
        lines += ["", rumor.statement]
    return "\n".join(lines)


def _published(rumor: Rumor) -> Any:
    return rumor.answered_at or rumor.updated_at


def _modified(rumor: Rumor) -> Any:
    return max(rumor.updated_at, _published(rumor))


def _link(rumor: Rumor) -> str:
    return posts_public.absolute(rumor.get_absolute_url())


def _tags(rumor: Rumor) -> list[str]:
    tags = [str(RumorStatus(rumor.status).label)]
    if rumor.incident is not None:
        tags.append(rumor.incident.name)
    return tags


def render_rss(rumors: list[Rumor]) -> bytes:
    """RSS 2.0 with ``atom:link rel=self`` and the HTML answer in ``content:encoded``."""
    rss = etree.Element("rss", {"version": "2.0"}, nsmap={"atom": ATOM_NS, "content": CONTENT_NS})
    channel = xml_add(rss, "channel")
    xml_add(channel, "title", feed_title())
    xml_add(channel, "link", posts_public.absolute(reverse("rumors:list")))
    xml_add(channel, "description", _("What is true, what is false, and what we know."))
    xml_add(channel, "language", get_language() or settings.LANGUAGE_CODE)
    if rumors:
        xml_add(channel, "lastBuildDate", rfc822_date(max(_modified(r) for r in rumors)))
    xml_add(
        channel,
        f"{{{ATOM_NS}}}link",
        rel="self",
        href=posts_public.absolute(feed_url("rss")),
        type="application/rss+xml",
    )
    for rumor in rumors:
        item = xml_add(channel, "item")
        xml_add(item, "title", entry_title(rumor))
        xml_add(item, "link", _link(rumor))
        xml_add(item, "guid", rumor_guid(rumor), isPermaLink="false")
        xml_add(item, "pubDate", rfc822_date(_published(rumor)))
        xml_add(item, "description", rumor.what_we_know)
        xml_add(item, f"{{{CONTENT_NS}}}encoded", entry_html(rumor))
        for tag in _tags(rumor):
            xml_add(item, "category", tag)
    return xml_bytes(rss)


def render_atom(rumors: list[Rumor]) -> bytes:
    """Atom 1.0 (RFC 4287): the answer as summary (text) and content (HTML)."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    xml_add(feed, f"{{{ATOM_NS}}}id", posts_public.absolute(feed_url("atom")))
    xml_add(feed, f"{{{ATOM_NS}}}title", feed_title())
    updated = max((_modified(r) for r in rumors), default=None) or timezone.now()
    xml_add(feed, f"{{{ATOM_NS}}}updated", rfc3339_date(updated))
    author = xml_add(feed, f"{{{ATOM_NS}}}author")
    xml_add(author, f"{{{ATOM_NS}}}name", settings.WATCHHOUSE_AGENCY_NAME)
    xml_add(
        feed,
        f"{{{ATOM_NS}}}link",
        rel="self",
        href=posts_public.absolute(feed_url("atom")),
        type="application/atom+xml",
    )
    xml_add(
        feed,
        f"{{{ATOM_NS}}}link",
        rel="alternate",
        href=posts_public.absolute(reverse("rumors:list")),
        type="text/html",
    )
    for rumor in rumors:
        entry = xml_add(feed, f"{{{ATOM_NS}}}entry")
        xml_add(entry, f"{{{ATOM_NS}}}id", rumor_guid(rumor))
        xml_add(entry, f"{{{ATOM_NS}}}title", entry_title(rumor))
        xml_add(entry, f"{{{ATOM_NS}}}published", rfc3339_date(_published(rumor)))
        xml_add(entry, f"{{{ATOM_NS}}}updated", rfc3339_date(_modified(rumor)))
        xml_add(entry, f"{{{ATOM_NS}}}link", rel="alternate", href=_link(rumor), type="text/html")
        if rumor.correction is not None:
            xml_add(
                entry,
                f"{{{ATOM_NS}}}link",
                rel="related",
                href=posts_public.absolute(posts_public.post_url(rumor.correction)),
                type="text/html",
                title=_("The correction"),
            )
        xml_add(entry, f"{{{ATOM_NS}}}summary", rumor.what_we_know)
        xml_add(entry, f"{{{ATOM_NS}}}content", entry_html(rumor), type="html")
        for tag in _tags(rumor):
            xml_add(entry, f"{{{ATOM_NS}}}category", term=tag)
    return xml_bytes(feed)


def render_json(rumors: list[Rumor]) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), with the verdict as a
    ``_watchhouse`` extension so a program need not parse the title."""
    items = []
    for rumor in rumors:
        item: dict[str, Any] = {
            "id": rumor_guid(rumor),
            "url": _link(rumor),
            "title": entry_title(rumor),
            "summary": rumor.what_we_know,
            "content_text": entry_text(rumor),
            "content_html": entry_html(rumor),
            "date_published": rfc3339_date(_published(rumor)),
            "date_modified": rfc3339_date(_modified(rumor)),
            "tags": _tags(rumor),
            "_watchhouse": {
                "claim": rumor.claim,
                "verdict": rumor.status,
                "incident": rumor.incident.name if rumor.incident else None,
                "first_seen": rfc3339_date(rumor.first_seen_at),
            },
        }
        if rumor.correction is not None:
            item["external_url"] = posts_public.absolute(posts_public.post_url(rumor.correction))
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed_title(),
        "home_page_url": posts_public.absolute(reverse("rumors:list")),
        "feed_url": posts_public.absolute(feed_url("json")),
        "language": get_language() or settings.LANGUAGE_CODE,
        "authors": [{"name": settings.WATCHHOUSE_AGENCY_NAME}],
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=1).encode("utf-8")


_RENDERERS: dict[str, Callable[[list[Rumor]], bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


def feed(request: HttpRequest, fmt: str) -> HttpResponse:
    """The public rumors in ``fmt``, newest answer first; 304 when the reader is current."""
    if fmt not in _RENDERERS:
        raise Http404("No such feed format.")

    def render() -> bytes:
        return _RENDERERS[fmt](list(selectors.rumor_public_list()[:FEED_SIZE]))

    return feed_response(
        request,
        f"rumors:{fmt}",
        FORMATS[fmt],
        render,
        changed=selectors.rumors_changed(),
        query=False,
    )
