"""The protected-activity deny-list: words a watch rule may not look for without an override.

Political, religious and association life, protest, and named activists are protected
activity. A watch rule whose phrases or expression name any of them is refused by default
(guardrail 2); a supervisor can override it only with a documented criminal nexus, and every
override is counted on the public transparency page. The list is public (except the agency's
own named-person entries, which are counted there but not shown) so anyone can read what the
agency has promised not to watch.

Terms are matched on normalised text (Unicode NFKC, zero-width characters removed, homoglyphs
folded, case folded, accents ignored) at word boundaries, allowing the common English plural
and verb endings, so "Ｐrotest", "pro\u200btest" and Cyrillic look-alikes match "protest", and so
does "#BlackLivesMatter" for "black lives matter". A few ordinary phrases that contain a listed
word ("lightning strike", "Union Station") are not protected activity and are set aside first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from watchhouse.monitoring.normalise import normalise_text

POLITICAL = "political"
RELIGIOUS = "religious"
ASSOCIATION = "association"
PROTEST = "protest"
NAMED_PERSON = "named person"

GROUP_LABELS = {
    POLITICAL: _("Political views, parties and elections"),
    RELIGIOUS: _("Religion and places of worship"),
    ASSOCIATION: _("Associations, unions, identity and advocacy groups"),
    PROTEST: _("Protest and assembly"),
    NAMED_PERSON: _("Named activists and organisers"),
}

GROUP_REASONS = {
    POLITICAL: _(
        "Watching people for their politics chills speech and voting (First Amendment); "
        "political views are not evidence of crime."
    ),
    RELIGIOUS: _(
        "Religious belief and worship are protected; watching a faith or its places of worship "
        "targets people for who they are, not what they did."
    ),
    ASSOCIATION: _(
        "Freedom of association covers unions, advocacy, civil-rights and identity groups; "
        "membership is not suspicion."
    ),
    PROTEST: _(
        "Peaceful assembly and protest are protected; Geofeedia-style tracking of protesters "
        "is exactly what this list forbids."
    ),
    NAMED_PERSON: _(
        "People the agency has listed because they are known for lawful activism or "
        "organising; watching them needs a documented criminal nexus."
    ),
}

# (group, terms in English and Spanish). Multi-word terms match with any spacing, and run
# together as a hashtag.
_TERMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        PROTEST,
        (
            "protest", "protester", "protestor", "rally", "rallies", "march", "marcher",
            "demonstration", "demonstrator", "boycott", "strike", "picket",
            "vigil", "walkout", "occupy", "civil disobedience", "activist", "activism",
            "protesta", "manifestación", "manifestante", "marcha", "huelga", "boicot",
            "piquete", "vigilia", "activista", "plantón",
        ),
    ),
    (
        POLITICAL,
        (
            "democrat", "democratic party", "republican", "gop", "green party",
            "libertarian", "socialist", "communist", "dsa", "maga", "tea party", "vote",
            "voter", "voting", "election", "ballot", "campaign", "antifa",
            "partido demócrata", "partido republicano", "voto", "votar", "votante",
            "elección", "elecciones", "sufragio", "campaña electoral",
        ),
    ),
    (
        RELIGIOUS,
        (
            "mosque", "church", "synagogue", "temple", "gurdwara", "prayer", "worship",
            "muslim", "islam", "islamic", "christian", "catholic", "jewish", "jew", "sikh",
            "hindu", "buddhist", "mezquita", "iglesia", "sinagoga", "templo", "oración",
            "culto", "musulmán", "musulmana", "cristiano", "cristiana", "católico",
            "judío", "judía", "hindú", "budista",
        ),
    ),
    (
        ASSOCIATION,
        (
            "union", "labor union", "trade union", "petition", "blm", "black lives matter",
            "naacp", "aclu", "cair", "splc", "lulac", "immigrant", "migrant",
            "undocumented", "refugee", "asylum", "lgbt", "lgbtq", "pride", "queer",
            "transgender", "sindicato", "petición", "inmigrante", "migrante",
            "indocumentado", "refugiado", "asilo", "orgullo",
        ),
    ),
)  # fmt: skip

# Ordinary phrases that contain a listed word but are not protected activity (set aside
# before matching): an analyst can watch for a lightning strike near Union Station.
ORDINARY_PHRASES: tuple[str, ...] = (
    "lightning strike", "strike team", "bird strike", "union station", "union street",
    "union avenue", "union pacific", "credit union", "temple street", "church street",
    "march madness",
)  # fmt: skip

# Endings a listed word may take and still be the same word (protests, marching, voted).
_ENDINGS = r"(?:s|es|ed|ing|ers?)?"


@dataclass(frozen=True)
class DenyEntry:
    """One listed term, its group and why it is listed."""

    term: str
    group: str
    reason: str


@dataclass(frozen=True)
class ProtectedHit:
    """A listed term found in a piece of text (``found``: the words as written there)."""

    term: str
    group: str
    reason: str
    found: str


def protected_names() -> list[str]:
    """The named activists and organisers the agency itself added (not shown publicly)."""
    return [str(n) for n in settings.WATCHHOUSE_MONITORING_PROTECTED_NAMES]


def deny_list(*, with_names: bool = True) -> list[DenyEntry]:
    """Every listed term with its group and reason (the agency's named people last)."""
    entries = [
        DenyEntry(term=term, group=group, reason=str(GROUP_REASONS[group]))
        for group, terms in _TERMS
        for term in terms
    ]
    if with_names:
        entries += [
            DenyEntry(term=name, group=NAMED_PERSON, reason=str(GROUP_REASONS[NAMED_PERSON]))
            for name in protected_names()
            if name.strip()
        ]
    return entries


def deny_groups() -> list[tuple[str, str, str, list[str]]]:
    """(group, label, reason, terms) for publication; named people as a count only, the
    terms list empty."""
    groups = []
    for group, terms in _TERMS:
        groups.append((group, str(GROUP_LABELS[group]), str(GROUP_REASONS[group]), list(terms)))
    groups.append(
        (NAMED_PERSON, str(GROUP_LABELS[NAMED_PERSON]), str(GROUP_REASONS[NAMED_PERSON]), [])
    )
    return groups


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def comparable(text: str) -> str:
    """``text`` as the deny-list compares it: normalised as the stream normalises posts
    (look-alikes and zero-width characters folded) and without accents."""
    return _strip_accents(normalise_text(text))


def _pattern_for(term: str) -> str:
    words = [re.escape(w) for w in re.findall(r"[^\W_]+", comparable(term))]
    # Words may be run together (a hashtag) or joined by spaces, punctuation or underscores.
    joined = r"[\W_]*".join(words)
    return rf"(?<!\w){joined}{_ENDINGS}(?!\w)"


@lru_cache(maxsize=8)
def _compiled(names: tuple[str, ...]) -> tuple[tuple[DenyEntry, re.Pattern[str]], ...]:
    del names  # part of the cache key only: the list changes when the setting does
    return tuple((entry, re.compile(_pattern_for(entry.term))) for entry in deny_list())


def protected_hits(texts: Iterable[str]) -> list[ProtectedHit]:
    """Every listed term found in ``texts`` (each term once, in list order)."""
    compiled = _compiled(tuple(protected_names()))
    ordinary = [comparable(p) for p in ORDINARY_PHRASES]
    hits: dict[str, ProtectedHit] = {}
    for text in texts:
        seen = comparable(text)
        for phrase in ordinary:
            seen = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", seen)
        for entry, pattern in compiled:
            if entry.term in hits:
                continue
            match = pattern.search(seen)
            if match:
                hits[entry.term] = ProtectedHit(
                    term=entry.term, group=entry.group, reason=entry.reason, found=match.group()
                )
    return list(hits.values())
