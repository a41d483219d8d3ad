"""RFC 7273 media-clock-aligned archives (``clock_source="rtp"``) with real RTP on loopback."""

from __future__ import annotations

import datetime as dt
import os
import time

import numpy as np
import pytest
import soundfile as sf
from netutil import free_udp_port, unique_group

from origin.recorder import Recorder, RecorderConfig, RecorderConfigError, config_from_sdp
from origin.recorder.mediaclock import PTP_UTC_OFFSET_S, ClockWatch, MediaClock
from origin.recorder.sdp import parse_sdp
from origin.recorder.sender import Sender, SenderConfig
from origin.recorder.sinks import read_wav_chunks
from origin.recorder.worker import record_argv

from .conftest import wait_for

LO = "127.0.0.1"
RATE = 48000
LAYOUT = "%Y%m%d-%H%M%S.wav"


def test_media_clock_maps_timestamps_to_absolute_samples_across_the_wrap():
    wall = 1_796_000_000.25  # some time in 2026
    a = int(round(wall * RATE))
    # an offset that puts this sample 10 packets before the 32-bit wrap
    offset = (2**32 - 480 - (a + PTP_UTC_OFFSET_S * RATE)) % 2**32
    mc = MediaClock(RATE, offset)
    ts = mc.timestamp(a)
    assert ts == 2**32 - 480 == (a + PTP_UTC_OFFSET_S * RATE + offset) % 2**32
    # the wrap count comes from the system clock, even when it is off by an hour
    assert MediaClock(RATE, offset).anchor(ts, wall + 300.0) == a
    assert MediaClock(RATE, offset).anchor(ts, wall - 3600.0) == a
    assert mc.anchor(ts, wall) == a
    # later timestamps unwrap from the previous one (1 ms packets, some reordered)
    t = ts
    for k in range(1, 1000):
        t = (ts + 48 * k) & 0xFFFFFFFF
        assert mc.index(t) == a + 48 * k
    assert t < ts  # we did cross the wrap
    assert mc.index((ts + 48 * 990) & 0xFFFFFFFF) == a + 48 * 990  # a late packet, back over it
    assert mc.index((ts + 48 * 5) & 0xFFFFFFFF) == a + 48 * 5


def test_clock_watch_warns_when_the_offset_leaves_the_band():
    now = [0.0]
    w = ClockWatch(warn_ms=50, latency_s=0.02, window_s=1.0, clock=lambda: now[0])
    evs = []
    for k in range(50):  # arrivals 30 ms after media time (20 ms of it the reorder depth): fine
        now[0] = k * 0.1
        evs.append(w.observe(100.0 + k * 0.1, 100.03 + k * 0.1))
    assert [e for e in evs if e] == [] and w.offset_ms == pytest.approx(10.0, abs=1e-6)
    for k in range(50, 80):  # the system clock steps 0.3 s ahead
        now[0] = k * 0.1
        evs.append(w.observe(100.0 + k * 0.1, 100.33 + k * 0.1))
    drift = [e for e in evs if e]
    assert drift[0]["event"] == "clock_drift" and drift[0]["offset_ms"] == pytest.approx(310.0, abs=1e-6)


def test_bad_clock_config_is_a_clear_error(tmp_path):
    with pytest.raises(RecorderConfigError, match="clock_source='ptp'"):
        Recorder(RecorderConfig(clock_source="ptp", output=str(tmp_path / "x.wav")))
    with pytest.raises(RecorderConfigError, match="mediaclk_offset=-1"):
        Recorder(RecorderConfig(clock_source="rtp", mediaclk_offset=-1, output=str(tmp_path / "x.wav")))
    cfg = RecorderConfig(clock_source="rtp", mediaclk_offset=42, output=str(tmp_path / "x.wav"))
    argv = record_argv(cfg)
    assert (
        argv[argv.index("--clock-source") + 1] == "rtp" and argv[argv.index("--mediaclk-offset") + 1] == "42"
    )


def _bext(path) -> dict:
    return read_wav_chunks(str(path))["bext"]


def _files(root) -> dict[str, str]:
    return {f: os.path.join(root, f) for f in sorted(os.listdir(root)) if f.endswith(".wav")}


