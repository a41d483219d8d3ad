"""The MFCC-statistics model (``models/genre_mfcc.onnx``): export, calibration and real recordings.

* the temperature-scaling export: scikit-learn's tempered probabilities == onnxruntime's, on a
  small model trained here;
* the committed model's metadata is consistent with the file, and its calibration is in the graph;
* a smoke test on real recordings from a package that ``scripts/setup.sh`` installs
  (``pocketsphinx-testdata``: real read speech), classified correctly through the spec's flow.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aimixer_dsp import GENRES
from aimixer_dsp.features import extract_features
from aimixer_dsp.genre import MFCC_SPEC, matrix_vectors, verdict
from aimixer_train.inference import DEFAULT_MATRIX_MODEL_PATH, GenreModel
from aimixer_train.matrix import _proba, _tempered, export_matrix_onnx, fit_temperature
from aimixer_train.metrics import ece

SPEECH_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")


def test_temperature_export_matches_sklearn(tmp_path):
    import onnxruntime as ort
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    size = int(MFCC_SPEC["size"])
    X = rng.normal(size=(300, size))
    y = np.where(X[:, 2] > 1.0, 4, (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0.5).astype(int))
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
    raw = _proba(model, X)
    t = fit_temperature(raw, y)
    assert 0.05 < t < 20.0
    data = export_matrix_onnx(model, t, tmp_path / "m.onnx")
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (p,) = sess.run(["probabilities"], {"features": X.astype(np.float32)})
    np.testing.assert_allclose(p, _tempered(raw, t), atol=1e-5)
    # a temperature != 1 changes the numbers: the scaling is really in the graph
    if abs(t - 1.0) > 0.05:
        assert np.max(np.abs(p - raw)) > 1e-3

    # the log loss at the fitted temperature is no worse than at T = 1
    def nll(q: np.ndarray) -> float:
        return float(-np.mean(np.log(np.maximum(q[np.arange(len(y)), y], 1e-12))))

    assert nll(_tempered(raw, t)) <= nll(raw) + 1e-9


def test_ece_on_known_cases():
    y = np.array([0, 1, 0, 1])
    sure_right = np.array([[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0]] * 2)
    assert ece(sure_right, y) == pytest.approx(0.0)
    sure_wrong = sure_right[:, [1, 0, 2, 3, 4]]
    assert ece(sure_wrong, y) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def model() -> GenreModel:
    if not DEFAULT_MATRIX_MODEL_PATH.is_file():
        pytest.skip("no committed MFCC model")
    return GenreModel(DEFAULT_MATRIX_MODEL_PATH)


def test_committed_metadata(model):
    meta = json.loads(DEFAULT_MATRIX_MODEL_PATH.with_suffix(".json").read_text())
    data = DEFAULT_MATRIX_MODEL_PATH.read_bytes()
    assert meta["model"]["onnxSha256"] == hashlib.sha256(data).hexdigest()
    assert len(data) < 5 * 1024 * 1024
    assert meta["classes"] == list(GENRES) and meta["featureSpec"]["size"] == MFCC_SPEC["size"]
    assert meta["calibration"]["temperature"] > 0
    assert model.feature_size == MFCC_SPEC["size"]
    # every real clip has its source recorded, and no package sits on both sides
    sides: dict[str, set[str]] = {}
    for clip in meta["trainingData"]["realClips"]:
        assert clip["source"] and clip["file"] and clip["split"] in ("train", "heldout")
        sides.setdefault(clip["source"], set()).add(clip["split"])
    assert all(len(v) == 1 for v in sides.values()), sides


def _decode(path: Path) -> np.ndarray:
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-ac",
            "1",
            "-ar",
            "48000",
            "-f",
            "f32le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float64)


@pytest.mark.skipif(
    not SPEECH_DIR.is_dir(), reason="pocketsphinx-testdata is not installed (scripts/setup.sh)"
)
def test_real_speech_recordings_are_speech(model):
    """LibriVox read speech (a human voice, 16 kHz) -> 'speech', through extract -> classify."""
    files = sorted(SPEECH_DIR.glob("*.wav"))
    assert len(files) >= 3
    audio = np.concatenate([_decode(f) for f in files])
    clips = [audio[i : i + 6 * 48000] for i in range(0, len(audio) - 6 * 48000 + 1, 6 * 48000)]
    assert len(clips) >= 3
    for clip in clips:
        feats = extract_features(clip)["features"]
        vecs = matrix_vectors(feats)
        out = verdict(
            model.predict_proba(np.asarray(vecs)), model_version=model.version, input_kind="mfccMatrix"
        )
        assert out["genre"] == "speech", out


def test_reserved_packages_are_refused(tmp_path):
    from aimixer_train.realset import RealsetError, build_realset

    for pkg in ("nexuiz-music", "wesnoth-1.16-music", "asterisk-core-sounds-en-wav", "alsa-utils"):
        src = {"id": pkg, "package": pkg, "label": "music", "split": "train", "files": ["*"], "note": ""}
        with pytest.raises(RealsetError, match="reserved"):
            build_realset(tmp_path, sources=[src], progress=False)
    assert not any(tmp_path.rglob("*.deb"))  # refused before anything was fetched
