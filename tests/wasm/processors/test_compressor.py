from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.processors import Compressor

from .conftest import FS, run


def _sine(level_db: float, seconds: float = 1.0, f: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return 10 ** (level_db / 20) * np.sin(2 * np.pi * f * t)


@pytest.mark.parametrize("ratio", [2.0, 4.0, 10.0])
@pytest.mark.parametrize("level", [-30.0, -18.0, -12.0, -6.0, 0.0])
def test_steady_state_follows_static_curve(ratio, level, backend):
    """1 kHz sine at a known peak level: the output peak level settles at
    T + (L - T) / R above the threshold (hard knee) and L below it."""
    T = -24.0
    comp = Compressor(threshold_db=T, ratio=ratio, attack_ms=5.0, release_ms=200.0)
    y = run(comp, _sine(level), backend)
    out_db = 20 * np.log10(np.abs(y[-FS // 10 :]).max())
    expected = T + (level - T) / ratio if level > T else level
    assert out_db == pytest.approx(expected, abs=0.2)


def test_soft_knee_static_curve():
    """Gain computer of Giannoulis et al. (2012) eq. 4, evaluated independently here."""
    T, R, W = -20.0, 4.0, 10.0
    comp = Compressor(threshold_db=T, ratio=R, knee_db=W)
    for xl in np.linspace(-40, 0, 81):
        if 2 * (xl - T) < -W:
            yl = xl
        elif 2 * abs(xl - T) <= W:
            yl = xl + (1 / R - 1) * (xl - T + W / 2) ** 2 / (2 * W)
        else:
            yl = T + (xl - T) / R
        assert comp.gain_reduction_db(xl) == pytest.approx(xl - yl, abs=1e-12)


def test_soft_knee_steady_state(backend):
    T, R, W, L = -20.0, 4.0, 10.0, -18.0  # inside the knee
    comp = Compressor(threshold_db=T, ratio=R, knee_db=W, attack_ms=5, release_ms=300)
    y = run(comp, _sine(L), backend)
    gr = (1 - 1 / R) * (L - T + W / 2) ** 2 / (2 * W)
    assert 20 * np.log10(np.abs(y[-FS // 10 :]).max()) == pytest.approx(L - gr, abs=0.2)


def test_makeup_gain(backend):
    comp = Compressor(threshold_db=-24, ratio=4, makeup_db=6, attack_ms=5, release_ms=200)
    y = run(comp, _sine(-36), backend)  # below threshold: only makeup
    assert 20 * np.log10(np.abs(y[-FS // 10 :]).max()) == pytest.approx(-30.0, abs=1e-6)


def test_attack_time_constant(backend):
    """Step from silence to a level 20 dB over threshold (ratio 20 ~ 19 dB reduction): after one
    attack time constant 63 % of the final reduction is reached."""
    T, R, att = -30.0, 20.0, 10.0
    x = np.concatenate([np.zeros(100), np.full(FS // 4, 10 ** (-10 / 20))])
    y = run(Compressor(threshold_db=T, ratio=R, attack_ms=att, release_ms=1000), x, backend)
    gr = -20 * np.log10(y[100:] / x[100:])
    final = (1 - 1 / R) * 20.0
    k = int(att * FS / 1000) - 1
    assert gr[k] == pytest.approx(final * (1 - np.exp(-1)), rel=0.01)
    assert gr[-1] == pytest.approx(final, rel=1e-3)


def test_ratio_one_is_transparent(backend):
    x = _sine(-3, 0.1)
    np.testing.assert_allclose(run(Compressor(threshold_db=-40, ratio=1.0), x, backend), x, rtol=1e-12)


@pytest.mark.parametrize(
    "kw,val,msg",
    [
        ("ratio", 25, r"ratio=25 is out of range \[1, 20\]"),
        ("ratio", 0.5, r"ratio=0.5 is out of range"),
        ("threshold_db", -41, r"threshold_db=-41 is out of range \[-40, 0\]"),
        ("attack_ms", 0.05, r"attack_ms=0.05 is out of range \[0.1, 100\]"),
        ("release_ms", 5, r"release_ms=5 is out of range \[10, 1000\]"),
        ("knee_db", -1, r"knee_db=-1 is out of range \[0, 24\]"),
        ("ratio", "4", r"ratio='4' must be a number"),
    ],
)
def test_ranges(kw, val, msg):
    with pytest.raises(ParameterError, match=msg):
        Compressor(**{kw: val})
