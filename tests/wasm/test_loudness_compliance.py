"""Loudness accuracy: EBU Tech 3341 / 3342-style vectors against pyloudnorm and ffmpeg ebur128.

The test signals are generated here; the references are the expected values of the EBU test
descriptions, pyloudnorm (integrated) and ffmpeg's ``ebur128`` filter (integrated and LRA).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from aimixer_dsp.meters import LoudnessMeter

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def _tone(db: float, seconds: float, sr: int, freq: float = 1000.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    x = 10 ** (db / 20) * np.sin(2 * np.pi * freq * t)
    return np.repeat(x[:, None], channels, axis=1)


def _steps(parts: list[tuple[float, float]], sr: int, channels: int = 2) -> np.ndarray:
    return np.concatenate([_tone(db, s, sr, channels=channels) for db, s in parts])


def _music(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    env = 10 ** ((-15 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.1 * t))) / 20)
    left = (
        0.2 * np.sin(2 * np.pi * 110 * t) + 0.05 * rng.standard_normal(n) + 0.1 * np.sin(2 * np.pi * 3300 * t)
    )
    right = 0.15 * np.sin(2 * np.pi * 165 * t) + 0.05 * rng.standard_normal(n)
    return 0.5 * np.stack([left * env, right * env], axis=1)


def _ffmpeg_ebur128(path: Path, tmp: Path) -> dict:
    """Run ffmpeg's ebur128 filter: summary I/LRA (0.1 LU) and the final metadata (0.001 LU)."""
    meta = tmp / (path.stem + ".meta.txt")
    cmd = [
        "ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af",
        f"ebur128=framelog=verbose:metadata=1,ametadata=mode=print:file={meta}",
        "-f", "null", "-",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    summary = proc.stderr[proc.stderr.rindex("Summary:") :]
    i_sum = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    lra_sum = float(re.search(r"LRA:\s+(-?[\d.]+) LU", summary).group(1))
    text = meta.read_text()
    i_meta = float(re.findall(r"lavfi\.r128\.I=(-?[\d.]+)", text)[-1])
    lra_meta = float(re.findall(r"lavfi\.r128\.LRA=(-?[\d.]+)", text)[-1])
    # The metadata is the precise version of the summary line.
    assert abs(i_meta - i_sum) <= 0.051 and abs(lra_meta - lra_sum) <= 0.051
    return {"I": i_meta, "LRA": lra_meta}


def _ours(x: np.ndarray, sr: int) -> LoudnessMeter:
    m = LoudnessMeter(sr, channels=x.shape[1])
    m.push(x)
    return m


CASES = {
    # EBU Tech 3341 case 1: stereo 1 kHz sine at -23 dBFS -> -23.0 LUFS.
    "sine_-23": (lambda sr: _tone(-23, 20, sr), 48000, -23.0),
    # Tech 3341 cases 3/4 style: quiet parts below the relative gate.
    "rel_gate": (lambda sr: _steps([(-36, 5), (-23, 20), (-36, 5)], sr), 48000, -23.0),
    # Tech 3341 case 5 style: -26 / -20 / -26 dBFS steps.
    "steps_-26_-20": (lambda sr: _steps([(-26, 10), (-20, 10.1), (-26, 10)], sr), 48000, -23.0),
    # absolute gate: parts at -80 dBFS (below -70 LUFS) are ignored.
    "abs_gate": (lambda sr: _steps([(-80, 8), (-23, 30), (-80, 8)], sr), 48000, -23.0),
    "sine_-23_44k": (lambda sr: _tone(-23, 20, sr), 44100, -23.0),
    "music_44k": (lambda sr: _music(20, sr), 44100, None),
    "music_48k_mono": (lambda sr: _music(20, sr, seed=1)[:, :1], 48000, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_integrated_against_pyloudnorm_ffmpeg_and_the_standard(name, tmp_path):
    make, sr, expected = CASES[name]
    x = make(sr)
    path = tmp_path / f"{name}.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    ours = _ours(x, sr).integrated
    pyln = pyloudnorm.Meter(sr).integrated_loudness(x)
    ff = _ffmpeg_ebur128(path, tmp_path)
    assert abs(ours - pyln) <= 0.1, (ours, pyln)
    assert abs(ours - ff["I"]) <= 0.1, (ours, ff)
    if expected is not None:
        assert abs(ours - expected) <= 0.1


LRA_CASES = {
    # EBU Tech 3342 cases 1-2 style: stereo sines alternating levels.
    "lra_-20_-30": ([(-20, 10), (-30, 10)], 10.0),
    "lra_-20_-15": ([(-20, 10), (-15, 10)], 5.0),
    "lra_-40_-20": ([(-40, 10), (-20, 10)], 20.0),
    # Tech 3342 case 4: -50/-35/-20/-35/-50 dBFS, 20 s each -> 15 LU (the -50 parts are gated).
    "lra_gate": ([(-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)], 15.0),
}


@pytest.mark.parametrize("name", list(LRA_CASES))
def test_loudness_range_against_ffmpeg_and_tech3342(name, tmp_path):
    parts, expected = LRA_CASES[name]
    x = _steps(parts, 48000)
    path = tmp_path / f"{name}.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    ours = _ours(x, 48000).loudness_range
    ff = _ffmpeg_ebur128(path, tmp_path)
    assert abs(ours - ff["LRA"]) <= 0.5, (ours, ff)
    assert abs(ours - expected) <= 1.0, (ours, expected)


def test_music_lra_against_ffmpeg(tmp_path):
    x = _music(30, 48000, seed=5)
    path = tmp_path / "music.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    ours = _ours(x, 48000)
    ff = _ffmpeg_ebur128(path, tmp_path)
    assert ours.loudness_range > 3.0
    assert abs(ours.loudness_range - ff["LRA"]) <= 0.5, (ours.loudness_range, ff)
    assert abs(ours.integrated - ff["I"]) <= 0.1


def test_streaming_frames_match_ffmpeg(tmp_path):
    """Fed 960-sample frames on the pure path, the meter still matches ffmpeg."""
    x = _music(12, 48000, seed=8)[:, 0]
    path = tmp_path / "frames.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    m = LoudnessMeter(48000)
    xl = x.tolist()
    for i in range(0, len(xl), 960):
        m.push(xl[i : i + 960])
    ff = _ffmpeg_ebur128(path, tmp_path)
    assert abs(m.integrated - ff["I"]) <= 0.1
    assert abs(m.loudness_range - ff["LRA"]) <= 0.5
