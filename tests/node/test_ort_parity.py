"""onnxruntime-web (Node, WASM backend) gives the origin's onnxruntime probabilities within 1e-5."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aimixer_dsp.genre import feature_vector

from origin import genre as og

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ort_parity.mjs")
SR = 48000

pytestmark = pytest.mark.node


def node_available() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "onnxruntime-web").is_dir()


def run_web(model: Path, vectors: list[list[float]], tmp_path: Path) -> dict:
    """Run ``vectors`` through ``model`` on onnxruntime-web in Node; returns the script's JSON."""
    inp = tmp_path / "input.json"
    inp.write_text(json.dumps({"inputName": "features", "vectors": vectors}))
    proc = subprocess.run(
        ["node", str(SCRIPT), str(model), str(inp)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _vectors() -> list[list[float]]:
    rng = np.random.default_rng(42)
    t = np.arange(3 * SR) / SR
    signals = [
        0.3 * np.sin(2 * np.pi * 440 * t),
        0.1 * rng.standard_normal(3 * SR),
        0.2 * np.sin(2 * np.pi * (100 + 3000 * t) * t) * (np.sin(2 * np.pi * 2 * t) > 0),
        np.zeros(3 * SR),
    ]
    vecs = [feature_vector(s) for s in signals]
    # perturbed copies spread over the feature space
    base = np.asarray(vecs)
    for k in range(12):
        vecs.append((base[k % len(base)] * rng.uniform(0.7, 1.3, size=base.shape[1])).tolist())
    return vecs


@pytest.mark.skipif(not node_available(), reason="needs node and node_modules/onnxruntime-web (npm ci)")
def test_committed_model_web_matches_origin(tmp_path):
    model = og.GenreModel(og.DEFAULT_MODEL_PATH)
    vecs = _vectors()
    ours = np.array([[d[c] for c in model.classes] for d in model.predict_proba(vecs)])
    web = run_web(og.DEFAULT_MODEL_PATH, vecs, tmp_path)
    np.testing.assert_allclose(np.array(web["probabilities"]), ours, atol=1e-5, rtol=0)
    assert web["labels"] == ours.argmax(axis=1).tolist()


def _matrix_vectors() -> list[list[float]]:
    """MFCC-statistics vectors (``aimixer_dsp.genre.matrix_vectors`` of spec-default MFCC matrices)."""
    from aimixer_dsp.features import extract_features
    from aimixer_dsp.genre import matrix_vectors

    rng = np.random.default_rng(7)
    t = np.arange(4 * SR) / SR
    signals = [
        0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)),
        0.1 * rng.standard_normal(4 * SR),
        0.2 * np.sin(2 * np.pi * (100 + 3000 * t) * t) * (np.sin(2 * np.pi * 2 * t) > 0),
    ]
    vecs: list[list[float]] = []
    for s in signals:
        vecs += matrix_vectors(extract_features(s)["features"])
    base = np.asarray(vecs)
    for k in range(10):
        vecs.append((base[k % len(base)] * rng.uniform(0.7, 1.3, size=base.shape[1])).tolist())
    return vecs


@pytest.mark.skipif(not node_available(), reason="needs node and node_modules/onnxruntime-web (npm ci)")
def test_mfcc_model_web_matches_origin(tmp_path):
    path = og.DEFAULT_MATRIX_MODEL_PATH
    model = og.GenreModel(path)
    vecs = _matrix_vectors()
    ours = np.array([[d[c] for c in model.classes] for d in model.predict_proba(vecs)])
    web = run_web(path, vecs, tmp_path)
    np.testing.assert_allclose(np.array(web["probabilities"]), ours, atol=1e-5, rtol=0)
    assert np.allclose(ours.sum(axis=1), 1.0, atol=1e-5)
