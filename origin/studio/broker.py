"""Level fan-out to WebSocket clients with bounded per-client queues.

One ticker task runs at a steady rate (``rate_hz``, 10 Hz by default) on absolute deadlines,
so the rate does not drift. Each tick it takes one snapshot of every recorder's levels (a cheap
read of in-memory state the supervisor keeps), builds each distinct message once (per scope:
"all recorders", "all recorders of studio X", "recorder N"), serialises it once, and offers the
same string to every subscriber with that scope.

Back-pressure: every subscriber has a bounded queue (``queue_size`` messages). When it is full
the *oldest* message is dropped and counted (a slow client skips frames, it never sees stale
levels and never delays anyone else). A client that makes no progress for ``kick_after_s``
seconds is kicked (its handler task is cancelled and its socket closed). The ticker never
awaits a client, so capture and other clients can never be stalled by one.

A ``{"type": "keepalive"}`` message goes to every client every ``keepalive_s`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LevelBroker", "Subscriber", "sanitize_channels", "FLOOR_DB"]

#: dB value sent for silence / no signal (JSON has no -inf).
FLOOR_DB = -120.0

KEEPALIVE = json.dumps({"type": "keepalive"})
PONG = json.dumps({"type": "pong"})


def _num(v: Any, floor: float = FLOOR_DB) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return floor
    if math.isnan(f) or f == -math.inf:
        return floor
    if f == math.inf:
        return 0.0
    return round(max(f, floor), 2)


def sanitize_channels(channels: Any) -> list[dict[str, Any]]:
    """Normalise engine channel levels to the spec's ``ChannelLevel`` (finite JSON numbers)."""
    out: list[dict[str, Any]] = []
    if not isinstance(channels, list):
        return out
    for i, ch in enumerate(channels):
        if not isinstance(ch, dict):
            continue
        lin = ch.get("level_linear", 0.0)
        try:
            lin_f = float(lin)
            if not math.isfinite(lin_f):
                lin_f = 0.0
        except (TypeError, ValueError):
            lin_f = 0.0
        out.append(
            {
                "name": str(ch.get("name") or f"Ch{i + 1}"),
                "level_db": _num(ch.get("level_db")),
                "level_linear": round(lin_f, 5),
                "peak_db": _num(ch.get("peak_db")),
                "true_peak_db": _num(ch.get("true_peak_db", ch.get("peak_db"))),
                "clipping": bool(ch.get("clipping", False)),
            }
        )
    return out


