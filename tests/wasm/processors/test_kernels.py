"""The pure path's hot loops live in module-level kernels whose parameters are their locals
(hottest first, for CPython's paired local loads). They must compute exactly what the plain
inline loops compute: the same operations in the same order, so bit-identical results and state,
frame after frame, for any block length."""

from __future__ import annotations

import math

import pytest
from aimixer_dsp.meters import (
    LoudnessMeter,
    _kfilter_sumsq_plain,
    _kfilter_sumsq_pure,
    k_weighting_coefficients,
)
from aimixer_dsp.processors import Compressor, Equalizer
from aimixer_dsp.processors import eq as eq_mod

from .conftest import FS, make_signal

E = math.e


def _ref_kfilter(x: list, coeffs: tuple, state: list) -> float:
    """The inline loop the meter used before its kernel (normalised stage 1)."""
    (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = coeffs
    q1 = b1 / b0
    q2 = b2 / b0
    s1, s2, s3, s4 = (v / b0 for v in state)
    acc = 0.0
    for v in x:
        y = v + s1
        s1 = q1 * v - a1 * y + s2
        s2 = q2 * v - a2 * y
        z = y + s3
        s3 = s4 - 2.0 * y - d1 * z
        s4 = y - d2 * z
        acc += z * z
    state[:] = [s1 * b0, s2 * b0, s3 * b0, s4 * b0]
    return acc * (b0 * b0)


def _ref_ncascade3(data: list, coeffs: list, states: list, gain: float) -> tuple:
    (b1, b2, a1, a2), (c1, c2, d1, d2), (e1, e2, f1, f2) = coeffs
    (s1, s2), (t1, t2), (u1, u2) = states
    out = []
    for x in data:
        y = x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        z = y + t1
        t1 = c1 * y - d1 * z + t2
        t2 = c2 * y - d2 * z
        w = z + u1
        u1 = e1 * z - f1 * w + u2
        u2 = e2 * z - f2 * w
        out.append(gain * w)
    return out, [(s1, s2), (t1, t2), (u1, u2)]


def _ref_comp_eq3(comp: Compressor, data: list, coeffs: list, states: list, gain: float) -> tuple:
    """The inline fused compressor -> EQ loop as it was before the kernel (returns the
    compressor's new (y1, g) instead of storing it)."""
    (b1, b2, a1, a2), (c1_, c2, d1, d2), (e1, e2, f1, f2) = coeffs
    (s1, s2), (t1, t2), (u1, u2) = states
    ns, c1, lhi, llo, nk = comp._py_params()
    aR, aA = comp._aR, comp._aA
    bA = 1.0 - aA
    ns *= bA
    c1 *= bA
    nk *= bA
    K = 20.0 / math.log(10.0)
    aRK = aR**64
    out = []
    W = -comp._y1 / K * bA
    G = -comp._g / K
    n = len(data)
    for s in range(0, n, 64):
        th = comp._skip_level(-aRK * K * (W / bA))
        for v in data[s : s + 64]:
            W = aR * W
            if v > th or v < -th:
                la = math.log(abs(v))
                if la > lhi:
                    W = min(W, ns * la + c1)
                elif la > llo:
                    d = la - llo
                    W = min(W, nk * d * d)
            G = aA * G + W
            x = v * E**G
            y = x + s1
            s1 = b1 * x - a1 * y + s2
            s2 = b2 * x - a2 * y
            z = y + t1
            t1 = c1_ * y - d1 * z + t2
            t2 = c2 * y - d2 * z
            w = z + u1
            u1 = e1 * z - f1 * w + u2
            u2 = e2 * z - f2 * w
            out.append(gain * w)
    return out, [(s1, s2), (t1, t2), (u1, u2)], (-K * (W / bA), -K * G)


def _signal(n: int, seed: int = 5, scale: float = 2.0) -> list:
    return (make_signal(n, seed=seed) * scale).tolist()


@pytest.mark.parametrize("sizes", [[960] * 7, [1, 2, 3, 4799, 4800, 4801, 17], [64, 63, 65, 128, 1000]])
def test_kfilter_kernel_is_bit_identical_to_the_inline_loop(sizes):
    coeffs = k_weighting_coefficients(FS)
    x = _signal(sum(sizes))
    got_state, want_state, plain_state = [0.0] * 4, [0.0] * 4, [0.0] * 4
    pos = 0
    for n in sizes:
        block = x[pos : pos + n]
        pos += n
        got = _kfilter_sumsq_pure(block, coeffs, got_state)
        assert got == _ref_kfilter(block, coeffs, want_state)
        assert got_state == want_state
        # and it is the plain (un-normalised) TDF-II filter up to rounding
        plain = _kfilter_sumsq_plain(block, coeffs, plain_state)
        assert math.isclose(got, plain, rel_tol=1e-12, abs_tol=1e-300)


def test_meter_readings_unchanged_by_the_kernel():
    # a meter fed in odd blocks that straddle the 100 ms sub-blocks reads as one fed whole
    x = _signal(48000 * 2, seed=9, scale=1.0)
    whole, parts = LoudnessMeter(FS), LoudnessMeter(FS)
    whole.push(x)
    pos = 0
    for n in [1, 4799, 4801, 3, 960, 11111] * 20:
        if pos >= len(x):
            break
        parts.push(x[pos : pos + n])
        pos += n
    for a, b in [
        (whole.momentary, parts.momentary),
        (whole.integrated, parts.integrated),
        (whole.momentary_max, parts.momentary_max),
    ]:
        assert math.isclose(a, b, rel_tol=1e-12)


@pytest.mark.parametrize("gains", [(2.0, -1.0, 2.0), (6.0, -4.0, 5.0), (-12.0, 12.0, -3.0)])
@pytest.mark.parametrize("sizes", [[960] * 5, [1, 63, 64, 65, 959, 2000]])
def test_eq_kernel_is_bit_identical_to_the_inline_loop(gains, sizes):
    eq = Equalizer(*gains, sample_rate=FS)
    x = _signal(sum(sizes), seed=7)
    coeffs, states, scales = eq_mod._normalise(list(eq.sections), [[0.0, 0.0]] * 3)
    ref_states = list(states)
    pos = 0
    for n in sizes:
        block = x[pos : pos + n]
        pos += n
        got, states = eq_mod._ncascade3(block, coeffs, states, scales[-1])
        want, ref_states = _ref_ncascade3(block, coeffs, ref_states, scales[-1])
        assert got == want
        assert states == ref_states


@pytest.mark.parametrize(
    "comp",
    [
        dict(threshold_db=-16.0, ratio=4.0, attack_ms=10.0, release_ms=150.0, knee_db=3.0),
        dict(threshold_db=-24.0, ratio=4.0, attack_ms=1.0, release_ms=20.0),
        dict(threshold_db=-20.0, ratio=3.0, knee_db=6.0, makeup_db=4.0),
        dict(threshold_db=-40.0, ratio=20.0, attack_ms=0.1, release_ms=10.0, knee_db=24.0),
    ],
)
@pytest.mark.parametrize("sizes", [[960] * 6, [1, 64, 65, 127, 960, 3000]])
def test_compressor_eq_kernel_is_bit_identical_to_the_inline_loop(comp, sizes):
    c = Compressor(**comp, sample_rate=FS)
    eq = Equalizer(2.0, -1.0, 2.0, sample_rate=FS)
    x = _signal(sum(sizes), seed=11)
    coeffs, states, scales = eq_mod._normalise(list(eq.sections), [[0.0, 0.0]] * 3)
    ref_states = list(states)
    pos = 0
    for n in sizes:
        block = x[pos : pos + n]
        pos += n
        want, ref_states, ref_comp = _ref_comp_eq3(c, block, coeffs, ref_states, scales[-1])
        got, states = c._py_eq3_tdf2(block, coeffs, states, scales[-1])
        assert got == want
        assert states == ref_states
        y1, g = ref_comp
        assert (c._y1, c._g) == (0.0 if y1 < 1e-9 else y1, 0.0 if g < 1e-9 else g)
