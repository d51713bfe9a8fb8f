"""One normal form for post text, so Unicode tricks cannot slip a post past a watch rule.

Rules' phrases, place names and posts all pass through :func:`normalise_text`, so a phrase
matches a post whatever width, invisible characters or look-alike letters the post used.
"""

from __future__ import annotations

import functools
import unicodedata

from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

# Invisible characters an author can slip inside a word ("f\u200bire") without changing what
# a reader sees: zero-width space/joiners and direction marks, word joiner and invisible
# operators, the byte-order mark, the soft hyphen, the Mongolian vowel separator, and the
# variation selectors (basic and supplementary).
_INVISIBLE = (
    [0x00AD, 0x180E, 0xFEFF]
    + list(range(0x200B, 0x2010))
    + list(range(0x202A, 0x202F))
    + list(range(0x2060, 0x2065))
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)

# Scripts whose letters are folded onto the Latin letter they look like. Others (Arabic, CJK,
# ...) are left alone: their confusables are mostly punctuation-like and folding them would
# only garble real text in those languages.
_FOLDED_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "LATIN", "ARMENIAN", "CHEROKEE", "COPTIC"})


@functools.cache
def _table() -> dict[int, str | None]:
    """``str.translate`` table: invisible characters removed, look-alikes folded to Latin.

    Built once from the Unicode confusables data that ``confusable_homoglyphs`` ships: a
    character is folded when one of its homoglyphs is a single ASCII letter or digit.
    """
    table: dict[int, str | None] = dict.fromkeys(_INVISIBLE)
    data = confusables.confusables_data
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii() or ord(char) in table:
            continue
        script = confusables.alias(char) if hasattr(confusables, "alias") else ""
        if script not in _FOLDED_SCRIPTS:
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ord(char)] = target.lower()
                break
    return table


def normalise_text(text: str) -> str:
    """``text`` in the form every matcher reads: NFKC, invisible characters removed,
    Cyrillic/Greek/other look-alike letters folded onto Latin, case-folded, and runs of
    whitespace collapsed to one space (no leading or trailing space).

    Pure-ASCII text (most posts) takes a fast path with the same result.
    """
    if text.isascii():
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", text).translate(_table()).casefold()
    # Case-folding can turn a capital into a small letter that is itself a look-alike.
    if not text.isascii():
        text = text.translate(_table())
    return " ".join(text.split())
