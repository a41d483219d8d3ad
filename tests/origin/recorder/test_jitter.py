from __future__ import annotations

import numpy as np

from origin.recorder import rtp
from origin.recorder.jitter import JitterBuffer

FB = 2  # one L16 mono sample per frame
N = 4  # frames per packet


class Collector:
    def __init__(self):
        self.chunks: list[bytes] = []
        self.events: list[dict] = []

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def make(depth=8, **kw):
    c = Collector()
    jb = JitterBuffer(
        FB, 48000, depth, lambda d, n: c.chunks.append(d), on_event=c.events.append, batch_frames=1, **kw
    )
    return jb, c


def pkt(k, ssrc=1, pt=96, seq0=65530, ts0=0xFFFFFFF0):
    """Packet k of a stream: payload = frame values k*N .. k*N+3 as big-endian int16."""
    payload = ((np.arange(k * N, k * N + N) % 30000).astype(">i2")).tobytes()
    return rtp.build(payload, payload_type=pt, sequence=seq0 + k, timestamp=ts0 + k * N, ssrc=ssrc)


def frames(data: bytes) -> list[int]:
    return np.frombuffer(data, dtype=">i2").tolist()


def test_in_order_with_seq_and_timestamp_wrap():
    jb, c = make()
    for k in range(20):
        jb.push(pkt(k), now=0.0)
    jb.flush()
    assert frames(c.data) == list(range(80))
    assert jb.counters()["received"] == 20 and jb.lost == 0


def test_reorder_duplicate_loss_late_foreign_bad_pt():
    jb, c = make(depth=8)
    order = [0, 1, 3, 2, 2, 4, 6, 7, 8, 9, 10, 11]  # 3/2 swapped, 2 duplicated, 5 lost
    for k in order:
        jb.push(pkt(k), now=0.0)
    jb.push(pkt(4, ssrc=99), now=0.0)  # foreign while locked
    jb.push(pkt(4, pt=0), now=0.0)  # wrong payload type
    jb.push(b"\x00" * 5, now=0.0)  # not RTP
    jb.push(pkt(5), now=0.0)  # frames 20..23 were already emitted as silence -> late
    jb.flush()
    got = frames(c.data)
    expect = list(range(48))
    expect[20:24] = [0, 0, 0, 0]
    assert got == expect
    cnt = jb.counters()
    assert cnt["reordered"] == 2  # packet 2 after 3, and the late packet 5
    assert cnt["duplicate"] == 1 and cnt["late"] == 1
    assert cnt["foreign"] == 1 and cnt["bad_pt"] == 1 and cnt["malformed"] == 1
    assert cnt["silence_frames"] == 4 and cnt["frames"] == 48
    assert cnt["lost"] == 0  # packet 5 did arrive (late): it is counted late, not lost


def test_loss_inside_depth_becomes_exact_silence_and_is_counted():
    jb, c = make(depth=100)
    for k in [0, 1, 2, 5, 6]:
        jb.push(pkt(k), now=0.0)
    jb.flush()
    got = frames(c.data)
    assert len(got) == 7 * N
    assert got[12:20] == [0] * 8 and got[20:] == list(range(20, 28))
    assert jb.lost == 2


def test_ssrc_relock_after_timeout_emits_event_and_gap():
    jb, c = make(relock_timeout=1.0)
    for k in range(4):
        jb.push(pkt(k), now=10.0)
    jb.push(pkt(0, ssrc=2, ts0=5000, seq0=100), now=10.5)  # too early: foreign
    assert jb.foreign == 1
    jb.push(pkt(0, ssrc=2, ts0=5000, seq0=100), now=11.5)  # 1.5 s quiet: relock
    jb.flush()
    ev = [e for e in c.events if e["event"] == "ssrc_relock"]
    assert len(ev) == 1 and ev[0]["ssrc"] == 2 and ev[0]["previous_ssrc"] == 1
    gap = ev[0]["gap_frames"]
    assert gap == 72000  # 1.5 s of wall-clock silence at 48 kHz
    got = frames(c.data)
    assert got[:16] == list(range(16)) and len(got) == 16 + gap + N
    assert got[-N:] == list(range(N))


def test_forward_jump_is_filled_with_silence():
    jb, c = make(depth=4)
    jb.push(pkt(0), now=0.0)
    jb.push(pkt(3000), now=0.0)  # 12000 frames later: beyond the ring, within max_gap
    jb.flush()
    got = frames(c.data)
    assert len(got) == 3001 * N
    assert got[:N] == list(range(N)) and got[-N:] == frames(pkt(3000)[12:])
    assert not any(got[N:-N])


def test_huge_jump_resets_timeline():
    jb, c = make(depth=4, max_gap_frames=1000)
    jb.push(pkt(0), now=0.0)
    jb.push(pkt(5000), now=0.0)  # 20000 frames: beyond the ring and max_gap
    jb.flush()
    assert [e["event"] for e in c.events].count("timeline_reset") == 1
    assert len(frames(c.data)) == 2 * N
