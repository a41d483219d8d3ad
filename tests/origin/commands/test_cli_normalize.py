"""``aimixer process --target-lufs / --target / --true-peak``: loudness normalisation of files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from tests.origin.commands.test_cli_dsp import aimixer, assert_one_line_error

SR = 48000


def _music(seconds: float = 5.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * SR)) / SR
    env = 10 ** ((-8 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * t))) / 20)
    hat = np.diff(rng.standard_normal(t.size + 1)) * (np.sin(2 * np.pi * 4 * t) > 0.9)
    x = env * (0.3 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)) + 0.08 * hat
    return np.stack([x, 0.9 * x], axis=1)


def _speech(seconds: float = 5.0) -> np.ndarray:
    """Syllable-like bursts of a voiced buzz with pauses (loud consonant peaks, low average)."""
    rng = np.random.default_rng(2)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    buzz = np.sign(np.sin(2 * np.pi * np.cumsum(f0) / SR)) * 0.2
    syll = (np.sin(2 * np.pi * 3.3 * t) > 0.2) * (np.sin(2 * np.pi * 0.31 * t) > -0.6)
    x = buzz * syll + 0.03 * rng.standard_normal(t.size) * syll
    return x[:, None]


def _programme() -> np.ndarray:
    """EBU Tech 3342 case 4 shaped: 1 kHz segments at -50/-35/-20/-35/-50 dBFS, 2 s each."""
    parts = [
        10 ** (db / 20) * np.sin(2 * np.pi * 1000 * np.arange(2 * SR) / SR)
        for db in (-50, -35, -20, -35, -50)
    ]
    x = np.concatenate(parts)
    return np.stack([x, x], axis=1)


def _ffmpeg(path: Path) -> tuple[float, float]:
    err = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stderr  # fmt: skip
    tail = err[err.rfind("Summary:") :]
    return float(tail.split("I:")[1].split()[0]), float(tail.split("Peak:")[1].split()[0])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
@pytest.mark.parametrize("material", ["music", "speech", "programme"])
@pytest.mark.parametrize(
    ("target", "lufs", "ceiling"),
    [
        ("ebu-r128", -23.0, -1.0),
        ("atsc-a85", -24.0, -2.0),
        ("streaming", -14.0, -1.0),
        ("podcast", -16.0, -1.0),
    ],
)
def test_named_target_lands_within_half_a_lu(tmp_path, material, target, lufs, ceiling) -> None:
    x = {"music": _music, "speech": _speech, "programme": _programme}[material]()
    src = tmp_path / "in.wav"
    out = tmp_path / "out.wav"
    sf.write(src, x, SR, subtype="PCM_24")
    proc = aimixer(
        "process", str(src), str(out), "--target", target, "--no-gate", "--no-comp", "--no-eq", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["normalization"]["targetLufs"] == lufs and res["normalization"]["truePeakCeiling"] == ceiling
    assert abs(res["output"]["lufs"] - lufs) <= 0.5
    assert res["output"]["truePeak"] <= ceiling
    y, _ = sf.read(out, always_2d=True)
    assert y.shape == x.shape
    assert abs(pyloudnorm.Meter(SR).integrated_loudness(y) - lufs) <= 0.5  # an independent meter
    ff_i, ff_tp = _ffmpeg(out)
    assert abs(ff_i - lufs) <= 0.5
    assert ff_tp <= ceiling


def test_target_lufs_and_true_peak_flags(tmp_path) -> None:
    src = tmp_path / "in.wav"
    out = tmp_path / "out.wav"
    sf.write(src, _music(4.0), SR, subtype="PCM_24")
    proc = aimixer("process", str(src), str(out), "--target-lufs", "-18", "--true-peak-ceiling", "-2", "--true-peak",
                   "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["appliedSettings"]["limiter"]["truePeak"] is True
    assert abs(res["output"]["lufs"] + 18.0) <= 0.5 and res["output"]["truePeak"] <= -2.0
    assert res["latencySamples"] == 2 * 104  # the chain's true-peak limiter + the normaliser's


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--target-lufs", "5"], ["--target-lufs", "out of range"]),
        (["--target-lufs", "nan"], ["--target-lufs", "out of range"]),
        (["--target-lufs", "-23", "--true-peak-ceiling", "-9"], ["--true-peak-ceiling", "out of range"]),
        (["--true-peak-ceiling", "-1"], ["needs --target-lufs"]),
        (["--target", "ebu-r128", "--target-lufs", "-20"], ["exclusive"]),
        (["--target", "loud"], ["invalid choice"]),
    ],
)
def test_bad_normalisation_flags_one_line(tmp_path, flags, needles) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, _music(1.0), SR)
    assert_one_line_error(aimixer("process", str(src), str(tmp_path / "o.wav"), *flags), *needles)


def test_silent_input_cannot_be_normalised(tmp_path) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, np.zeros((SR, 1)), SR)
    assert_one_line_error(
        aimixer("process", str(src), str(tmp_path / "o.wav"), "--target", "podcast"), "silent"
    )
