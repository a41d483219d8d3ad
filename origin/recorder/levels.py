"""Per-channel level metering at a fixed rate, published without blocking capture.

Every ``1 / rate_hz`` seconds of *audio* (default 20 Hz = every 50 ms) one snapshot is made
per channel, in the studio API's ``ChannelLevel`` shape::

    {"name": "L", "level_db": -18.5, "level_linear": 0.119, "peak_db": -15.0,
     "true_peak_db": -14.6, "clipping": false}

* ``level_db``     RMS of the last interval in dBFS (full-scale sine = -3.01 dBFS)
* ``level_linear`` the same RMS as a linear value 0..1
* ``peak_db``      sample peak in dBFS, held for 1.5 s (then it follows the signal again)
* ``true_peak_db`` (extension of the Audyn shape) true peak in dBTP (ITU-R BS.1770-4 Annex 2,
  4x over-sampling), held like ``peak_db``; never below ``peak_db``
* ``clipping``     a sample reached ``CLIP_DBFS`` (-0.1 dBFS) within the hold time
* silence and anything below ``FLOOR_DB`` (-120 dBFS) reads ``FLOOR_DB`` (JSON has no -inf)
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np
from aimixer_dsp.truepeak import TruePeakMeter

from .protocol import ChannelLevel

T = TypeVar("T")

DEFAULT_RATE_HZ = 20.0
PEAK_HOLD_S = 1.5
CLIP_DBFS = -0.1
FLOOR_DB = -120.0
_CLIP_LIN = 10 ** (CLIP_DBFS / 20)
_SCALE = 1.0 / 2147483648.0


def channel_names(n: int, names: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Default names: M for mono, L/R for stereo, 1..n otherwise (or the given names)."""
    if names and len(names) == n:
        return list(names)
    if n == 1:
        return ["M"]
    if n == 2:
        return ["L", "R"]
    return [str(i + 1) for i in range(n)]


def to_db(x: float) -> float:
    return FLOOR_DB if x <= 0 else max(FLOOR_DB, 20.0 * math.log10(x))


