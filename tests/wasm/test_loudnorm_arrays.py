"""The loudness pass on planar ``array('d')`` blocks (``aimixer_dsp.loudnorm``) without its
kernels (CPython installs none): :meth:`NormalizationAnalysis.push` and :meth:`Normalizer.process`
convert the block to channel lists and run the list path, so the chunk statistics, the gain, the
limited output (a planar array of the block's length) and the carried state equal the list
path's exactly, in any block sizes. Bad blocks are refused
before any state changes. ``tests/node/test_loudnorm_kernels_node.py`` checks the kernels."""

from __future__ import annotations

import math
import random
from array import array

import pytest
from aimixer_dsp.backend import kernel, using_backend
from aimixer_dsp.errors import InvalidBufferError, ParameterError
from aimixer_dsp.loudnorm import NormalizationAnalysis, Normalizer
from aimixer_dsp.processors.base import planar, unplanar

SR = 48000
N = SR  # one second
BLOCKS = [4096, 300, 17, 1024, 5000, 1, 2500]


def signal(ch: int) -> list[list[float]]:
    rng = random.Random(ch)
    cols = []
    for c in range(ch):
        col = []
        for i in range(N):
            v = 0.4 * math.sin(2 * math.pi * (200 + 90 * c) * i / SR) + 0.05 * (rng.random() - 0.5)
            if 20000 <= i < 26000:
                v = 0.0  # silence
            elif i % 9000 < 30:
                v = 1.3 if (i // 5) % 2 else -1.3  # transients over full scale
            col.append(v)
        cols.append(col)
    return cols


def run(cols: list[list[float]], arrays: bool) -> tuple[NormalizationAnalysis, Normalizer, list[list[float]]]:
    ch = len(cols)
    a = NormalizationAnalysis(SR, ch)
    z = Normalizer(6.0, -1.0, SR, ch)
    out: list[list[float]] = [[] for _ in cols]
    s = k = 0
    while s < N:
        blk = [c[s : s + BLOCKS[k % len(BLOCKS)]] for c in cols]
        if arrays:
            p = planar((), blk)
            before = p.tobytes()
            a.push(p)
            y = z.process(p)
            assert isinstance(y, array) and y.typecode == "d" and len(y) == len(p)
            assert p.tobytes() == before  # the input block is not changed
            ys = unplanar(y, ch, 0)
        else:
            a.push(blk)
            ys = z.process(blk)
        for o, v in zip(out, ys, strict=True):
            o.extend(v)
        s += len(blk[0])
        k += 1
    return a, z, out


def state(a: NormalizationAnalysis, z: Normalizer) -> tuple:
    st = z.limiter._tp
    assert st is not None
    core = st["core"]
    return (
        a.energy.tobytes(), a.peak.tobytes(), a._acc_e, a._acc_p, a.frames, a._kstate, a._tp._hist,
        a._rows_hist, a.gain_for(-14.0, -1.0),
        {k: st[k] for k in ("ha", "hr", "hx", "de", "dx")}, core._u, core._uh, core._delay,
        [m._hist for m in st["meters"]],
    )  # fmt: skip


@pytest.mark.parametrize("ch", [1, 2])
@pytest.mark.parametrize("backend", ["auto", "pure"])
def test_array_path_without_kernels_equals_the_list_path(ch: int, backend: str) -> None:
    assert kernel("normanalysis") is None and kernel("normalize") is None
    cols = signal(ch)
    a0, z0, o0 = run(cols, False)
    with using_backend(backend):
        a1, z1, o1 = run(cols, True)
    assert o1 == o0
    assert state(a1, z1) == state(a0, z0)
    assert len(a1.energy) == N // 64 and 0.5 < max(max(map(abs, c)) for c in o1) < 0.9


def test_bad_planar_blocks_are_refused_before_any_state_changes() -> None:
    a = NormalizationAnalysis(SR, 2)
    z = Normalizer(0.0, -1.0, SR, 2)
    for bad in (array("d", [0.1] * 5), array("f", [0.1] * 4)):
        with pytest.raises(InvalidBufferError):
            a.push(bad)
        with pytest.raises(InvalidBufferError):
            z.process(bad)
    assert a.frames == 0 and len(a.energy) == 0 and z.limiter._tp is None
    a.push(array("d"))
    assert z.process(array("d")) == array("d")
    with pytest.raises(ParameterError, match="channels"):
        Normalizer(0.0, -1.0, SR).process(array("d", [0.1] * 4))
    mixed = Normalizer(0.0, -1.0, SR, 2)
    mixed.process([[0.1] * 300] * 3)  # three channel lists first: the state holds three
    with pytest.raises(InvalidBufferError, match="3 channel"):
        mixed.process(array("d", [0.1] * 600))
    for bad_channels in (0, 17, True, 2.0):
        with pytest.raises(ParameterError, match="channels"):
            Normalizer(0.0, -1.0, SR, bad_channels)  # type: ignore[arg-type]
