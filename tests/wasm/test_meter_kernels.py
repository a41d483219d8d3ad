"""The loudness kernels (``kweight``, ``tprows`` in ``backend.KERNEL_NAMES``): the browser installs
them from ``wasm/js/kernels.js``. Here Python twins of the JavaScript (the same arithmetic,
statement for statement, on the same ``array('d')`` buffers) are installed in CPython: the
exact-maximum loudness meter then reads bit for bit what the pure loop reads, the normalisation
analysis and the true-peak limiter agree within float rounding, and the kernels are really called.
``tests/node/test_meter_kernels_node.py`` checks the JavaScript itself inside Pyodide."""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Iterator

import pytest
from aimixer_dsp.backend import set_kernel
from aimixer_dsp.loudnorm import NormalizationAnalysis, Normalizer
from aimixer_dsp.meters import LoudnessMeter
from processors.test_dynamics_kernels import limiter_twin  # the core limiter loop's twin

CALLS: dict[str, int] = {}


def kweight_twin(b: array) -> None:
    ch, n, tl = int(b[0]), int(b[1]), int(b[2])
    b0, b1, b2, a1, a2, d1, d2 = b[11:18]
    w_off = 18
    s_off = w_off + ch
    t_off = s_off + 4 * ch
    x_off = t_off + tl
    sq = [0.0] * n
    for c in range(ch):
        w = b[w_off + c]
        o = s_off + 4 * c
        s1, s2, s3, s4 = b[o : o + 4]
        xo = x_off + c * n
        for i in range(n):
            v = b[xo + i]
            y = b0 * v + s1
            s1 = b1 * v - a1 * y + s2
            s2 = b2 * v - a2 * y
            z = y + s3
            s3 = s4 - 2.0 * y - d1 * z
            s4 = y - d2 * z
            if w != 0.0:
                sq[i] = sq[i] + z * z * w
        b[o : o + 4] = array("d", (s1, s2, s3, s4))
    b[x_off : x_off + n] = array("d", sq)
    for lo, hi, win, at in ((b[3], b[4], b[5], 9), (b[6], b[7], b[8], 10)):
        if not lo <= hi:
            b[at] = -1.0
            continue
        lo, hi, win = int(lo), int(hi), int(win)
        cw = 0.0
        for e in range(lo - win):
            cw += b[t_off + e]
        c = cw
        for k in range(lo - win, lo):
            c += b[t_off + k]
        best = c - cw
        for k in range(lo, hi):
            c += b[t_off + k]
            cw += b[t_off + k - win]
            if c - cw > best:
                best = c - cw
        b[at] = best
    CALLS["kweight"] = CALLS.get("kweight", 0) + 1


def tprows_twin(x: array, g: array, T: int) -> None:
    p_count = len(g) // T
    for t in range(T - 1, len(x)):
        hi = 0.0
        for p in range(p_count):
            o = p * T
            acc = 0.0
            for j in range(T):
                acc += g[o + j] * x[t - j]
            if abs(acc) > hi:
                hi = abs(acc)
        x[t - T + 1] = hi
    CALLS["tprows"] = CALLS.get("tprows", 0) + 1


