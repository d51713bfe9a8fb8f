"""Checks on residents' text, and how it is shown.

Residents write plain text: it is stored as typed (stripped) and always rendered escaped, so
``<script>`` in a comment is shown as those characters, never run. Links are checked when the
text is written: a scheme outside ``WATCHHOUSE_COMMUNITY_LINK_SCHEMES`` (``javascript:``,
``data:``, ``file:``, ``ftp:``...) or a host on ``WATCHHOUSE_COMMUNITY_BLOCKED_DOMAINS`` (or a
subdomain of one) refuses the text, with a message; when shown, only http(s) addresses become
links, marked ``rel="nofollow ugc noopener"``.

The profiling check finds words that describe a person's race or ethnicity (staff keep the list
as :class:`~watchhouse.community.models.ProfilingTerm` rows in the console).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from watchhouse.community.models import ProfilingTerm
from watchhouse.core.errors import InvalidInputError

# Longest comment, discussion body and discussion title, in characters.
COMMENT_MAX = 2000
BODY_MAX = 5000
TITLE_MAX = 150
# Longest safety-concern detail (behaviour, clothing, description of a person).
DETAIL_MAX = 1000

# Characters that render as nothing and could hide a scheme from the check ("java\u200bscript:").
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Any "scheme://" is a link whatever the scheme.
_SCHEME_SLASHES = re.compile(r"(?<![\w.+-])([a-z][a-z0-9+.-]{0,30})://", re.IGNORECASE)
# Schemes that make a link without "//"; matched as "name:" so that "Note: ..." stays text.
_BARE_SCHEMES = (
    "javascript", "vbscript", "livescript", "data", "file", "ftp", "blob", "about", "mailto",
    "tel", "sms", "intent", "filesystem", "view-source", "jar", "ms-settings", "search-ms",
    "ms-msdt", "smb", "magnet", "ws", "wss", "http", "https",
)  # fmt: skip
_SCHEME_BARE = re.compile(
    r"(?<![\w.+-])(" + "|".join(re.escape(s) for s in _BARE_SCHEMES) + r")\s*:",
    re.IGNORECASE,
)
# A host name as people type it (with or without a scheme): two or more labels.
_HOST = re.compile(
    r"(?<![\w@.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62})\.?(?![\w-])",
    re.IGNORECASE,
)
# An http(s) address as shown (made into a link when it passes the checks).
_LINK = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def _plain(text: str) -> str:
    """The text as the checks read it: NFKC-normalised (full-width letters become ASCII),
    invisible characters dropped."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


def _allowed_schemes() -> set[str]:
    return {s.strip().lower() for s in settings.WATCHHOUSE_COMMUNITY_LINK_SCHEMES if s.strip()}


def _blocked_domains() -> list[str]:
    return [
        d.strip().lower().strip(".")
        for d in settings.WATCHHOUSE_COMMUNITY_BLOCKED_DOMAINS
        if d.strip().strip(".")
    ]