class LevelMeter:
    """Accumulates int32 (left-justified) or float blocks and yields snapshots at a fixed rate."""

    def __init__(
        self,
        channels: int,
        sample_rate: int,
        *,
        rate_hz: float = DEFAULT_RATE_HZ,
        names: list[str] | None = None,
        hold_s: float = PEAK_HOLD_S,
    ) -> None:
        if not 0.5 <= rate_hz <= 100:
            raise ValueError(f"level rate_hz={rate_hz} is out of range [0.5, 100]")
        self.channels = channels
        self.rate = sample_rate
        self.rate_hz = rate_hz
        self.interval = max(1, int(round(sample_rate / rate_hz)))
        self.names = channel_names(channels, names)
        self.hold_frames = int(hold_s * sample_rate)
        self._sq = np.zeros(channels)
        self._pk = np.zeros(channels)
        self._n = 0
        self._frames = 0
        self._hold_pk = np.zeros(channels)
        self._hold_until = np.zeros(channels, dtype=np.int64)
        self._tp = (
            TruePeakMeter(sample_rate, channels) if channels <= 16 and 8000 <= sample_rate <= 384000 else None
        )
        self._tpk = np.zeros(channels)
        self._hold_tp = np.zeros(channels)
        self._hold_tp_until = np.zeros(channels, dtype=np.int64)
        self._clip_until = np.zeros(channels, dtype=np.int64)
        self.latest: list[ChannelLevel] = self._snapshot(np.zeros(channels), np.zeros(channels))

    def push(self, samples: np.ndarray) -> list[list[ChannelLevel]]:
        """Feed (frames, channels); returns the snapshots completed by this block (oldest first)."""
        out: list[list[ChannelLevel]] = []
        n = samples.shape[0]
        i = 0
        while i < n:
            take = min(n - i, self.interval - self._n)
            blk = samples[i : i + take]
            if blk.dtype == np.int32:
                f = blk.astype(np.float64) * _SCALE
            else:
                f = blk.astype(np.float64)
            self._sq += np.einsum("ij,ij->j", f, f)
            np.maximum(self._pk, np.abs(f).max(axis=0), out=self._pk)
            if self._tp is not None:
                np.maximum(self._tpk, self._tp.push_channels(f), out=self._tpk)
            self._n += take
            self._frames += take
            i += take
            if self._n >= self.interval:
                rms = np.sqrt(self._sq / self._n)
                out.append(self._finish(rms, self._pk.copy()))
                self._sq[:] = 0
                self._pk[:] = 0
                self._tpk[:] = 0
                self._n = 0
        return out

    def _finish(self, rms: np.ndarray, pk: np.ndarray) -> list[ChannelLevel]:
        now = self._frames
        renew = (pk >= self._hold_pk) | (now >= self._hold_until)
        self._hold_pk = np.where(renew, pk, self._hold_pk)
        self._hold_until = np.where(renew, now + self.hold_frames, self._hold_until)
        self._clip_until = np.where(pk >= _CLIP_LIN, now + self.hold_frames, self._clip_until)
        tp = np.maximum(self._tpk, pk)
        renew = (tp >= self._hold_tp) | (now >= self._hold_tp_until)
        self._hold_tp = np.where(renew, tp, self._hold_tp)
        self._hold_tp_until = np.where(renew, now + self.hold_frames, self._hold_tp_until)
        snap = self._snapshot(rms, self._hold_pk, clip=now < self._clip_until, tp=self._hold_tp)
        self.latest = snap
        return snap

    def _snapshot(
        self, rms: np.ndarray, pk: np.ndarray, clip: np.ndarray | None = None, tp: np.ndarray | None = None
    ) -> list[ChannelLevel]:
        if tp is None:
            tp = pk
        return [
            {
                "name": self.names[c],
                "level_db": round(to_db(float(rms[c])), 2),
                "level_linear": round(float(rms[c]), 6),
                "peak_db": round(to_db(float(pk[c])), 2),
                "true_peak_db": round(to_db(float(max(tp[c], pk[c]))), 2),
                "clipping": bool(clip[c]) if clip is not None else False,
            }
            for c in range(self.channels)
        ]


class LevelBroker(Generic[T]):
    """Fans level snapshots (or any other items ``T``) out to subscribers without ever blocking the publisher.

    ``subscribe()`` returns a bounded queue; when a subscriber falls behind, its oldest
    snapshot is dropped. Callbacks registered with ``add_callback`` run on the publishing
    thread and must be quick; exceptions from them are swallowed and counted.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._queues: list[queue.Queue[T]] = []
        self._callbacks: list[Callable[[T], None]] = []
        self._lock = threading.Lock()
        self.dropped = 0
        self.callback_errors = 0

    def subscribe(self) -> queue.Queue[T]:
        q: queue.Queue[T] = queue.Queue(self.maxsize)
        with self._lock:
            self._queues = [*self._queues, q]
        return q

    def unsubscribe(self, q: queue.Queue[T]) -> None:
        with self._lock:
            self._queues = [x for x in self._queues if x is not q]

    def add_callback(self, cb: Callable[[T], None]) -> None:
        with self._lock:
            self._callbacks = [*self._callbacks, cb]

    def remove_callback(self, cb: Callable[[T], None]) -> None:
        with self._lock:
            self._callbacks = [x for x in self._callbacks if x is not cb]

    def publish(self, snapshot: T) -> None:
        for q in self._queues:
            try:
                q.put_nowait(snapshot)
            except queue.Full:
                try:
                    q.get_nowait()
                except queue.Empty:
                    pass
                self.dropped += 1
                try:
                    q.put_nowait(snapshot)
                except queue.Full:
                    pass
        for cb in self._callbacks:
            try:
                cb(snapshot)
            except Exception:  # a subscriber must never break capture
                self.callback_errors += 1
