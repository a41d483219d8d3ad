"""origin.genre: onnxruntime inference, sklearn parity, VAD, resampling, model loading."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from aimixer_dsp import GENRES
from aimixer_dsp.genre import FEATURE_SPEC, feature_vector

from origin import genre as og

SR = 48000


@pytest.fixture(scope="module")
def committed():
    return og.GenreModel(og.DEFAULT_MODEL_PATH)


def _tone(seconds: float, f: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return 0.3 * np.sin(2 * np.pi * f * t)


def test_committed_model_metadata(committed):
    assert og.DEFAULT_MODEL_PATH.stat().st_size < 5 * 1024 * 1024
    assert committed.classes == GENRES
    meta = json.loads(og.DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    assert committed.version == meta["version"]
    assert meta["featureSpec"] == json.loads(json.dumps(FEATURE_SPEC))
    assert committed.feature_size == 48
    assert meta["window"]["seconds"] >= 3.0


def test_predict_proba_single_and_batch(committed):
    v = feature_vector(_tone(3.0, 440.0))
    p = committed.predict_proba(v)
    assert set(p) == set(GENRES)
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-5)
    batch = committed.predict_proba([v, v])
    assert isinstance(batch, list) and len(batch) == 2
    assert batch[0] == pytest.approx(p, abs=1e-7)
    res = committed.classify(v)
    assert res["genre"] == max(p, key=p.get)
    assert res["secondaryGenre"] != res["genre"]
    assert res["modelVersion"] == committed.version
    with pytest.raises(ValueError, match="48 values"):
        committed.predict_proba([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        committed.predict_proba([float("nan")] * 48)


def test_streaming_classifier_uses_model(committed):
    # min_confidence 0: any verdict counts (a pure tone is not confidently any genre; the
    # confidence rule has its own tests in tests/wasm/test_genre.py)
    clf = committed.streaming_classifier(min_confidence=0.0)
    x = _tone(4.0, 220.0).tolist()
    for i in range(0, len(x), 960):
        clf.push(x[i : i + 960])
    assert clf.genre in GENRES
    assert clf.confidence == pytest.approx(
        committed.predict(feature_vector(x[: 3 * SR]))[clf.genre], abs=1e-6
    )


@pytest.mark.parametrize("name", ["logistic_regression", "random_forest", "gradient_boosting", "svc", "mlp"])
def test_sklearn_and_onnxruntime_agree(name, tmp_path):
    from aimixer_train.train import candidate_models, export_onnx

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 48)) * rng.uniform(0.1, 100, size=48)
    y = np.arange(400) % 5
    X[:, :5] += y[:, None] * 0.8
    model = candidate_models(0, quick=True)[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    gm = og.GenreModel(path)  # no metadata -> GENRES order
    Xt = rng.normal(size=(50, 48)) * rng.uniform(0.1, 100, size=48)
    X32 = Xt.astype(np.float32)
    ours = np.array([[d[g] for g in GENRES] for d in gm.predict_proba(X32)])
    ref = model.predict_proba(X32.astype(np.float64))
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)


def test_voice_activity(tmp_path):
    from aimixer_train.corpus import speak

    speech = speak(
        "good morning, this is the news at nine o'clock", "en-us", rate=160, pitch=50, workdir=tmp_path
    )
    assert og.voice_activity(speech, SR) > 0.5
    assert og.voice_activity(np.zeros(SR), SR) == 0.0
    assert og.voice_activity(np.zeros(100), SR) == 0.0
    # other rates are resampled
    assert og.voice_activity(np.zeros(44100), 44100) == 0.0
    with pytest.raises(ValueError, match="aggressiveness"):
        og.voice_activity(speech, SR, aggressiveness=7)


def test_resample_to_48k_keeps_pitch():
    x = _tone(1.0, 1000.0, sr=44100)
    y = og.resample_to_48k(x, 44100)
    assert abs(len(y) - SR) <= 1
    spec = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(spec)] == pytest.approx(1000.0, abs=2.0)
    assert og.resample_to_48k(x, SR) is not None


def test_model_path_override(monkeypatch, tmp_path):
    monkeypatch.setenv("AIMIXER_MODEL_PATH", str(tmp_path / "missing.onnx"))
    assert og.model_path() == tmp_path / "missing.onnx"
    with pytest.raises(og.ModelError, match="missing.onnx"):
        og.load_default_model()
    monkeypatch.delenv("AIMIXER_MODEL_PATH")

    class S:
        model_path = str(tmp_path / "other.onnx")

    assert og.model_path(S()) == tmp_path / "other.onnx"
    assert og.model_path() == og.DEFAULT_MODEL_PATH
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(og.ModelError, match="cannot load"):
        og.GenreModel(bad)


def test_classify_signal_timeline(committed):
    x = np.concatenate([_tone(3.0, 440.0), _tone(3.0, 2000.0)])
    res = og.classify_signal(x, committed, window_s=3.0, hop_s=1.0)
    assert [w["start"] for w in res["timeline"]] == [0.0, 1.0, 2.0, 3.0]
    assert set(res["probabilities"]) == set(GENRES)
    assert sum(res["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    w = res["timeline"][0]
    assert set(w) == {"start", "end", "genre", "confidence", "probabilities"}
    assert w["confidence"] == w["probabilities"][w["genre"]]
    short = og.classify_signal(_tone(1.0, 440.0), committed)
    assert len(short["timeline"]) == 1
    with pytest.raises(ValueError, match="too short"):
        og.classify_signal(np.zeros(100), committed)
