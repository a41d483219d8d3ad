from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.processors import Equalizer
from aimixer_dsp.processors.eq import HIGH_FREQ_HZ, LOW_FREQ_HZ, MID_FREQ_HZ
from scipy import signal as sps

from .conftest import run


def _measured_gain_db(eq: Equalizer, f: float, backend: str, fs: int) -> float:
    """Feed a sine, drop the transient, least-squares fit the output's amplitude at f."""
    n = fs  # 1 s
    t = np.arange(n) / fs
    x = np.sin(2 * np.pi * f * t)
    y = run(eq, x, backend)
    k = slice(n // 2, None)
    basis = np.stack([np.sin(2 * np.pi * f * t[k]), np.cos(2 * np.pi * f * t[k])], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y[k], rcond=None)
    return 20 * np.log10(np.hypot(*coef))


def _analytic_db(eq: Equalizer, f: float) -> float:
    """Magnitude of the cascade from its coefficients (scipy, independent of our code)."""
    sos = np.array([[b0, b1, b2, 1.0, a1, a2] for b0, b1, b2, a1, a2 in eq.sections])
    _, h = sps.sosfreqz(sos, worN=[f], fs=eq.sample_rate)
    return float(20 * np.log10(abs(h[0])))


BANDS = {
    "low": (LOW_FREQ_HZ, [20.0, 5000.0]),
    "mid": (MID_FREQ_HZ, [50.0, 15000.0]),
    "high": (HIGH_FREQ_HZ, [200.0, 20000.0]),
}


@pytest.mark.parametrize("fs", [48000, 44100])
@pytest.mark.parametrize("band", sorted(BANDS))
@pytest.mark.parametrize("gain", [-12.0, 6.0, 12.0])
def test_band_gain_matches_design(band, gain, fs, backend):
    eq = Equalizer(**{f"{band}_db": gain}, sample_rate=fs)
    f0, far = BANDS[band]
    for f in [f0, *far]:
        measured = _measured_gain_db(Equalizer(**{f"{band}_db": gain}, sample_rate=fs), f, backend, fs)
        assert measured == pytest.approx(_analytic_db(eq, f), abs=0.1)
    # RBJ design targets: shelf midpoint = gain/2, bell centre = gain, far away ~ 0 / full gain
    at_f0 = _analytic_db(eq, f0)
    assert at_f0 == pytest.approx(gain if band == "mid" else gain / 2, abs=0.01)
    inside, outside = (far[0], far[1]) if band == "low" else (far[1], far[0])
    if band == "mid":
        assert abs(_analytic_db(eq, far[0])) < 0.5 and abs(_analytic_db(eq, far[1])) < 0.5
    else:
        assert _analytic_db(eq, inside) == pytest.approx(gain, abs=0.5)
        assert abs(_analytic_db(eq, outside)) < 0.5


def test_matches_scipy_sosfilt(backend):
    rng = np.random.default_rng(9)
    x = rng.standard_normal(5000)
    eq = Equalizer(5.0, -7.0, 3.0)
    sos = np.array([[b0, b1, b2, 1.0, a1, a2] for b0, b1, b2, a1, a2 in eq.sections])
    np.testing.assert_allclose(run(eq, x, backend), sps.sosfilt(sos, x), rtol=0, atol=1e-9)


def test_flat_is_identity(backend):
    x = np.random.default_rng(1).standard_normal(1000)
    np.testing.assert_array_equal(run(Equalizer(), x, backend), x)


def test_low_sample_rate_caps_frequencies():
    eq = Equalizer(high_db=6, sample_rate=16000)
    assert eq.high_freq_hz == pytest.approx(6400.0)
    assert _analytic_db(eq, 6400.0) == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize("kw", ["low_db", "mid_db", "high_db"])
def test_ranges(kw):
    with pytest.raises(ParameterError, match=rf"{kw}=13 is out of range \[-12, 12\]"):
        Equalizer(**{kw: 13})
