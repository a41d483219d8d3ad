"""The DSP sub-commands (process, analyze, features) run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

GENRES = ("speech", "rock", "jazz", "electronic", "classical")


def aimixer(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    # The installed console script's entry point (``python -m origin.cli`` would load the module
    # twice, as ``__main__`` and as ``origin.cli``, with two distinct CLIError classes).
    entry = "import sys; from origin.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", entry, *args], capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _music(seconds: float, sr: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    env = 10 ** ((-10 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * t))) / 20)
    cols = [
        env * (0.3 * np.sin(2 * np.pi * (220 + 55 * c) * t) + 0.05 * rng.standard_normal(n))
        for c in range(channels)
    ]
    return np.stack(cols, axis=1)


@pytest.fixture
def stereo_flac(tmp_path: Path) -> tuple[Path, np.ndarray, int]:
    sr = 44100
    x = _music(5.0, sr, 2)
    path = tmp_path / "in.flac"
    sf.write(path, x, sr, subtype="PCM_24")
    data, _ = sf.read(path, dtype="float64", always_2d=True)
    return path, data, sr


# ------------------------------------------------------------------------------------ analyze


def test_analyze_json_matches_independent_measurements(stereo_flac):
    path, data, sr = stereo_flac
    proc = aimixer("analyze", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("peak", "rms", "lufs", "momentaryMax", "shortTermMax", "lra", "duration", "sampleRate"):
        assert key in out
    assert out["peak"] == pytest.approx(20 * np.log10(np.max(np.abs(data))), abs=1e-6)
    assert out["rms"] == pytest.approx(10 * np.log10(np.mean(data**2)), abs=1e-6)
    assert out["lufs"] == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(data), abs=0.1)
    assert out["duration"] == pytest.approx(5.0)
    assert out["sampleRate"] == sr
    assert out["momentaryMax"] >= out["shortTermMax"] >= out["lufs"] - 3
    assert out["lra"] > 0


def test_analyze_text_and_no_value(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(4800), 48000)
    proc = aimixer("analyze", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "lufs:" in proc.stdout and "-inf" in proc.stdout and "sampleRate:" in proc.stdout
    out = json.loads(aimixer("analyze", str(path), "--json").stdout)
    assert out["peak"] is None and out["lufs"] is None and out["lra"] == 0.0


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.wav", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: (d / "junk.wav").write_bytes(b"not audio at all" * 10) and d / "junk.wav", "cannot read"),
    ],
)
def test_analyze_bad_file_one_line(tmp_path, make, needle):
    assert_one_line_error(aimixer("analyze", str(make(tmp_path))), "aimixer analyze: error:", needle)


# ------------------------------------------------------------------------------------ features


def test_features_json_is_the_api_shape_and_matches_librosa(stereo_flac):
    path, data, sr = stereo_flac
    proc = aimixer("features", str(path), "--json", "--coefficients", "20", "--filters", "64", "--fft", "1024",
                   "--hop", "256", "--window", "hamming")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {
        "features", "spectralCentroid", "zeroCrossingRate", "spectralRolloff", "spectralFlux", "frameCount", "duration",
        "truePeak",
    }  # fmt: skip
    mono = data.mean(axis=1)
    ref = librosa.feature.mfcc(
        y=mono, sr=sr, n_mfcc=20, n_fft=1024, hop_length=256, window="hamming", n_mels=64
    ).T
    got = np.array(out["features"])
    assert got.shape == ref.shape == (out["frameCount"], 20)
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) <= 1e-3
    cent = librosa.feature.spectral_centroid(y=mono, sr=sr, n_fft=1024, hop_length=256, window="hamming",
                                             pad_mode="constant")  # fmt: skip
    assert out["spectralCentroid"] == pytest.approx(float(cent.mean()), rel=1e-5)
    assert out["duration"] == pytest.approx(5.0)


def test_features_text_output(stereo_flac):
    proc = aimixer("features", str(stereo_flac[0]))
    assert proc.returncode == 0, proc.stderr
    assert (
        "frameCount:" in proc.stdout
        and "spectralCentroid:" in proc.stdout
        and "x 13 coefficients" in proc.stdout
    )


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--fft", "1000"], ["--fft", "power of two"]),
        (["--window", "kaiser"], ["--window", "kaiser"]),
        (["--coefficients", "0"], ["--coefficients", "numCoefficients=0"]),
        (["--hop", "abc"], ["--hop", "invalid int value"]),
        (["--bogus"], ["unrecognized arguments"]),
    ],
)
def test_features_bad_flags_one_line(stereo_flac, flags, needles):
    assert_one_line_error(aimixer("features", str(stereo_flac[0]), *flags), *needles)


# ------------------------------------------------------------------------------------ process


def test_process_json_and_output_file(stereo_flac, tmp_path):
    path, data, sr = stereo_flac
    out_path = tmp_path / "out.wav"
    proc = aimixer("process", str(path), str(out_path), "--json", "--genre", "rock", "--ceiling", "-2",
                   "--comp-ratio", "6")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # short file, not a terminal: no progress bar
    res = json.loads(proc.stdout)
    for side in ("input", "output"):
        assert set(res[side]) >= {"peak", "rms", "lufs", "lra"}
    assert res["appliedSettings"]["limiter"]["ceiling"] == -2
    assert res["appliedSettings"]["compressor"]["ratio"] == 6
    assert res["input"]["peak"] == pytest.approx(20 * np.log10(np.max(np.abs(data))), abs=1e-6)
    y, out_sr = sf.read(out_path, dtype="float64", always_2d=True)
    assert out_sr == sr and y.shape == data.shape
    assert 20 * np.log10(np.max(np.abs(y))) <= -2 + 0.01  # PCM_16 rounding
    assert res["output"]["lufs"] == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(y), abs=0.1)


def test_process_keeps_alignment_and_length(tmp_path):
    """Limiter lookahead is compensated: a transparent chain returns the input sample for sample."""
    sr = 32000
    x = 0.1 * _music(2.0, sr, 1, seed=2)[:, 0]
    src = tmp_path / "quiet.wav"
    sf.write(src, x, sr, subtype="FLOAT")
    out_path = tmp_path / "same.wav"
    proc = aimixer(
        "process", str(src), str(out_path), "--no-gate", "--no-comp", "--no-eq", "--ceiling", "0", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["latencySamples"] > 0
    y, _ = sf.read(out_path, dtype="float64")
    assert y.shape == x.shape
    assert np.max(np.abs(y - x)) < 1e-6


def test_process_gain_is_exact(tmp_path):
    sr = 48000
    x = 0.05 * _music(1.0, sr, 1, seed=4)[:, 0]
    src = tmp_path / "g.wav"
    sf.write(src, x, sr, subtype="FLOAT")
    out_path = tmp_path / "g_out.wav"
    proc = aimixer(
        "process", str(src), str(out_path), "--gain", "6", "--no-gate", "--no-comp", "--no-eq", "--no-limiter"
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    y, _ = sf.read(out_path, dtype="float64")
    assert np.allclose(y, x * 10 ** (6 / 20), atol=1e-6)


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--comp-ratio", "30"], ["--comp-ratio", "compressor.ratio=30", "[1, 20]"]),
        (["--gain", "25"], ["--gain", "gain=25"]),
        (["--eq-high", "13"], ["--eq-high", "eq.high=13", "[-12, 12]"]),
        (["--ceiling", "x"], ["--ceiling", "invalid float value"]),
        (["--genre", "polka"], ["--genre", "invalid choice"]),
        (["--no-such-flag"], ["unrecognized arguments"]),
    ],
)
def test_process_bad_flags_one_line(stereo_flac, tmp_path, flags, needles):
    out_path = tmp_path / "never.wav"
    assert_one_line_error(aimixer("process", str(stereo_flac[0]), str(out_path), *flags), *needles)
    assert not out_path.exists()


def test_process_bad_files_one_line(stereo_flac, tmp_path):
    assert_one_line_error(
        aimixer("process", str(tmp_path / "nope.wav"), str(tmp_path / "o.wav")), "no such file"
    )
    bad_out = tmp_path / "out.xyz"
    assert_one_line_error(aimixer("process", str(stereo_flac[0]), str(bad_out)), "unknown audio format")
    assert not bad_out.exists()
    assert_one_line_error(aimixer("process", str(stereo_flac[0]), str(stereo_flac[0])), "different file")


def test_process_genre_auto_never_fakes_an_answer(stereo_flac, tmp_path):
    proc = aimixer("process", str(stereo_flac[0]), str(tmp_path / "auto.wav"), "--genre", "auto", "--json")
    if proc.returncode == 0:  # the classifier and its model are installed
        res = json.loads(proc.stdout)
        assert res["genre"] in GENRES and 0 < res["confidence"] <= 1
    else:
        assert_one_line_error(proc, "--genre auto", "genre classifier not available")
        assert not (tmp_path / "auto.wav").exists()


def test_bundled_demo_clip_is_small_and_processable(tmp_path):
    demo = Path(__file__).resolve().parents[3] / "origin" / "data" / "demo.wav"
    info = sf.info(demo)
    assert demo.stat().st_size < 1_000_000 and 9.0 <= info.duration <= 11.0
    proc = aimixer("process", str(demo), str(tmp_path / "demo_out.ogg"), "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["output"]["peak"] <= res["appliedSettings"]["limiter"]["ceiling"] + 0.5  # Vorbis is lossy
    assert sf.info(tmp_path / "demo_out.ogg").frames == info.frames


def test_process_long_file_shows_progress_on_stderr(tmp_path):
    sr = 16000
    t = np.arange(31 * sr) / sr
    src = tmp_path / "long.wav"
    sf.write(src, 0.3 * np.sin(2 * np.pi * 440 * t), sr)
    proc = aimixer("process", str(src), str(tmp_path / "long_out.wav"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "frame" in proc.stderr and "%" in proc.stderr  # tqdm bar (file > 30 s)
    assert json.loads(proc.stdout)["duration"] == pytest.approx(31.0)  # stdout stays clean JSON
