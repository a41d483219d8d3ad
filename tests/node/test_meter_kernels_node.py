"""The loudness kernels of ``wasm/js/kernels.js`` (``kweight``: the exact-maximum meter's and the
normalisation analysis' K-weighting; ``tprows``: the true-peak rows of the analysis and the
normaliser's limiter; ``tplimit``: that limiter after its rows) inside Pyodide give the package's Python loops' results: the meter's
readings bit for bit, the normalisation within float rounding."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.slow]  # skipped without Pyodide (the node_json fixture)


def test_js_loudness_kernels_match_the_python_loops(node_json: Callable[[str], Any]) -> None:
    res = node_json("meter_kernels.mjs")
    assert res["calls"]["kweight"] >= 30 and res["calls"]["tprows"] >= 60, res["calls"]
    assert res["calls"]["tplimit"] >= 20, res["calls"]
    assert res["tplimitExact"] is True  # the limiter after the rows natively: its output exactly
    assert res["meter_equal"] is True, res
    s = res["summary"]
    assert math.isfinite(s["momentaryMax"]) and s["momentaryMax"] > s["integrated"] > -40
    assert res["chunks"] > 1000
    assert res["energy"] <= 1e-6 and res["peak"] <= 1e-6  # float32 storage
    assert abs(res["measured"][0] - res["measured"][1]) <= 1e-6
    assert 0.5 < res["outPeak"] < 0.9
    assert res["out"] <= 1e-9, res
