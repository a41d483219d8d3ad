"""Exact per-key, per-minute rate limits (fixed windows aligned to the UTC minute).

A bucket (an API key id, a mobile session's owner, or ``ip:<addr>`` for anonymous callers) may
make ``limit`` requests in each minute ``[60k, 60(k+1))``; request ``limit + 1`` of that minute
and every later one is refused until the window resets. ``limit == 0`` means unlimited. Counting
is in memory, per process; with ``redis_url`` set, :class:`origin.shared.RedisRateLimiter` keeps
the same contract across every process and origin. Callers use the coroutines :meth:`ahit` and
:meth:`apeek`, which both limiters provide.

Headers (:meth:`RateLimitResult.headers`): ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``,
``X-RateLimit-Reset`` (unix seconds of the window end) and, when refused, ``Retry-After``
(seconds until reset). For unlimited buckets Limit and Remaining are the string ``unlimited``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimitResult", "WINDOW_SECONDS"]

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        if self.limit == 0:
            h = {"X-RateLimit-Limit": "unlimited", "X-RateLimit-Remaining": "unlimited"}
        else:
            h = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        h["X-RateLimit-Reset"] = str(self.reset)
        if not self.allowed:
            h["Retry-After"] = str(self.retry_after)
        return h


class RateLimiter:
    """Fixed-window counters.

    Parameters
    ----------
    clock : callable
        Returns unix time in seconds (injectable for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._last_prune = -1

    def hit(self, bucket: str, limit: int, cost: int = 1) -> RateLimitResult:
        """Count one request of ``bucket`` against ``limit``/minute and say if it is allowed."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        reset = (window + 1) * WINDOW_SECONDS
        retry_after = max(1, math.ceil(reset - now))
        with self._lock:
            if window != self._last_prune:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
                self._last_prune = window
            w, count = self._counts.get(bucket, (window, 0))
            if w != window:
                count = 0
            if limit == 0:
                self._counts[bucket] = (window, count + cost)
                return RateLimitResult(True, 0, 0, reset, retry_after)
            if count + cost > limit:
                self._counts[bucket] = (window, count)
                return RateLimitResult(False, limit, max(0, limit - count), reset, retry_after)
            count += cost
            self._counts[bucket] = (window, count)
            return RateLimitResult(True, limit, limit - count, reset, retry_after)

    async def ahit(self, bucket: str, limit: int, cost: int = 1) -> RateLimitResult:
        """:meth:`hit` (the interface shared with the Redis limiter)."""
        return self.hit(bucket, limit, cost)

    async def apeek(self, bucket: str, limit: int) -> RateLimitResult:
        """:meth:`peek` (the interface shared with the Redis limiter)."""
        return self.peek(bucket, limit)

    def peek(self, bucket: str, limit: int) -> RateLimitResult:
        """The current state of ``bucket`` without counting a request."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        reset = (window + 1) * WINDOW_SECONDS
        with self._lock:
            w, count = self._counts.get(bucket, (window, 0))
        if w != window:
            count = 0
        remaining = 0 if limit == 0 else max(0, limit - count)
        return RateLimitResult(True, limit, remaining, reset, max(1, math.ceil(reset - now)))
