from __future__ import annotations

import numpy as np
import pytest

from origin.recorder.levels import FLOOR_DB, LevelBroker, LevelMeter, channel_names


def sine(db, n, rate=48000, f=1000.0):
    return (10 ** (db / 20) * np.sin(2 * np.pi * f * np.arange(n) / rate))[:, None]


def test_rate_rms_peak_and_hold():
    m = LevelMeter(1, 48000)
    snaps = m.push(sine(-6, 48000))
    assert len(snaps) == 20  # 20 Hz
    s = snaps[-1][0]
    assert s["level_db"] == pytest.approx(-9.03, abs=0.02) and s["peak_db"] == pytest.approx(-6.0, abs=0.01)
    # peak hold: after the signal drops, the peak is held 1.5 s, then follows the signal
    later = m.push(sine(-40, 48000 * 2))
    assert later[10][0]["peak_db"] == pytest.approx(-6.0, abs=0.01)  # 0.55 s after the drop
    assert later[-1][0]["peak_db"] == pytest.approx(-40.0, abs=0.01)
    assert later[-1][0]["level_linear"] == pytest.approx(10 ** (-43.01 / 20), rel=0.01)


def test_clipping_flag_and_silence_floor():
    m = LevelMeter(2, 48000, rate_hz=10)
    x = np.zeros((4800, 2))
    x[100, 0] = 1.0
    (snap,) = m.push(x)
    assert snap[0]["clipping"] is True and snap[1]["clipping"] is False
    assert snap[1]["level_db"] == FLOOR_DB and snap[1]["peak_db"] == FLOOR_DB
    (snap,) = m.push(np.zeros((4800, 2)))
    assert snap[0]["clipping"] is True  # held for 1.5 s


def test_int32_input_equals_float_input():
    x = (np.random.default_rng(0).integers(-(2**23), 2**23, size=(2400, 2)).astype(np.int32)) << 8
    a = LevelMeter(2, 48000).push(x)
    b = LevelMeter(2, 48000).push(x / 2**31)
    assert a == b


def test_names_and_validation():
    assert (
        channel_names(1) == ["M"] and channel_names(2) == ["L", "R"] and channel_names(3) == ["1", "2", "3"]
    )
    with pytest.raises(ValueError, match="rate_hz=1000"):
        LevelMeter(1, 48000, rate_hz=1000)


def test_broker_never_blocks_and_drops_oldest():
    b = LevelBroker(maxsize=2)
    q = b.subscribe()
    got = []
    b.add_callback(got.append)
    b.add_callback(lambda s: 1 / 0)
    for i in range(5):
        b.publish([{"i": i}])
    assert [q.get_nowait()[0]["i"] for _ in range(2)] == [3, 4]
    assert b.dropped == 3 and len(got) == 5 and b.callback_errors == 5