@dataclass(eq=False)
class Subscriber:
    """One WebSocket client.

    ``studio_id`` limits an ``all`` subscription to that studio's recorders (studio users);
    ``recorder_id`` makes it a single-recorder subscription.
    """

    studio_id: str | None = None
    recorder_id: int | None = None
    queue_size: int = 8
    queue: asyncio.Queue[str | None] = field(init=False)
    sent: int = 0
    dropped: int = 0
    level_messages: int = 0
    task: asyncio.Task[Any] | None = None
    closed: bool = False
    close_reason: str = ""
    _last_progress: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size)

    def offer(self, msg: str | None) -> None:
        """Enqueue without ever blocking; drop the oldest queued message when full."""
        if self.closed:
            return
        if self.queue.full():
            try:
                self.queue.get_nowait()
                self.dropped += 1
            except asyncio.QueueEmpty:  # pragma: no cover - single-threaded, cannot happen
                pass
        else:
            self._last_progress = time.monotonic()
        self.queue.put_nowait(msg)

    async def get(self) -> str | None:
        """Next message (``None`` means: close)."""
        msg = await self.queue.get()
        self._last_progress = time.monotonic()
        return msg

    def kick(self, reason: str) -> None:
        """Close this subscriber now (cancels its handler task)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        if self.task is not None and not self.task.done():
            self.task.cancel()


class LevelBroker:
    """Steady-rate fan-out of recorder levels.

    Parameters
    ----------
    snapshot : callable
        Returns the current list of recorder level dicts, each with ``recorder_id``,
        ``recorder_name``, ``studio_id``, ``state`` and ``channels`` (already sanitised).
    rate_hz : float
        Messages per second per client (documented: 10).
    queue_size : int
        Per-client bound.
    keepalive_s : float
        Seconds between keepalive messages.
    kick_after_s : float
        A client whose queue stays full this long is disconnected.
    """

    def __init__(
        self,
        snapshot: Callable[[], list[dict[str, Any]]],
        *,
        rate_hz: float = 10.0,
        queue_size: int = 8,
        keepalive_s: float = 15.0,
        kick_after_s: float = 10.0,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz={rate_hz} must be > 0")
        self.snapshot = snapshot
        self.rate_hz = float(rate_hz)
        self.queue_size = int(queue_size)
        self.keepalive_s = float(keepalive_s)
        self.kick_after_s = float(kick_after_s)
        self.subscribers: set[Subscriber] = set()
        self.ticks = 0
        self.skipped_ticks = 0
        self.kicked = 0
        self._task: asyncio.Task[None] | None = None

    # -- subscription -------------------------------------------------------------------------
    def subscribe(self, *, studio_id: str | None = None, recorder_id: int | None = None) -> Subscriber:
        """Register a client; its handler should set ``sub.task`` and call :meth:`unsubscribe`."""
        sub = Subscriber(studio_id=studio_id, recorder_id=recorder_id, queue_size=self.queue_size)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        sub.closed = True

    # -- messages -----------------------------------------------------------------------------
    @staticmethod
    def build_all(recorders: list[dict[str, Any]], studio_id: str | None, ts: float) -> str:
        recs = [r for r in recorders if studio_id is None or r.get("studio_id") == studio_id]
        return json.dumps({"type": "all_levels", "timestamp": round(ts, 3), "recorders": recs})

    @staticmethod
    def build_one(rec: dict[str, Any], ts: float) -> str:
        return json.dumps(
            {
                "type": "levels",
                "recorder_id": rec["recorder_id"],
                "state": rec["state"],
                "channels": rec["channels"],
                "timestamp": round(ts, 3),
            }
        )

    def publish_event(self, recorder_id: int, studio_id: str | None, event: dict[str, Any]) -> None:
        """Offer an alert ``{"type": "event", ...}`` to the subscribers that see ``recorder_id``
        (its single-recorder subscribers, the ``all`` subscribers of its studio and admins)."""
        msg = json.dumps({"type": "event", "recorder_id": recorder_id, **event}, default=str)
        for sub in list(self.subscribers):
            if sub.recorder_id is not None:
                if sub.recorder_id == recorder_id:
                    sub.offer(msg)
            elif sub.studio_id is None or sub.studio_id == studio_id:
                sub.offer(msg)

    def tick(self) -> None:
        """Build and offer one round of messages (synchronous, never awaits a client)."""
        self.ticks += 1
        if not self.subscribers:
            return
        recs = self.snapshot()
        by_id = {r["recorder_id"]: r for r in recs}
        ts = time.time()
        cache: dict[tuple[Any, ...], str | None] = {}
        keepalive = self.keepalive_s > 0 and self.ticks % max(1, round(self.keepalive_s * self.rate_hz)) == 0
        now = time.monotonic()
        for sub in list(self.subscribers):
            if sub.closed:
                continue
            if sub.queue.full() and now - sub._last_progress > self.kick_after_s:
                self.kicked += 1
                sub.kick("client too slow")
                continue
            if sub.recorder_id is None:
                key: tuple[Any, ...] = ("all", sub.studio_id)
                if key not in cache:
                    cache[key] = self.build_all(recs, sub.studio_id, ts)
            else:
                key = ("one", sub.recorder_id, sub.studio_id)
                if key not in cache:
                    rec = by_id.get(sub.recorder_id)
                    if rec is None or (sub.studio_id is not None and rec.get("studio_id") != sub.studio_id):
                        cache[key] = None  # gone or no longer visible to this studio
                    else:
                        cache[key] = self.build_one(rec, ts)
            msg = cache[key]
            if msg is None:
                sub.kick("recorder no longer available")
                continue
            sub.offer(msg)
            sub.level_messages += 1
            if keepalive:
                sub.offer(KEEPALIVE)

    async def run(self) -> None:
        """The ticker loop: absolute deadlines, late ticks are skipped (not bunched)."""
        period = 1.0 / self.rate_hz
        loop = asyncio.get_running_loop()
        next_t = loop.time() + period
        while True:
            delay = next_t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a bad snapshot must not kill the ticker
                pass
            next_t += period
            behind = loop.time() - next_t
            if behind > period:
                skip = int(behind / period)
                self.skipped_ticks += skip
                next_t += skip * period

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="level-broker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for sub in list(self.subscribers):
            sub.offer(None)

    def stats(self) -> dict[str, Any]:
        return {
            "clients": len(self.subscribers),
            "rate_hz": self.rate_hz,
            "ticks": self.ticks,
            "skipped_ticks": self.skipped_ticks,
            "kicked": self.kicked,
            "dropped": sum(s.dropped for s in self.subscribers),
        }
