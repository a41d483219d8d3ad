"""SMPTE ST 2022-7 seamless protection: two legs of one RTP stream merged into one timeline.

The sender puts the same RTP packets (same SSRC, sequence numbers and timestamps) on two
networks. :class:`RedundantMerger` sits between the two receive sockets and the
:class:`~.jitter.JitterBuffer`: every datagram of either leg goes to the one buffer, which
places it by RTP timestamp and drops the second copy of a sequence number it already holds
(its ``duplicate`` counter). So a packet lost on one leg but delivered on the other leaves no
gap, and the buffer's ``lost`` is the *merged* loss: packets neither leg delivered. The merge
tolerates a path skew up to the reorder depth (``jitter_ms``, default 20 ms).

Per leg (``counters()["paths"]``), counted on the receive thread without allocation:

* ``received``  packets of the locked stream that arrived on this leg
* ``lost``      RFC 3550 style on this leg alone: sequence span minus ``received``
* ``late``      copies that arrived after the merged timeline had passed them (useless)
* ``up``        whether the leg delivers; ``path_down`` / ``path_up`` events report changes
  (a leg is down when it has been silent ``down_after`` seconds while the other delivers)

``path_skew_ms`` is the mean arrival difference (secondary minus primary) of the same packet
on both legs, from kernel receive timestamps (``SO_TIMESTAMPNS``), smoothed over ~100 pairs.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

from .jitter import JitterBuffer
from .rtp import RTPError, parse_header

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TS = struct.Struct("@qq")
_SLOTS = 65536
PATH_NAMES = ("primary", "secondary")


class PathCounters:
    """Counters and state of one leg."""

    __slots__ = (
        "name",
        "source",
        "received",
        "max_ext",
        "first_ext",
        "late",
        "up",
        "down",
        "last_rx",
        "seq_ts",
        "seq_t",
    )

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.received = 0
        self.max_ext: int | None = None
        self.first_ext = 0
        self.late = 0
        self.up = False
        self.down = False  # a path_down was reported and no packet came since
        self.last_rx: float | None = None
        self.seq_ts = [-1] * _SLOTS  # RTP timestamp seen per sequence number (to pair copies)
        self.seq_t = [0.0] * _SLOTS  # its arrival time

    @property
    def lost(self) -> int:
        if self.max_ext is None:
            return 0
        return max(0, self.max_ext - self.first_ext + 1 - self.received)

    def view(self) -> dict[str, Any]:
        return {
            "path": self.name,
            "source": self.source,
            "received": self.received,
            "lost": self.lost,
            "late": self.late,
            "up": self.up,
        }


def enable_timestamps(sock: socket.socket) -> Callable[[bytearray], int]:
    """Turn on kernel receive timestamps; return a ``recv_into``-like reader that keeps them.

    The reader returns the datagram length like ``sock.recv_into``; the kernel timestamp of
    the last datagram is in the reader's ``stamp`` attribute (0.0 when the kernel gave none).
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        pass
    recvmsg_into = sock.recvmsg_into
    anc = socket.CMSG_SPACE(_TS.size)

    def recv(buf: bytearray) -> int:
        n, ancdata, _flags, _addr = recvmsg_into([buf], anc)
        recv.stamp = 0.0  # type: ignore[attr-defined]
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TS.size:
                sec, nsec = _TS.unpack_from(data)
                recv.stamp = sec + nsec * 1e-9  # type: ignore[attr-defined]
        return n

    recv.stamp = 0.0  # type: ignore[attr-defined]
    return recv


