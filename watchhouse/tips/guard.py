"""Counting a client's tips and wrong passphrases without remembering the client.

Counters live in the cache under an HMAC of the client address and the current window, keyed
by SECRET_KEY: the hash changes every window, is never stored with a tip, and expires with
the window.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache


def _key(bucket: str, who: str, window_seconds: int) -> tuple[str, int]:
    window = int(time.time()) // window_seconds
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{bucket}|{window}|{who}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"tips:{bucket}:{digest}", window_seconds + 5


def over_limit(bucket: str, who: str, *, limit: int, window_seconds: int) -> bool:
    """True when ``who`` has already been counted ``limit`` times in this window."""
    key, _ = _key(bucket, who, window_seconds)
    return int(cache.get(key) or 0) >= limit


def count(bucket: str, who: str, *, window_seconds: int) -> int:
    """Count one more for ``who`` in this window; return the count."""
    key, timeout = _key(bucket, who, window_seconds)
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1
