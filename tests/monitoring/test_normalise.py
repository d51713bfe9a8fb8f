"""Normalisation against Unicode evasion."""

from __future__ import annotations

from watchhouse.monitoring.normalise import normalise_text


def test_full_width_letters_become_ascii() -> None:
    """NFKC turns full-width letters into ordinary ones."""
    assert normalise_text("ＦＩＲＥ on Ｍａｉｎ") == "fire on main"


def test_invisible_characters_inside_a_word_are_removed() -> None:
    """Zero-width space, joiners, soft hyphen, BOM and variation selectors vanish."""
    assert normalise_text("f\u200bire") == "fire"
    assert normalise_text("sh\u00adoo\u200dting\ufeff") == "shooting"
    assert normalise_text("bo\u2060mb\ufe0f") == "bomb"


def test_cyrillic_and_greek_look_alikes_fold_to_latin() -> None:
    """Look-alike letters from other scripts read as the Latin letters they imitate."""
    assert normalise_text("f\u0456re") == "fire"  # Cyrillic і
    assert normalise_text("\u0421\u041e\u0420") == "cop"  # Cyrillic capitals С О Р
    assert normalise_text("\u0392\u039f\u039c\u0392") == "bomb"  # Greek capitals


def test_case_and_whitespace_are_folded() -> None:
    """Case is folded and runs of whitespace become one space."""
    assert normalise_text("  Shots\tFIRED \n\n near  Oak ") == "shots fired near oak"
    assert normalise_text("STRASSE Straße") == "strasse strasse"


def test_ascii_fast_path_agrees_with_the_full_path() -> None:
    """Pure-ASCII text gives the same result as if it went through the full path."""
    text = "Fire  near OAK Ave"
    assert normalise_text(text) == normalise_text(text + "\u200b")
