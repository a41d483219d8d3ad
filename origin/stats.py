"""Persisted usage statistics behind ``GET /stats``.

Counts are kept in memory and added to the database as deltas (``UPDATE value = value + ?``)
about once a second and at shutdown, so several processes can share one database and the
numbers survive a restart.

* ``requests.total/today/errors`` count mixer-API responses; ``errors`` are 4xx and 5xx;
  ``today`` is the current UTC day.
* ``processing.totalSamples`` counts samples through the DSP chain; latencies are per processed
  960-sample frame (server handling time for ``/process-audio``, DSP time for streams and
  WebSocket frames), in ms. Percentiles come from a log-spaced histogram (20 buckets per decade,
  from 1 us to 100 s), so they are accurate to about 12 %; each is reported as its bucket's
  geometric centre.
* ``genres`` counts genre verdicts (a session's genre changing, or ``/classify-genre`` answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import Counter
from typing import Any

from origin.storage import Schema, Storage

__all__ = ["StatsRecorder", "latency_bucket", "bucket_value"]

STATS_SCHEMA = Schema(
    "stats",
    [
        """
        CREATE TABLE IF NOT EXISTS stats_counters (key TEXT PRIMARY KEY, value DOUBLE PRECISION NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS stats_daily (day TEXT PRIMARY KEY, requests BIGINT NOT NULL DEFAULT 0,
            errors BIGINT NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS stats_latency (bucket INTEGER PRIMARY KEY, count BIGINT NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS stats_genres (genre TEXT PRIMARY KEY, count BIGINT NOT NULL DEFAULT 0);
        """
    ],
)

_PER_DECADE = 20
_MIN_MS = 1e-3


def latency_bucket(ms: float) -> int:
    """Histogram bucket index of a latency in ms."""
    if not (ms > _MIN_MS):
        return 0
    return min(int(math.log10(ms / _MIN_MS) * _PER_DECADE) + 1, 8 * _PER_DECADE)


def bucket_value(idx: int) -> float:
    """Representative latency (ms) of bucket ``idx`` (geometric centre)."""
    if idx <= 0:
        return _MIN_MS
    return _MIN_MS * 10 ** ((idx - 0.5) / _PER_DECADE)


_DAY_CACHE: list = [-1, ""]


def _today() -> str:
    sec = int(time.time())
    if sec != _DAY_CACHE[0]:
        _DAY_CACHE[0], _DAY_CACHE[1] = sec, time.strftime("%Y-%m-%d", time.gmtime(sec))
    return _DAY_CACHE[1]


class StatsRecorder:
    """Accumulates counters and flushes them to ``storage``."""

    def __init__(self, storage: Storage, flush_interval: float = 1.0) -> None:
        self.storage = storage
        self.flush_interval = flush_interval
        self._lock = threading.Lock()
        self._reset_pending()
        self._task: asyncio.Task[None] | None = None

    def _reset_pending(self) -> None:
        self._requests = 0
        self._errors = 0
        self._daily: Counter[tuple[str, str]] = Counter()
        self._samples = 0
        self._latency_sum = 0.0
        self._latency_n = 0
        self._buckets: Counter[int] = Counter()
        self._genres: Counter[str] = Counter()

    # -- recording (cheap, in memory) -------------------------------------------------------------
    def record_request(self, status: int) -> None:
        with self._lock:
            day = _today()
            self._requests += 1
            self._daily[(day, "requests")] += 1
            if status >= 400:
                self._errors += 1
                self._daily[(day, "errors")] += 1

    def record_processing(self, samples: int, latency_ms: float) -> None:
        with self._lock:
            self._samples += samples
            self._latency_sum += latency_ms
            self._latency_n += 1
            self._buckets[latency_bucket(latency_ms)] += 1

    def record_genre(self, genre: str) -> None:
        with self._lock:
            self._genres[genre] += 1

    # -- persistence --------------------------------------------------------------------------------
    def _take(self) -> dict[str, Any]:
        with self._lock:
            snap = {
                "requests": self._requests,
                "errors": self._errors,
                "daily": dict(self._daily),
                "samples": self._samples,
                "latency_sum": self._latency_sum,
                "latency_n": self._latency_n,
                "buckets": dict(self._buckets),
                "genres": dict(self._genres),
            }
            self._reset_pending()
        return snap

    def _write(self, snap: dict[str, Any]) -> None:
        def tx(conn: Any) -> None:
            upsert = (
                "INSERT INTO stats_counters(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = stats_counters.value + excluded.value"
            )
            for key, val in (
                ("requests", snap["requests"]),
                ("errors", snap["errors"]),
                ("samples", snap["samples"]),
                ("latency_sum", snap["latency_sum"]),
                ("latency_n", snap["latency_n"]),
            ):
                if val:
                    conn.execute(upsert, (key, val))
            for (day, kind), n in snap["daily"].items():
                conn.execute("INSERT INTO stats_daily(day) VALUES(?) ON CONFLICT(day) DO NOTHING", (day,))
                conn.execute(f"UPDATE stats_daily SET {kind} = {kind} + ? WHERE day = ?", (n, day))
            for b, n in snap["buckets"].items():
                conn.execute(
                    "INSERT INTO stats_latency(bucket, count) VALUES(?, ?) "
                    "ON CONFLICT(bucket) DO UPDATE SET count = stats_latency.count + excluded.count",
                    (b, n),
                )
            for g, n in snap["genres"].items():
                conn.execute(
                    "INSERT INTO stats_genres(genre, count) VALUES(?, ?) "
                    "ON CONFLICT(genre) DO UPDATE SET count = stats_genres.count + excluded.count",
                    (g, n),
                )

        if any(snap[k] for k in ("requests", "samples", "latency_n", "genres", "daily")):
            self.storage.transaction(tx)

    def _merge_back(self, snap: dict[str, Any]) -> None:
        with self._lock:
            self._requests += snap["requests"]
            self._errors += snap["errors"]
            self._daily.update(snap["daily"])
            self._samples += snap["samples"]
            self._latency_sum += snap["latency_sum"]
            self._latency_n += snap["latency_n"]
            self._buckets.update(snap["buckets"])
            self._genres.update(snap["genres"])

    def flush(self) -> None:
        """Write pending deltas (synchronously)."""
        snap = self._take()
        try:
            self._write(snap)
        except Exception:
            self._merge_back(snap)
            raise

    async def aflush(self) -> None:
        """Write pending deltas on the database thread."""
        snap = self._take()
        try:
            await self.storage.run(self._write, snap)
        except Exception:
            self._merge_back(snap)
            raise

    async def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.flush_interval)
                with contextlib.suppress(Exception):
                    await self.aflush()

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self.aflush()

    # -- reading -----------------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        s = self.storage
        counters = {r[0]: r[1] for r in s.fetchall("SELECT key, value FROM stats_counters")}
        day = s.fetchone("SELECT requests, errors FROM stats_daily WHERE day = ?", (_today(),))
        buckets = {r[0]: r[1] for r in s.fetchall("SELECT bucket, count FROM stats_latency")}
        genres = {r[0]: r[1] for r in s.fetchall("SELECT genre, count FROM stats_genres")}
        return {"counters": counters, "today": (day[0] if day else 0), "buckets": buckets, "genres": genres}

    async def snapshot(self, genre_names: tuple[str, ...] = ()) -> dict[str, Any]:
        """The ``/stats`` body: database totals plus not-yet-flushed deltas."""
        await self.aflush()
        data = await self.storage.run(self._read)
        c = data["counters"]
        total = int(c.get("requests", 0))
        errors = int(c.get("errors", 0))
        n = int(c.get("latency_n", 0))
        avg = (c.get("latency_sum", 0.0) / n) if n else 0.0
        buckets = sorted((int(k), int(v)) for k, v in data["buckets"].items())

        def pct(q: float) -> float:
            count = sum(v for _, v in buckets)
            if not count:
                return 0.0
            target = q * count
            acc = 0
            for idx, v in buckets:
                acc += v
                if acc >= target:
                    return round(bucket_value(idx), 4)
            return round(bucket_value(buckets[-1][0]), 4)

        genres = {g: 0 for g in genre_names}
        genres.update({g: int(v) for g, v in data["genres"].items()})
        return {
            "requests": {
                "total": total,
                "today": int(data["today"]),
                "errors": errors,
                "errorRate": round(errors / total, 6) if total else 0.0,
            },
            "processing": {
                "totalSamples": int(c.get("samples", 0)),
                "averageLatency": round(avg, 4),
                "p95Latency": pct(0.95),
                "p99Latency": pct(0.99),
            },
            "genres": genres,
        }
