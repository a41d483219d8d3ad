"""The meter kernels (``wasm/js/kernels_meters.js``: ``meter``, ``mono``, ``genrerows``) inside
Pyodide: :class:`aimixer_dsp.render.FileMeter` (with and without the 100 ms curve) and
:class:`aimixer_dsp.render.GenreAnalysis` fed planar ``array('d')`` blocks give the list path's
report, meter state, analysis rows, window vectors and verdict **bit for bit** (compared with
``==`` / ``repr``), for 1, 2 and 6 channels (the 5.1 weights 0 and 1.41) and a 3-channel meter at 44.1 kHz, float32 audio with
transients, digital silence and clipping, in blocks of 32768, 4800 and odd sizes (some shorter
than ``KERNEL_MIN``), also with every third block fed as lists; a NaN in an array block raises
before anything is metered."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.slow]  # skipped without Pyodide (the node_json fixture)


def test_meter_kernels_give_the_list_paths_numbers_bit_for_bit(node_json: Callable[[str], Any]) -> None:
    res = node_json("meters_rows.mjs")
    cases = res["cases"]
    assert len(cases) == 24
    for name, c in cases.items():
        assert c["report_equal"] and c["state_equal"], name
        assert c["rows_equal"] and c["vectors_equal"] and c["result_equal"], name
        assert c["rows"] == 70, name  # (7 s - SEG) // HOP + 1
        assert c["curve"] == (70 if "/curve" in name else 0), name
        s = c["summary"]
        assert s["peak"] == 0.0  # the clipped stretch reaches full scale
        assert -40.0 < s["lufs"] < s["momentaryMax"] and math.isfinite(s["shortTermMax"]), name
        assert s["lra"] > 1.0, name
    # the kernels did the work (one meter call per block, mono and rows per multichannel block)
    assert res["calls"]["meter"] >= 1000 and res["calls"]["genrerows"] >= 500 and res["calls"]["mono"] >= 500
    assert res["nonfinite"] == {"index": 2999, "unchanged": True}  # the sample within its channel
    assert res["sums"]["cases"] > 400 and res["sums"]["nbad"] == 0, res["sums"]
    assert res["44100"] == [True, True]  # 44.1 kHz, 3 channels, without and with the curve
    assert res["float32"] is True  # array('f') blocks take the list path, same numbers
