"""Near-duplicate matched posts (retweets, copies, lightly edited quotes) clustered into
stories, so an analyst reads one story instead of 400 copies.

MinHash over word 3-shingles with locality-sensitive hashing: 64 hash functions in 16 bands of
4 rows, so two posts whose shingle sets overlap by a Jaccard similarity of about 0.5 or more
share a band (and a story) with high probability, and posts below about 0.3 rarely do. A
retweet prefix ("rt @name:"), links and mentions are ignored. Only matched posts reach this,
and only stories seen within ``WATCHHOUSE_MONITORING_STORY_WINDOW_SECONDS`` are joined; memory
is bounded by what the window holds.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import OrderedDict

import numpy as np

_PERMUTATIONS = 64
_BANDS = 16
_ROWS = _PERMUTATIONS // _BANDS
_RETWEET = re.compile(r"^(?:rt\s+@[^\s:]+:?\s*)+")
_NOISE = re.compile(r"https?://\S+|@\w+|#")
_WORD = re.compile(r"\w+")
# Most bands remembered at once (16 per story: 10,000 stories), whatever the window: a flood
# of distinct matched posts cannot grow memory without bound.
_MAX_BANDS = 160_000

_rng = np.random.default_rng(20160813)
_A = _rng.integers(1, 1 << 32, size=_PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, 1 << 32, size=_PERMUTATIONS, dtype=np.uint64)


def story_text(text_norm: str) -> list[str]:
    """The words a story is recognised by: no retweet prefix, links, mentions or '#'."""
    return _WORD.findall(_NOISE.sub(" ", _RETWEET.sub("", text_norm)))


def minhash(words: list[str]) -> np.ndarray:
    """The MinHash signature (64 uint64 values) of the word 3-shingles."""
    if len(words) < 3:
        shingles = [" ".join(words)]
    else:
        shingles = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    # CRC-32 is stable across processes (a story's signature is stored) and cheap.
    hashes = np.fromiter((zlib.crc32(s.encode()) for s in set(shingles)), dtype=np.uint64)
    # (a·x + b) over uint64 wraps; that is still a fine family of hash functions for MinHash.
    values = np.outer(hashes, _A) + _B
    return values.min(axis=0)


class StoryClusterer:
    """Remembers recent stories' LSH bands; :meth:`assign` gives each post its story's
    signature (a new one for a new story)."""

    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        # hash of (band, its rows) → (story signature, last seen, as a POSIX time), oldest
        # first. A 64-bit hash instead of the bytes keeps memory small; a collision would
        # only join two stories.
        self._bands: OrderedDict[int, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bands)

    def assign(self, text_norm: str, at: float) -> str:
        """The signature of the story the post belongs to (seen within the window), or a new
        signature; ``at`` is the time in seconds."""
        self._expire(at)
        words = story_text(text_norm)
        if not words:
            words = text_norm.split() or [""]
        signature = minhash(words)
        keys = [
            hash((band, signature[band * _ROWS : (band + 1) * _ROWS].tobytes()))
            for band in range(_BANDS)
        ]
        story = ""
        for key in keys:
            found = self._bands.get(key)
            if found is not None:
                story = found[0]
                break
        if not story:
            story = hashlib.blake2b(signature.tobytes(), digest_size=16).hexdigest()
        for key in keys:
            self._bands[key] = (story, at)
            self._bands.move_to_end(key)
        while len(self._bands) > _MAX_BANDS:
            self._bands.popitem(last=False)
        return story

    def _expire(self, now: float) -> None:
        cutoff = now - self.window
        while self._bands:
            key, (_story, seen) = next(iter(self._bands.items()))
            if seen >= cutoff:
                break
            del self._bands[key]
