"""Watch rules compiled for the stream: one Aho-Corasick automaton over every phrase of every
live rule, boolean expressions, places, languages, time windows, authors and scores.

A post matches a rule when every part the rule sets holds (see
:class:`~watchhouse.monitoring.models.WatchRule`). Phrases and expression terms are normalised
with :func:`~watchhouse.monitoring.normalise.normalise_text`, like the posts, and match whole
words only ("fire" is not found in "firefly" or "campfire").

Expressions: ``fire AND (smoke OR flames) AND NOT drill``. Operators are the upper-case words
``AND``, ``OR``, ``NOT``; ``NOT`` binds tightest, then ``AND``, then ``OR``; parentheses group.
A term is a double-quoted phrase (``"shots fired"``, where ``AND`` is an ordinary word) or a
run of bare words, which together make one phrase (``shots fired AND main st`` means
``"shots fired" AND "main st"``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import ahocorasick  # type: ignore[import-not-found]
import shapely
from django.utils.translation import gettext as _
from shapely.geometry.base import BaseGeometry

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.normalise import normalise_text
from watchhouse.monitoring.places import Place, is_word_boundary
from watchhouse.monitoring.posts import PublicPost

if TYPE_CHECKING:
    from watchhouse.monitoring.models import WatchRule

logger = logging.getLogger(__name__)

_EARTH_RADIUS_M = 6_371_008.8
_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)("?)|([^\s()"]+))')
_OPERATORS = ("AND", "OR", "NOT")
MAX_EXPRESSION_CHARS = 1000


# Expressions


@dataclasses.dataclass(frozen=True, slots=True)
class Term:
    phrase: str

    def holds(self, fired: frozenset[str] | set[str]) -> bool:
        return self.phrase in fired


@dataclasses.dataclass(frozen=True, slots=True)
class Not:
    operand: Expression

    def holds(self, fired: frozenset[str] | set[str]) -> bool:
        return not self.operand.holds(fired)


@dataclasses.dataclass(frozen=True, slots=True)
class All:
    operands: tuple[Expression, ...]

    def holds(self, fired: frozenset[str] | set[str]) -> bool:
        return all(o.holds(fired) for o in self.operands)


@dataclasses.dataclass(frozen=True, slots=True)
class Any_:
    operands: tuple[Expression, ...]

    def holds(self, fired: frozenset[str] | set[str]) -> bool:
        return any(o.holds(fired) for o in self.operands)


Expression = Term | Not | All | Any_


def expression_phrases(expression: Expression) -> set[str]:
    """Every phrase the expression mentions."""
    if isinstance(expression, Term):
        return {expression.phrase}
    if isinstance(expression, Not):
        return expression_phrases(expression.operand)
    return set().union(*(expression_phrases(o) for o in expression.operands))


def _expression_error(message: str, position: int) -> InvalidInputError:
    return InvalidInputError(
        _("Expression error at character %(pos)s: %(msg)s") % {"pos": position + 1, "msg": message}
    )


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, position) with kinds ``(``, ``)``, ``op``, ``phrase``."""
    tokens: list[tuple[str, str, int]] = []
    words: list[str] = []
    words_at = 0

    def flush() -> None:
        if words:
            tokens.append(("phrase", " ".join(words), words_at))
            words.clear()

    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            break
        start = match.start() + (len(match.group(0)) - len(match.group(0).lstrip()))
        if match.group(1) or match.group(2):
            flush()
            tokens.append((match.group(1) or match.group(2), "", start))
        elif match.group(3) is not None or match.group(4) is not None:
            flush()
            if not match.group(4):
                raise _expression_error(_("the quote is never closed"), start)
            tokens.append(("phrase", match.group(3), start))
        else:
            word = match.group(5)
            if word in _OPERATORS:
                flush()
                tokens.append(("op", word, start))
            else:
                if not words:
                    words_at = start
                words.append(word)
        position = match.end()
    flush()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def where(self) -> int:
        token = self.peek()
        return token[2] if token else len(self.text)

    def parse(self) -> Expression:
        if not self.tokens:
            raise _expression_error(_("the expression is empty"), 0)
        expression = self.any_()
        token = self.peek()
        if token is not None:
            shown = token[1] or token[0]
            raise _expression_error(_("unexpected “%(t)s”") % {"t": shown}, token[2])
        return expression

    def any_(self) -> Expression:
        operands = [self.all_()]
        while (token := self.peek()) and token[:2] == ("op", "OR"):
            self.at += 1
            operands.append(self.all_())
        return operands[0] if len(operands) == 1 else Any_(tuple(operands))

    def all_(self) -> Expression:
        operands = [self.not_()]
        while (token := self.peek()) and token[:2] == ("op", "AND"):
            self.at += 1
            operands.append(self.not_())
        return operands[0] if len(operands) == 1 else All(tuple(operands))

    def not_(self) -> Expression:
        token = self.peek()
        if token and token[:2] == ("op", "NOT"):
            self.at += 1
            return Not(self.not_())
        return self.atom()

    def atom(self) -> Expression:
        token = self.peek()
        if token is None:
            raise _expression_error(_("a term is missing at the end"), len(self.text))
        kind, value, position = token
        if kind == "(":
            self.at += 1
            inner = self.any_()
            closing = self.peek()
            if closing is None or closing[0] != ")":
                raise _expression_error(_("a closing parenthesis is missing"), self.where())
            self.at += 1
            return inner
        if kind == "phrase":
            self.at += 1
            phrase = normalise_text(value)
            if not phrase:
                raise _expression_error(_("an empty phrase"), position)
            return Term(phrase)
        shown = value or kind
        raise _expression_error(_("a term was expected, not “%(t)s”") % {"t": shown}, position)


