"""The JavaScript ``stft`` kernel (``wasm/js/kernels.js``) inside Pyodide gives the pure path's
features: the same frame counts and values up to float rounding (far inside the 1e-5 parity
with CPython), for the API's defaults and for other FFT sizes, hops, windows and filter counts.
Its Python twin is ``tests/wasm/test_stft_kernel.py``.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aimixer_dsp import features as F

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "node" / "stft_kernel.mjs"
PYODIDE = ROOT / "node_modules" / "pyodide" / "pyodide.mjs"

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not PYODIDE.exists(), reason="node_modules/pyodide is not installed (npm install)"),
]


def _signal(n: int) -> list[float]:
    rng = np.random.default_rng(5)
    t = np.arange(n) / 48000
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 5000 * t) * (t > 0.3)
    return (y + 0.02 * rng.standard_normal(n)).tolist()


X = _signal(48000 + 777)
CASES = [
    ("extract_features", X, {}),
    (
        "extract_features",
        X[:9000],
        {"fftSize": 512, "hopSize": 100, "windowType": "blackman", "numFilters": 64, "numCoefficients": 20},
    ),
    (
        "extract_features",
        [0.0] * 3000 + X[:3000],
        {"fftSize": 64, "hopSize": 7, "numFilters": 8, "numCoefficients": 8},
    ),
    ("extract_features", X[:1], {}),
    ("mfcc", X[:20000], {"n_fft": 4096, "hop_length": 1000, "window": "hamming", "n_mels": 128}),
    ("frame_features", X[:20000], {"n_fft": 256, "hop_length": 256, "window": "hann"}),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    assert shutil.which("node"), "node is required (node_modules/pyodide is installed)"
    job = {"cases": [{"fn": fn, "samples": x, "kwargs": kw} for fn, x, kw in CASES]}
    path = tmp_path_factory.mktemp("stft") / "job.json"
    path.write_text(json.dumps(job))
    proc = subprocess.run(
        ["node", str(SCRIPT), str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))) if a.size else 0.0


def _flat(res) -> dict:
    """A call's result as named arrays (MFCC matrix, per-frame lists, summary values)."""
    if isinstance(res, list):  # mfcc
        return {"mfcc": res}
    if "features" in res:
        out = {"mfcc": res["features"]}
        for key in ("spectralCentroid", "spectralRolloff", "spectralFlux", "zeroCrossingRate", "frameCount"):
            out[key] = [res[key]]
        return out
    return dict(res)


def test_kernel_is_called_once_per_analysis(results):
    want = [1 + len(x) // kw.get("hopSize", kw.get("hop_length", 512)) for _, x, kw in CASES]
    assert results["calls"] == want


@pytest.mark.parametrize("i", range(len(CASES)))
def test_kernel_gives_the_pure_paths_features(results, i):
    fn, x, kw = CASES[i]
    pure, kernel = _flat(results["pure"][i]), _flat(results["kernel"][i])
    cpython = _flat(getattr(F, fn)(x, **kw))
    assert pure.keys() == kernel.keys() == cpython.keys()
    for key in pure:
        assert _max_rel(kernel[key], pure[key]) <= 1e-9, key
        assert _max_rel(kernel[key], cpython[key]) <= 1e-9, key
    if fn == "extract_features" and len(x) > 1:
        assert kernel["spectralCentroid"][0] > 0 and not math.isnan(kernel["spectralFlux"][0])
