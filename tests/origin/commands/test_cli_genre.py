"""``aimixer classify`` / ``corpus`` / ``train`` shapes and errors, as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

GENRES = ("speech", "rock", "jazz", "electronic", "classical")


def aimixer(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    entry = "import sys; from origin.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", entry, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def stereo_44k(tmp_path_factory):
    """6.5 s of stereo 44.1 kHz 'music' (chords with a pulse) written as FLAC."""
    sr = 44100
    t = np.arange(int(6.5 * sr)) / sr
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    pulse = (np.sin(2 * np.pi * 2.0 * t) > 0.6).astype(float)
    x = 0.4 * tone * (0.5 + 0.5 * pulse)
    path = tmp_path_factory.mktemp("cli") / "clip.flac"
    sf.write(str(path), np.stack([x, 0.8 * x], axis=1), sr)
    return path


def test_classify_json_shape(stereo_44k):
    proc = aimixer("classify", str(stereo_44k), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in (
        "genre",
        "confidence",
        "probabilities",
        "secondaryGenre",
        "modelVersion",
        "timeline",
        "voiceActivity",
        "duration",
    ):
        assert key in out
    assert set(out["probabilities"]) == set(GENRES)
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert out["genre"] == max(out["probabilities"], key=out["probabilities"].get)
    assert out["confidence"] == pytest.approx(out["probabilities"][out["genre"]])
    assert out["secondaryGenre"] in GENRES and out["secondaryGenre"] != out["genre"]
    assert out["duration"] == pytest.approx(6.5, abs=0.01)
    # 6.5 s with 3 s windows every 1 s: starts 0..3
    assert [w["start"] for w in out["timeline"]] == [0.0, 1.0, 2.0, 3.0]
    for w in out["timeline"]:
        assert w["genre"] in GENRES and set(w["probabilities"]) == set(GENRES)
        assert w["end"] - w["start"] == pytest.approx(3.0)


def test_classify_window_and_text(stereo_44k):
    proc = aimixer("classify", str(stereo_44k), "--json", "--window", "5")
    out = json.loads(proc.stdout)
    assert [w["start"] for w in out["timeline"]] == [0.0, 1.0]
    text = aimixer("classify", str(stereo_44k))
    assert text.returncode == 0
    assert out["genre"] in text.stdout.splitlines()[0]
    assert "0.0-" in text.stdout.replace(" ", "")


def test_classify_errors(tmp_path, stereo_44k):
    assert_one_line_error(aimixer("classify", str(tmp_path / "nope.wav")), "no such file")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    assert_one_line_error(aimixer("classify", str(bad)), "cannot read audio file")
    assert_one_line_error(aimixer("classify", str(stereo_44k), "--window", "1"), "--window=1.0")
    short = tmp_path / "short.wav"
    sf.write(str(short), np.zeros(1000), 48000)
    assert_one_line_error(aimixer("classify", str(short)), "too short")
    env = {**__import__("os").environ, "AIMIXER_MODEL_PATH": str(tmp_path / "none.onnx")}
    assert_one_line_error(aimixer("classify", str(stereo_44k), env=env), "genre model not found")


def test_corpus_command(tmp_path):
    proc = aimixer(
        "corpus",
        "--out",
        str(tmp_path / "c"),
        "--clips",
        "2",
        "--seed",
        "9",
        "--seconds",
        "3",
        "--jobs",
        "1",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert [it["label"] for it in m["items"]] == ["speech", "rock"]
    assert all((tmp_path / "c" / it["file"]).is_file() for it in m["items"])
    assert_one_line_error(aimixer("corpus", "--out", str(tmp_path / "d"), "--clips", "0"), "--clips=0")


def test_train_errors(tmp_path):
    (tmp_path / "data" / "rock").mkdir(parents=True)
    assert_one_line_error(
        aimixer("train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "o")),
        "no audio files",
        "speech",
    )
    (tmp_path / "data" / "polka").mkdir()
    sf.write(str(tmp_path / "data" / "polka" / "a.wav"), np.zeros(48000), 48000)
    assert_one_line_error(aimixer("train", "--data", str(tmp_path / "data")), "unknown genre folder", "polka")
    assert_one_line_error(aimixer("train", "--data", str(tmp_path / "missing")), "is not a directory")
    proc = aimixer("train")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _genre_signal(genre: str, k: int, sr: int = 48000, seconds: float = 4.0) -> np.ndarray:
    """Crude but distinct stand-ins per folder (the point is the pipeline, not the accuracy)."""
    rng = np.random.default_rng(100 + 7 * k + GENRES.index(genre))
    t = np.arange(int(seconds * sr)) / sr
    base = {"speech": 150, "rock": 82, "jazz": 110, "electronic": 55, "classical": 440}[genre] * (
        1 + 0.05 * k
    )
    x = np.sin(2 * np.pi * base * t) + 0.3 * np.sin(2 * np.pi * 3 * base * t)
    if genre == "speech":
        x *= np.sin(2 * np.pi * 4 * t) > 0.2
    elif genre in ("rock", "electronic"):
        x = np.tanh(3 * x) + 0.2 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0.9)
    return 0.3 * x / np.max(np.abs(x))


def test_train_from_folders(tmp_path):
    data = tmp_path / "data"
    for g in GENRES:
        (data / g).mkdir(parents=True)
        for k in range(2):
            fmt = "flac" if k else "wav"
            sr = 44100 if k else 48000
            sf.write(str(data / g / f"{g}{k}.{fmt}"), _genre_signal(g, k, sr=sr), sr)
    out = tmp_path / "model"
    proc = aimixer(
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--quick",
        "--models",
        "logistic_regression,random_forest",
    )
    assert proc.returncode == 0, proc.stderr
    assert "held-out accuracy" in proc.stdout and "[train]" in proc.stderr  # progress on stderr
    meta = json.loads((out / "genre.json").read_text())
    assert meta["version"].endswith("-custom") and meta["trainingData"]["kind"] == "folders"
    assert meta["metrics"]["crossValidation"]["groups"] == 10  # one group per file
    assert (out / "MODEL_CARD.md").is_file()
    res = aimixer("classify", str(data / "rock" / "rock0.wav"), "--json", "--model", str(out / "genre.onnx"))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["modelVersion"] == meta["version"]
    bad = aimixer("train", "--data", str(data), "--out", str(out), "--models", "xgboost")
    assert_one_line_error(bad, "unknown model", "xgboost")
