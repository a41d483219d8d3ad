"""The JavaScript dynamics kernels (``wasm/js/kernels_dynamics.js``) inside Pyodide give the
package's Python loops' results: mono chains in frames and odd block sizes, and the render's
linked 2- and 3-channel chains, for presets that open/close the gate, compress (hard and soft
knee, makeup, ratio 1) and limit (with and without lookahead, sample and true peak).
JavaScript's ``Math.log`` / ``Math.exp`` may differ from the C library's by an ulp, so results
agree to ~1e-13, far inside the parity suites' 1e-5."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.slow]  # skipped without Pyodide (the node_json fixture)


def test_js_dynamics_kernels_match_the_python_loops(node_json: Callable[[str], Any]) -> None:
    res = node_json("dynamics_kernels.mjs")
    assert {"gate", "compressor", "limiter"} <= set(res.pop("kernels"))
    assert len(res) == 28
    for key, d in res.items():
        assert d["n"] > 0 and d["peak"] > 0.01, key
        assert d["out"] <= 1e-12 * max(1.0, d["peak"]), (key, d)
        assert d["state"] <= 1e-11, (key, d)
