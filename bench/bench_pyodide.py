"""Pure-Python DSP inside Pyodide (Node) vs the same pure path on CPython.

Run: ``python -m bench.bench_pyodide``. Drives ``node bench/pyodide_bench.mjs``, which loads
``wasm/aimixer_dsp`` into Pyodide without NumPy and times

* the DSP chain (gain, gate, compressor, EQ, limiter all on) per 960-sample frame
  (target <= 1 ms per frame), and the loudness meter per frame (reported, no target) — each
  frame timed on its own in ``--rounds`` passes over the same frames, the per-frame minimum
  averaged (robust to a shared, loaded machine; the plain mean of the best pass is printed too);
* MFCC (13 coeffs, 40 mels, FFT 2048, hop 512) per second of 48 kHz audio (target <= 100 ms).

The "peer" column is the identical pure-Python code on this CPython, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "pyodide_bench.mjs"
SR = 48000
N = 960
TARGET_CHAIN_MS = 1.0
TARGET_MFCC_MS = 100.0


def _signal(n: int, seed: int = 1) -> list[float]:
    s = seed
    out = []
    for i in range(n):
        s = (1664525 * s + 1013904223) % 4294967296
        t = i / SR
        env = 0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * t)
        out.append(env * 0.6 * math.sin(2 * math.pi * 220 * t) + 0.05 * (s / 4294967296 - 0.5))
    return out


def _cpython(frames: int, mfcc_seconds: float, rounds: int) -> dict:
    from aimixer_dsp.features import mfcc
    from aimixer_dsp.meters import LoudnessMeter
    from aimixer_dsp.presets import build_chain

    cfg = {
        "gain": 3.0,
        "noiseGate": {"enabled": True, "threshold": -45.0},
        "compressor": {"enabled": True, "ratio": 4.0, "threshold": -24.0},
        "eq": {"enabled": True, "low": 3.0, "mid": -2.0, "high": 4.0},
        "limiter": {"enabled": True, "ceiling": -1.0},
    }
    chain = build_chain(cfg, SR)
    sig = _signal((frames + 50) * N)
    blocks = [sig[i * N : (i + 1) * N] for i in range(frames + 50)]

    def per_frame(fn, reset) -> float:
        # as pyodide_bench.mjs: per-frame minimum over `rounds` passes, averaged
        best = [math.inf] * frames
        clock = time.perf_counter
        for _ in range(rounds):
            reset()
            for b in blocks[:50]:
                fn(b)
            for i, b in enumerate(blocks[50:]):
                t0 = clock()
                fn(b)
                dt = clock() - t0
                if dt < best[i]:
                    best[i] = dt
        return sum(best) / frames * 1e3

    chain_ms = per_frame(chain.process, chain.reset)
    meter = LoudnessMeter(SR)
    meter_ms = per_frame(meter.push, meter.reset)
    x = _signal(int(mfcc_seconds * SR), 7)
    mfcc(_signal(SR, 3))
    best = min(_timed(lambda: mfcc(x)) for _ in range(max(2, rounds)))
    return {
        "chainMsPerFrame": chain_ms,
        "meterMsPerFrame": meter_ms,
        "mfccMsPerSecond": best / mfcc_seconds * 1e3,
    }


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--mfcc-seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=5, help="passes; per-frame minimum (shared machine)")
    args = ap.parse_args(argv)
    if shutil.which("node") is None or not (ROOT / "node_modules" / "pyodide").exists():
        print("bench_pyodide: node or node_modules/pyodide missing (run npm install)", file=sys.stderr)
        return 1
    cmd = [
        "node",
        str(SCRIPT),
        "--frames",
        str(args.frames),
        "--mfcc-seconds",
        str(args.mfcc_seconds),
        "--rounds",
        str(args.rounds),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return 1
    pyo = json.loads(proc.stdout.strip().splitlines()[-1])
    cpy = _cpython(args.frames, args.mfcc_seconds, args.rounds)
    print(
        f"Pure-Python aimixer_dsp in Pyodide (Node, boot {pyo['bootMs']:.0f} ms) vs the same code on CPython"
    )
    rows = [
        ("chain per 960-sample frame", "chainMsPerFrame", TARGET_CHAIN_MS),
        ("loudness meter per frame", "meterMsPerFrame", None),
        ("MFCC per second of audio", "mfccMsPerSecond", TARGET_MFCC_MS),
    ]
    print(f"  {'':28s} {'Pyodide':>10s} {'CPython':>10s} {'ratio':>7s}   target")
    for label, key, target in rows:
        a, b = pyo[key], cpy[key]
        verdict = (
            ""
            if target is None
            else f"<= {target:g} ms: " + ("met" if a <= target else f"MISSED by {a / target:.2f}x")
        )
        print(f"  {label:28s} {a:8.3f}ms {b:8.3f}ms {a / b:6.2f}x   {verdict}")
    print(
        f"  (per-frame times: minimum over {args.rounds} passes, averaged; plain mean of the best pass "
        f"in Pyodide: chain {pyo['chainMsPerFrameMeanBestRound']:.3f} ms, "
        f"meter {pyo['meterMsPerFrameMeanBestRound']:.3f} ms; MFCC: best of {max(2, args.rounds)} runs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
