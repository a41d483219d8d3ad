"""Train the MFCC-statistics genre model (``models/genre_mfcc.onnx``): the spec's extract -> classify flow.

Input: the ``/extract-features`` MFCC matrix with the spec's default settings (13 coefficients,
40 mel filters, FFT 2048, hop 512, hann, 48 kHz), cut into 3 s windows every 1 s, one
:func:`aimixer_dsp.genre.matrix_vector` per window (``MFCC_SPEC["size"]`` statistics). The same
functions run on the origin and in Pyodide, so training, the origin and the browser see the same
numbers.

Pipeline:

1. clips -> spec MFCC matrix (:func:`aimixer_dsp.features.extract_features`) -> window vectors;
   training clips: the synthetic corpus (:mod:`aimixer_train.corpus`) plus the *train* part of
   the real development set (:mod:`aimixer_train.realset`), which is grouped by source;
2. the candidate models are scored on the real *held-out* sources (never trained on);
3. the selected model is refit, its probabilities calibrated by temperature scaling (``T`` fitted
   on out-of-fold predictions of grouped cross-validation over the training clips, by minimum
   log loss), and exported with the temperature *inside* the ONNX graph
   (``softmax(log(max(p, 1e-6)) / T)``), so every runtime returns calibrated probabilities;
4. ``genre_mfcc.json`` records the metrics: real held-out 5-class accuracy on 6 s clips, speech
   vs music, confusion matrix, per-class recall and ECE (10 bins) before and after calibration.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from aimixer_dsp import GENRES, SAMPLE_RATE
from aimixer_dsp.genre import MFCC_SPEC, matrix_vectors

from .metrics import confusion, ece
from .train import TrainError, _log, items_from_manifest

__all__ = [
    "MATRIX_MODEL_VERSION",
    "clip_vectors",
    "build_matrix_dataset",
    "fit_temperature",
    "ece",
    "export_matrix_onnx",
    "train_matrix_model",
]

MATRIX_MODEL_VERSION = "2.0.0"
EVAL_CLIP_S = 6.0
PROB_FLOOR = 1e-6
N_BINS = 10


def clip_vectors(x: np.ndarray) -> list[list[float]]:
    """Window vectors of one clip (mono 48 kHz): spec MFCC matrix -> :func:`matrix_vectors`."""
    from aimixer_dsp.features import extract_features

    m = extract_features(np.asarray(x, dtype=np.float64))["features"]
    return matrix_vectors(m.tolist() if hasattr(m, "tolist") else m)


def _eval_segments(x: np.ndarray, seconds: float = EVAL_CLIP_S, max_segments: int = 6) -> list[np.ndarray]:
    """Up to ``max_segments`` non-overlapping ``seconds`` clips spread over a recording."""
    n = int(seconds * SAMPLE_RATE)
    if len(x) < n:
        return []
    count = len(x) // n
    idx = np.linspace(0, count - 1, min(count, max_segments)).round().astype(int)
    return [x[i * n : (i + 1) * n] for i in sorted(set(idx.tolist()))]


def build_matrix_dataset(
    items: list[dict], *, progress: bool = True, max_windows: int | None = 40, eval_clips: bool = False
) -> dict[str, Any]:
    """Window vectors (``X``, ``y``, ``groups``) of every item, and optionally 6 s evaluation clips.

    ``eval_clips``: also ``clips`` = list of ``(label index, group, [vectors of one 6 s clip])``.
    """
    from tqdm import tqdm

    from .inference import load_audio

    X: list[list[float]] = []
    y: list[int] = []
    groups: list[str] = []
    clips: list[tuple[int, str, list[list[float]]]] = []
    bar = tqdm(items, desc="mfcc", unit="clip", disable=not progress, dynamic_ncols=True)
    for it in bar:
        try:
            x = (
                np.load(it["path"]).astype(np.float64)
                if it["path"].endswith(".npy")
                else load_audio(it["path"])
            )
        except ValueError as exc:
            _log(f"skipped {it.get('file')}: {exc}", progress)
            continue
        if len(x) < int(3.0 * SAMPLE_RATE):
            continue
        yi = GENRES.index(it["label"])
        vecs = clip_vectors(x)
        if max_windows is not None and len(vecs) > max_windows:
            pick = np.linspace(0, len(vecs) - 1, max_windows).round().astype(int)
            vecs = [vecs[i] for i in sorted(set(pick.tolist()))]
        X += vecs
        y += [yi] * len(vecs)
        groups += [it["group"]] * len(vecs)
        if eval_clips:
            for seg in _eval_segments(x):
                clips.append((yi, it["group"], clip_vectors(seg)))
    bar.close()
    return {
        "X": np.asarray(X, dtype=np.float64).reshape(-1, int(MFCC_SPEC["size"])),
        "y": np.asarray(y, dtype=np.int64),
        "groups": np.asarray(groups, dtype=object),
        "clips": clips,
    }


# ----------------------------------------------------------------------------- calibration


def _tempered(p: np.ndarray, t: float) -> np.ndarray:
    """``softmax(log(max(p, floor)) / t)`` row-wise: exactly what the exported graph computes."""
    z = np.log(np.maximum(p, PROB_FLOOR)) / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(p: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the log loss of ``_tempered(p, T)`` on held-out predictions."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        q = _tempered(p, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.maximum(q[np.arange(len(y)), y], 1e-12))))

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


# ----------------------------------------------------------------------------- models


def candidate_models(seed: int = 0) -> dict[str, Any]:
    """Small models behind a ``StandardScaler`` (the statistics have very different scales)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    def pipe(clf: Any) -> Any:
        return Pipeline([("scale", StandardScaler()), ("clf", clf)])

    return {
        "logistic_regression": pipe(LogisticRegression(C=0.3, max_iter=4000)),
        "mlp": pipe(MLPClassifier(hidden_layer_sizes=(48,), alpha=1e-2, max_iter=800, random_state=seed)),
    }


