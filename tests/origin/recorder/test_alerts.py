"""AlertMonitor: when each alert fires and re-arms (the end-to-end test is in tests/origin/studio)."""

from __future__ import annotations

from origin.recorder.alerts import CLIP_REARM_S, AlertMonitor


def _monitor(**kw):
    out: list[dict] = []
    return AlertMonitor(out.append, **kw), out


def test_loudness_fires_once_after_n_seconds_and_rearms():
    m, out = _monitor(loudness_limit_lufs=-20.0, loudness_seconds=3)
    for s in (-25, -18, -17, None, -18, -18, -18, -18, -21, -19, -19, -19):
        m.on_record({"S": s, "clip": False})
    fired = [e for e in out if e["event"] == "recorder.loudness"]
    assert len(fired) == 2  # after the 3rd loud second of each run; None (no value) breaks a run
    assert fired[0]["limit_lufs"] == -20.0 and fired[0]["seconds"] == 3


def test_no_loudness_alert_without_a_limit_and_clipping_rearms():
    m, out = _monitor()
    m.on_record({"S": -1.0, "clip": True, "SP": 0.0, "TP": 0.4})
    m.on_record({"S": -1.0, "clip": True})
    for _ in range(CLIP_REARM_S):
        m.on_record({"S": -1.0, "clip": False})
    m.on_record({"S": -1.0, "clip": True})
    assert [e["event"] for e in out] == ["recorder.clipping", "recorder.clipping"]
    assert out[0]["true_peak_dbtp"] == 0.4


def test_stream_lost_and_restored_by_packet_count_and_ssrc_change():
    m, out = _monitor(stream_lost_seconds=1.0)
    m.poll(0, 0.0)
    m.poll(0, 5.0)  # nothing received yet: no alert before the first packet
    m.poll(10, 5.1)
    m.poll(10, 5.9)
    m.poll(10, 6.2)
    m.poll(10, 7.0)
    m.poll(11, 7.1)
    assert [e["event"] for e in out] == ["recorder.stream_lost", "recorder.stream_restored"]
    m.on_engine_event({"event": "ssrc_relock", "ssrc": 42})
    m.on_engine_event({"event": "silence_start", "threshold_db": -50})
    m.on_engine_event({"event": "silence_end"})
    assert [e["event"] for e in out[2:]] == [
        "recorder.stream_lost", "recorder.stream_restored", "recorder.silence", "recorder.silence_cleared",
    ]  # fmt: skip
    assert out[2]["reason"] == "ssrc_change" and out[4]["threshold_db"] == -50