class RedundantMerger:
    """Feed two legs of one stream into ``jitter``; count per leg; report legs going down/up.

    Parameters
    ----------
    jitter : the stream's reorder buffer (it merges and de-duplicates).
    sources : ``("A:PORT", "B:PORT")`` descriptions for the counters and events.
    on_event : ``on_event(dict)`` for ``path_down`` / ``path_up`` (cheap, non-blocking).
    down_after : seconds of silence on a leg, while the other delivers, before it is down.
    """

    def __init__(
        self,
        jitter: JitterBuffer,
        sources: tuple[str, str],
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        down_after: float = 0.5,
    ) -> None:
        self.jitter = jitter
        self.paths = [PathCounters(PATH_NAMES[i], sources[i]) for i in range(2)]
        self.on_event = on_event or (lambda ev: None)
        self.down_after = down_after
        self.skew_s: float | None = None
        self.skew_pairs = 0
        self._started: float | None = None
        self._readers: list[Callable[[bytearray], int] | None] = [None, None]

    def reader(self, index: int, sock: socket.socket) -> Callable[[bytearray], int]:
        """The socket reader for leg ``index`` (kernel timestamps on)."""
        r = enable_timestamps(sock)
        self._readers[index] = r
        return r

    def handler(self, index: int) -> Callable[[memoryview, int, float], None]:
        """The receive handler for leg ``index`` (0 primary, 1 secondary)."""
        path = self.paths[index]
        other = self.paths[1 - index]
        jb = self.jitter
        fb = jb.fb
        sign = 1.0 if index == 1 else -1.0

        def handle(data: memoryview, n: int, now: float) -> None:
            reader = self._readers[index]
            stamp = reader.stamp if reader is not None else 0.0  # type: ignore[attr-defined]
            try:
                pt, seq, ts, ssrc, off, plen = parse_header(data, n)
            except RTPError:
                jb.push(data, n, now)
                return
            if (jb.payload_type is not None and pt != jb.payload_type) or (
                jb.ssrc is not None and ssrc != jb.ssrc
            ):
                jb.push(data, n, now)  # the buffer counts it (bad_pt / foreign / relock)
                return
            # per-leg sequence accounting
            mx = path.max_ext
            if mx is None:
                path.max_ext = path.first_ext = seq
            else:
                d = (seq - mx) & 0xFFFF
                if d >= 0x8000:
                    d -= 0x10000
                if d > 0:
                    path.max_ext = mx + d
            path.received += 1
            path.last_rx = now
            path.up = True
            if path.down:
                path.down = False
                self.on_event({"event": "path_up", "path": path.name, "source": path.source})
            if self._started is None:
                self._started = now
            # a copy the merged timeline has already passed is of no use
            tsw = jb.ts_at_write
            if tsw is not None and plen and plen % fb == 0:
                rel = (ts - tsw) & 0xFFFFFFFF
                if rel >= 0x80000000 and rel - 0x100000000 + plen // fb <= 0:
                    path.late += 1
            # path skew: the same packet seen on the other leg
            if stamp:
                path.seq_ts[seq] = ts
                path.seq_t[seq] = stamp
                if other.seq_ts[seq] == ts:
                    d_s = (stamp - other.seq_t[seq]) * sign
                    if -1.0 < d_s < 1.0:
                        self.skew_pairs += 1
                        k = 0.01 if self.skew_pairs > 100 else 1.0 / self.skew_pairs
                        self.skew_s = d_s if self.skew_s is None else self.skew_s + k * (d_s - self.skew_s)
            jb.push_parsed(data, pt, seq, ts, ssrc, off, plen, now)

        return handle

    def tick(self, now: float) -> None:
        """Report legs going down (silent ``down_after`` while the other delivers)."""
        if self._started is None:
            return
        for i, p in enumerate(self.paths):
            o = self.paths[1 - i]
            other_alive = o.last_rx is not None and now - o.last_rx < self.down_after
            last = p.last_rx if p.last_rx is not None else self._started
            if other_alive and not p.down and now - last >= self.down_after:
                p.up = False
                p.down = True
                self.on_event({"event": "path_down", "path": p.name, "source": p.source})

    def counters(self) -> dict[str, Any]:
        return {
            "paths": [p.view() for p in self.paths],
            "path_skew_ms": None if self.skew_s is None else round(self.skew_s * 1000.0, 3),
        }