def _fit(model: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> Any:
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    m = clone(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if w is not None and "logistic" in type(m.steps[-1][1]).__name__.lower():
            m.fit(X, y, clf__sample_weight=w)
        else:
            m.fit(X, y)
    return m


def _proba(model: Any, X: np.ndarray) -> np.ndarray:
    p = model.predict_proba(X.astype(np.float32).astype(np.float64))
    out = np.zeros((len(X), len(GENRES)))
    out[:, list(model.classes_)] = p
    return out


def _clip_probs(model: Any, clips: list, t: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-clip probabilities (mean of the windows' calibrated probabilities, as /classify-genre)."""
    if not clips:
        return np.zeros((0, len(GENRES))), np.zeros(0, dtype=int), []
    flat = np.asarray([v for _, _, vecs in clips for v in vecs])
    p = _tempered(_proba(model, flat), t)
    out, i = [], 0
    for _, _, vecs in clips:
        out.append(p[i : i + len(vecs)].mean(axis=0))
        i += len(vecs)
    return np.asarray(out), np.asarray([c[0] for c in clips]), [c[1] for c in clips]


def _report(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    if len(y) == 0:
        return {"clips": 0}
    pred = p.argmax(axis=1)
    s = GENRES.index("speech")
    cm = confusion(y, pred)
    return {
        "clips": int(len(y)),
        "accuracy": float(np.mean(pred == y)),
        "speechVsMusic": float(np.mean((pred == s) == (y == s))),
        "ece": ece(p, y),
        "meanConfidenceWrong": float(p.max(axis=1)[pred != y].mean()) if (pred != y).any() else None,
        "confusion": cm,
        "recall": {g: (cm[i][i] / sum(cm[i]) if sum(cm[i]) else None) for i, g in enumerate(GENRES)},
    }


def export_matrix_onnx(model: Any, temperature: float, path: str | Path) -> bytes:
    """skl2onnx export + temperature scaling in the graph; output ``probabilities`` float32 ``[n, 5]``."""
    import warnings

    import onnx
    from onnx import TensorProto, helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    clf = model.steps[-1][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        onx = convert_sklearn(
            model,
            "aimixer_genre_mfcc",
            initial_types=[("features", FloatTensorType([None, int(MFCC_SPEC["size"])]))],
            options={id(clf): {"zipmap": False}},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    g = onx.graph
    out = next(o for o in g.output if o.name == "probabilities")
    for node in g.node:  # the classifier's probabilities become the raw ones
        node.output[:] = ["raw_probabilities" if o == "probabilities" else o for o in node.output]
    g.initializer.extend(
        [
            helper.make_tensor("prob_floor", TensorProto.FLOAT, [], [PROB_FLOOR]),
            helper.make_tensor("temperature", TensorProto.FLOAT, [], [temperature]),
        ]
    )
    g.node.extend(
        [
            helper.make_node("Max", ["raw_probabilities", "prob_floor"], ["floored"]),
            helper.make_node("Log", ["floored"], ["log_probabilities"]),
            helper.make_node("Div", ["log_probabilities", "temperature"], ["tempered"]),
            helper.make_node("Softmax", ["tempered"], ["probabilities"], axis=1),
        ]
    )
    del out  # the output declaration keeps its name, type and shape
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    onx.doc_string = (
        "AI Mixer genre classifier (MFCC statistics); input: aimixer_dsp.genre.matrix_vector "
        f"({MFCC_SPEC['size']} float32); probabilities temperature-calibrated (T={temperature:.4f})."
    )
    onx.producer_name = "aimixer-train"
    onx.producer_version = MATRIX_MODEL_VERSION
    onnx.checker.check_model(onx)
    data = onx.SerializeToString()
    Path(path).write_bytes(data)
    return data


def onnx_parity(model: Any, temperature: float, onnx_bytes: bytes, X: np.ndarray) -> float:
    """Max |p_sklearn(tempered) - p_onnxruntime| on ``X`` (float32 input)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
    x32 = X.astype(np.float32)
    (p_onnx,) = sess.run(["probabilities"], {"features": x32})
    return float(np.max(np.abs(p_onnx - _tempered(_proba(model, X), temperature))))


def _oof_probs(model: Any, X: np.ndarray, y: np.ndarray, groups: np.ndarray, w: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold

    k = max(2, min(5, min(len(set(groups[y == c].tolist())) for c in set(y.tolist()))))
    p = np.zeros((len(y), len(GENRES)))
    for tr, te in StratifiedGroupKFold(n_splits=k).split(X, y, groups):
        p[te] = _proba(_fit(model, X[tr], y[tr], w[tr]), X[te])
    return p


def train_matrix_model(
    corpus_items: list[dict],
    real_items: list[dict],
    out_dir: str | Path,
    *,
    seed: int = 0,
    progress: bool = True,
    models: Iterable[str] | None = None,
    real_weight: float = 4.0,
    sources: list[dict] | None = None,
) -> dict[str, Any]:
    """Train, calibrate and export ``genre_mfcc.onnx`` + ``genre_mfcc.json``; returns the metadata.

    ``real_items`` carry ``split`` = ``"train"`` or ``"heldout"``; held-out sources are only
    used for the reported metrics (and the choice among the candidate models).
    """
    import skl2onnx
    import sklearn
    from threadpoolctl import threadpool_limits

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(limits=1):
        syn = build_matrix_dataset(corpus_items, progress=progress, eval_clips=False)
        real_train = [it for it in real_items if it.get("split") == "train"]
        real_held = [it for it in real_items if it.get("split") == "heldout"]
        rtr = build_matrix_dataset(real_train, progress=progress, eval_clips=True)
        rho = build_matrix_dataset(real_held, progress=progress, eval_clips=True)
        if len(syn["y"]) == 0:
            raise TrainError("no usable synthetic clips")
        X = np.concatenate([syn["X"], rtr["X"]])
        y = np.concatenate([syn["y"], rtr["y"]])
        groups = np.concatenate([syn["groups"], rtr["groups"]])
        w = np.concatenate([np.ones(len(syn["y"])), np.full(len(rtr["y"]), real_weight)])
        _log(
            f"{len(syn['y'])} synthetic + {len(rtr['y'])} real training windows; "
            f"{len(rho['clips'])} real held-out clips of {EVAL_CLIP_S:g} s",
            progress,
        )
        cands = candidate_models(seed)
        if models is not None:
            wanted = list(models)
            unknown = [m for m in wanted if m not in cands]
            if unknown:
                raise TrainError(f"unknown model(s): {', '.join(unknown)}; choose from {', '.join(cands)}")
            cands = {k: v for k, v in cands.items() if k in wanted}
        results: dict[str, Any] = {}
        fitted: dict[str, tuple[Any, float]] = {}
        for name, model in cands.items():
            oof = _oof_probs(model, X, y, groups, w)
            temp = fit_temperature(oof, y)
            final = _fit(model, X, y, w)
            ph, yh, _ = _clip_probs(final, rho["clips"], temp)
            ph_raw, _, _ = _clip_probs(final, rho["clips"], 1.0)
            results[name] = {
                "temperature": temp,
                "crossValidationAccuracy": float(np.mean(oof.argmax(axis=1) == y)),
                "realHeldOut": _report(ph, yh),
                "realHeldOutUncalibratedEce": ece(ph_raw, yh) if len(yh) else None,
            }
            fitted[name] = (final, temp)
            r = results[name]["realHeldOut"]
            _log(
                f"{name}: CV {results[name]['crossValidationAccuracy']:.3f}, T={temp:.3f}; real held-out "
                f"acc {r.get('accuracy', float('nan')):.3f}, speech/music {r.get('speechVsMusic', float('nan')):.3f}, "
                f"ECE {r.get('ece', float('nan')):.3f}",
                progress,
            )

        def score(n: str) -> float:
            r = results[n]["realHeldOut"]
            return r["accuracy"] if r.get("clips") else results[n]["crossValidationAccuracy"]

        best = max(sorted(results), key=score)
        final, temp = fitted[best]
        onnx_path = out / "genre_mfcc.onnx"
        data = export_matrix_onnx(final, temp, onnx_path)
        parity = onnx_parity(final, temp, data, X[:: max(1, len(X) // 2000)])
    _log(f"selected {best}; wrote {onnx_path} ({len(data)} bytes), max |dp| {parity:.2e}", progress)
    meta: dict[str, Any] = {
        "version": MATRIX_MODEL_VERSION,
        "classes": list(GENRES),
        "input": {"name": "features", "type": "float32", "shape": [None, int(MFCC_SPEC["size"])]},
        "outputs": {"probabilities": "float32 [n, 5] in class order, temperature-calibrated"},
        "featureSpec": MFCC_SPEC,
        "window": {"seconds": 3.0, "hopSeconds": 1.0, "evaluationSeconds": EVAL_CLIP_S},
        "calibration": {"method": "temperature scaling in the ONNX graph", "temperature": temp},
        "model": {
            "name": best,
            "onnxBytes": len(data),
            "onnxSha256": hashlib.sha256(data).hexdigest(),
            "onnxParityMaxAbs": parity,
        },
        "metrics": {"selected": best, "candidates": results},
        "trainingData": {
            "syntheticClips": len(corpus_items),
            "realTrainItems": len(real_train),
            "realHeldOutItems": len(real_held),
            "realWeight": real_weight,
            "sources": sources or [],
        },
        "trainedWith": {
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "numpy": np.__version__,
        },
        "seed": seed,
    }
    (out / "genre_mfcc.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def corpus_items(manifest: str | Path) -> list[dict]:
    """The synthetic corpus's clip items (see :func:`aimixer_train.train.items_from_manifest`)."""
    return items_from_manifest(manifest)