def parse_expression(text: str) -> Expression:
    """The expression parsed (terms normalised), or :class:`InvalidInputError` saying what is
    wrong and at which character (1-based)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise InvalidInputError(
            _("An expression may be at most %(n)s characters.") % {"n": MAX_EXPRESSION_CHARS}
        )
    return _Parser(text).parse()


# Rules


class RuleHit(NamedTuple):
    """Why a post matched a rule: the phrases that fired and the place that satisfied it.

    (A named tuple: the stream makes many of these, and it is the cheapest to build.)
    """

    rule_id: int
    rule_name: str
    phrases: tuple[str, ...]
    place: Place | None

    def as_reason(self) -> dict[str, Any]:
        return {
            "rule": self.rule_name,
            "phrases": sorted(self.phrases),
            "place": self.place.as_dict() if self.place else None,
        }


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, a))))


@dataclasses.dataclass(slots=True)
class CompiledRule:
    """One live rule in the form the stream evaluates."""

    id: int
    name: str
    phrases: frozenset[str] = frozenset()
    expression: Expression | None = None
    area_id: int | None = None
    area: BaseGeometry | None = None
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    languages: frozenset[str] = frozenset()
    authors: frozenset[str] = frozenset()
    min_score: float | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None

    has_place: bool = dataclasses.field(init=False, default=False)
    # Only phrases and an expiry: decided by the phrases alone (most rules; the fast path).
    plain: bool = dataclasses.field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.area is not None:
            shapely.prepare(self.area)
        self.has_place = self.area is not None or self.radius_m is not None
        self.plain = (
            bool(self.phrases)
            and self.expression is None
            and not self.has_place
            and not self.languages
            and not self.authors
            and self.starts_at is None
            and self.min_score is None
        )

    @property
    def needs_text(self) -> bool:
        """Whether some phrase must fire for the rule to hold."""
        return bool(self.phrases) or (
            self.expression is not None and not self.expression.holds(frozenset())
        )

    def place_for(self, places: Sequence[Place]) -> Place | None | bool:
        """The first place inside the rule's area or circle (False when none is; None when the
        rule sets no place)."""
        if not self.has_place:
            return None
        for place in places:
            if self.area is not None:
                if place.area_id == self.area_id or shapely.intersects_xy(
                    self.area, place.lon, place.lat
                ):
                    return place
            elif (
                self.lat is not None
                and self.lon is not None
                and self.radius_m is not None
                and _distance_m(self.lat, self.lon, place.lat, place.lon) <= self.radius_m
            ):
                return place
        return False

    def check(
        self,
        post: PublicPost,
        fired: frozenset[str] | set[str],
        places: Sequence[Place],
        now: datetime,
    ) -> RuleHit | None:
        """The hit when every part but ``min_score`` holds (the score is checked after)."""
        if self.expires_at is not None and self.expires_at <= now:
            return None
        if self.starts_at is not None and self.starts_at > now:
            return None
        phrases = self.phrases & fired if self.phrases else frozenset()
        if self.phrases and not phrases:
            return None
        if self.expression is not None:
            if not self.expression.holds(fired):
                return None
            phrases |= expression_phrases(self.expression) & fired
        if self.authors and author_key(post.author_handle) not in self.authors:
            return None
        # A post that does not say its language cannot satisfy a rule restricted to some.
        if self.languages and language_key(post.language) not in self.languages:
            return None
        place = self.place_for(places)
        if place is False:
            return None
        return RuleHit(
            self.id, self.name, tuple(phrases), place if isinstance(place, Place) else None
        )


def author_key(handle: str) -> str:
    """A handle as rules compare it: case-folded, without a leading "@"."""
    return handle.strip().lstrip("@").casefold()


def language_key(language: str) -> str:
    """The primary language subtag, lower case ("en-US" → "en")."""
    return language.strip().replace("_", "-").split("-", 1)[0].casefold()


@dataclasses.dataclass(slots=True)
class Pending:
    """The rules a post matches in every part but the classifier's score.

    Phrase-only rules (``plain``) match outright; their reasons are built only when asked
    for, since a common phrase can belong to hundreds of rules.
    """

    plain: Sequence[CompiledRule]
    checked: list[tuple[CompiledRule, RuleHit]]
    fired: set[str]

    def __bool__(self) -> bool:
        return bool(self.plain) or bool(self.checked)

    def any_hit(self, score: float | None) -> bool:
        return bool(self.plain) or any(score_ok(rule, score) for rule, _ in self.checked)

    def hits(self, score: float | None) -> list[RuleHit]:
        fired = self.fired
        out = [RuleHit(r.id, r.name, tuple(r.phrases & fired), None) for r in self.plain]
        out.extend(hit for rule, hit in self.checked if score_ok(rule, score))
        return out


NOTHING_PENDING = Pending((), [], set())


class CompiledRules:
    """Every live rule, with one automaton over all their phrases."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = list(rules)
        self._plain_by_phrase: dict[str, list[CompiledRule]] = {}
        self._by_phrase: dict[str, list[CompiledRule]] = {}
        self._by_author: dict[str, list[CompiledRule]] = {}
        # Rules that no phrase has to fire for (an area-only or author-only rule): checked on
        # every post.
        self._textless: list[CompiledRule] = []
        for rule in self.rules:
            phrases = set(rule.phrases)
            if rule.expression is not None:
                phrases |= expression_phrases(rule.expression)
            index = self._plain_by_phrase if rule.plain else self._by_phrase
            for phrase in phrases:
                index.setdefault(phrase, []).append(rule)
            if rule.needs_text:
                continue
            if rule.authors:
                for author in rule.authors:
                    self._by_author.setdefault(author, []).append(rule)
            else:
                self._textless.append(rule)
        expiries = [r.expires_at for r in self.rules if r.plain and r.expires_at is not None]
        # Until the first phrase-only rule expires, none needs its expiry checked.
        self._plain_first_expiry = min(expiries) if expiries else None
        # Textless rules with a place need a place; without one they could match anything.
        self.matches_anything = any(not r.has_place for r in self._textless)
        every_phrase = set(self._by_phrase) | set(self._plain_by_phrase)
        self.phrase_count = len(every_phrase)
        self._automaton: Any = None
        if every_phrase:
            automaton = ahocorasick.Automaton()
            for phrase in sorted(every_phrase):
                automaton.add_word(phrase, phrase)
            automaton.make_automaton()
            self._automaton = automaton

    def __len__(self) -> int:
        return len(self.rules)

    @classmethod
    def from_database(cls, *, now: datetime | None = None) -> CompiledRules:
        """The rules live now or later (state active, not expired). A rule whose stored
        expression no longer parses is left out and logged, never guessed at."""
        from django.utils import timezone

        from watchhouse.monitoring.models import RuleState, WatchRule

        now = now or timezone.now()
        compiled = []
        for rule in WatchRule.objects.filter(
            state=RuleState.ACTIVE, expires_at__gt=now
        ).select_related("area"):
            try:
                compiled.append(compile_rule(rule))
            except InvalidInputError:
                logger.warning("Watch rule %s has an invalid expression; skipped.", rule.pk)
        return cls(compiled)

    def fired(self, text_norm: str) -> set[str]:
        """The phrases found in the text on word boundaries."""
        found: set[str] = set()
        if self._automaton is None or not text_norm:
            return found
        for end, phrase in self._automaton.iter(text_norm):
            if is_word_boundary(text_norm, end + 1 - len(phrase), end + 1):
                found.add(phrase)
        return found

    def candidates(self, post: PublicPost, fired: set[str]) -> list[CompiledRule]:
        """The rules other than phrase-only ones the post could match (each once): those a
        fired phrase belongs to, those watching its author, and the textless ones."""
        seen: dict[int, CompiledRule] = {}
        for phrase in fired:
            for rule in self._by_phrase.get(phrase, ()):
                seen[rule.id] = rule
        if self._by_author and post.author_handle:
            for rule in self._by_author.get(author_key(post.author_handle), ()):
                seen[rule.id] = rule
        for rule in self._textless:
            seen[rule.id] = rule
        return list(seen.values())

    def could_match(self, post: PublicPost, fired: set[str]) -> bool:
        """Whether any rule could match the post, ignoring places (cheap)."""
        return bool(
            fired
            or self.matches_anything
            or (self._by_author and author_key(post.author_handle) in self._by_author)
        )

    def needs_place(self) -> bool:
        """Whether a post with a place but no phrase could match a textless rule."""
        return bool(self._textless)

    def match(
        self,
        post: PublicPost,
        text_norm: str,
        places: Sequence[Place],
        score: float | None,
        *,
        now: datetime,
        fired: set[str] | None = None,
    ) -> list[RuleHit]:
        """Every rule the post matches, with the reason."""
        if fired is None:
            fired = self.fired(text_norm)
        return self.pending(post, fired, places, now=now).hits(score)

    def pending(
        self, post: PublicPost, fired: set[str], places: Sequence[Place], *, now: datetime
    ) -> Pending:
        """The rules the post matches in every part except the score."""
        plain: Sequence[CompiledRule] = ()
        if fired:
            if len(fired) == 1:
                plain = self._plain_by_phrase.get(next(iter(fired)), ())
            else:
                union: dict[int, CompiledRule] = {}
                for phrase in fired:
                    for rule in self._plain_by_phrase.get(phrase, ()):
                        union[rule.id] = rule
                plain = list(union.values())
            first_expiry = self._plain_first_expiry
            if plain and first_expiry is not None and now >= first_expiry:
                plain = [r for r in plain if r.expires_at is None or r.expires_at > now]
        checked = []
        for rule in self.candidates(post, fired):
            hit = rule.check(post, fired, places, now)
            if hit is not None:
                checked.append((rule, hit))
        if not plain and not checked:
            return NOTHING_PENDING
        return Pending(plain, checked, fired)


def score_ok(rule: CompiledRule, score: float | None) -> bool:
    return rule.min_score is None or (score is not None and score >= rule.min_score)


def compile_rule(rule: WatchRule) -> CompiledRule:
    """One stored rule compiled; :class:`InvalidInputError` when its expression is invalid."""
    phrases = frozenset(p for p in (normalise_text(str(x)) for x in rule.phrases or [] if x) if p)
    area = shapely.from_wkb(bytes(rule.area.geometry)) if rule.area is not None else None
    return CompiledRule(
        id=rule.pk,
        name=rule.name,
        phrases=phrases,
        expression=parse_expression(rule.expression) if rule.expression.strip() else None,
        area_id=rule.area_id,
        area=area,
        lat=rule.lat,
        lon=rule.lon,
        radius_m=float(rule.radius_m) if rule.radius_m and rule.lat is not None else None,
        languages=frozenset(language_key(x) for x in rule.languages or [] if x),
        authors=frozenset(author_key(x) for x in rule.authors or [] if x),
        min_score=rule.min_score,
        starts_at=rule.starts_at,
        expires_at=rule.expires_at,
    )
