"""Small end-to-end run: generate clips, train, export, classify with onnxruntime and onnxruntime-web."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from aimixer_dsp import GENRES
from aimixer_train.corpus import generate_corpus
from aimixer_train.train import items_from_manifest, train

from origin import genre as og

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))
from test_ort_parity import node_available, run_web  # noqa: E402

SEED = 123


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest = generate_corpus(out, clips=15, seed=SEED, seconds=5.0, jobs=2, progress=False)
    return manifest


def _train(manifest: Path, out: Path) -> dict:
    return train(
        items_from_manifest(manifest),
        out,
        seed=SEED,
        progress=False,
        quick=True,
        training_data={"kind": "synthetic", "seed": SEED, "clips": 15, "seconds": 5.0},
    )


@pytest.mark.slow
def test_generate_train_export_classify(small_corpus, tmp_path):
    meta = _train(small_corpus, tmp_path / "a")
    onnx_a = (tmp_path / "a" / "genre.onnx").read_bytes()
    assert meta["classes"] == list(GENRES)
    assert set(meta["metrics"]["crossValidation"]["models"]) == {
        "logistic_regression",
        "random_forest",
        "gradient_boosting",
        "svc",
        "mlp",
        "soft_voting",
    }
    assert meta["model"]["onnxParityMaxAbs"] < 1e-5
    assert meta["model"]["onnxSha256"] == hashlib.sha256(onnx_a).hexdigest()
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert "synthetic" in card and "Confusion matrix" in card
    # the same corpus and seed give the same bytes
    _train(small_corpus, tmp_path / "b")
    assert (tmp_path / "b" / "genre.onnx").read_bytes() == onnx_a
    assert json.loads((tmp_path / "b" / "genre.json").read_text()) == json.loads(
        (tmp_path / "a" / "genre.json").read_text()
    )
    # classify a clip with onnxruntime (origin) ...
    model = og.GenreModel(tmp_path / "a" / "genre.onnx")
    assert model.version == meta["version"]
    item = items_from_manifest(small_corpus)[1]
    audio = og.load_audio(item["path"])
    res = og.classify_signal(audio, model)
    assert res["genre"] in GENRES and len(res["timeline"]) == 3
    # ... and with onnxruntime-web in Node, on the same feature vectors
    if node_available():
        from aimixer_dsp.genre import feature_vector

        vecs = [feature_vector(audio[k * 48000 : k * 48000 + 3 * 48000]) for k in range(3)]
        web = run_web(tmp_path / "a" / "genre.onnx", vecs, tmp_path)
        ours = np.array([[d[c] for c in model.classes] for d in model.predict_proba(vecs)])
        np.testing.assert_allclose(np.array(web["probabilities"]), ours, atol=1e-5, rtol=0)
        timeline = np.array([[w["probabilities"][c] for c in model.classes] for w in res["timeline"]])
        np.testing.assert_allclose(timeline, ours, atol=1e-6)


def test_export_does_not_depend_on_hash_seed(tmp_path):
    """skl2onnx iterates sets; the exported bytes must not follow PYTHONHASHSEED."""
    import os
    import pickle
    import subprocess
    import warnings

    from aimixer_train.train import candidate_models, make_ensemble

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 48))
    y = np.arange(300) % 5
    X[:, :5] += y[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_ensemble(["random_forest", "svc", "mlp"], candidate_models(0, quick=True)).fit(X, y)
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    code = (
        "import pickle, sys, warnings; warnings.simplefilter('ignore');"
        "from aimixer_train.train import export_onnx;"
        "export_onnx(pickle.load(open(sys.argv[1], 'rb')), sys.argv[2])"
    )
    digests = set()
    for seed in ("1", "2", "3", "4", "5"):
        out = tmp_path / f"m{seed}.onnx"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "m.pkl"), str(out)],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1
