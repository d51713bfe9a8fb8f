"""The stream: from a batch of public posts to the few worth an analyst's time.

:meth:`StreamProcessor.process` touches no database. For each post, in order:

1. exact duplicates are dropped: a post already seen (its ``key``: source and remote id) or the
   same author posting the same text again (bounded memories of recent keys and texts);
2. a giant post (over ``WATCHHOUSE_MONITORING_MAX_POST_CHARS``) is refused and counted;
3. the text is normalised against Unicode evasion (:func:`normalise_text`);
4. places: coordinates the post carries, and place names of the gazetteer in its text;
5. the phrase automaton of every live rule runs, giving the candidate rules;
6. the classifier scores the post, in one batch call per batch. It runs only for posts that
   could match: those with a candidate rule or a place in the jurisdiction. A post with
   neither can match no rule and cannot be a classifier-only match (which needs a local
   place), so scoring it would change nothing;
7. rules are decided (place, language, window, author, score), and a classifier-only match is
   made when the score reaches ``WATCHHOUSE_MONITORING_ALERT_SCORE`` and the post has a place
   in the jurisdiction, named or carried;
8. matched posts are clustered into stories (:mod:`~watchhouse.monitoring.stories`).

Posts that match nothing are only counted (``discarded``); they are never stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from watchhouse.monitoring.matching import CompiledRules, Pending, RuleHit
from watchhouse.monitoring.normalise import normalise_text
from watchhouse.monitoring.places import Gazetteer, Place
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.stories import StoryClusterer

COUNT_NAMES = (
    "received",
    "duplicates",
    "refused_giant",
    "refused_malformed",
    "matched",
    "discarded",
    "shed",
)
# How many recent post keys and author texts are remembered for exact-duplicate detection.
DEDUPE_MEMORY = 200_000
STORY_TITLE_CHARS = 300


class Scorer(Protocol):
    name: str

    def score_many(self, texts: Sequence[str]) -> list[float]: ...


@dataclasses.dataclass(slots=True)
class MatchedItem:
    """A post the stream keeps, with every reason."""

    post: PublicPost
    text_norm: str
    places: list[Place]
    score: float | None
    pending: Pending
    classifier_hit: bool
    story: str = ""
    category: str = ""
    # The first place in the jurisdiction (what a classifier-only match rests on).
    local: Place | None = None

    @property
    def hits(self) -> list[RuleHit]:
        """The rules matched, each with its reason (built on each access)."""
        return self.pending.hits(self.score)

    @property
    def title(self) -> str:
        return " ".join(self.post.text.split())[:STORY_TITLE_CHARS]


@dataclasses.dataclass(slots=True)
class BatchResult:
    """What one batch came to: the matched posts and the counts by name."""

    matched: list[MatchedItem]
    counts: dict[str, int]
    scorer_name: str = ""
    scored: int = 0
    # What the duplicate memory learnt from this batch, so a batch that could not be stored
    # can be forgotten and read again.
    remembered: list[str] = dataclasses.field(default_factory=list)


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def seen(self, key: str) -> bool:
        """Whether ``key`` was seen; remembers it either way."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return False

    def forget(self, key: str) -> None:
        self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)


class StreamState:
    """What the stream remembers between batches: recent posts (for duplicates) and recent
    stories."""

    def __init__(self, *, memory: int = DEDUPE_MEMORY, window_seconds: float | None = None):
        if window_seconds is None:
            window_seconds = float(settings.WATCHHOUSE_MONITORING_STORY_WINDOW_SECONDS)
        self.seen = _Lru(memory)
        self.stories = StoryClusterer(window_seconds)
        self.lock = threading.Lock()


def _text_key(post: PublicPost, text_norm: str) -> str:
    return (
        "t"
        + hashlib.blake2b(
            f"{post.source}\x00{post.author_handle.casefold()}\x00{text_norm}".encode(),
            digest_size=16,
        ).hexdigest()
    )


