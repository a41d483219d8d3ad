"""The dynamics kernels (``gate``, ``compressor``, ``limiter`` in ``backend.KERNEL_NAMES``): the
browser installs them from ``wasm/js/kernels_dynamics.js``. Here Python twins of the JavaScript
(the same arithmetic, statement for statement, on the same planar ``array('d')`` arguments) are
installed in CPython: the processors then give the pure path's results (mono: bit for bit, the
twins call the same ``log``/``e **`` as the loops; linked channels in the render: up to float
rounding), carry the same state from block to block, and the kernels are really called.
``tests/node/test_dynamics_kernels.py`` checks the JavaScript itself inside Pyodide."""

from __future__ import annotations

import math
from array import array

import pytest
from aimixer_dsp.backend import set_kernel
from aimixer_dsp.presets import build_chain
from aimixer_dsp.render import ChannelChain

from .conftest import FACTORIES, make_signal

E = math.e


def _level(d: array, off: int, n: int, ch: int, i: int) -> float:
    a = abs(d[off + i])
    for c in range(1, ch):
        b = abs(d[off + c * n + i])
        if b > a:
            a = b
    return a


def gate_twin(d: array, ch: int) -> None:
    thr, hold, floor, aR, aA, since, y1, g = d[:8]
    bA = 1.0 - aA
    closed = hold + 1
    n = (len(d) - 8) // ch
    for i in range(n):
        v = _level(d, 8, n, ch, i)
        if v >= thr:
            since = 0
            y1 = 1.0
        elif since < hold:
            since += 1
            y1 = 1.0
        else:
            since = closed
            y1 = aR * y1
            if y1 < floor:
                y1 = floor
        g = aA * g + bA * y1
        for c in range(ch):
            d[8 + c * n + i] *= g
    d[5], d[6], d[7] = since, y1, g


def compressor_twin(d: array, ch: int, eq: bool) -> None:
    ns, c1, lhi, llo, nk, aR, aA, lo, mk, W, G = d[:11]
    off = 30 if eq else 11
    n = (len(d) - off) // ch
    if eq:
        b1, b2, a1, a2, c1_, c2, d1, d2, e1, e2, f1, f2 = d[11:23]
        s1, s2, t1, t2, u1, u2 = d[23:29]
        gain = d[29]
    for i in range(n):
        a = _level(d, off, n, ch, i)
        W = aR * W
        if a > lo:
            la = math.log(a)
            if la > lhi:
                gr = ns * la + c1
                if gr < W:
                    W = gr
            elif la > llo:
                dd = la - llo
                gr = nk * dd * dd
                if gr < W:
                    W = gr
        G = aA * G + W
        if not eq:
            e = E**G
            for c in range(ch):
                j = off + c * n + i
                d[j] = d[j] * e * mk if mk != 1.0 else d[j] * e
            continue
        x0 = E**G * d[off + i]
        y = x0 + s1
        s1 = b1 * x0 - a1 * y + s2
        s2 = b2 * x0 - a2 * y
        z = y + t1
        t1 = c1_ * y - d1 * z + t2
        t2 = c2 * y - d2 * z
        w = z + u1
        u1 = e1 * z - f1 * w + u2
        u2 = e2 * z - f2 * w
        d[off + i] = gain * w
    if eq:
        d[23:29] = array("d", (s1, s2, t1, t2, u1, u2))
    d[9], d[10] = W, G


def limiter_twin(d: array, ch: int) -> None:
    L, M, c, aR, acc, u = int(d[0]), int(d[1]), d[2], d[3], d[4], d[5]
    hist = M - 1
    offD = 6 + hist
    offX = offD + ch * L
    n = (len(d) - offX) // ch
    inv = 1.0 / M
    src = d[offD:]
    xs = ch * L
    qp: list = []
    qv: list = []
    for j in range(L):
        a = _level(src, 0, L, ch, j)
        if a > c:
            r = c / a
            while qv and qv[-1] >= r:
                qv.pop()
                qp.pop()
            qp.append(j - L)
            qv.append(r)
    head = 0
    uall = list(d[6:offD]) + [0.0] * n
    for i in range(n):
        a = _level(src, xs, n, ch, i)
        if a > c:
            r = c / a
            while len(qv) > head and qv[-1] >= r:
                qv.pop()
                qp.pop()
            qp.append(i)
            qv.append(r)
        if len(qv) > head:
            if qp[head] < i - L:
                head += 1
            w = 1.0 - qv[head] if len(qv) > head else 0.0
        else:
            w = 0.0
        u = aR * u
        if w > u:
            u = w
        uall[hist + i] = u
        acc += u
        gn = 1.0 - acc * inv
        acc -= uall[i]
        for k in range(ch):
            xv = src[k * L + i] if i < L else src[xs + k * n + i - L]
            d[offX + k * n + i] = min(c, max(-c, xv * gn))
    for k in range(ch):
        line = list(src[k * L : (k + 1) * L]) + list(src[xs + k * n : xs + (k + 1) * n])
        d[offD + k * L : offD + (k + 1) * L] = array("d", line[len(line) - L :] if L else [])
    d[6:offD] = array("d", uall[n : n + hist])
    d[5] = u


