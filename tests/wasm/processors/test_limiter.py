from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.processors import Chain, Gain, Limiter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import FS, run


def _check_brickwall(y: np.ndarray, ceiling_db: float) -> None:
    c = 10 ** (ceiling_db / 20)
    assert np.abs(y).max() <= c
    assert float(np.abs(y.astype(np.float32)).max()) <= c  # float32 output too


signals = st.builds(
    lambda kind, n, amp, freq, seed: _make(kind, n, amp, freq, seed),
    kind=st.sampled_from(["square", "bursts", "noise", "impulses", "sine"]),
    n=st.integers(1, 2500),
    amp=st.floats(0.05, 1.0),
    freq=st.floats(20.0, 12000.0),
    seed=st.integers(0, 2**16),
)


def _make(kind: str, n: int, amp: float, freq: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    if kind == "square":  # full-scale square wave
        return np.sign(np.sin(2 * np.pi * freq * t) + 1e-12)
    if kind == "sine":
        return amp * np.sin(2 * np.pi * freq * t)
    if kind == "noise":
        return np.clip(rng.standard_normal(n) * amp, -1, 1)
    x = rng.standard_normal(n) * 0.01
    if kind == "impulses":
        idx = rng.integers(0, n, size=max(1, n // 200))
        x[idx] = rng.choice([-1.0, 1.0], size=idx.size)
        return x
    for _ in range(3):  # random bursts
        a = int(rng.integers(0, n))
        b = min(n, a + int(rng.integers(1, 400)))
        x[a:b] = rng.uniform(-1, 1, b - a)
    return x


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    x=signals,
    ceiling=st.sampled_from([-3.0, -1.0, -0.1, 0.0]),
    lookahead=st.sampled_from([0.0, 0.02, 1.5, 5.0]),
    release=st.sampled_from([1.0, 50.0, 1000.0]),
    cut=st.integers(0, 2500),
)
def test_brickwall_with_20db_gain(x, ceiling, lookahead, release, cut):
    for backend in ("numpy", "pure"):
        chain = Chain([Gain(20.0), Limiter(ceiling, lookahead_ms=lookahead, release_ms=release)])
        y = np.concatenate([run(chain, x[:cut], backend), run(chain, x[cut:], backend)])
        assert y.shape == x.shape
        _check_brickwall(y, ceiling)


def test_latency_and_transparency_below_ceiling(backend):
    lim = Limiter(-1.0, lookahead_ms=1.5)
    L = lim.latency_samples
    assert L == 72
    x = np.random.default_rng(2).uniform(-0.5, 0.5, 3000)
    y = run(lim, x, backend)
    np.testing.assert_array_equal(y[:L], 0.0)
    np.testing.assert_array_equal(y[L:], x[:-L])  # exact delay, unity gain


def test_limits_loud_sine_to_ceiling_and_recovers(backend):
    t = np.arange(FS) / FS
    x = 0.9 * np.sin(2 * np.pi * 100 * t)
    x[: FS // 2] *= 3.0  # +9.5 dB over a -1 dB ceiling
    x[FS // 2 :] *= 0.5  # -6.9 dBFS: below the ceiling
    lim = Limiter(-1.0, lookahead_ms=1.5, release_ms=5.0)
    y = run(lim, x, backend)
    c = 10 ** (-1 / 20)
    assert np.abs(y[: FS // 2]).max() == pytest.approx(c, rel=1e-5)
    # long after the loud part (many release constants) the gain is back to 1
    L = lim.latency_samples
    np.testing.assert_allclose(y[FS // 2 + L + FS // 5 :], x[FS // 2 + FS // 5 : -L], rtol=1e-9)


def test_lookahead_change_resets_and_reports_latency():
    lim = Limiter(lookahead_ms=1.5)
    lim.process([0.5] * 100)
    lim.lookahead_ms = 5.0
    assert lim.latency_samples == 240
    assert lim.process([0.1] * 10) == [0.0] * 10


@pytest.mark.parametrize(
    "kw,val,msg",
    [
        ("ceiling_db", -3.5, r"ceiling_db=-3.5 is out of range \[-3, 0\]"),
        ("ceiling_db", 0.5, r"ceiling_db=0.5 is out of range"),
        ("lookahead_ms", 21, r"lookahead_ms=21 is out of range \[0, 20\]"),
        ("release_ms", 0, r"release_ms=0 is out of range \[1, 1000\]"),
    ],
)
def test_ranges(kw, val, msg):
    with pytest.raises(ParameterError, match=msg):
        Limiter(**{kw: val})


@pytest.mark.parametrize("lookahead,release", [(1.5, 50.0), (0.02, 5.0), (5.0, 1.0), (20.0, 1000.0)])
@pytest.mark.parametrize("block", [960, 5000, 16384])
def test_isolated_peaks_numpy_equals_pure(lookahead, release, block):
    """Blocks with a few close peaks over the ceiling (the NumPy path limits only around them
    and uses closed-form release elsewhere) agree with the pure path and stay brickwall."""
    rng = np.random.default_rng(int(lookahead * 100 + release))
    n = 3 * block + 123
    x = np.clip(0.1 * rng.standard_normal(n), -0.8, 0.8)
    for start in range(0, n - 60, block):  # one short cluster of peaks per block
        for p in start + int(rng.integers(0, min(block, n - start) - 60)) + rng.integers(0, 30, size=3):
            x[p : p + int(rng.integers(1, 20))] *= rng.uniform(3.0, 8.0)
    ys = {}
    for backend in ("numpy", "pure"):
        lim = Limiter(-1.0, lookahead_ms=lookahead, release_ms=release)
        ys[backend] = np.concatenate([run(lim, x[i : i + block], backend) for i in range(0, n, block)])
        _check_brickwall(ys[backend], -1.0)
    np.testing.assert_allclose(ys["numpy"], ys["pure"], rtol=0, atol=1e-9)
