"""Watch rules: expressions, phrases, places, languages, windows and authors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.alerts.conftest import town_create
from tests.factories import StaffFactory
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.matching import (
    All,
    Any_,
    CompiledRules,
    Not,
    Term,
    compile_rule,
    expression_phrases,
    parse_expression,
)
from watchhouse.monitoring.models import RuleState, WatchRule
from watchhouse.monitoring.normalise import normalise_text
from watchhouse.monitoring.places import Place
from watchhouse.monitoring.posts import PublicPost

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def post(text: str, **fields: Any) -> PublicPost:
    values: dict[str, Any] = {
        "source": "file",
        "remote_id": text,
        "text": text,
        "posted_at": NOW,
        "author_handle": "someone",
        "language": "en",
    }
    values.update(fields)
    return PublicPost(**values)


def holds(expression: str, text: str) -> bool:
    parsed = parse_expression(expression)
    fired = {p for p in expression_phrases(parsed) if f" {p} " in f" {normalise_text(text)} "}
    return parsed.holds(fired)


# Expressions


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    """``a OR b AND NOT c`` reads ``a OR (b AND (NOT c))``."""
    assert parse_expression("fire OR smoke AND NOT drill") == Any_(
        (Term("fire"), All((Term("smoke"), Not(Term("drill")))))
    )
    assert holds("fire OR smoke AND NOT drill", "fire drill")
    assert not holds("fire OR smoke AND NOT drill", "smoke drill")
    assert holds("(fire OR smoke) AND NOT drill", "smoke on oak")
    assert not holds("(fire OR smoke) AND NOT drill", "fire drill today")


def test_quoted_phrases_and_runs_of_words_are_single_terms() -> None:
    """A quoted phrase keeps operator words as words; bare words run into one phrase."""
    assert parse_expression('"rock AND roll" OR shots fired') == Any_(
        (Term("rock and roll"), Term("shots fired"))
    )
    assert parse_expression("Ｆｉｒｅ") == Term("fire")


@pytest.mark.parametrize(
    ("text", "position", "what"),
    [
        ("fire AND", 9, "missing"),
        ("(fire OR smoke", 15, "closing parenthesis"),
        ("fire OR OR smoke", 9, "expected"),
        ('"shots fired', 1, "quote"),
        ("fire smoke)", 11, "unexpected"),
        ("", 1, "empty"),
        ('fire AND ""', 10, "empty phrase"),
    ],
)
def test_invalid_expressions_say_what_and_where(text: str, position: int, what: str) -> None:
    """An invalid expression is refused with the character where it went wrong."""
    with pytest.raises(InvalidInputError) as error:
        parse_expression(text)
    assert f"character {position}:" in str(error.value)
    assert what in str(error.value)


# Rules (stored rows compiled)


@pytest.fixture
def owner() -> Any:
    return StaffFactory(roles=["analyst"])


def rule(owner: Any, **fields: Any) -> WatchRule:
    values: dict[str, Any] = {
        "name": "r",
        "purpose": "test",
        "owner": owner,
        "state": RuleState.ACTIVE,
        "expires_at": timezone.now() + timedelta(days=1),
    }
    values.update(fields)
    return WatchRule.objects.create(**values)


def hits(rules: CompiledRules, p: PublicPost, places: list[Place] | None = None,
         score: float | None = None, now: datetime | None = None) -> list[int]:  # fmt: skip
    text = normalise_text(p.text)
    return [h.rule_id for h in rules.match(p, text, places or [], score, now=now or timezone.now())]


@pytest.mark.django_db
def test_phrases_match_whole_words_after_normalisation(owner: Any) -> None:
    """A phrase fires on whole words, through Unicode tricks, and says which phrase fired."""
    r = rule(owner, phrases=["shots fired", "Fire"])
    rules = CompiledRules.from_database()
    assert hits(rules, post("SHOTS  fіred near the park")) == [r.pk]
    assert hits(rules, post("f\u200bire!")) == [r.pk]
    assert hits(rules, post("firefly campfire wildfires")) == []
    found = rules.match(post("Shots fired"), "shots fired", [], None, now=timezone.now())
    assert found[0].phrases == ("shots fired",)


@pytest.mark.django_db
def test_expression_rules(owner: Any) -> None:
    """A boolean rule holds only when its expression does."""
    r = rule(owner, expression="fire AND (smoke OR flames) AND NOT drill")
    rules = CompiledRules.from_database()
    assert hits(rules, post("fire and smoke everywhere")) == [r.pk]
    assert hits(rules, post("fire drill with smoke")) == []
    assert hits(rules, post("just a fire")) == []


@pytest.mark.django_db
def test_area_rules_need_a_place_inside_the_area(owner: Any, tmp_path: Path) -> None:
    """An area rule holds for a named or carried place inside the area, not outside."""
    town = town_create(tmp_path)
    r = rule(owner, phrases=["fire"], area=town["Cedar Park"])
    rules = CompiledRules.from_database()
    inside = Place("10 X ST", "street", 39.955, -89.345, None)
    outside = Place("Old Mill", "area", 39.955, -89.355, town["Old Mill"].pk)
    named = Place("Cedar Park", "area", 0.0, 0.0, town["Cedar Park"].pk)
    assert hits(rules, post("fire"), [inside]) == [r.pk]
    assert hits(rules, post("fire"), [named]) == [r.pk]
    assert hits(rules, post("fire"), [outside]) == []
    assert hits(rules, post("fire")) == []
    found = rules.match(post("fire"), "fire", [outside, inside], None, now=timezone.now())
    assert found[0].place == inside


@pytest.mark.django_db
def test_circle_rules_measure_the_distance(owner: Any) -> None:
    """A radius rule holds within the radius of its centre only."""
    r = rule(owner, phrases=["smoke"], lat=39.95, lon=-89.35, radius_m=500)
    rules = CompiledRules.from_database()
    near = Place("c", "coordinates", 39.953, -89.35)  # about 330 m north
    far = Place("c", "coordinates", 39.96, -89.35)  # about 1.1 km
    assert hits(rules, post("smoke"), [near]) == [r.pk]
    assert hits(rules, post("smoke"), [far]) == []


@pytest.mark.django_db
def test_language_rules(owner: Any) -> None:
    """A rule restricted to languages ignores posts in others and posts that do not say."""
    r = rule(owner, phrases=["incendio"], languages=["es"])
    rules = CompiledRules.from_database()
    assert hits(rules, post("incendio", language="es-MX")) == [r.pk]
    assert hits(rules, post("incendio", language="en")) == []
    assert hits(rules, post("incendio", language="")) == []


@pytest.mark.django_db
def test_time_windows_and_expiry(owner: Any) -> None:
    """A rule holds only inside its window; expired, pending and switched-off rules are not
    live at all."""
    now = timezone.now()
    later = rule(owner, phrases=["flood"], starts_at=now + timedelta(hours=1))
    rule(owner, phrases=["flood"], expires_at=now - timedelta(minutes=1))
    rule(owner, phrases=["flood"], state=RuleState.PENDING)
    rule(owner, phrases=["flood"], state=RuleState.DISABLED)
    rules = CompiledRules.from_database()
    assert [r.id for r in rules.rules] == [later.pk]
    assert hits(rules, post("flood"), now=now) == []
    assert hits(rules, post("flood"), now=now + timedelta(hours=2)) == [later.pk]
    assert hits(rules, post("flood"), now=now + timedelta(days=2)) == []


@pytest.mark.django_db
def test_author_rules_compare_handles_without_case(owner: Any) -> None:
    """A watch on authors holds for their posts only, whatever the case or a leading @."""
    r = rule(owner, authors=["@Missing.Person"])
    rules = CompiledRules.from_database()
    assert hits(rules, post("anything at all", author_handle="missing.PERSON")) == [r.pk]
    assert hits(rules, post("anything at all", author_handle="someone.else")) == []


@pytest.mark.django_db
def test_min_score(owner: Any) -> None:
    """A rule with a minimum score holds only when the classifier reached it."""
    r = rule(owner, phrases=["smoke"], min_score=0.5)
    rules = CompiledRules.from_database()
    assert hits(rules, post("smoke"), score=0.7) == [r.pk]
    assert hits(rules, post("smoke"), score=0.2) == []
    assert hits(rules, post("smoke"), score=None) == []


@pytest.mark.django_db
def test_an_invalid_stored_expression_is_left_out(owner: Any) -> None:
    """A rule whose stored expression does not parse is not compiled (never guessed at)."""
    rule(owner, expression="fire AND (")
    good = rule(owner, phrases=["fire"])
    assert [r.id for r in CompiledRules.from_database().rules] == [good.pk]
    with pytest.raises(InvalidInputError):
        compile_rule(WatchRule(name="x", expression="AND", expires_at=timezone.now()))


def test_a_phrase_only_rule_stops_at_its_expiry_while_compiled() -> None:
    """A compiled phrase rule that expires while the stream runs stops matching."""
    from watchhouse.monitoring.matching import CompiledRule

    expiry = NOW + timedelta(hours=1)
    rules = CompiledRules(
        [
            CompiledRule(id=1, name="a", phrases=frozenset({"fire"}), expires_at=expiry),
            CompiledRule(
                id=2, name="b", phrases=frozenset({"fire"}), expires_at=NOW + timedelta(days=1)
            ),
        ]
    )
    assert hits(rules, post("fire"), now=NOW) == [1, 2]
    assert hits(rules, post("fire"), now=expiry) == [2]
