"""True-peak limiter mode: the output's true peak never exceeds the ceiling.

Checked with our BS.1770-4 meter and the wideband interpolator on worst-case inputs
(hypothesis), and with ffmpeg's ``ebur128=peak=true`` on the hardest fixed cases.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from aimixer_dsp.processors import Limiter
from aimixer_dsp.processors.limiter import TP_DELAY
from aimixer_dsp.truepeak import TruePeakMeter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FS = 48000


def _signal(kind: str, freq: float, gain_db: float, seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    n = int(seconds * FS)
    t = np.arange(n) / FS
    g = 10 ** (gain_db / 20)
    if kind == "square":  # full scale before the gain: harmonics up to (and aliased around) fs/2
        return g * np.sign(np.sin(2 * np.pi * freq * t) + 1e-12)
    if kind == "isp":  # fs/4 at 45 degrees: the samples sit 3 dB below the waveform's crests
        return g * np.sin(2 * np.pi * FS / 4 * t + np.pi / 4)
    if kind == "hf":  # a tone close to fs/2, where the interpolators differ most
        return g * 0.9 * np.sin(2 * np.pi * (FS / 2 - freq / 100) * t + 0.3)
    rng = np.random.default_rng(seed)  # bursts of white noise (hi-hat like)
    x = rng.standard_normal(n) * 0.3
    x *= (np.sin(2 * np.pi * 4 * t) > 0.3).astype(float)
    return g * x


def _true_peaks(y: np.ndarray) -> tuple[float, float]:
    a = TruePeakMeter(FS, 1)
    a.push(y)
    w = TruePeakMeter(FS, 1, wideband=True)
    w.push(y)
    return a.true_peak, w.true_peak


def _run(x: np.ndarray, ceiling: float, block: int, pure: bool = False) -> np.ndarray:
    lim = Limiter(ceiling, true_peak=True)
    parts = []
    for i in range(0, x.size, block):
        b = x[i : i + block]
        parts.append(np.asarray(lim.process(b.tolist() if pure else b)))
    return np.concatenate(parts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["square", "isp", "hf", "noise"]),
    freq=st.floats(40.0, 6000.0),
    gain_db=st.floats(0.0, 20.0),
    ceiling=st.floats(-3.0, 0.0),
    block=st.sampled_from([960, 4096, 48000]),
)
def test_true_peak_never_exceeds_the_ceiling(kind, freq, gain_db, ceiling, block) -> None:
    x = _signal(kind, freq, gain_db)
    y = _run(x, ceiling, block)
    assert y.shape == x.shape
    annex, wide = _true_peaks(y)
    assert annex <= ceiling and wide <= ceiling, (annex, wide)
    assert 20 * math.log10(np.abs(y).max()) <= ceiling


def test_latency_and_pure_path_agree() -> None:
    lim = Limiter(-1.0, lookahead_ms=1.5, true_peak=True)
    assert lim.latency_samples == 72 + TP_DELAY == 104
    assert lim.settings()["truePeak"] is True
    x = _signal("square", 997.0, 12.0, 0.2)
    a = _run(x, -1.0, 960)
    b = _run(x, -1.0, 960, pure=True)
    np.testing.assert_allclose(a, b, atol=1e-9)
    # an impulse comes out exactly latency_samples later, unchanged below the ceiling
    imp = np.zeros(400)
    imp[10] = 0.25
    out = _run(imp, -1.0, 400)
    assert int(np.argmax(np.abs(out))) == 10 + 104


def test_quiet_input_passes_unchanged() -> None:
    x = _signal("isp", 1000.0, -12.0, 0.1)
    y = _run(x, -1.0, 960)
    np.testing.assert_allclose(y[104:], x[:-104], atol=1e-12)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
@pytest.mark.parametrize(
    ("kind", "freq"), [("square", 997.0), ("square", 5003.0), ("isp", 0.0), ("hf", 300.0), ("noise", 0.0)]
)
def test_ffmpeg_ebur128_reads_no_more_than_the_ceiling(tmp_path: Path, kind: str, freq: float) -> None:
    ceiling = -1.0
    y = _run(_signal(kind, freq, 20.0, 1.0), ceiling, 4096)
    path = tmp_path / "y.wav"
    sf.write(path, y, FS, subtype="FLOAT")
    err = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stderr  # fmt: skip
    peak = float(err[err.rfind("True peak:") :].split("Peak:")[1].split()[0])
    assert peak <= ceiling  # ffmpeg prints 0.1 dB steps