def host_blocked(host: str) -> bool:
    """True when ``host`` is a blocked domain or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in _blocked_domains())


def link_problems(text: str) -> list[str]:
    """Sentences saying what is wrong with the links in ``text`` (empty when none is)."""
    plain = _plain(text)
    allowed = _allowed_schemes()
    problems: list[str] = []
    schemes = {m.group(1).lower() for m in _SCHEME_SLASHES.finditer(plain)}
    schemes |= {m.group(1).lower() for m in _SCHEME_BARE.finditer(plain)}
    for scheme in sorted(schemes - allowed):
        problems.append(
            _(
                "Links starting with “%(scheme)s:” are not allowed here; only web "
                "addresses (%(allowed)s) are."
            )
            % {"scheme": scheme, "allowed": ", ".join(sorted(allowed))}
        )
    hosts = {m.group(1).lower() for m in _HOST.finditer(plain)}
    for match in _LINK.finditer(plain):
        host = urlsplit(match.group(0).rstrip(_TRAILING)).hostname
        if host:
            hosts.add(host.lower())
    for host in sorted(h for h in hosts if host_blocked(h)):
        problems.append(
            _("Links to %(host)s are not allowed: the site is known to be unsafe.") % {"host": host}
        )
    return problems


def clean_text(text: str | None, *, limit: int, label: str, required: bool = True) -> str:
    """``text`` stripped, or :class:`InvalidInputError` when it is empty (and ``required``),
    longer than ``limit`` characters, or links where residents may not link."""
    value = (text or "").strip()
    if not value:
        if required:
            raise InvalidInputError(_("%(label)s cannot be empty.") % {"label": label})
        return ""
    if "\x00" in value:
        raise InvalidInputError(
            _("%(label)s contains a character that is not text.") % {"label": label}
        )
    if len(value) > limit:
        raise InvalidInputError(
            _("%(label)s is too long: %(length)d characters, at most %(limit)d.")
            % {"label": label, "length": len(value), "limit": limit}
        )
    problems = link_problems(value)
    if problems:
        raise InvalidInputError(" ".join(problems))
    return value


def profiling_terms_default() -> list[tuple[str, str]]:
    """The profiling terms a new installation starts with, as ``(term, note)``.

    Why the filter exists: a "suspicious person" post that names a race or ethnicity tells
    neighbours nothing that helps them recognise what happened, and a great deal that trains
    them to suspect everyone who looks alike (Nextdoor added its check in 2016 after exactly
    such posts). A skin colour or an ethnic label describes who someone is, not what they did:
    nobody is suspicious for being Black, Latino or Arab, and a post that says so invites the
    reader to act on that alone. So the form asks for behaviour (what the person did, where,
    which way they went) and clothing first, and refuses race and ethnicity words anywhere in
    a safety concern, explaining what to write instead.

    The list errs on the side of catching: colour words such as "white" also refuse "a white
    van" in a safety concern's text (the clothing field is not checked, so "white hoodie" is
    fine there). Staff tune the list in the console (deactivate a term, add local ones).
    """
    race = "Race or skin colour: describe behaviour and clothing instead."
    ethnicity = "Ethnicity or origin: describe behaviour and clothing instead."
    return [
        ("race", race), ("racial", race), ("black", race), ("white", race), ("brown", race),
        ("dark-skinned", race), ("light-skinned", race), ("dark skinned", race),
        ("light skinned", race), ("african american", race), ("caucasian", race),
        ("hispanic", ethnicity), ("latino", ethnicity), ("latina", ethnicity),
        ("latinx", ethnicity), ("asian", ethnicity), ("arab", ethnicity),
        ("middle eastern", ethnicity), ("mexican", ethnicity), ("indian", ethnicity),
        ("native american", ethnicity), ("chinese", ethnicity), ("somali", ethnicity),
        ("gypsy", ethnicity), ("roma", ethnicity), ("ethnic", ethnicity),
        ("ethnicity", ethnicity), ("muslim-looking", ethnicity), ("foreign-looking", ethnicity),
    ]  # fmt: skip


def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in re.split(r"[\s]+", _plain(term).casefold().strip()) if w]
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(words) + r"(?!\w)")


# Words for a person: outside a person's description, a race or ethnicity term counts only
# near one of them, so "a white van" or "Black Friday" is not taken for a description of someone.
PERSON_WORDS = frozenset(
    {
        "man",
        "men",
        "woman",
        "women",
        "guy",
        "guys",
        "dude",
        "male",
        "males",
        "female",
        "females",
        "boy",
        "boys",
        "girl",
        "girls",
        "kid",
        "kids",
        "teen",
        "teens",
        "teenager",
        "teenagers",
        "youth",
        "youths",
        "person",
        "people",
        "persons",
        "individual",
        "individuals",
        "suspect",
        "suspects",
        "lady",
        "ladies",
        "gentleman",
        "gentlemen",
        "couple",
        "stranger",
        "strangers",
        "someone",
        "somebody",
        "he",
        "she",
        "they",
        "hombre",
        "hombres",
        "mujer",
        "mujeres",
        "chico",
        "chicos",
        "chica",
        "chicas",
        "joven",
        "jóvenes",
        "persona",
        "personas",
        "tipo",
        "tipos",
        "señor",
        "señora",
        "sospechoso",
        "sospechosa",
    }
)
# How many words apart a term and a person word may be.
PERSON_WINDOW = 4
_WORD = re.compile(r"\w+")


def _near_person(plain: str, match: re.Match[str]) -> bool:
    before = _WORD.findall(plain[: match.start()])[-PERSON_WINDOW:]
    after = _WORD.findall(plain[match.end() :])[:PERSON_WINDOW]
    return any(word in PERSON_WORDS for word in (*before, *after))


def profiling_terms_found(text: str, *, describes_person: bool = False) -> list[str]:
    """The active profiling terms in ``text`` (whole words, any case, after NFKC
    normalisation), in the order of the list.

    In a description of a person (``describes_person``) every term counts; elsewhere only a
    term within :data:`PERSON_WINDOW` words of a word for a person ("a Hispanic man", "the guy
    was white").
    """
    plain = _plain(text).casefold()
    if not plain.strip():
        return []
    terms = (
        ProfilingTerm.objects.filter(active=True).order_by("term").values_list("term", flat=True)
    )
    found = []
    for term in terms:
        matches = _term_pattern(term).finditer(plain)
        if any(describes_person or _near_person(plain, m) for m in matches):
            found.append(term)
    return found


def render_text(text: str) -> SafeString:
    """``text`` as HTML: escaped, line breaks kept, and web addresses whose scheme is allowed
    and whose host is not blocked made into links that search engines do not follow."""
    allowed = _allowed_schemes() & {"http", "https"}
    pieces: list[str] = []
    position = 0
    for match in _LINK.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        parts = urlsplit(url)
        if (
            parts.scheme.lower() not in allowed
            or not parts.hostname
            or host_blocked(parts.hostname)
        ):
            continue
        pieces.append(escape(text[position : match.start()]))
        pieces.append(f'<a href="{escape(url)}" rel="nofollow ugc noopener">{escape(url)}</a>')
        position = end
    pieces.append(escape(text[position:]))
    html = "".join(pieces).replace("\r\n", "\n").replace("\n", "<br>\n")
    return mark_safe(html)  # noqa: S308 - every piece of the resident's text is escaped above
