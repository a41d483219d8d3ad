"""State shared by several origins through Redis (``redis_url``), with redis-py's asyncio client.

Without ``redis_url`` nothing here runs: rate limits, sessions and config stay in process memory.

==================  ===========================================================================
what                how (keys under ``aimixer:``)
==================  ===========================================================================
rate limits         one Lua script per request (:data:`RATE_LIMIT_LUA`): reads Redis' own clock,
                    checks and increments ``rl:{bucket}:{minute}`` atomically, so N origins
                    together accept exactly ``limit`` requests per key per UTC minute
mixer sessions      ``session:{owner}:{id}``: the state blob of :mod:`origin.sessionstate`,
                    written after each call (TTL ``session_ttl``); a call holds the lock
                    ``session:{owner}:{id}:lock`` (redis-py ``Lock``: 10 s timeout, so a dead
                    origin's lock expires)
config              ``PUT /config`` writes the database, then publishes on ``config``; every
                    origin re-reads the config when it hears it (and every second anyway)
==================  ===========================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from origin.ratelimit import RateLimitResult
from origin.sessions import SessionEntry
from origin.sessionstate import SessionStateError, dump_session, load_session

__all__ = ["SharedState", "RedisRateLimiter", "RedisSessions", "PREFIX", "RATE_LIMIT_LUA", "connect"]

log = logging.getLogger("origin.shared")

PREFIX = "aimixer:"

#: KEYS[1] = bucket key prefix; ARGV = limit, cost, window seconds. Returns
#: {allowed (0/1), count in the window, window index, reset (unix s), milliseconds to reset}.
RATE_LIMIT_LUA = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win = tonumber(ARGV[3])
local w = math.floor(now_ms / (win * 1000))
local key = KEYS[1] .. ':' .. w
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local c = tonumber(redis.call('GET', key) or '0')
local reset = (w + 1) * win
local left_ms = reset * 1000 - now_ms
if cost == 0 then
  return {1, c, w, reset, left_ms}
end
if limit > 0 and c + cost > limit then
  return {0, c, w, reset, left_ms}
end
c = redis.call('INCRBY', key, cost)
if c == cost then
  redis.call('EXPIRE', key, win + 5)
end
return {1, c, w, reset, left_ms}
"""


def connect(url: str) -> Any:
    """A redis-py asyncio client for ``url`` (connection pool; bytes replies)."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


class RedisRateLimiter:
    """:class:`origin.ratelimit.RateLimiter`'s contract, counted in Redis for every origin."""

    def __init__(self, client: Any, window: int = 60) -> None:
        self.client = client
        self.window = window
        self._script = client.register_script(RATE_LIMIT_LUA)

    async def _run(self, bucket: str, limit: int, cost: int) -> RateLimitResult:
        allowed, count, _w, reset, left_ms = await self._script(
            keys=[f"{PREFIX}rl:{bucket}"], args=[limit, cost, self.window]
        )
        retry_after = max(1, -(-int(left_ms) // 1000))
        if limit == 0:
            return RateLimitResult(True, 0, 0, int(reset), retry_after)
        return RateLimitResult(bool(allowed), limit, max(0, limit - int(count)), int(reset), retry_after)

    async def ahit(self, bucket: str, limit: int, cost: int = 1) -> RateLimitResult:
        """Count one request of ``bucket`` against ``limit``/minute (atomic across origins)."""
        return await self._run(bucket, limit, cost)

    async def apeek(self, bucket: str, limit: int) -> RateLimitResult:
        """The current state of ``bucket`` without counting."""
        return await self._run(bucket, limit, 0)


class RedisSessions:
    """Mixer sessions kept in Redis between calls, so a ``sessionId`` continues on any origin.

    ``async with sessions.checkout(owner, sid, factory) as entry`` locks the session, restores it
    (or makes a fresh one with ``factory()``), yields a :class:`SessionEntry` and writes the state
    back when the block ends. ``handoff_ms`` accumulates the time spent restoring and saving.
    """

    LOCK_TIMEOUT = 10.0  # a dead origin's lock expires after this
    LOCK_WAIT = 10.0  # a concurrent call on the same session waits at most this long

    def __init__(self, client: Any, ttl: float) -> None:
        self.client = client
        self.ttl = max(1, int(ttl))
        self.handoff_ms = 0.0
        self.calls = 0

    def _key(self, owner: str, sid: str) -> str:
        return f"{PREFIX}session:{owner}:{sid}"

    @contextlib.asynccontextmanager
    async def checkout(self, owner: str, sid: str, factory: Callable[[], Any]) -> AsyncIterator[SessionEntry]:
        from redis.exceptions import LockError

        key = self._key(owner, sid)
        lock = self.client.lock(
            key + ":lock", timeout=self.LOCK_TIMEOUT, blocking_timeout=self.LOCK_WAIT, thread_local=False
        )
        if not await lock.acquire():
            raise TimeoutError(f"session {sid} is busy on another origin")
        try:
            t0 = time.perf_counter()
            blob = await self.client.get(key)
            meta: dict[str, Any] = {}
            session = None
            if blob is not None:
                try:
                    session, meta = load_session(blob)
                except SessionStateError as exc:
                    log.warning("session %s: stored state unusable (%s); starting fresh", sid, exc)
            if session is None:
                session = factory()
            now = time.monotonic()
            entry = SessionEntry(sid, owner, session, now, now, frames=int(meta.get("frames", 0)))
            entry.meta.update(meta.get("meta", {}))
            spent = time.perf_counter() - t0
            yield entry
            t1 = time.perf_counter()
            keep = {k: v for k, v in entry.meta.items() if k == "voiceActivity"}
            await self.client.set(
                key, dump_session(entry.session, {"frames": entry.frames, "meta": keep}), ex=self.ttl
            )
            spent += time.perf_counter() - t1
            self.handoff_ms += spent * 1000.0
            self.calls += 1
        finally:
            with contextlib.suppress(LockError):
                await lock.release()

    async def remove(self, owner: str, sid: str) -> None:
        await self.client.delete(self._key(owner, sid))


class SharedState:
    """The Redis-backed pieces of one origin process (``app.extensions["shared"]``)."""

    def __init__(self, url: str, *, session_ttl: float = 900.0) -> None:
        self.url = url
        self.client = connect(url)
        self.limiter = RedisRateLimiter(self.client)
        self.sessions = RedisSessions(self.client, session_ttl)
        self._tasks: list[asyncio.Task[Any]] = []

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except Exception:
            return False

    async def publish(self, channel: str, message: str | bytes) -> None:
        await self.client.publish(PREFIX + channel, message)

    def subscribe(self, channel: str, handler: Callable[[bytes], Awaitable[None]]) -> None:
        """Call ``handler(data)`` for every message on ``channel`` (reconnects after errors)."""

        async def loop() -> None:
            while True:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(PREFIX + channel)
                    async for msg in pubsub.listen():
                        if msg.get("type") == "message":
                            with contextlib.suppress(Exception):
                                await handler(msg["data"])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("redis subscription %s lost (%s); retrying", channel, exc)
                    await asyncio.sleep(1.0)
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

        self._tasks.append(asyncio.get_running_loop().create_task(loop()))

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.client.aclose()
