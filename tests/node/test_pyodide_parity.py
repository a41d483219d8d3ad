"""The pure-Python package inside Pyodide (Node) gives CPython's numbers within 1e-6.

Drives ``node tests/node/pyodide_dsp.mjs JOB.json``: the job's inputs are generated here
(seeded LCG noise + sines with a level envelope), the same computation runs in this process on
the pure path (lists, no NumPy), and chain output, meters and MFCC are compared.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from aimixer_dsp.features import extract_features, mfcc
from aimixer_dsp.meters import LoudnessMeter, peak_db, rms_db
from aimixer_dsp.presets import build_chain

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "node" / "pyodide_dsp.mjs"
PYODIDE = ROOT / "node_modules" / "pyodide" / "pyodide.mjs"

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not PYODIDE.exists(), reason="node_modules/pyodide is not installed (npm install)"),
]

SR = 48000
FRAME = 960
CHAIN_CONFIG = {
    "gain": 6.0,
    "noiseGate": {"enabled": True, "threshold": -40.0},
    "compressor": {"enabled": True, "ratio": 4.0, "threshold": -24.0, "attack": 5.0, "release": 80.0},
    "eq": {"enabled": True, "low": 3.0, "mid": -2.0, "high": 4.0},
    "limiter": {"enabled": True, "ceiling": -1.0},
    "bypass": False,
}
MFCC_OPTS = {"n_mfcc": 13, "n_mels": 40, "n_fft": 2048, "hop_length": 512, "window": "hann"}


def make_signal(seconds: float = 4.0, seed: int = 12345) -> list[float]:
    """Deterministic test signal: LCG noise + two sines under a 0.5 Hz level envelope with a
    quiet gap (gate), loud peaks (compressor, limiter after +6 dB gain)."""
    n = int(seconds * SR)
    state = seed
    out = []
    for i in range(n):
        state = (1664525 * state + 1013904223) % 4294967296
        noise = state / 4294967296.0 - 0.5
        t = i / SR
        env = 0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * t)
        gap = 0.002 if 1.5 <= t < 1.9 else 1.0
        out.append(
            gap
            * (
                env * (0.6 * math.sin(2 * math.pi * 220 * t) + 0.2 * math.sin(2 * math.pi * 3000 * t))
                + 0.05 * noise
            )
        )
    return out


def _cpython(signal: list[float], mfcc_signal: list[float]) -> dict:
    frames = [signal[i : i + FRAME] for i in range(0, len(signal), FRAME)]
    chain = build_chain(CHAIN_CONFIG, SR)
    out: list[float] = []
    for f in frames:
        out.extend(chain.process(f))
    meter = LoudnessMeter(SR)
    trace = []
    for f in frames:
        meter.push(f)
        trace.append(meter.momentary)
    ex = extract_features(mfcc_signal, sample_rate=SR)
    del ex["features"]
    return {
        "chain": out,
        "latencySamples": chain.latency_samples,
        "meters": {
            "momentary": meter.momentary,
            "short_term": meter.short_term,
            "integrated": meter.integrated,
            "loudness_range": meter.loudness_range,
            "momentary_max": meter.momentary_max,
            "short_term_max": meter.short_term_max,
            "peak": peak_db(frames[0]),
            "rms": rms_db(frames[0]),
        },
        "momentaryTrace": trace,
        "mfcc": mfcc(mfcc_signal, sample_rate=SR, **MFCC_OPTS),
        "extract": ex,
    }


def _num(v):
    return -math.inf if v is None else v


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    assert shutil.which("node"), "node is required (node_modules/pyodide is installed)"
    signal = make_signal()
    mfcc_signal = signal[: SR + 1234]
    job = {
        "sample_rate": SR,
        "frame_size": FRAME,
        "signal": signal,
        "chain_config": CHAIN_CONFIG,
        "mfcc_signal": mfcc_signal,
        "mfcc": MFCC_OPTS,
    }
    path = tmp_path_factory.mktemp("pyodide") / "job.json"
    path.write_text(json.dumps(job))
    proc = subprocess.run(
        ["node", str(SCRIPT), str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pyodide = json.loads(proc.stdout.strip().splitlines()[-1])
    return pyodide, _cpython(signal, mfcc_signal)


def test_runs_without_numpy_on_the_pure_path(results):
    pyodide, _ = results
    assert pyodide["haveNumpy"] is False


def test_chain_output_matches(results):
    pyodide, ours = results
    a, b = pyodide["chain"], ours["chain"]
    assert len(a) == len(b) == 4 * SR
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1e-6
    assert pyodide["latencySamples"] == ours["latencySamples"]
    # the chain did something: the limiter held the +6 dB peaks under its ceiling
    assert max(abs(x) for x in a) <= 10 ** (-1 / 20) + 1e-9


def test_meters_match(results):
    pyodide, ours = results
    for key, value in ours["meters"].items():
        got = _num(pyodide["meters"][key])
        assert math.isfinite(value), key
        assert abs(got - value) <= 1e-6, (key, got, value)
    trace_a = [_num(v) for v in pyodide["momentaryTrace"]]
    for x, y in zip(trace_a, ours["momentaryTrace"], strict=True):
        assert (x == y) if math.isinf(y) else abs(x - y) <= 1e-6


def test_mfcc_and_features_match(results):
    pyodide, ours = results
    a, b = pyodide["mfcc"], ours["mfcc"]
    assert len(a) == len(b) == 1 + (SR + 1234) // 512
    assert max(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True)) <= 1e-6
    for key, value in ours["extract"].items():
        assert abs(pyodide["extract"][key] - value) <= 1e-6 * max(1.0, abs(value)), key
