"""The loudness pass on planar ``array('d')`` blocks inside Pyodide (``tests/node/loudnorm_kernels.mjs``):
:meth:`~aimixer_dsp.loudnorm.NormalizationAnalysis.push` and
:meth:`~aimixer_dsp.loudnorm.Normalizer.process` run the ``normanalysis`` / ``normalize`` kernels of
``wasm/js/kernels_loudnorm.js`` once per block (never the per-channel ``tprows`` / ``kweight`` /
``tplimit`` calls of the list path) and give the list path's results bit for bit: the chunk
energies and peaks, the gain solved from them, the limited output and every carried state, in
steady and odd block sizes (blocks shorter than ``KERNEL_MIN`` take the list path in between),
for mono, stereo and 5.1 with transients, digital silence and clipping, with the true-peak rows'
FIR in WebAssembly SIMD and in its JavaScript fallback. Against the pure-Python
list path (no kernels) they agree within float rounding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.slow]  # skipped without Pyodide (the node_json fixture)


def test_loudness_pass_on_arrays_equals_the_list_path(node_json: Callable[[str], Any]) -> None:
    out = node_json("loudnorm_kernels.mjs")
    assert out["fir"] == "wasm-simd"  # Node has WebAssembly SIMD: the rows' fast path ran
    res = out["cases"]
    assert set(res) == {f"{ch}/{b}" for ch in (1, 2, 6) for b in ("steady", "odd")}
    for key, d in res.items():
        # one kernel call per block of >= KERNEL_MIN frames and nothing else natively: the short
        # blocks of the odd sequence take the list path (pure Python at that size)
        n = d["long_blocks"]
        assert n >= 8 and d["array_calls"] == {"normanalysis": n, "normalize": n}, (key, d)
        assert d["analysis_exact"] is True, key
        assert d["out_exact"] is True, key
        assert d["limiter_exact"] is True, key
        assert d["js_fir_exact"] is True, key  # the JavaScript FIR (no WebAssembly SIMD) too
        assert d["frames"][0] == d["frames"][1]
        assert d["chunks"] == 1500  # 2 s of 64-sample chunks
        assert 0.5 < d["out_peak"] < 0.9, (key, d)  # limited under the -1 dBTP ceiling
        if key.startswith("2/"):
            assert d["energy_vs_pure"] <= 1e-9 and d["peak_vs_pure"] <= 1e-6, (key, d)  # float32 storage
            assert abs(d["measured"][0] - d["measured"][1]) <= 1e-9, (key, d)
            assert d["out_vs_pure"] <= 1e-9, (key, d)