def test_staggered_recorders_restart_and_wrap_align_on_the_media_clock(tmp_path):
    """One sender whose media clock is ~1 s before a 10 s period boundary and whose 32-bit RTP
    timestamp wraps mid-stream; three recorders: one from the start, one started later, one
    stopped and restarted inside the first period. All split exactly on the media-clock
    boundary, agree sample for sample at identical file offsets, and carry exact TimeReferences."""
    group, port = unique_group("239.73"), free_udp_port()
    rng = np.random.default_rng(7)
    secs = 5
    src = (rng.integers(-(2**23), 2**23, size=(RATE * secs, 2)).astype(np.int32)) << 8
    prog = tmp_path / "src.wav"
    sf.write(prog, src, RATE, subtype="PCM_24")
    # media clock: the stream's first sample is 3 s before a period boundary (the sender's clock
    # is shifted on purpose: placement follows the media clock, not arrival)
    now = time.time()
    boundary = (int(now) // 10 + 2) * 10
    a_first = boundary * RATE - 3 * RATE
    base = MediaClock(RATE, 0)
    # a non-zero mediaclk offset chosen so the RTP timestamp wraps 3.5 s into the stream
    offset = (2**32 - base.timestamp(a_first) - int(3.5 * RATE)) % 2**32
    mc = MediaClock(RATE, offset)
    first_ts = mc.timestamp(a_first)
    assert first_ts == 2**32 - int(3.5 * RATE)
    snd = Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface=LO,
            program=str(prog),
            first_ts=first_ts,
            mediaclk_offset=offset,
        )
    )
    sdp = parse_sdp(snd.sdp())
    assert sdp.mediaclk == f"direct={offset}" and sdp.ts_refclk

    def recorder(name: str) -> Recorder:
        root = tmp_path / name
        cfg = config_from_sdp(
            snd.sdp(),
            archive_root=str(root),
            interface=LO,
            layout=LAYOUT,
            period=10,
            clock="utc",
            clock_source="rtp",
        )
        assert cfg.mediaclk_offset == offset
        return Recorder(cfg)

    r1, r2, r3 = recorder("r1"), recorder("r2"), recorder("r3")
    ev1 = r1.subscribe_events()
    r1.start()
    r3.start()
    snd.start()
    time.sleep(0.6)
    r3.stop()  # down for 0.9 s, then back inside the same period: the file is continued
    time.sleep(0.4)
    r2.start()  # a second recorder, started 1 s later
    time.sleep(0.5)
    r3b = recorder("r3")
    r3b.start()
    snd.join(15)
    for r in (r1, r2, r3b):  # the idle flush has written the tail
        wait_for(lambda r=r: r.jitter.high > 0 and r.jitter.write_pos == r.jitter.high, 3)
    time.sleep(0.2)
    stats = [r.stop() for r in (r1, r2, r3b)]
    assert all(s["lost"] == 0 for s in stats)
    stamp = dt.datetime.fromtimestamp(boundary - 10, dt.UTC).strftime("%Y%m%d-%H%M%S.wav")
    stamp2 = dt.datetime.fromtimestamp(boundary, dt.UTC).strftime("%Y%m%d-%H%M%S.wav")
    f1, f2, f3 = _files(tmp_path / "r1"), _files(tmp_path / "r2"), _files(tmp_path / "r3")
    assert list(f1) == list(f2) == list(f3) == [stamp, stamp2]
    midnight = (boundary // 86400) * 86400
    # recorder 1: the split falls exactly on the boundary; both files hold the program exactly
    a1, _ = sf.read(f1[stamp], dtype="int32")
    b1, _ = sf.read(f1[stamp2], dtype="int32")
    assert len(a1) == 3 * RATE
    np.testing.assert_array_equal(np.concatenate([a1, b1]), src)
    assert _bext(f1[stamp])["time_reference"] == a_first - midnight * RATE
    assert _bext(f1[stamp2])["time_reference"] == (boundary - midnight) * RATE
    # recorder 2 (started later): its first file is the tail of recorder 1's, equally placed
    a2, _ = sf.read(f2[stamp], dtype="int32")
    d = len(a1) - len(a2)
    assert 0 < d < len(a1)
    assert _bext(f2[stamp])["time_reference"] == _bext(f1[stamp])["time_reference"] + d
    np.testing.assert_array_equal(a2, a1[d:])
    b2, _ = sf.read(f2[stamp2], dtype="int32")
    np.testing.assert_array_equal(b2, b1)  # identical samples at identical offsets, across the wrap
    # recorder 3 (restarted): continued file, the downtime is silence, everything else in place
    a3, _ = sf.read(f3[stamp], dtype="int32")
    assert len(a3) == len(a1) and _bext(f3[stamp])["time_reference"] == _bext(f1[stamp])["time_reference"]
    hole = np.all(a3 == 0, axis=1)
    assert 0.5 * RATE < hole.sum() < 2.5 * RATE
    edges = np.flatnonzero(np.diff(hole.astype(np.int8)))
    assert len(edges) == 2  # one contiguous gap
    np.testing.assert_array_equal(a3[~hole], a1[~hole])
    b3, _ = sf.read(f3[stamp2], dtype="int32")
    np.testing.assert_array_equal(b3, b1)
    # the sender's clock was shifted on purpose: the recorder noticed the offset
    evs = []
    while not ev1.empty():
        evs.append(ev1.get_nowait())
    drift = [e for e in evs if e["event"] == "clock_drift"]
    expected_ms = (now - (a_first / RATE)) * 1000
    assert drift and abs(drift[0]["offset_ms"] - expected_ms) < 1500


def test_sender_stamps_the_system_clock_and_recorder_places_it(tmp_path):
    """Default sender: RTP timestamps from the (PTP-disciplined) system clock plus the announced
    offset; a recorder on the media clock puts the file where the sender's clock said, with no
    drift warning."""
    group, port = unique_group("239.73"), free_udp_port()
    snd = Sender(
        SenderConfig(
            dest_addr=group, port=port, interface=LO, program="tone", seconds=1.5, mediaclk_offset=777
        )
    )
    cfg = config_from_sdp(
        snd.sdp(), output=str(tmp_path / "o.wav"), interface=LO, clock="utc", clock_source="rtp"
    )
    rec = Recorder(cfg)
    ev = rec.subscribe_events()
    rec.start()
    st = snd.run()
    wait_for(lambda: rec.jitter.high >= st.frames, 3)
    time.sleep(0.3)
    stats = rec.stop()
    assert st.first_sample is not None and st.first_ts == MediaClock(RATE, 777).timestamp(st.first_sample)
    y, _ = sf.read(tmp_path / "o.wav", dtype="int32")
    assert len(y) == st.frames
    midnight = (st.first_sample // RATE // 86400) * 86400
    assert _bext(tmp_path / "o.wav")["time_reference"] == st.first_sample - midnight * RATE
    names = []
    while not ev.empty():
        names.append(ev.get_nowait()["event"])
    assert "media_clock_anchor" in names and "clock_drift" not in names
    assert stats["clock_source"] == "rtp"