class StreamProcessor:
    """Turns batches of posts into matches (see the module docstring); thread-safe."""

    def __init__(
        self,
        rules: CompiledRules,
        gazetteer: Gazetteer,
        scorer: Scorer,
        *,
        now: Callable[[], datetime] = timezone.now,
        state: StreamState | None = None,
    ) -> None:
        self.rules = rules
        self.gazetteer = gazetteer
        self.scorer = scorer
        self.now = now
        self.state = state or StreamState()
        self.alert_score = float(settings.WATCHHOUSE_MONITORING_ALERT_SCORE)
        self.max_chars = int(settings.WATCHHOUSE_MONITORING_MAX_POST_CHARS)

    def could_match(self, post: PublicPost) -> bool:
        """The cheap test back-pressure sheds by: False only for a post that can match
        nothing (no candidate phrase or author, no place named or carried)."""
        if not isinstance(post, PublicPost) or not isinstance(post.text, str):
            return True  # kept, so that process() counts it as refused, not as shed
        if len(post.text) > self.max_chars:
            return True
        if post.lat is not None and post.lon is not None:
            return True
        text_norm = normalise_text(post.text)
        return self.rules.could_match(post, self.rules.fired(text_norm)) or (
            self.gazetteer.has_name(text_norm)
        )

    def process(self, posts: Iterable[PublicPost]) -> BatchResult:
        """Decide every post of the batch; touches no database."""
        counts = dict.fromkeys(COUNT_NAMES, 0)
        now = self.now()
        remembered: list[str] = []
        # (post, normalised text, places, rules matched but for the score, a local place)
        work: list[tuple[PublicPost, str, list[Place], Pending, Place | None]] = []
        with self.state.lock:
            for post in posts:
                counts["received"] += 1
                if not isinstance(post, PublicPost) or not isinstance(post.text, str):
                    counts["refused_malformed"] += 1
                    continue
                if len(post.text) > self.max_chars:
                    counts["refused_giant"] += 1
                    continue
                key = post.key
                if self.state.seen.seen(key):
                    counts["duplicates"] += 1
                    continue
                remembered.append(key)
                text_norm = normalise_text(post.text)
                if post.author_handle:
                    text_key = _text_key(post, text_norm)
                    if self.state.seen.seen(text_key):
                        counts["duplicates"] += 1
                        continue
                    remembered.append(text_key)
                places = self.gazetteer.extract(text_norm)
                if post.lat is not None and post.lon is not None:
                    places.insert(0, self.gazetteer.carried(post.lat, post.lon))
                local = next((p for p in places if self.gazetteer.is_local(p)), None)
                fired = self.rules.fired(text_norm)
                pending = self.rules.pending(post, fired, places, now=now)
                if not pending and local is None:
                    counts["discarded"] += 1
                    continue
                work.append((post, text_norm, places, pending, local))

        scores = self.scorer.score_many([w[1] for w in work]) if work else []
        matched: list[MatchedItem] = []
        for (post, text_norm, places, pending, local), score in zip(work, scores, strict=True):
            classifier_hit = local is not None and score >= self.alert_score
            if not classifier_hit and not pending.any_hit(score):
                counts["discarded"] += 1
                continue
            matched.append(
                MatchedItem(post, text_norm, places, score, pending, classifier_hit, local=local)
            )
        if matched:
            categorise = getattr(self.scorer, "categorise_many", None)
            if categorise is not None:
                for item, category in zip(
                    matched, categorise([m.text_norm for m in matched]), strict=True
                ):
                    item.category = category or ""
            at = now.timestamp()
            with self.state.lock:
                for item in matched:
                    item.story = self.state.stories.assign(item.text_norm, at)
        counts["matched"] = len(matched)
        return BatchResult(
            matched=matched,
            counts=counts,
            scorer_name=getattr(self.scorer, "name", ""),
            scored=len(work),
            remembered=remembered,
        )

    def forget(self, result: BatchResult) -> None:
        """Forget the batch's posts as duplicates (its store failed; it will be read again)."""
        with self.state.lock:
            for key in result.remembered:
                self.state.seen.forget(key)


# The processor of this process, rebuilt when what it was built from changes.

_current: tuple[tuple[Any, ...], StreamProcessor] | None = None
_current_lock = threading.Lock()


def _model_mtime() -> float:
    path = settings.WATCHHOUSE_MONITORING_MODEL
    try:
        return Path(path).stat().st_mtime if path else 0.0
    except OSError:
        return 0.0


def fingerprint() -> tuple[Any, ...]:
    """What the processor is built from, in a few small queries: rules, areas, streets,
    landmarks and the classifier's model file."""
    from django.db.models import Count, Max

    from watchhouse.geo.models import Area
    from watchhouse.geocode.models import AddressPoint
    from watchhouse.monitoring.models import Landmark, RuleState, WatchRule

    now = timezone.now()
    rules = WatchRule.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    live = WatchRule.objects.filter(state=RuleState.ACTIVE, expires_at__gt=now).count()
    areas = Area.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    streets = AddressPoint.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    landmarks = hash(tuple(Landmark.objects.order_by("id").values_list("id", "name", "lat", "lon")))
    landmark_aliases = hash(str(list(Landmark.objects.order_by("id").values_list("aliases"))))
    return (
        rules["n"],
        rules["changed"],
        live,
        areas["n"],
        areas["changed"],
        streets["n"],
        streets["changed"],
        landmarks,
        landmark_aliases,
        _model_mtime(),
    )


def processor_current() -> StreamProcessor:
    """This process's processor: built from the database and the classifier, and rebuilt
    when rules, areas, streets, landmarks or the model change.

    A rebuild starts with empty duplicate and story memory. Nothing is lost by that: a post
    delivered again is still stored once (the store skips posts it holds), and a copy of a
    story's post still finds the story (its signature depends only on the text).
    """
    global _current
    mark = fingerprint()
    current = _current
    if current is not None and current[0] == mark:
        return current[1]
    with _current_lock:
        if _current is not None and _current[0] == mark:
            return _current[1]
        from watchhouse.monitoring.classifier import scorer_load

        processor = StreamProcessor(
            CompiledRules.from_database(),
            Gazetteer.from_database(),
            scorer_load(),
            state=StreamState(),
        )
        _current = (mark, processor)
    return processor


def processor_forget() -> None:
    """Drop this process's processor and its memory (tests; a fresh start)."""
    global _current
    with _current_lock:
        _current = None
