"""The default relevance scorer: a hand-written, weighted emergency lexicon.

This is a transparent default, not a trained model. Every term and its weight is in
``TERMS`` below, where an analyst (or the public) can read exactly why a post scored what it
did. It is deliberately *not* trained on the research corpora in ``../shared/data/crisis``:
their terms allow research use only, so a model learnt from them may not ship with Watchhouse.
An agency that wants a better scorer trains one on its own labelled posts with
``watchhouse monitoring train --labels FILE``; once that model file exists it replaces this
lexicon (see ``classifier.scorer_load``).

How a post is scored: the text is folded (casefolded, accents removed), every term found as a
whole phrase adds its weight once, a dampening phrase (``fire sale``, ``drill``) subtracts its
weight, and the sum ``s`` becomes ``1 - exp(-s)`` (0 when ``s <= 0``). One strong term
("shots fired", weight 2.0) gives about 0.86; one weak term ("smoke", 0.5) about 0.39; two
weak terms together about 0.63. The lexicon has no categories: ``categorise_many`` returns "".
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

# Term -> weight. English and Spanish; written without accents (text is folded the same way).
# Strong (about 2): an emergency in itself. Medium (about 1-1.5): usually an emergency.
# Weak (about 0.5): an emergency only with something else.
TERMS: dict[str, float] = {
    # Violence
    "shots fired": 2.0,
    "shooting": 1.5,
    "shooter": 1.8,
    "active shooter": 2.5,
    "gunman": 1.8,
    "gunshot": 1.6,
    "gunshots": 1.6,
    "stabbing": 1.5,
    "stabbed": 1.5,
    "hostage": 1.8,
    "hostages": 1.8,
    "bomb": 1.2,
    "bombing": 1.6,
    "explosion": 1.6,
    "exploded": 1.4,
    "blast": 1.0,
    "tiroteo": 1.8,
    "disparos": 1.5,
    "balacera": 1.8,
    "pistolero": 1.6,
    "apunalado": 1.5,
    "rehenes": 1.8,
    # "explosion" (Spanish "explosión") is listed with the English terms: folding makes them one.
    "estallido": 1.4,
    "bomba": 1.0,
    # Fire
    "fire": 1.0,
    "on fire": 1.2,
    "house fire": 1.8,
    "wildfire": 1.8,
    "brush fire": 1.6,
    "bushfire": 1.8,
    "flames": 1.0,
    "smoke": 0.5,
    "burning": 0.7,
    "incendio": 1.6,
    "incendio forestal": 2.0,
    "fuego": 1.0,
    "llamas": 0.6,
    "humo": 0.5,
    "quemando": 0.7,
    # Water and weather
    "flood": 1.4,
    "flooding": 1.5,
    "flash flood": 2.0,
    "flooded": 1.3,
    "tornado": 1.6,
    "hurricane": 1.4,
    "earthquake": 1.6,
    "landslide": 1.6,
    "mudslide": 1.6,
    "tsunami": 1.8,
    "inundacion": 1.5,
    "inundaciones": 1.5,
    "inundado": 1.3,
    "crecida": 1.0,
    "huracan": 1.4,
    "terremoto": 1.6,
    "sismo": 1.5,
    "temblor": 1.2,
    "deslave": 1.6,
    "deslizamiento": 1.2,
    # People in danger
    "evacuate": 1.5,
    "evacuated": 1.4,
    "evacuation": 1.4,
    "injured": 1.2,
    "injuries": 1.1,
    "wounded": 1.3,
    "casualties": 1.4,
    "dead": 0.8,
    "killed": 1.1,
    "trapped": 1.6,
    "missing child": 2.0,
    "missing person": 1.6,
    "amber alert": 2.0,
    "help us": 0.8,
    "need help": 0.8,
    "rescue": 1.0,
    "unconscious": 1.3,
    "not breathing": 2.0,
    "call 911": 1.8,
    "evacuar": 1.5,
    "evacuacion": 1.4,
    "evacuados": 1.4,
    "evacuan": 1.4,
    "evacuando": 1.4,
    "herido": 1.2,
    "heridos": 1.2,
    "lesionados": 1.1,
    "muertos": 1.0,
    "fallecidos": 1.0,
    "atrapado": 1.6,
    "atrapados": 1.6,
    "nino desaparecido": 2.0,
    "nina desaparecida": 2.0,
    "persona desaparecida": 1.6,
    "desaparecido": 1.0,
    "rescate": 1.0,
    "auxilio": 1.4,
    "socorro": 1.4,
    "ayuda urgente": 1.6,
    "llamen al 911": 1.8,
    # Structures, hazards, transport
    "collapse": 1.4,
    "collapsed": 1.5,
    "building collapse": 2.0,
    "gas leak": 2.0,
    "smell of gas": 1.6,
    "chemical spill": 1.8,
    "power lines down": 1.6,
    "crash": 1.0,
    "car crash": 1.6,
    "plane crash": 2.0,
    "derailed": 1.8,
    "derailment": 1.8,
    "pileup": 1.5,
    "hit and run": 1.5,
    "emergency": 0.8,
    "ambulance": 0.9,
    "paramedics": 1.0,
    "first responders": 0.9,
    "derrumbe": 1.6,
    "colapso": 1.4,
    "se derrumbo": 1.6,
    "fuga de gas": 2.0,
    "olor a gas": 1.6,
    "derrame quimico": 1.8,
    "choque": 1.0,
    "accidente": 0.9,
    "volcadura": 1.4,
    "descarrilamiento": 1.8,
    "atropellado": 1.3,
    "emergencia": 0.8,
    "ambulancia": 0.9,
    "bomberos": 0.9,
    "paramedicos": 1.0,
}

# Phrases that usually mean the emergency words around them are not an emergency.
DAMPENERS: dict[str, float] = {
    "fire sale": 2.0,
    "ceasefire": 1.0,
    "fire emoji": 1.0,
    "this is fire": 1.5,
    "mixtape": 1.5,
    "drill": 1.0,
    "exercise": 0.6,
    "simulation": 1.0,
    "video game": 1.5,
    "movie": 1.0,
    "trailer": 1.0,
    "album": 1.0,
    "simulacro": 1.2,
    "pelicula": 1.0,
    "videojuego": 1.5,
}


def fold(text: str) -> str:
    """Casefold ``text`` and remove accents, so "Explosión" and "explosion" are one word."""
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _pattern(terms: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so "active shooter" is preferred to "shooter" at the same position;
    # both still count, because overlapping phrases are found by the lookahead.
    alternatives = "|".join(re.escape(fold(t)) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?=(?<!\w)({alternatives})(?!\w))")


class LexiconScorer:
    """Scores posts for emergency relevance with the weighted ``TERMS`` and ``DAMPENERS``."""

    name = "lexicon"

    def __init__(
        self, terms: dict[str, float] | None = None, dampeners: dict[str, float] | None = None
    ) -> None:
        self.terms = {fold(k): v for k, v in (terms if terms is not None else TERMS).items()}
        self.dampeners = {
            fold(k): v for k, v in (dampeners if dampeners is not None else DAMPENERS).items()
        }
        self._terms_re = _pattern(list(self.terms))
        self._dampeners_re = _pattern(list(self.dampeners))

    def matches(self, text: str) -> list[str]:
        """The lexicon's terms found in ``text``, each once, in order of first appearance."""
        return list(dict.fromkeys(self._terms_re.findall(fold(text))))

    def score(self, text: str) -> float:
        """The emergency relevance of one post, 0..1 (see the module's docstring)."""
        folded = fold(text)
        total = sum(self.terms[t] for t in set(self._terms_re.findall(folded)))
        if total <= 0:
            return 0.0
        total -= sum(self.dampeners[t] for t in set(self._dampeners_re.findall(folded)))
        return 0.0 if total <= 0 else 1.0 - math.exp(-total)

    def score_many(self, texts: Sequence[str]) -> list[float]:
        """The emergency relevance of each post, 0..1, in order."""
        return [self.score(text) for text in texts]

    def categorise_many(self, texts: Sequence[str]) -> list[str]:
        """The lexicon has no categories: "" for every post."""
        return ["" for _ in texts]
