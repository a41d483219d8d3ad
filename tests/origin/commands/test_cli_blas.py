"""The ``aimixer`` command runs NumPy's BLAS on one thread unless the environment says otherwise,
in its own process and in the processes it starts (job workers, Hypercorn workers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from origin.cli import BLAS_THREAD_VARS

_REPORT = r"""
import json, multiprocessing, sys
from threadpoolctl import threadpool_info
import origin.cli

def blas_threads():
    import numpy  # OpenBLAS reads its thread count as it loads
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})

if __name__ == "__main__":
    code = origin.cli.main(["analyze", sys.argv[1]])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(blas_threads)
    print(json.dumps({"code": code, "here": blas_threads(), "child": child}))
"""


def _run(tmp_path: Path, **env: str) -> dict:
    wav = tmp_path / "tone.wav"
    t = np.arange(48000) / 48000
    sf.write(wav, 0.3 * np.sin(2 * np.pi * 440 * t), 48000)
    script = tmp_path / "report.py"
    script.write_text(_REPORT)
    base = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARS}
    out = subprocess.run(
        [sys.executable, str(script), str(wav)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_one_blas_thread_here_and_in_children(tmp_path):
    rep = _run(tmp_path)
    assert rep["code"] == 0
    assert rep["here"] == [1]
    assert rep["child"] == [1]


def test_the_environment_chooses_the_thread_count(tmp_path):
    rep = _run(tmp_path, OPENBLAS_NUM_THREADS="2")
    assert rep["code"] == 0
    assert rep["here"] == [2]
    assert rep["child"] == [2]
