"""The render's array path inside Pyodide with the browser's JavaScript kernels
(``wasm/js/kernels_chain.js`` and the dynamics kernels): :class:`~aimixer_dsp.render.ChannelChain`
on planar ``array('d')`` blocks gives its list path's output and state bit for bit (mono, stereo,
3 channels; odd block sizes, blocks shorter than ``KERNEL_MIN``, the tail), and whole FileJobs
driven as the worker drives them (JavaScript writes ``job.inp`` through ``getBuffer("f64")`` and
reads ``job.out`` as float32) equal :func:`~aimixer_dsp.render.render` on lists: genre ``auto``
with fixed probabilities, a loudness target, stereo and mono."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.slow]  # skipped without Pyodide (the node_json fixture)


def test_array_path_equals_list_path_in_pyodide(node_json: Callable[[str], Any]) -> None:
    res = node_json("render_blocks.mjs")
    assert {"finite", "scale", "eqblock", "peaks", "gate", "compressor", "limiter"} <= set(res.pop("kernels"))
    calls = res.pop("calls")
    # the array path really ran natively: the input check, the EQ and the mono pass-through tests
    assert calls.get("finite", 0) >= 3 and calls.get("eqblock", 0) > 20 and calls.get("peaks", 0) > 5
    chains = [k for k in res if k.startswith("chain")]
    jobs = [k for k in res if not k.startswith("chain")]
    assert len(chains) == 9 and len(jobs) == 3
    for key, d in res.items():
        assert d["n"] > 0 and d["peak"] > 0.5, key
        assert d["equal"] and d["out"] == 0.0, (key, d)
    for key in chains:
        assert res[key]["state_equal"], key
    for key in jobs:
        assert res[key]["report_equal"], key
    assert res["stereo/auto/streaming/32768"]["genre"] == "rock"
