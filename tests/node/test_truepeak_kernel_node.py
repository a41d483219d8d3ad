"""The ``truepeak`` kernel of ``wasm/js/kernels.js`` inside Pyodide: one call per block (sample
peak, the over-sampler's FIR in WebAssembly SIMD or JavaScript, the history) gives the readings of
the former per-sample kernel bit for bit, the pure path's within float rounding and the pure
path's history exactly, for the three interpolators and odd block sizes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.slow]  # skipped without Pyodide (the node_json fixture)


def test_truepeak_kernel_matches_the_former_loop_and_the_pure_path(node_json: Callable[[str], Any]) -> None:
    res = node_json("truepeak_kernel.mjs")
    filters = res["filters"]
    assert {"wasm-simd x4", "js x4", "js x8", "js x4 wide"} <= set(filters), filters
    for name, r in filters.items():
        assert r["bit_equal_former"] is True, name
        assert r["hist_equal"] is True, name
        assert r["max_db_vs_pure"] < 1e-9, (name, r)
    assert res["push_checked"] is True
    assert res["calls"]["truepeak"] >= 6 * 12, res["calls"]  # the kernel ran for every block
    readings = res["readings"]
    assert 0 < readings[0] < 1e-299  # near silence: the sample peak
    assert readings[9] >= 0.7  # never below the sample peak
    assert readings[10] > 0.5  # a silent block after a loud one: the filter's history still rings
    assert all(math.isfinite(v) for v in readings)
