"""Atom feeds of CAP alerts, after OASIS "Example Practices: CAP Feeds Version 1.0"
(Committee Note 02, 4 March 2014): each entry stands for one CAP message and links to its
document as ``application/cap+xml``; an entry may also embed the ``<alert>`` in its content.

The names here are also importable from :mod:`watchhouse.alerts.cap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from watchhouse.alerts.cap import CAP_MEDIA_TYPE, CapFormatError, parse_untrusted_xml

ATOM_NS = "http://www.w3.org/2005/Atom"
_NS = {"atom": ATOM_NS}


@dataclass(frozen=True)
class CapFeedEntry:
    """One entry of a CAP Atom feed: where its CAP document is, and the document itself when
    the entry embeds it."""

    entry_id: str
    updated: datetime
    title: str
    cap_url: str
    embedded_cap: bytes | None = None
    summary: str = ""


def _atom_time(element: Any, name: str) -> datetime:
    text = (element.findtext(f"atom:{name}", None, _NS) or "").strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CapFormatError(
            f"<entry> <{name}> {text!r} is not an RFC 3339 time", line=element.sourceline
        ) from None
    if value.utcoffset() is None:
        raise CapFormatError(
            f"<entry> <{name}> {text!r} has no UTC offset", line=element.sourceline
        )
    return value


def _atom_text(element: Any) -> str:
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


def _cap_link(entry: Any) -> str:
    links = entry.findall("atom:link", _NS)
    chosen = next((link for link in links if link.get("type") == CAP_MEDIA_TYPE), None)
    if chosen is None:
        chosen = next((link for link in links if link.get("rel", "alternate") == "alternate"), None)
    if chosen is None or not chosen.get("href"):
        return ""
    return urljoin(entry.base or "", chosen.get("href").strip())


def cap_atom_entries(feed_xml: bytes) -> list[CapFeedEntry]:
    """The entries of an Atom feed of CAP alerts, in document order.

    Each entry needs an ``<id>``, an ``<updated>`` time, and a link to its CAP document (the
    link typed ``application/cap+xml``, else the alternate link; relative links are resolved
    against ``xml:base``) or an ``<alert>`` embedded in its ``<content>``, which is returned as
    a standalone document for :func:`cap_parse`. The feed is read as safely as CAP documents
    are (no DOCTYPE); anything missing raises :class:`CapFormatError` naming the entry's line.
    """
    root = parse_untrusted_xml(feed_xml, "feed")
    if etree.QName(root).text != f"{{{ATOM_NS}}}feed":
        raise CapFormatError(
            f"the root element is <{etree.QName(root).localname}>, not an Atom <feed>",
            line=root.sourceline,
        )
    entries = []
    for entry in root.findall("atom:entry", _NS):
        entry_id = (entry.findtext("atom:id", None, _NS) or "").strip()
        if not entry_id:
            raise CapFormatError("an <entry> has no <id>", line=entry.sourceline)
        embedded = None
        content = entry.find("atom:content", _NS)
        if content is not None:
            alert = next((c for c in content if etree.QName(c).localname == "alert"), None)
            if alert is not None:
                embedded = etree.tostring(alert, encoding="UTF-8", xml_declaration=True)
        cap_url = _cap_link(entry)
        if not cap_url and embedded is None:
            raise CapFormatError(
                f"<entry> {entry_id!r} has no link to its CAP document and no embedded alert",
                line=entry.sourceline,
            )
        entries.append(
            CapFeedEntry(
                entry_id=entry_id,
                updated=_atom_time(entry, "updated"),
                title=_atom_text(entry.find("atom:title", _NS)),
                cap_url=cap_url,
                embedded_cap=embedded,
                summary=_atom_text(entry.find("atom:summary", _NS)),
            )
        )
    return entries


def _atom_time_text(value: datetime) -> str:
    if value.utcoffset() is None:
        raise CapFormatError(f"the Atom time {value.isoformat()} has no UTC offset")
    return value.isoformat(timespec="seconds")


def _atom_add(parent: Any, name: str, text: str | None = None, **attributes: str) -> Any:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def cap_atom_render(
    *,
    feed_id: str,
    title: str,
    self_url: str,
    author: str,
    updated: datetime,
    entries: Sequence[CapFeedEntry],
    embed: bool = False,
) -> bytes:
    """An Atom 1.0 feed of CAP alerts: each entry links to its CAP document as
    ``application/cap+xml`` and, with ``embed``, carries the alert in its content.

    Times must be aware (raises :class:`CapFormatError` otherwise); Atom writes them in
    RFC 3339, where UTC is "+00:00".
    """
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _atom_add(feed, "id", feed_id)
    _atom_add(feed, "title", title)
    _atom_add(feed, "updated", _atom_time_text(updated))
    _atom_add(_atom_add(feed, "author"), "name", author)
    _atom_add(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    for entry in entries:
        element = _atom_add(feed, "entry")
        _atom_add(element, "id", entry.entry_id)
        _atom_add(element, "title", entry.title)
        _atom_add(element, "updated", _atom_time_text(entry.updated))
        _atom_add(element, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=entry.cap_url)
        if entry.summary:
            _atom_add(element, "summary", entry.summary)
        if embed and entry.embedded_cap:
            content = _atom_add(element, "content", type=CAP_MEDIA_TYPE)
            content.append(parse_untrusted_xml(entry.embedded_cap, "embedded CAP document"))
    body = etree.tostring(feed, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
