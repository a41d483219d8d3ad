"""Accuracy of loudness normalisation in one analysis pass (``aimixer_dsp.loudnorm``).

Run: ``python -m bench.bench_normalize [--files A.ogg B.wav ...] [--seconds 60]``. For each
material (the test suite's music, speech and programme-like signals, plus any ``--files``,
resampled to 48 kHz, first ``--seconds``) and each named target it runs the analysis pass, the
gain search and the output pass (gain + true-peak limiter, NumPy path) and prints: the measured
loudness, the gain, the predicted and the measured output loudness (our BS.1770 meter), the
error, the error a plain gain ``target - measured`` would have had, and the output's true peak.
No correction pass exists: the last column says how often one would have been needed (> 0.5 LU).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _materials(files: list[str], seconds: float) -> dict:
    import soundfile as sf

    from origin.commands.process import make_demo_clip
    from tests.wasm.test_loudnorm import programme, speech

    out: dict = {}
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        demo = sf.read(make_demo_clip(Path(tmp) / "demo.wav", seconds=8.0), always_2d=True)[0]
    out["music (demo clip, stereo)"] = np.stack([demo[:, 0], 0.7 * demo[:, 0]], axis=1)
    out["speech (synthetic, plosives)"] = speech()
    out["programme (3342-4 levels, pulses)"] = programme()
    for f in files:
        x, sr = sf.read(f, always_2d=True)
        if sr != 48000:
            from scipy.signal import resample_poly

            x = resample_poly(x, 48000, sr, axis=0)
        out[Path(f).name] = x[: int(seconds * 48000)]
    return out


def main(argv: list[str] | None = None) -> int:
    from aimixer_dsp.loudnorm import NormalizationAnalysis, Normalizer
    from aimixer_dsp.meters import LoudnessMeter
    from aimixer_dsp.presets import LOUDNESS_TARGETS
    from aimixer_dsp.truepeak import TruePeakMeter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", default=[], help="more material (any format soundfile reads)")
    ap.add_argument("--seconds", type=float, default=60.0, help="first seconds of each file")
    args = ap.parse_args(argv)
    sr = 48000

    def run(x: np.ndarray, gain: float, ceiling: float) -> tuple[float, float]:
        nz = Normalizer(gain, ceiling, sr)
        lat = nz.latency_samples
        y = nz.process(np.concatenate([x, np.zeros((lat, x.shape[1]))]))[lat:]
        m = LoudnessMeter(sr, channels=x.shape[1])
        m.push(y)
        tp = TruePeakMeter(sr, x.shape[1])
        tp.push(y)
        return m.integrated, tp.true_peak

    print(
        "| material | target | measured | gain dB | predicted | output | error | plain gain's error | true peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    misses = 0
    runs = 0
    t_an = t_solve = 0.0
    for name, x in _materials(args.files, args.seconds).items():
        for target, (lufs, ceiling) in sorted(LOUDNESS_TARGETS.items(), key=lambda kv: -kv[1][0]):
            t0 = time.perf_counter()
            a = NormalizationAnalysis(sr, x.shape[1])
            for s in range(0, x.shape[0], 1 << 16):
                a.push(x[s : s + (1 << 16)])
            t1 = time.perf_counter()
            gain, measured, predicted = a.gain_for(lufs, ceiling)
            t2 = time.perf_counter()
            t_an += t1 - t0
            t_solve += t2 - t1
            out, tp = run(x, gain, ceiling)
            plain, _ = run(x, lufs - measured, ceiling)
            err = out - lufs
            worst = max(worst, abs(err))
            misses += abs(err) > 0.5
            runs += 1
            print(
                f"| {name} | {target} ({lufs:g}/{ceiling:g}) | {measured:.2f} | {gain:+.2f} | {predicted:.2f} | "
                f"{out:.2f} | {err:+.2f} | {plain - lufs:+.2f} | {tp:.2f} |"
            )
    print(
        f"\n{runs} runs: worst error {worst:.2f} LU, {misses} beyond 0.5 LU (a correction pass would run "
        f"{misses} times); analysis {t_an:.1f} s, gain search {t_solve:.1f} s in all"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