def tplimit_twin(b: array, ch: int, A: int, T: int) -> None:
    off_r = A
    off_h = off_r + T
    off_k = off_h + ch * T
    L, M = int(b[off_k]), int(b[off_k + 1])
    off_e = off_k + 6 + (M - 1) + L
    off_dx = off_e + L
    off_w = off_dx + ch * L
    n = (len(b) - off_w) // (3 * ch)
    off_a = off_w + ch * n
    off_x = off_a + ch * n
    ra = list(b[:A]) + [0.0] * n
    rs = list(b[off_r:off_h]) + [0.0] * n
    for i in range(n):
        w = b[off_w + i]
        a = b[off_a + i]
        for c in range(1, ch):
            if b[off_w + c * n + i] > w:
                w = b[off_w + c * n + i]
            if b[off_a + c * n + i] > a:
                a = b[off_a + c * n + i]
        ra[A + i] = a
        rs[T + i] = ra[i] if ra[i] > w else w
    xs = [
        list(b[off_h + c * T : off_h + (c + 1) * T]) + list(b[off_x + c * n : off_x + (c + 1) * n])
        for c in range(ch)
    ]
    env = []
    for i in range(n):
        e = max(abs(x[i]) for x in xs)
        m = max(rs[i + 1 : i + T + 1])
        env.append(m if m > e else e)
    core = array("d", b[off_k:off_e]) + array("d", env)
    limiter_twin(core, 1)
    b[off_k:off_e] = core[: off_e - off_k]
    ye = core[off_e - off_k :]
    es = list(b[off_e:off_dx]) + env
    xx = [list(b[off_dx + c * L : off_dx + (c + 1) * L]) + xs[c][:n] for c in range(ch)]
    for i in range(n):
        g = ye[i] / es[i] if es[i] > 0.0 else 0.0
        for c in range(ch):
            b[off_x + c * n + i] = xx[c][i] * g
    for c in range(ch):
        b[off_h + c * T : off_h + (c + 1) * T] = array("d", xs[c][n:])
        b[off_dx + c * L : off_dx + (c + 1) * L] = array("d", xx[c][n:])
    b[off_e:off_dx] = array("d", es[n:])
    b[:A] = array("d", ra[n:])
    b[off_r:off_h] = array("d", rs[n:])
    CALLS["tplimit"] = CALLS.get("tplimit", 0) + 1


@pytest.fixture
def twins() -> Iterator[None]:
    CALLS.clear()
    set_kernel("kweight", kweight_twin)
    set_kernel("tprows", tprows_twin)
    set_kernel("tplimit", tplimit_twin)
    try:
        yield
    finally:
        set_kernel("kweight", None)
        set_kernel("tprows", None)
        set_kernel("tplimit", None)


SR = 8000  # the twins are plain Python loops: a low rate keeps the test fast


