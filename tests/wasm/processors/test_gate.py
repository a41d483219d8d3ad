from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.processors import NoiseGate

from .conftest import FS, run


def _db(v: np.ndarray) -> float:
    return 10 * np.log10(np.mean(v * v))


def test_attenuates_noise_below_threshold(backend):
    rng = np.random.default_rng(5)
    noise = rng.uniform(-1, 1, FS // 2) * 10 ** (-50 / 20)  # peak -50 dBFS
    gate = NoiseGate(threshold_db=-40, attack_ms=1, hold_ms=10, release_ms=20, range_db=-60)
    y = run(gate, noise, backend)
    tail = slice(FS // 4, None)  # well after hold + many release constants
    assert _db(y[tail]) - _db(noise[tail]) == pytest.approx(-60.0, abs=0.5)


def test_passes_signal_above_threshold(backend):
    t = np.arange(FS // 2) / FS
    tone = 10 ** (-20 / 20) * np.sin(2 * np.pi * 300 * t)
    gate = NoiseGate(threshold_db=-40, attack_ms=1, hold_ms=10, release_ms=20, range_db=-60)
    y = run(gate, tone, backend)
    tail = slice(FS // 10, None)
    assert _db(y[tail]) - _db(tone[tail]) == pytest.approx(0.0, abs=0.01)


def test_hold_then_release(backend):
    """Burst above threshold, then quiet noise: open during hold, then closes by release."""
    rng = np.random.default_rng(6)
    n_burst, hold_ms, release_ms = 4800, 50, 10
    burst = 0.5 * np.sin(2 * np.pi * 200 * np.arange(n_burst) / FS)
    quiet = rng.uniform(-1, 1, FS // 2) * 1e-3  # -60 dBFS peak, below -30 threshold
    x = np.concatenate([burst, quiet])
    gate = NoiseGate(threshold_db=-30, attack_ms=0.5, hold_ms=hold_ms, release_ms=release_ms, range_db=-80)
    y = run(gate, x, backend)
    hold_n = int(hold_ms * FS / 1000)
    # the last above-threshold sample is near the end of the burst; 40 ms into the quiet part
    seg_open = slice(n_burst + 100, n_burst + int(0.04 * FS))
    np.testing.assert_allclose(y[seg_open], x[seg_open], rtol=1e-6)
    # 10 release time constants after the hold: at least 80 dB down
    late = slice(n_burst + hold_n + 10 * release_ms * FS // 1000, None)
    assert _db(y[late]) - _db(x[late]) < -79.0


def test_starts_closed_and_opens_with_attack(backend):
    x = np.full(480, 0.5)
    y = run(NoiseGate(threshold_db=-20, attack_ms=1.0, range_db=-80), x, backend)
    g = y / x
    assert g[0] < 0.03  # first sample: one attack step from the floor
    n_tau = int(0.001 * FS)  # after one time constant: 63 % open
    assert g[n_tau - 1] == pytest.approx(1 - np.exp(-1), abs=0.01)


@pytest.mark.parametrize(
    "kw,val,msg",
    [
        ("threshold_db", -61, r"threshold_db=-61 is out of range \[-60, 0\]"),
        ("threshold_db", 1, r"threshold_db=1 is out of range"),
        ("attack_ms", 0, r"attack_ms=0 is out of range \[0.1, 100\]"),
        ("hold_ms", -1, r"hold_ms=-1 is out of range \[0, 1000\]"),
        ("release_ms", 0.5, r"release_ms=0.5 is out of range \[1, 5000\]"),
        ("range_db", 3, r"range_db=3 is out of range \[-120, 0\]"),
    ],
)
def test_ranges(kw, val, msg):
    with pytest.raises(ParameterError, match=msg):
        NoiseGate(**{kw: val})
