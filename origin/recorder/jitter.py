"""Reorder / jitter buffer driven by the RTP timestamp.

The buffer keeps the raw wire bytes of the stream in a ring indexed by *timeline position*
(frames since the first packet). A packet is copied to ``position = rtp_timestamp - ts0``; the
ring is emitted in order once it is ``depth`` frames behind the newest data. Frames that no
packet filled are emitted as zero bytes, so a lost packet becomes silence of exactly its length
and the output timeline always equals the RTP timeline.

Rules (all counted, never logged, on the hot path):

* ``received``   unique packets accepted from the locked SSRC (late ones included)
* ``lost``       RFC 3550 style: expected (sequence span) minus ``received``
* ``reordered``  packets that arrived with a sequence number below the highest seen so far
* ``duplicate``  a sequence number seen before (dropped)
* ``late``       the packet's frames were already emitted (as silence) when it arrived (dropped)
* ``foreign``    another SSRC while the lock holds (dropped)
* ``bad_pt``     wrong payload type (dropped); ``malformed`` not RTP v2 / partial frames (dropped)
* ``silence_frames`` frames emitted as silence because nothing filled them

SSRC lock: the first packet (or ``ssrc=`` from the config) locks. When the locked source has
been quiet for ``relock_timeout`` seconds, the next foreign SSRC takes over: the buffer is
flushed, silence for the wall-clock gap is inserted (up to ``max_gap_frames``) and an
``ssrc_relock`` event is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .rtp import RTPError, parse_header

_SEQ_SLOTS = 65536


class JitterBuffer:
    """Reorder buffer for one RTP stream.

    Parameters
    ----------
    frame_bytes : bytes per frame on the wire (all stream channels).
    sample_rate : frames per second (the RTP clock rate).
    depth_frames : reorder depth: data is held until it is this many frames behind the newest.
    emit : ``emit(data: bytes, frames: int)`` receives the timeline in order (wire format).
    on_event : ``on_event(dict)`` for lock / relock / timeline events (called on the hot path:
        must be cheap and non-blocking).
    payload_type : accepted RTP payload type (``None`` accepts any).
    ssrc : lock to this SSRC only (``None``: lock to the first one seen).
    relock_timeout : seconds of silence from the locked SSRC before another may take over.
    max_gap_frames : a forward timestamp jump up to this many frames is filled with silence;
        a larger jump re-anchors the timeline (event ``timeline_reset``).
    batch_frames : emit in chunks of at least this many frames (fewer, larger writes).
    """

    def __init__(
        self,
        frame_bytes: int,
        sample_rate: int,
        depth_frames: int,
        emit: Callable[[bytes, int], None],
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        payload_type: int | None = 96,
        ssrc: int | None = None,
        relock_timeout: float = 1.0,
        max_gap_frames: int | None = None,
        batch_frames: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if depth_frames < 0:
            raise ValueError(f"depth_frames={depth_frames} must be >= 0")
        self.fb = frame_bytes
        self.rate = sample_rate
        self.depth = depth_frames
        self.batch = max(1, batch_frames if batch_frames is not None else sample_rate // 100)
        cap = max(2 * (depth_frames + self.batch) + sample_rate // 4, 4096)
        self.cap = cap
        self.ring = bytearray(cap * frame_bytes)
        self.filled = bytearray(cap)
        self._ones = bytes([1]) * cap
        self._zero_bytes = bytes(cap * frame_bytes)
        self._zero_fill = bytes(cap)
        self.emit = emit
        self.on_event = on_event or (lambda ev: None)
        self.payload_type = payload_type
        self.want_ssrc = ssrc
        self.ssrc: int | None = None
        self.relock_timeout = relock_timeout
        self.max_gap = max_gap_frames if max_gap_frames is not None else 10 * sample_rate
        self.clock = clock
        # timeline
        self.write_pos = 0  # frames emitted so far
        self.high = 0  # end (absolute frames) of the newest data
        self.ts_at_write: int | None = None  # RTP timestamp of frame write_pos
        self.block_ts: int | None = None  # RTP timestamp of the first frame of the block being emitted
        self.first_rx_wall: float | None = None  # time.time() of the first accepted packet
        self.last_rx = 0.0
        # sequence tracking
        self._seen = [-1] * _SEQ_SLOTS
        self._max_ext: int | None = None
        self._first_ext = 0
        self._expected_before = 0
        # counters
        self.received = 0
        self.reordered = 0
        self.duplicate = 0
        self.late = 0
        self.foreign = 0
        self.bad_pt = 0
        self.malformed = 0
        self.silence_frames = 0
        self.relocks = 0

    # ------------------------------------------------------------------ counters
    @property
    def lost(self) -> int:
        """Packets never received (sequence span minus received), over all locks."""
        if self._max_ext is None:
            return max(0, self._expected_before - self.received)
        expected = self._expected_before + self._max_ext - self._first_ext + 1
        return max(0, expected - self.received)

    def counters(self) -> dict[str, int]:
        """A snapshot of all counters."""
        return {
            "received": self.received,
            "lost": self.lost,
            "reordered": self.reordered,
            "duplicate": self.duplicate,
            "late": self.late,
            "foreign": self.foreign,
            "bad_pt": self.bad_pt,
            "malformed": self.malformed,
            "silence_frames": self.silence_frames,
            "frames": self.write_pos,
            "relocks": self.relocks,
            "ssrc": self.ssrc if self.ssrc is not None else -1,
        }

    # ------------------------------------------------------------------ hot path
    def push(
        self, data: bytes | bytearray | memoryview, length: int | None = None, now: float | None = None
    ) -> None:
        """Accept one datagram (``data[:length]``). Never raises for bad packets; counts them."""
        try:
            pt, seq, ts, ssrc, off, plen = parse_header(data, length)
        except RTPError:
            self.malformed += 1
            return
        self.push_parsed(data, pt, seq, ts, ssrc, off, plen, now)

    def push_parsed(
        self,
        data: bytes | bytearray | memoryview,
        pt: int,
        seq: int,
        ts: int,
        ssrc: int,
        off: int,
        plen: int,
        now: float | None = None,
    ) -> None:
        """:meth:`push` for a datagram whose header the caller already parsed (``parse_header``)."""
        if self.payload_type is not None and pt != self.payload_type:
            self.bad_pt += 1
            return
        if now is None:
            now = self.clock()
        if ssrc != self.ssrc:
            if self.want_ssrc is not None and ssrc != self.want_ssrc:
                self.foreign += 1
                return
            if self.ssrc is None:
                self._lock(ssrc, now, first=True)
            elif now - self.last_rx >= self.relock_timeout:
                self._lock(ssrc, now, first=False)
            else:
                self.foreign += 1
                return
        fb = self.fb
        if plen % fb or plen == 0:
            self.malformed += 1
            return
        nfr = plen // fb
        self.last_rx = now
        # --- sequence bookkeeping
        mx = self._max_ext
        if mx is None:
            ext = self._first_ext = self._next_epoch() + seq
            self._max_ext = ext
        else:
            d = (seq - mx) & 0xFFFF
            if d >= 0x8000:
                d -= 0x10000
            ext = mx + d
            if self._seen[seq] == ext:
                self.duplicate += 1
                return
            if d < 0:
                self.reordered += 1
            else:
                self._max_ext = ext
        self._seen[seq] = ext
        self.received += 1
        # --- timeline position
        tsw = self.ts_at_write
        if tsw is None:
            tsw = self.ts_at_write = ts
            self.first_rx_wall = time.time()
        rel = (ts - tsw) & 0xFFFFFFFF
        if rel >= 0x80000000:
            rel -= 0x100000000
        if rel < 0:
            if rel + nfr <= 0:
                self.late += 1
                return
            off -= rel * fb  # partially late: keep the tail
            nfr += rel
            rel = 0
        cap = self.cap
        if rel + nfr > cap:
            rel = self._jump(rel, nfr, ts)
        p = (self.write_pos + rel) % cap
        if p + nfr <= cap:
            self.ring[p * fb : (p + nfr) * fb] = data[off : off + nfr * fb]
            self.filled[p : p + nfr] = self._ones[:nfr]
        else:
            k = cap - p
            self.ring[p * fb :] = data[off : off + k * fb]
            self.ring[: (nfr - k) * fb] = data[off + k * fb : off + nfr * fb]
            self.filled[p:] = self._ones[:k]
            self.filled[: nfr - k] = self._ones[: nfr - k]
        end = self.write_pos + rel + nfr
        if end > self.high:
            self.high = end
            if end - self.write_pos >= self.depth + self.batch:
                self._flush(end - self.depth)

    # ------------------------------------------------------------------ helpers
    def _next_epoch(self) -> int:
        # sequence numbers of a new lock live in a fresh 2**17 range so old marks never match
        if self._max_ext is None and self.received == 0:
            return 0
        base = max(self._max_ext or 0, 0)
        return ((base >> 17) + 1) << 17

    def _lock(self, ssrc: int, now: float, *, first: bool) -> None:
        if first:
            self.ssrc = ssrc
            self.on_event({"event": "ssrc_lock", "ssrc": ssrc})
            return
        # re-lock: drain the old stream, fill the wall-clock gap, start a new sequence epoch
        self.flush()
        gap = int(round((now - self.last_rx) * self.rate))
        gap = min(max(gap, 0), self.max_gap)
        if gap:
            self._emit_silence(gap)
        old = self.ssrc
        if self._max_ext is not None:
            self._expected_before += self._max_ext - self._first_ext + 1
            self._first_ext = self._next_epoch()
            self._max_ext = None
        self.ssrc = ssrc
        self.ts_at_write = None
        self.relocks += 1
        self.on_event({"event": "ssrc_relock", "ssrc": ssrc, "previous_ssrc": old, "gap_frames": gap})

    def _jump(self, rel: int, nfr: int, ts: int) -> int:
        """The packet lies beyond the ring: drain, then fill silence or re-anchor."""
        self.flush()
        rel = (ts - self.ts_at_write) & 0xFFFFFFFF  # type: ignore[operator]
        if rel >= 0x80000000:
            rel -= 0x100000000
        if rel + nfr <= self.cap:
            return rel
        if rel <= self.max_gap:
            self._emit_silence(rel - (self.cap - nfr))
            rel = (ts - self.ts_at_write) & 0xFFFFFFFF  # type: ignore[operator]
            return rel
        self.ts_at_write = ts
        self.on_event({"event": "timeline_reset", "jump_frames": rel})
        return 0

    def _emit_silence(self, frames: int) -> None:
        while frames > 0:
            n = min(frames, self.cap)
            self.silence_frames += n
            self.block_ts = self.ts_at_write
            self.emit(self._zero_bytes[: n * self.fb], n)
            self._advance(n)
            frames -= n

    def _advance(self, n: int) -> None:
        self.write_pos += n
        if self.high < self.write_pos:
            self.high = self.write_pos
        if self.ts_at_write is not None:
            self.ts_at_write = (self.ts_at_write + n) & 0xFFFFFFFF

    def _flush(self, upto: int) -> None:
        """Emit frames [write_pos, upto) in order (holes are silence)."""
        n = upto - self.write_pos
        if n <= 0:
            return
        fb = self.fb
        cap = self.cap
        p = self.write_pos % cap
        ring = self.ring
        filled = self.filled
        if p + n <= cap:
            out = bytes(ring[p * fb : (p + n) * fb])
            self.silence_frames += filled.count(0, p, p + n)
            ring[p * fb : (p + n) * fb] = self._zero_bytes[: n * fb]
            filled[p : p + n] = self._zero_fill[:n]
        else:
            k = cap - p
            out = bytes(ring[p * fb :]) + bytes(ring[: (n - k) * fb])
            self.silence_frames += filled.count(0, p, cap) + filled.count(0, 0, n - k)
            ring[p * fb :] = self._zero_bytes[: k * fb]
            ring[: (n - k) * fb] = self._zero_bytes[: (n - k) * fb]
            filled[p:] = self._zero_fill[:k]
            filled[: n - k] = self._zero_fill[: n - k]
        self.block_ts = self.ts_at_write
        self._advance(n)
        self.emit(out, n)

    def flush(self) -> None:
        """Emit everything received so far (holes inside become silence)."""
        self._flush(self.high)

    def tick(self, now: float | None = None, idle: float = 0.05) -> None:
        """Flush the held tail when the stream has been quiet for ``idle`` seconds."""
        if self.high > self.write_pos:
            if now is None:
                now = self.clock()
            if now - self.last_rx >= idle:
                self._flush(self.high)
