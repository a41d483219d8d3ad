"""True-peak meter (ITU-R BS.1770-4 Annex 2): filter, streaming, both paths, hostile input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from aimixer_dsp.errors import InvalidBufferError, NonFiniteInputError, ParameterError
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.mixer import MixerSession
from aimixer_dsp.truepeak import TruePeakMeter, true_peak_filter

FS = 48000


def _sine(freq: float, amp: float, phase_deg: float, seconds: float = 1.0) -> np.ndarray:
    n = np.arange(int(FS * seconds))
    x = amp * np.sin(2 * np.pi * freq * n / FS + np.radians(phase_deg))
    fade = int(0.01 * FS)
    w = np.ones(n.size)
    w[:fade] = np.linspace(0, 1, fade)
    w[-fade:] = np.linspace(1, 0, fade)
    return x * w


def _response_db(phases: tuple, factor: int, freqs: np.ndarray) -> np.ndarray:
    taps = len(phases[0])
    h = np.zeros(factor * taps)
    first = factor - len(phases)
    for i, g in enumerate(phases):
        h[i + first :: factor] = g
    if first:  # phase 0 is the input itself (a unit tap at the centre)
        h = np.concatenate([h, [0.0]])
        h[factor * (taps // 2)] = 1.0
    w = 2 * np.pi * freqs / (FS * factor)
    resp = np.abs(np.exp(-1j * np.outer(w, np.arange(h.size))) @ h) / factor
    return 20 * np.log10(resp)


@pytest.mark.parametrize(("factor", "ripple", "stop"), [(4, 0.12, -39.0), (8, 0.01, -61.0)])
def test_filter_passband_and_stopband_as_documented(factor: int, ripple: float, stop: float) -> None:
    phases = true_peak_filter(factor)
    passband = _response_db(phases, factor, np.linspace(0, 20000, 401))
    stopband = _response_db(phases, factor, np.linspace(28000, FS * factor / 2, 2001))
    assert np.abs(passband).max() < ripple
    assert stopband.max() < stop


def test_annex2_filter_is_the_published_one() -> None:
    p = true_peak_filter(4)
    assert len(p) == 4 and all(len(g) == 12 for g in p)
    assert p[0][6] == 0.9721679687500 and p[3][5] == 0.9721679687500
    assert p[1] == tuple(reversed(p[2]))  # the prototype is symmetric


@pytest.mark.parametrize("factor", [4, 8])
@pytest.mark.parametrize(
    ("freq", "amp", "phase", "want"),
    [  # EBU Tech 3341 cases 15-19
        (FS / 4, 0.5, 0.0, -6.0),
        (FS / 4, 0.5, 45.0, -6.0),
        (FS / 6, 0.5, 60.0, -6.0),
        (FS / 8, 0.5, 67.5, -6.0),
        (FS / 4, 1.41, 45.0, 3.0),
    ],
)
def test_ebu_true_peak_tones(factor: int, freq: float, amp: float, phase: float, want: float) -> None:
    x = _sine(freq, amp, phase)
    m = TruePeakMeter(FS, 2, oversample=factor)
    m.push(np.stack([x, x], axis=1))
    assert want - 0.4 <= m.true_peak <= want + 0.2
    # The sample peak of the 45-degree fs/4 tone is 3 dB low: the meter must not read it.
    if phase == 45.0:
        assert 20 * math.log10(np.abs(x).max()) < want - 2.9


@pytest.mark.parametrize("factor", [4, 8])
def test_chunk_invariant_and_paths_agree(factor: int) -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(20000) * 0.3, _sine(11000, 0.9, 30.0, 0.5), np.zeros(500)])
    whole = TruePeakMeter(FS, 1, oversample=factor)
    whole.push(x)
    for size in (1, 17, 960, 4096):
        np_m = TruePeakMeter(FS, 1, oversample=factor)
        pure_m = TruePeakMeter(FS, 1, oversample=factor)
        per_np = []
        per_pure = []
        for i in range(0, x.size, size):
            per_np.append(np_m.push(x[i : i + size]))
            per_pure.append(pure_m.push(x[i : i + size].tolist()))
        assert np_m.true_peak == pytest.approx(whole.true_peak, abs=1e-9)
        assert pure_m.true_peak == pytest.approx(whole.true_peak, abs=1e-8)
        finite = [(a, b) for a, b in zip(per_np, per_pure, strict=True) if math.isfinite(a)]
        assert all(abs(a - b) < 1e-8 for a, b in finite)


def test_true_peak_never_below_sample_peak_and_silence() -> None:
    m = TruePeakMeter(FS, 1)
    assert m.push([0.0] * 100) == -math.inf
    assert m.true_peak == -math.inf
    x = [0.0] * 50 + [0.5] + [0.0] * 50
    assert m.push(x) >= 20 * math.log10(0.5)
    assert m.push([]) == -math.inf


def test_hostile_input() -> None:
    with pytest.raises(ParameterError, match="oversample"):
        TruePeakMeter(FS, 1, oversample=3)
    with pytest.raises(ParameterError, match="oversample"):
        TruePeakMeter(FS, 1, oversample=True)
    with pytest.raises(ParameterError, match="channels"):
        TruePeakMeter(FS, 0)
    m = TruePeakMeter(FS, 2)
    with pytest.raises(NonFiniteInputError):
        m.push(np.array([[0.1, float("nan")]]))
    with pytest.raises(NonFiniteInputError):
        m.push([[0.1, 0.2], [float("inf"), 0.0]])
    with pytest.raises(InvalidBufferError, match="2 channels"):
        m.push([0.1, 0.2])
    assert m.true_peak == -math.inf  # state untouched
    for v in (1e300, 1e-270):
        pure = TruePeakMeter(FS, 1).push([v, -v, 0.0])
        assert pure == pytest.approx(TruePeakMeter(FS, 1).push(np.array([v, -v, 0.0])), rel=1e-9)
        assert pure >= 20 * math.log10(v)


@pytest.mark.parametrize("pure", [False, True])
def test_exact_max_momentary_and_short_term_at_any_offset(pure: bool) -> None:
    """EBU Tech 3341 cases 13 and 10: bursts off the 100 ms grid read -23.0 +/- 0.1."""
    tone = lambda s: 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * np.arange(int(s * FS)) / FS)  # noqa: E731
    for i in (3, 7):  # 60 ms and 140 ms offsets: the grid reads -23.45 for both
        x = np.concatenate([np.zeros(int(i * 0.02 * FS)), tone(0.4), np.zeros(FS)])
        x2 = np.stack([x, x], axis=1)
        m = LoudnessMeter(FS, 2, exact_max=True)
        grid = LoudnessMeter(FS, 2)
        grid.push(x2)
        if pure:
            rows = x2.tolist()
            for k in range(0, len(rows), 9600):
                m.push(rows[k : k + 9600])
        else:
            m.push(x2)
        assert m.momentary_max == pytest.approx(-23.0, abs=0.1)
        assert grid.momentary_max < -23.3  # the live 100 ms grid stays as it was
        assert m.momentary == pytest.approx(grid.momentary, rel=1e-9)  # live readings unchanged
    y = np.concatenate([np.zeros(int(0.15 * 7 * FS)), tone(3.0), np.zeros(FS)])
    m = LoudnessMeter(FS, 1, exact_max=True)
    m.push(y.tolist() if pure else y)
    assert m.short_term_max == pytest.approx(-23.0 - 3.01, abs=0.1)  # mono: one channel's energy


def test_mixer_metrics_have_true_peak() -> None:
    s = MixerSession()
    cfg = {k: {"enabled": False} for k in ("noiseGate", "compressor", "eq", "limiter")}
    x = (0.5 * np.sin(2 * np.pi * 12000 * np.arange(960) / FS + np.pi / 4)).tolist()
    r = s.process(x, cfg)
    m = r["metrics"]
    assert m["truePeak"] >= m["peak"]
    assert m["truePeak"] == pytest.approx(-6.0, abs=0.2)
    s.process([0.0] * 960, cfg)
    r = s.process([0.0] * 960, cfg)
    assert r["metrics"]["truePeak"] == -math.inf
    assert r["metrics"]["truePeakMax"] == pytest.approx(-6.0, abs=0.2)


def test_truepeak_kernel_gives_the_same_readings() -> None:
    """The browser installs the over-sampler as a JavaScript kernel (wasm/js/kernels.js): a Python
    twin of its arithmetic gives the pure path's readings up to float rounding, and is used."""
    import random
    from array import array

    from aimixer_dsp.backend import set_kernel

    calls = []

    def twin(buf: array) -> None:  # buf = (T, P, taps (P T), hist (T - 1), x (n))
        calls.append(len(buf))
        T, P = int(buf[0]), int(buf[1])
        g, x = list(buf[2 : 2 + P * T]), list(buf[2 + P * T :])
        hi = 0.0
        if max(map(abs, x)) > 1e-280:
            for t in range(T - 1, len(x)):
                for p in range(P):
                    acc = 0.0
                    for j in range(T):
                        acc += g[p * T + j] * x[t - j]
                    hi = max(hi, abs(acc))
        buf[0] = max(hi, max(map(abs, x[T - 1 :])))

    rng = random.Random(7)
    frames = [[rng.uniform(-1.0, 1.0) * 0.7 for _ in range(960)] for _ in range(4)]
    frames.append([0.5 * math.sin(2 * math.pi * 12000 * n / 48000 + 0.3) for n in range(960)])
    want_m, got_m = TruePeakMeter(48000), TruePeakMeter(48000)
    want = [want_m.push_checked(f) for f in frames]
    set_kernel("truepeak", twin)
    try:
        got = [got_m.push_checked(f) for f in frames]
    finally:
        set_kernel("truepeak", None)
    assert len(calls) == len(frames)
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-9
    assert got_m.true_peak == pytest.approx(want_m.true_peak, abs=1e-9)
