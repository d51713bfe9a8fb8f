"""Pacing sends per channel, and counting requests per client, through the cache.

With Redis as the cache the limits hold across every worker and web process; with the
local-memory cache they hold per process.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache

# Messages per second per channel unless WATCHHOUSE_NOTIFY_RATE_LIMITS says otherwise.
DEFAULT_RATES = {"email": 50, "push": 200, "sms": 10, "webhook": 50}


def channel_rate(channel: str) -> int:
    """Messages per second the channel may send (0: no limit)."""
    rates = {**DEFAULT_RATES, **getattr(settings, "WATCHHOUSE_NOTIFY_RATE_LIMITS", {})}
    return int(rates.get(channel, 0))


def rate_wait(channel: str) -> None:
    """Block until one more message may go out on ``channel`` this second."""
    limit = channel_rate(channel)
    if limit <= 0:
        return
    while True:
        now = time.time()
        key = f"notify:rate:{channel}:{int(now)}"
        cache.add(key, 0, timeout=5)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr
            continue
        if used <= limit:
            return
        time.sleep(max(int(now) + 1 - now, 0.001))


def client_key(address: str) -> str:
    """A keyed hash of a client address: counters never hold the address itself."""
    digest = hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def client_hit(bucket: str, address: str, *, limit: int, window_seconds: int) -> bool:
    """Count one request of ``address`` in ``bucket``; False once it is over ``limit`` in the
    current window."""
    window = int(time.time()) // window_seconds
    key = f"notify:client:{bucket}:{client_key(address)}:{window}"
    cache.add(key, 0, timeout=window_seconds + 5)
    try:
        used = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=window_seconds + 5)
        used = 1
    return used <= limit
