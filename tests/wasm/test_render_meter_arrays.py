"""The file meters and the genre rows on planar ``array('d')`` blocks without the JavaScript
kernels (CPython): :class:`aimixer_dsp.render.FileMeter` and :class:`aimixer_dsp.render.GenreAnalysis`
convert the block to channel lists and run the list path, so their readings, curve and rows equal
the list path's exactly; a block whose length is not a multiple of the channels is refused. The
kernels' bit-for-bit parity is tests/node/test_meters_rows_node.py."""

from __future__ import annotations

import math
import random
from array import array

import pytest
from aimixer_dsp import backend
from aimixer_dsp.errors import InvalidBufferError
from aimixer_dsp.processors.base import planar
from aimixer_dsp.render import FileMeter, GenreAnalysis

SR = 48000


def _cols(channels: int, seconds: float) -> list:
    rng = random.Random(channels)
    n = int(SR * seconds)
    cols = []
    for c in range(channels):
        x = []
        for i in range(n):
            t = i / SR
            v = 0.6 * math.exp(-(t % 0.5) / 0.05) * math.sin(2 * math.pi * (60 + 30 * c) * t)
            v += 0.1 * math.sin(2 * math.pi * 440 * t) + 0.02 * (rng.random() - 0.5)
            x.append(0.0 if 1.0 <= t < 1.4 else max(-1.0, min(1.0, 2.5 * v if t > 3.0 else v)))
        cols.append(array("f", x).tolist())
    return cols


def _feed(cols: list, sizes: list, arrays: bool, curve: bool) -> tuple:
    ch, n = len(cols), len(cols[0])
    meter, genre = FileMeter(SR, ch, curve=curve), GenreAnalysis(ch, SR)
    s = k = 0
    while s < n:
        b = min(n, s + sizes[k % len(sizes)])
        part = [c[s:b] for c in cols]
        if arrays:
            part = planar((), part)
        meter.push(part)
        genre.push(part)
        s, k = b, k + 1
    return meter, genre


@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("curve", [False, True])
def test_array_blocks_without_kernels_equal_the_list_path(channels: int, curve: bool) -> None:
    assert backend.kernel("meter") is None and backend.kernel("genrerows") is None
    cols = _cols(channels, 4.0)
    sizes = [32768] if channels == 6 else [5000, 257, 100, 12001, 1]
    ml, gl = _feed(cols, sizes, False, curve)
    ma, ga = _feed(cols, sizes, True, curve)
    assert repr(ma.summary()) == repr(ml.summary())
    assert ma.curve == ml.curve and (len(ma.curve) == 40 if curve else ma.curve is None)
    assert (ma.peak, ma.sumsq, ma.frames) == (ml.peak, ml.sumsq, ml.frames)
    assert ga.rows == gl.rows and len(ga.rows) == 40 and ga.frames == gl.frames
    assert ga.vectors() == gl.vectors()
    assert ma.summary()["peak"] == 0.0 and math.isfinite(ma.summary()["lufs"])


def test_array_block_must_hold_whole_frames() -> None:
    with pytest.raises(InvalidBufferError, match="multiple of 2"):
        FileMeter(SR, 2).push(array("d", [0.0] * 7))
    with pytest.raises(InvalidBufferError, match="multiple of 3"):
        GenreAnalysis(3, SR).push(array("d", [0.0] * 10))