def _signal(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    out = []
    for c in range(2):
        col = []
        for i in range(n):
            burst = 1.0 if (i // 1500) % 5 == 2 else 0.15
            col.append(burst * (0.6 * math.sin(i * (0.05 + 0.02 * c)) + 0.2 * (rng.random() - 0.5)))
        out.append(col)
    return out


BLOCKS = [300, 5000, 17, 256, 3333, 128, 9000, 1024, 40000]


def _meter(cols: list[list[float]]) -> LoudnessMeter:
    m = LoudnessMeter(SR, channels=2, exact_max=True)
    s = 0
    n = len(cols[0])
    k = 0
    while s < n:
        b = BLOCKS[k % len(BLOCKS)]
        m.push_planar([c[s : s + b] for c in cols])
        s += b
        k += 1
    return m


def test_exact_max_meter_with_the_kweight_kernel_reads_bit_for_bit_as_the_pure_loop() -> None:
    cols = _signal(SR * 14, 1)
    ref = _meter(cols)
    set_kernel("kweight", kweight_twin)
    CALLS.clear()
    try:
        got = _meter(cols)
    finally:
        set_kernel("kweight", None)
    assert CALLS["kweight"] >= 10  # the blocks of 256 samples and more
    assert got.summary() == ref.summary()
    assert got._fine_m == ref._fine_m and got._fine_s == ref._fine_s
    assert got._states == ref._states
    assert list(got._fine_tail) == list(ref._fine_tail)
    assert math.isfinite(ref.momentary_max) and ref.momentary_max > ref.integrated
    # a weight of zero (an LFE-like channel) is skipped, as by the loop
    m0 = LoudnessMeter(SR, channels=2, weights=(1.0, 0.0), exact_max=True)
    m1 = LoudnessMeter(SR, channels=2, weights=(1.0, 0.0), exact_max=True)
    m0.push_planar([c[:20000] for c in cols])
    set_kernel("kweight", kweight_twin)
    try:
        m1.push_planar([c[:20000] for c in cols])
    finally:
        set_kernel("kweight", None)
    assert m1.summary() == m0.summary() and m1._states == m0._states


def test_loudnorm_analysis_and_limiter_with_the_kernels_match_the_pure_path(twins: None) -> None:
    cols = _signal(SR * 6, 2)
    set_kernel("kweight", None)
    set_kernel("tprows", None)
    set_kernel("tplimit", None)
    ref_a = NormalizationAnalysis(SR, 2)
    ref_n = Normalizer(9.0, -1.0, SR)
    ref_out: list[list[float]] = [[], []]
    for s in range(0, len(cols[0]), 4000):
        blk = [c[s : s + 4000] for c in cols]
        ref_a.push(blk)
        for o, y in zip(ref_out, ref_n.process(blk), strict=True):
            o.extend(y)
    set_kernel("kweight", kweight_twin)
    set_kernel("tprows", tprows_twin)
    set_kernel("tplimit", tplimit_twin)
    got_a = NormalizationAnalysis(SR, 2)
    got_n = Normalizer(9.0, -1.0, SR)
    got_out: list[list[float]] = [[], []]
    for s in range(0, len(cols[0]), 4000):
        blk = [c[s : s + 4000] for c in cols]
        got_a.push(blk)
        for o, y in zip(got_out, got_n.process(blk), strict=True):
            o.extend(y)
    assert CALLS["kweight"] >= 12 and CALLS["tprows"] >= 36 and CALLS["tplimit"] >= 10
    assert len(got_a.energy) == len(ref_a.energy) > 0
    for e, r in zip(got_a.energy, ref_a.energy, strict=True):
        assert e == pytest.approx(r, rel=1e-6, abs=1e-12)  # float32 storage
    for p, r in zip(got_a.peak, ref_a.peak, strict=True):
        assert p == pytest.approx(r, rel=1e-6, abs=1e-12)
    assert got_a.measured() == pytest.approx(ref_a.measured(), abs=1e-6)
    g1 = got_a.gain_for(-14.0, -1.0)
    g0 = ref_a.gain_for(-14.0, -1.0)
    assert g1 == pytest.approx(g0, abs=1e-5)
    peak = max(max(map(abs, c)) for c in ref_out)
    assert 0.5 < peak < 0.9  # the limiter worked (a 9 dB gain on peaks near 0.7)
    for a, b in zip(got_out, ref_out, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1e-9


@pytest.mark.parametrize("channels", [2, 3])
def test_normalizer_with_the_tplimit_kernel_limits_bit_for_bit_as_the_pure_path(channels: int) -> None:
    """The linked true-peak limiter after the row peaks (detector envelope: only max and abs; the
    core limiter's loop; the gains) with the ``tplimit`` kernel gives the pure path's output
    exactly, over blocks shorter and longer than the histories (short blocks stay on the loop)."""
    cols = _signal(SR * 5, 4)
    if channels == 3:
        cols.append([0.9 * v for v in cols[0][::-1]])
    sizes = [300, 5000, 17, 256, 3333, 20, 9000, 1024, 40000]

    def run() -> tuple[list[list[float]], Normalizer]:
        z = Normalizer(9.0, -1.0, SR)
        out: list[list[float]] = [[] for _ in cols]
        s = k = 0
        while s < len(cols[0]):
            blk = [c[s : s + sizes[k % len(sizes)]] for c in cols]
            for o, y in zip(out, z.process(blk), strict=True):
                o.extend(y)
            s += sizes[k % len(sizes)]
            k += 1
        return out, z

    ref, z0 = run()
    CALLS.clear()
    set_kernel("tplimit", tplimit_twin)
    try:
        got, z1 = run()
    finally:
        set_kernel("tplimit", None)
    assert CALLS["tplimit"] >= 6
    assert got == ref
    s0, s1 = z0.limiter._tp, z1.limiter._tp
    assert s0 is not None and s1 is not None
    for key in ("ha", "hr", "hx", "de", "dx"):
        assert s1[key] == s0[key], key  # type: ignore[literal-required]
    c0, c1 = s0["core"], s1["core"]
    assert (c1._u, c1._uh, c1._delay) == (c0._u, c0._uh, c0._delay)
    peak = max(max(map(abs, c)) for c in ref)
    assert 0.5 < peak < 0.9  # the limiter worked
