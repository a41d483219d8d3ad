"""RFC 7273 media clock: RTP timestamps -> absolute sample times (``--clock-source rtp``).

AES67 (section 7.3) and SMPTE ST 2110-10 senders derive the RTP timestamp from the PTP clock:
``ts = (samples since the PTP epoch + offset) mod 2**32``, where ``offset`` is announced as
``a=mediaclk:direct=OFFSET`` and the reference clock as ``a=ts-refclk:ptp=...``. PTP counts
TAI, which runs :data:`PTP_UTC_OFFSET_S` (37 s since 2017-01-01) ahead of UTC, so

    absolute UTC sample index = ((ts - offset) mod 2**32 + k * 2**32) - 37 * rate

with ``k`` the one wrap count that puts the time nearest the system clock (``phc2sys`` keeps
the system clock on PTP; the 32-bit counter wraps every 2**32 / rate = 24.9 h at 48 kHz, so
any clock within hours resolves it). Later timestamps are unwrapped from the previous one
(signed 32-bit difference), so the counter's wrap-around is seamless.

Assumptions (README "Media-clock-aligned archive"): the sender follows the AES67 rule above,
and this host's system clock is disciplined to the same PTP grandmaster. When it is not,
:class:`ClockWatch` estimates the offset between arrival and media time and reports
``clock_drift`` when it leaves ``+-warn_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: TAI - UTC in seconds since 2017-01-01 (IERS Bulletin C); PTP's timescale is TAI
PTP_UTC_OFFSET_S = 37
WRAP = 1 << 32


def signed32(d: int) -> int:
    d &= 0xFFFFFFFF
    return d - WRAP if d >= 0x80000000 else d


class MediaClock:
    """Map RTP timestamps of one stream to absolute UTC sample indices (samples since 1970).

    Parameters
    ----------
    rate : the RTP clock rate (= sample rate for L16/L24).
    offset : the ``a=mediaclk:direct=`` offset.
    utc_offset_s : TAI - UTC (PTP's timescale is TAI).
    """

    def __init__(self, rate: int, offset: int = 0, *, utc_offset_s: int = PTP_UTC_OFFSET_S) -> None:
        self.rate = int(rate)
        self.offset = int(offset) & 0xFFFFFFFF
        self.utc_offset_s = int(utc_offset_s)
        self._ts: int | None = None
        self._index = 0

    def anchor(self, ts: int, wall: float) -> int:
        """Resolve ``ts`` against the system clock ``wall`` (epoch seconds); returns its index."""
        tai_now = int(round((wall + self.utc_offset_s) * self.rate))
        low = (ts - self.offset) & 0xFFFFFFFF
        k = round((tai_now - low) / WRAP)
        index = low + k * WRAP - self.utc_offset_s * self.rate
        self._ts, self._index = ts & 0xFFFFFFFF, index
        return index

    def index(self, ts: int) -> int:
        """The absolute index of ``ts``, unwrapped from the previous timestamp (anchor first)."""
        if self._ts is None:
            raise RuntimeError("MediaClock.index() before anchor()")
        self._index += signed32(ts - self._ts)
        self._ts = ts & 0xFFFFFFFF
        return self._index

    def timestamp(self, index: int) -> int:
        """The RTP timestamp a sender following the AES67 rule puts on absolute sample ``index``."""
        return (index + self.utc_offset_s * self.rate + self.offset) & 0xFFFFFFFF

    def now_index(self, wall: float | None = None) -> int:
        """The absolute index of the system clock's current time."""
        wall = time.time() if wall is None else wall
        return int(round(wall * self.rate))


class ClockWatch:
    """Estimate (system clock - media clock) from arrival times; report drift beyond ``warn_ms``.

    ``observe(media_end_s, wall)`` is called with each block handed to the writer: the media
    time of the block's end and the system time it arrived. The estimate is the minimum over a
    ``window_s`` window (queueing only adds delay) minus ``latency_s`` (the reorder depth the
    block waited out). Returns an event dict when the state changes: ``clock_drift``
    (``offset_ms`` beyond ``+-warn_ms``) or ``clock_ok``.
    """

    def __init__(
        self,
        *,
        warn_ms: float = 50.0,
        latency_s: float = 0.0,
        window_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.warn_ms = warn_ms
        self.latency_s = latency_s
        self.window_s = window_s
        self.clock = clock
        self.offset_ms: float | None = None
        self.drifting = False
        self._min: float | None = None
        self._window_end: float | None = None

    def observe(self, media_end_s: float, wall: float) -> dict[str, Any] | None:
        d = wall - media_end_s - self.latency_s
        self._min = d if self._min is None else min(self._min, d)
        now = self.clock()
        if self._window_end is None:
            self._window_end = now + self.window_s
            return None
        if now < self._window_end:
            return None
        self.offset_ms = round(self._min * 1000.0, 3)
        self._min = None
        self._window_end = now + self.window_s
        bad = abs(self.offset_ms) > self.warn_ms
        if bad != self.drifting:
            self.drifting = bad
            return {
                "event": "clock_drift" if bad else "clock_ok",
                "offset_ms": self.offset_ms,
                "warn_ms": self.warn_ms,
            }
        return None
