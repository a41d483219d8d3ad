"""True-peak meter cost per 960-sample frame (20 ms at 48 kHz) and its filters' responses.

Run: ``python -m bench.bench_truepeak [--frames N] [--no-pyodide] [--filter]``. Times
``TruePeakMeter`` (mono, 4x and 8x) per frame on the NumPy path and on the pure-Python path in
this CPython, and the pure path inside Pyodide (Node; ``bench/truepeak_pyodide.mjs``), each as
the best of ``--rounds`` passes. ``--filter`` prints the measured passband ripple (0-20 kHz),
-6 dB point and stopband (from 28 kHz) of the 4x Annex 2, 8x and wideband interpolators, and the
worst-case under-read ``20 log10 cos(pi f / (L fs))`` at 20 kHz and fs/2.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FS = 48000
N = 960


def _frames(n: int) -> list[list[float]]:
    sig = [
        0.6 * math.sin(2 * math.pi * 220 * i / FS) * (0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * i / FS))
        for i in range(N * (n + 10))
    ]
    return [sig[k * N : (k + 1) * N] for k in range(n + 10)]


def _time(factor: int, frames: list, rounds: int, numpy_path: bool) -> float:
    import numpy as np
    from aimixer_dsp.truepeak import TruePeakMeter

    blocks = [np.array(f) for f in frames] if numpy_path else frames
    best = math.inf
    for _ in range(rounds):
        m = TruePeakMeter(FS, 1, factor)
        push = m.push if numpy_path else m.push_checked
        for b in blocks[:10]:
            push(b)
        t = time.perf_counter()
        for b in blocks[10:]:
            push(b)
        best = min(best, (time.perf_counter() - t) / (len(blocks) - 10) * 1e3)
    return best


def filter_report() -> None:
    import numpy as np
    from aimixer_dsp.truepeak import true_peak_filter

    for name, factor, wide in (
        ("4x BS.1770-4 Annex 2", 4, False),
        ("8x Kaiser", 8, False),
        ("4x wideband", 4, True),
    ):
        phases = true_peak_filter(factor, wide)
        taps = len(phases[0])
        h = np.zeros(factor * taps + 1)
        first = factor - len(phases)
        for i, g in enumerate(phases):
            h[i + first : factor * taps : factor] = g
        if first:
            h[factor * (taps // 2)] = 1.0
        f = np.linspace(0, FS * factor / 2, 40001)
        resp = np.abs(np.exp(-2j * np.pi * np.outer(f / (FS * factor), np.arange(h.size))) @ h) / factor
        db = 20 * np.log10(np.maximum(resp, 1e-12))
        pb, sb = db[f <= 20000], db[f >= 28000]
        print(
            f"{name:22s} {len(phases)} phases x {taps} taps: passband 0-20 kHz {pb.min():+.3f}/{pb.max():+.3f} dB, "
            f"-6 dB at {f[np.argmax(db < -6)] / 1000:.2f} kHz, stopband >= 28 kHz {sb.max():.1f} dB"
        )
    for factor in (4, 8):
        u20 = 20 * math.log10(math.cos(math.pi * 20000 / (factor * FS)))
        u24 = 20 * math.log10(math.cos(math.pi * 0.5 / factor))
        print(f"worst-case under-read {factor}x: {u20:.2f} dB at 20 kHz, {u24:.2f} dB at fs/2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-pyodide", action="store_true")
    ap.add_argument("--filter", action="store_true")
    a = ap.parse_args()
    if a.filter:
        filter_report()
    frames = _frames(a.frames)
    for factor in (4, 8):
        npy = _time(factor, frames, a.rounds, True)
        pure = _time(factor, frames, a.rounds, False)
        print(
            f"true peak {factor}x per 960-sample frame: NumPy {npy:.3f} ms, pure Python (CPython) {pure:.3f} ms"
        )
    if not a.no_pyodide and shutil.which("node"):
        out = subprocess.run(
            ["node", str(ROOT / "bench" / "truepeak_pyodide.mjs"), "--frames", str(a.frames), "--rounds", str(a.rounds)],
            capture_output=True, text=True, timeout=600, check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        r = json.loads(out)
        print(
            f"true peak per 960-sample frame in Pyodide (Python {r['python']}, pure path): "
            f"4x {r['x4_ms_per_frame']:.3f} ms, 8x {r['x8_ms_per_frame']:.3f} ms"
        )


if __name__ == "__main__":
    main()
