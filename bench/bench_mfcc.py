"""MFCC benchmark: ours (NumPy path) vs librosa on 60 s of audio, plus the pure path on CPython.

Run: ``python -m bench.bench_mfcc``. Both sides are warmed up (one call each) and then timed
as the best of a few runs, in the same process, on the same 48 kHz float64 signal with the
API defaults (13 coefficients, 40 filters, FFT 2048, hop 512, hann). Target: ratio <= 1.0x.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TARGET_RATIO = 1.0


def _signal(seconds: float, sr: int = 48000) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    return 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * rng.standard_normal(t.size)


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--pure-seconds", type=float, default=5.0, help="audio length for the pure-path run")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    import librosa
    from aimixer_dsp.features import mfcc

    sr = 48000
    y = _signal(args.seconds, sr)
    kw = {"n_mfcc": 13, "n_fft": 2048, "hop_length": 512, "window": "hann", "n_mels": 40}

    def ours():
        return mfcc(y, sample_rate=sr, **{"n_mfcc": 13, "n_mels": 40, "n_fft": 2048, "hop_length": 512})

    def peer():
        return librosa.feature.mfcc(y=y, sr=sr, **kw)

    a, b = ours(), peer()  # warm both (caches, FFT plans, imports)
    rel = float(np.max(np.abs(a - b.T)) / np.max(np.abs(b)))
    t_ours = _best(ours, args.repeats)
    t_peer = _best(peer, args.repeats)
    ratio = t_ours / t_peer
    print(
        f"MFCC on {args.seconds:g} s of 48 kHz audio (13 coeffs, 40 mels, FFT 2048, hop 512), best of {args.repeats}"
    )
    print(f"  ours (NumPy path):  {t_ours * 1e3:8.1f} ms")
    print(f"  librosa {librosa.__version__}:     {t_peer * 1e3:8.1f} ms")
    print(
        f"  ratio ours/librosa: {ratio:8.2f}x   (target <= {TARGET_RATIO:.1f}x: {'met' if ratio <= TARGET_RATIO else 'MISSED'})"
    )
    print(f"  max rel. difference: {rel:.2e}")

    yp = y[: int(args.pure_seconds * sr)].tolist()
    mfcc(yp[:sr], sample_rate=sr)  # warm the pure tables
    t_pure = _best(lambda: mfcc(yp, sample_rate=sr), max(1, args.repeats // 2))
    print(f"  pure path on CPython: {t_pure / args.pure_seconds * 1e3:.1f} ms per second of audio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