TWINS = {"gate": gate_twin, "compressor": compressor_twin, "limiter": limiter_twin}


class Installed:
    """The twins installed (counting their calls) for a ``with`` block."""

    def __enter__(self) -> dict:
        self.calls = {k: 0 for k in TWINS}

        def counted(name: str, fn):
            def call(*a):
                self.calls[name] += 1
                return fn(*a)

            return call

        for k, fn in TWINS.items():
            set_kernel(k, counted(k, fn))
        return self.calls

    def __exit__(self, *exc) -> None:
        for k in TWINS:
            set_kernel(k, None)


SIZES = [960, 960, 256, 1000, 4097, 300, 2500, 257, 960]


def _run_blocks(proc, x: list) -> tuple:
    out = []
    pos = 0
    for n in SIZES:
        out.extend(proc.process(x[pos : pos + n]))
        pos += n
    return out, repr(sorted((k, v) for k, v in vars(proc).items() if isinstance(v, int | float | list)))


@pytest.mark.parametrize(
    "name", ["gate", "compressor", "compressor_knee", "limiter", "limiter_nolook", "chain"]
)
def test_mono_kernels_give_the_pure_results_bit_for_bit(name):
    x = (make_signal(sum(SIZES), seed=3) * 2.0).tolist()
    want, want_state = _run_blocks(FACTORIES[name](), x)
    with Installed() as calls:
        got, got_state = _run_blocks(FACTORIES[name](), x)
    assert got == want
    assert got_state == want_state
    assert sum(calls.values()) > 0


def test_fused_compressor_eq_kernel_is_bit_identical():
    chain = build_chain(
        {
            "noiseGate": {"enabled": False},
            "compressor": {"threshold": -30.0, "ratio": 6.0, "knee": 6.0, "makeup": 4.0},
            "eq": {"low": 4.0, "mid": -3.0, "high": 6.0},
            "limiter": {"enabled": False},
        }
    )
    x = (make_signal(sum(SIZES), seed=8) * 3.0).tolist()
    want, _ = _run_blocks(chain, x)
    chain.reset()
    with Installed() as calls:
        got, _ = _run_blocks(chain, x)
    assert calls["compressor"] >= len(SIZES) - 1
    assert got == want


@pytest.mark.parametrize("channels", [2, 3])
@pytest.mark.parametrize(
    "config",
    [
        {"gain": 9.0, "noiseGate": {"enabled": True, "threshold": -30.0, "hold": 1.0}},
        {"compressor": {"enabled": True, "threshold": -30.0, "ratio": 8.0, "knee": 6.0, "makeup": 3.0},
         "limiter": {"enabled": True, "ceiling": -3.0, "lookahead": 5.0, "release": 5.0}},
        {"gain": 12.0, "limiter": {"enabled": True, "ceiling": -1.0, "lookahead": 0.0}},
    ],
)  # fmt: skip
def test_linked_kernels_match_the_render_path(channels, config):
    """The render's linked channels: one kernel call per stage and block gives the Python
    path's output (level carried through the stages, gains as ratios) up to float rounding."""
    cols = [(make_signal(12000, seed=11 + c) * (1.5 + 0.5 * c)).tolist() for c in range(channels)]

    def render() -> list:
        cc = ChannelChain(build_chain(config).settings(), channels)
        out = [[] for _ in cols]
        for s in range(0, 12000, 3000):
            for o, y in zip(out, cc.process([c[s : s + 3000] for c in cols]), strict=True):
                o.extend(y)
        for o, y in zip(out, cc.finish(), strict=True):
            o.extend(y)
        return out

    want = render()
    with Installed() as calls:
        got = render()
    assert sum(calls.values()) >= 4
    for a, b in zip(got, want, strict=True):
        assert len(a) == len(b) == 12000
        assert max(abs(p - q) for p, q in zip(a, b, strict=True)) < 1e-12
