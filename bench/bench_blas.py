"""BLAS threads and a whole-file ``aimixer process``: NumPy's OpenBLAS with one thread (the
``aimixer`` command's default, ``origin.cli.limit_blas_threads``) against one per core, on a quiet
machine and with other processes busy on every core (what a job worker or an origin meets under
load).

    python -m bench.bench_blas [--seconds 120] [--runs 2] [--busy N]

Each run is a fresh ``aimixer process --genre auto --target streaming`` of a stereo 48 kHz file
(``--seconds`` long) with ``OPENBLAS_NUM_THREADS`` set; ``--busy`` processes (default: one per
core) spin during the loaded runs. Prints the median wall time of each case and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10000))


def _write_input(path: Path, seconds: float) -> None:
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * 48000)) / 48000
    x = np.stack(
        [0.3 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(t.size) for f in (220, 330)], 1
    )
    sf.write(path, x, 48000, subtype="FLOAT")


def _run(src: Path, dst: Path, threads: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    argv = [sys.executable, "-m", "origin.cli", "process", "--genre", "auto", "--target", "streaming"]
    t0 = time.perf_counter()
    subprocess.run([*argv, str(src), str(dst)], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 2
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        _write_input(src, args.seconds)
        rows = []
        for busy in (0, args.busy):
            stop = multiprocessing.Event()
            spinners = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(busy)]
            for p in spinners:
                p.start()
            try:
                times = {
                    n: statistics.median(_run(src, dst, n) for _ in range(args.runs)) for n in (1, cores)
                }
            finally:
                stop.set()
                for p in spinners:
                    p.join()
            rows.append((busy, times[1], times[cores]))
    print(
        f"aimixer process, {args.seconds:g} s stereo, auto + streaming, median of {args.runs} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"
    )
    print(f"{'busy processes':>15} {'1 BLAS thread':>14} {f'{cores} BLAS threads':>15} {'ratio':>7}")
    for busy, one, many in rows:
        print(f"{busy:>15} {one:>12.2f} s {many:>13.2f} s {many / one:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
