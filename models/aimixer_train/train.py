"""Train, select and export the genre model.

Pipeline (the same for the synthetic corpus and for user folders):

1. every clip -> per-frame rows with :func:`aimixer_dsp.genre.frame_rows` (the DSP package's
   feature functions only), then 3 s windows every 1 s -> :func:`aimixer_dsp.genre.aggregate_rows`
   (identical to ``feature_vector`` on the same samples). 5 s windows are built the same way
   for evaluation;
2. grouped cross-validation (``StratifiedGroupKFold``, 5 folds, no shuffling) over clip
   groups — the corpus's ``group`` (instrument program / voice), or for user folders the
   file itself — comparing logistic regression, random forest, gradient boosting, SVC and an
   MLP, each behind a ``StandardScaler``;
3. the model with the best mean of 3 s and 5 s held-out accuracy is refit on every window and
   exported with skl2onnx (``zipmap=False``: outputs ``label`` int64 and ``probabilities``
   float32 ``[n, 5]``) to ``genre.onnx``, with ``genre.json`` and ``MODEL_CARD.md``.

Reproducibility: every estimator has a fixed ``random_state``, BLAS runs single-threaded
(threadpoolctl), file lists are sorted and nothing time-dependent is written, so the same
corpus gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from aimixer_dsp import GENRES, SAMPLE_RATE
from aimixer_dsp.genre import FEATURE_NAMES, FEATURE_SPEC, HOP, SEG, aggregate_rows, frame_rows

from .metrics import confusion, format_confusion, speech_vs_music

MODEL_VERSION = "1.0.0"
WINDOW_S = 3.0
EVAL_WINDOW_S = 5.0
HOP_S = 1.0
N_SPLITS = 5
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".au", ".mp3", ".caf", ".w64")
MAX_WINDOWS_PER_FILE = 60


class TrainError(RuntimeError):
    """Bad training input (message names the folder/file and the problem)."""


def _log(msg: str, enabled: bool = True) -> None:
    if enabled:
        print(f"[train] {msg}", file=sys.stderr, flush=True)


def window_frames(seconds: float) -> int:
    """Analysis frames in a window of ``seconds``."""
    return (int(round(seconds * SAMPLE_RATE)) - SEG) // HOP + 1


def clip_windows(
    rows: list[list[float]], seconds: float, hop_s: float = HOP_S, max_windows: int | None = None
) -> list[list[float]]:
    """Feature vectors of every window (``seconds`` long, every ``hop_s``) of one clip's rows."""
    wf = window_frames(seconds)
    hf = int(round(hop_s * SAMPLE_RATE / HOP))
    starts = list(range(0, len(rows) - wf + 1, hf))
    if max_windows is not None and len(starts) > max_windows:
        idx = np.linspace(0, len(starts) - 1, max_windows).round().astype(int)
        starts = [starts[i] for i in sorted(set(idx.tolist()))]
    return [aggregate_rows(rows[s : s + wf]) for s in starts]


# ----------------------------------------------------------------------------- datasets


def items_from_manifest(manifest_path: str | Path) -> list[dict[str, Any]]:
    """Clip items (``path``, ``label``, ``group``) of a corpus manifest, sorted by file."""
    mp = Path(manifest_path)
    data = json.loads(mp.read_text())
    items = [
        {"path": str(mp.parent / it["file"]), "label": it["label"], "group": it["group"], "file": it["file"]}
        for it in data["items"]
    ]
    return sorted(items, key=lambda it: it["file"])


def items_from_folders(data_dir: str | Path) -> list[dict[str, Any]]:
    """Clip items from ``DIR/<genre>/<files>``; each file is its own CV group.

    Raises :class:`TrainError` when a genre folder is missing or empty, or an unknown folder
    holds audio.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise TrainError(f"--data {root} is not a directory")
    items: list[dict[str, Any]] = []
    unknown = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and p.name not in GENRES and any(f.suffix.lower() in AUDIO_EXTS for f in p.rglob("*"))
    )
    if unknown:
        raise TrainError(
            f"unknown genre folder(s) in {root}: {', '.join(unknown)}; expected {', '.join(GENRES)}"
        )
    for g in GENRES:
        d = root / g
        files = (
            sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTS)
            if d.is_dir()
            else []
        )
        if not files:
            raise TrainError(f"no audio files in {d} (need one folder per genre: {', '.join(GENRES)})")
        for f in files:
            rel = f.relative_to(root).as_posix()
            items.append({"path": str(f), "label": g, "group": f"file:{rel}", "file": rel})
    return items


def _load(path: str) -> np.ndarray:
    from .inference import load_audio

    return load_audio(path)


def build_dataset(
    items: list[dict[str, Any]],
    *,
    window_s: float = WINDOW_S,
    eval_window_s: float = EVAL_WINDOW_S,
    progress: bool = True,
    max_windows: int | None = None,
) -> dict[str, Any]:
    """Feature vectors for every window of every clip.

    Returns
    -------
    dict
        ``X`` / ``y`` / ``groups`` / ``clip`` for ``window_s`` windows and ``X5`` / ``y5`` /
        ``groups5`` / ``clip5`` for ``eval_window_s`` windows; ``y`` holds indices into GENRES.
    """
    from tqdm import tqdm

    out: dict[str, list[Any]] = {k: [] for k in ("X", "y", "groups", "clip", "X5", "y5", "groups5", "clip5")}
    skipped = []
    bar = tqdm(items, desc="features", unit="clip", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    for ci, it in enumerate(bar):
        try:
            x = _load(it["path"])
        except ValueError as exc:
            skipped.append(f"{it['file']}: {exc}")
            continue
        if len(x) < int(window_s * SAMPLE_RATE):
            skipped.append(f"{it['file']}: shorter than {window_s} s")
            continue
        rows = frame_rows(x)
        yi = GENRES.index(it["label"])
        for suffix, secs in (("", window_s), ("5", eval_window_s)):
            vecs = clip_windows(rows, secs, max_windows=max_windows)
            out["X" + suffix] += vecs
            out["y" + suffix] += [yi] * len(vecs)
            out["groups" + suffix] += [it["group"]] * len(vecs)
            out["clip" + suffix] += [ci] * len(vecs)
    bar.close()
    for s in skipped:
        _log(f"skipped {s}", progress)
    ds: dict[str, Any] = {}
    for k, v in out.items():
        if k.startswith("X"):
            ds[k] = np.asarray(v, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
        elif k.startswith("y") or k.startswith("clip"):
            ds[k] = np.asarray(v, dtype=np.int64)
        else:
            ds[k] = np.asarray(v, dtype=object)
    ds["skipped"] = skipped
    ds["clips"] = len(items) - len(skipped)
    return ds


# ----------------------------------------------------------------------------- models


def candidate_models(seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """The compared estimators, each with a fixed random_state.

    Linear, kernel and neural models sit behind a ``StandardScaler``. Tree ensembles get the raw
    features: they are scale-invariant, and a float32 scaler in ONNX could move a value across a
    split threshold and break the 1e-5 parity with scikit-learn.
    """
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def pipe(clf: Any) -> Any:
        return Pipeline([("scale", StandardScaler()), ("clf", clf)])

    return {
        "logistic_regression": pipe(LogisticRegression(C=1.0, max_iter=3000)),
        "random_forest": RandomForestClassifier(
            n_estimators=25 if quick else 100, max_leaf_nodes=160, random_state=seed, n_jobs=1
        ),
        "gradient_boosting": GradientBoostingClassifier(
            n_estimators=20 if quick else 100,
            max_depth=3,
            learning_rate=0.1,
            subsample=0.8,
            random_state=seed,
        ),
        "svc": pipe(SVC(C=10.0, gamma="scale", probability=True, random_state=seed)),
        "mlp": pipe(
            MLPClassifier(
                hidden_layer_sizes=(64,), alpha=1e-3, max_iter=200 if quick else 600, random_state=seed
            )
        ),
    }


ENSEMBLE = "soft_voting"
ENSEMBLE_SIZE = 3


def make_ensemble(members: list[str], cands: dict[str, Any]) -> Any:
    """Soft-voting ensemble (mean of the members' probabilities)."""
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier

    return VotingClassifier([(n, clone(cands[n])) for n in members], voting="soft", flatten_transform=False)


def cross_validate(
    ds: dict[str, Any],
    models: dict[str, Any],
    *,
    n_splits: int = N_SPLITS,
    progress: bool = True,
    ensemble: bool = True,
) -> dict[str, Any]:
    """Grouped CV of every model (and of a soft-voting ensemble of the best three).

    Out-of-fold predictions on the 3 s and 5 s windows of held-out groups.
    """
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedGroupKFold

    X, y, groups = ds["X"], ds["y"], ds["groups"]
    n_groups = len(set(groups.tolist()))
    per_class_groups = [
        len({g for g, t in zip(groups, y, strict=True) if t == c}) for c in range(len(GENRES))
    ]
    k = max(2, min(n_splits, min(per_class_groups)))
    if min(per_class_groups) < 2:
        raise TrainError("every genre needs at least 2 groups (clips / programs / voices) for grouped CV")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=False)
    folds = list(cv.split(X, y, groups))
    results: dict[str, Any] = {}
    probs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        prob3 = np.zeros((len(y), len(GENRES)))
        prob5 = np.zeros((len(ds["y5"]), len(GENRES)))
        mask5 = np.zeros(len(ds["y5"]), dtype=bool)
        fold_acc = []
        for fi, (tr, te) in enumerate(folds):
            m = clone(model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", FutureWarning)  # SVC(probability=True), sklearn >= 1.9
                m.fit(X[tr], y[tr])
            prob3[te] = _proba(m, X[te])
            held = set(groups[te].tolist())
            te5 = np.array([g in held for g in ds["groups5"]], dtype=bool)
            if te5.any():
                prob5[te5] = _proba(m, ds["X5"][te5])
                mask5 |= te5
            fold_acc.append(float(np.mean(prob3[te].argmax(axis=1) == y[te])))
            _log(f"{name}: fold {fi + 1}/{k} accuracy {fold_acc[-1]:.3f}", progress)
        probs[name] = (prob3, prob5)
        results[name] = _scores(y, prob3, ds["y5"], prob5, mask5, folds)
        r = results[name]
        _log(
            f"{name}: held-out accuracy 3 s {r['accuracy3s']:.4f}, 5 s {r['accuracy5s'] or 0:.4f}, "
            f"speech-vs-music 5 s {r['speechVsMusic5s'] or 0:.4f} ({time.perf_counter() - t0:.1f} s)",
            progress,
        )
    members: list[str] = []
    if ensemble and len(results) >= ENSEMBLE_SIZE:
        # Soft voting of the best three: fold by fold the mean of the members' probabilities is
        # exactly what a VotingClassifier fitted on that fold's training groups predicts.
        members = sorted(sorted(results), key=lambda n: -_score(results[n]))[:ENSEMBLE_SIZE]
        prob3 = np.mean([probs[n][0] for n in members], axis=0)
        prob5 = np.mean([probs[n][1] for n in members], axis=0)
        results[ENSEMBLE] = _scores(y, prob3, ds["y5"], prob5, mask5, folds)
        results[ENSEMBLE]["members"] = members
        r = results[ENSEMBLE]
        _log(
            f"{ENSEMBLE}({', '.join(members)}): held-out accuracy 3 s {r['accuracy3s']:.4f}, "
            f"5 s {r['accuracy5s'] or 0:.4f}, speech-vs-music 5 s {r['speechVsMusic5s'] or 0:.4f}",
            progress,
        )
    return {"folds": k, "groups": n_groups, "models": results, "ensembleMembers": members}


def _proba(model: Any, X: np.ndarray) -> np.ndarray:
    """``predict_proba`` on float32-rounded input (what the ONNX model sees), columns = GENRES."""
    p = model.predict_proba(X.astype(np.float32).astype(np.float64))
    out = np.zeros((len(X), len(GENRES)))
    out[:, list(model.classes_)] = p
    return out


def _scores(
    y: np.ndarray, prob3: np.ndarray, y5: np.ndarray, prob5: np.ndarray, mask5: np.ndarray, folds: list[Any]
) -> dict[str, Any]:
    p3 = prob3.argmax(axis=1)
    p5 = prob5.argmax(axis=1)
    has5 = bool(mask5.any())
    return {
        "accuracy3s": float(np.mean(p3 == y)),
        "accuracy5s": float(np.mean(p5[mask5] == y5[mask5])) if has5 else None,
        "speechVsMusic3s": speech_vs_music(y, p3),
        "speechVsMusic5s": speech_vs_music(y5[mask5], p5[mask5]) if has5 else None,
        "foldAccuracy3s": [float(np.mean(p3[te] == y[te])) for _, te in folds],
        "confusion3s": confusion(y, p3),
        "confusion5s": confusion(y5[mask5], p5[mask5]) if has5 else None,
    }


def _score(r: dict[str, Any]) -> float:
    a5 = r["accuracy5s"] if r["accuracy5s"] is not None else r["accuracy3s"]
    return float((r["accuracy3s"] + a5) / 2)


def select_best(cv: dict[str, Any]) -> str:
    """The model with the best mean of 3 s and 5 s held-out accuracy (ties: name order)."""
    return str(max(sorted(cv["models"]), key=lambda n: _score(cv["models"][n])))


# ----------------------------------------------------------------------------- export


def export_onnx(model: Any, path: str | Path) -> bytes:
    """Convert a fitted pipeline to ONNX (float input ``features [n, 48]``, zipmap off) and write it."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    clf = model.steps[-1][1] if hasattr(model, "steps") else model  # the classifier produces the outputs
    options = {id(clf): {"zipmap": False}}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # SVC probA_/probB_ deprecation (sklearn >= 1.9)
        onx = convert_sklearn(
            model,
            "aimixer_genre",
            initial_types=[("features", FloatTensorType([None, len(FEATURE_NAMES)]))],
            options=options,
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    used = {name for node in onx.graph.node for name in node.input}
    unused = [init for init in onx.graph.initializer if init.name not in used]
    for init in unused:  # e.g. VotingClassifier's 'classes_ind'; runtimes warn about them on load
        onx.graph.initializer.remove(init)
    # skl2onnx collects opset domains in a set: its order follows PYTHONHASHSEED. Sort it so the
    # bytes do not depend on the process's hash seed.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    onx.doc_string = "AI Mixer genre classifier; inputs: aimixer_dsp.genre.feature_vector (48 float32)."
    onx.producer_name = "aimixer-train"
    onx.producer_version = MODEL_VERSION
    data = onx.SerializeToString()
    Path(path).write_bytes(data)
    result: bytes = data
    return result


def onnx_parity(model: Any, onnx_bytes: bytes, X: np.ndarray) -> float:
    """Max absolute difference between sklearn and onnxruntime probabilities on ``X`` (float32)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
    x32 = X.astype(np.float32)
    (p_onnx,) = sess.run(["probabilities"], {"features": x32})
    p_skl = model.predict_proba(x32.astype(np.float64))
    return float(np.max(np.abs(p_onnx - p_skl)))


def write_model_card(path: Path, meta: dict[str, Any]) -> None:
    m = meta["metrics"]
    best = m["selected"]
    r = m["crossValidation"]["models"][best]
    rows = "\n".join(
        f"| {name} | {v['accuracy3s']:.4f} | {(v['accuracy5s'] or 0):.4f} | {(v['speechVsMusic5s'] or 0):.4f} |"
        for name, v in sorted(m["crossValidation"]["models"].items())
    )
    src = meta["trainingData"]
    if src["kind"] == "synthetic":
        data_desc = (
            f"A **synthetic** corpus of {src['clips']} clips of {src.get('seconds', 8)} s (seed {src['seed']}), "
            "generated offline by `aimixer corpus` (`models/aimixer_train/corpus.py`): procedural MIDI per style "
            "rendered by fluidsynth with the FluidR3 GM soundfont (rock, jazz, electronic, classical) and espeak-ng "
            "speech in 9 languages and 24 voice variants with room reverb, noise at 5-30 dB SNR, phone-band copies "
            "and music beds; augmentations: gain, EQ tilt, noise, reverb, Opus round trips. "
            "No real recordings were used."
        )
    else:
        data_desc = f"User-supplied folders ({src['clips']} files) from `{src.get('path', '?')}`."
    text = f"""# Model card: AI Mixer genre classifier {meta["version"]}

## What it does
Classifies a window of mono 48 kHz audio (trained on {meta["window"]["seconds"]} s windows, every
{meta["window"]["hopSeconds"]} s) into one of five classes: {", ".join(meta["classes"])}. The verdict picks the
mixer's DSP preset when `genre` is `"auto"`. Input: 48 float32 window statistics computed by
`aimixer_dsp.genre.feature_vector` (MFCC means/stds/mean-absolute-deltas, spectral centroid, rolloff,
log flux and ZCR means/stds, low-energy ratio; see `genre.json` -> `featureSpec`). Output: class
probabilities (`probabilities`, float32 `[n, 5]`, class order as in `genre.json`).
The same ONNX file runs on the origin (onnxruntime) and in the browser (onnxruntime-web).

## Model
`{best}` (`{meta["model"]["estimator"]}`{(" of " + ", ".join(meta["model"]["members"])) if meta["model"]["members"] else ""}),
selected by grouped cross-validation among logistic regression, random forest, gradient boosting,
SVC, an MLP (linear/kernel/neural models behind a `StandardScaler`, trees on raw features) and a
soft-voting ensemble of the three best of those. The ensemble's held-out numbers are real
(each fold's members are trained without the held-out groups), but the choice of its members uses
the same folds, so they carry a small selection bias. ONNX size
{meta["model"]["onnxBytes"]} bytes; sklearn vs onnxruntime max probability difference on the training
windows: {meta["model"]["onnxParityMaxAbs"]:.2e}.

## Training data
{data_desc}

## Evaluation (held-out groups)
{m["crossValidation"]["folds"]}-fold `StratifiedGroupKFold` over {m["crossValidation"]["groups"]} groups
({"instrument programs for music, espeak-ng voice variants for speech; every clip seed belongs to one group" if src["kind"] == "synthetic" else "one group per file"}).
Windows from a held-out group are never seen in training. Numbers are window-level accuracy on
held-out groups; training windows {m["windows3s"]} (3 s), evaluation windows {m["windows5s"]} (5 s).

| model | accuracy 3 s | accuracy 5 s | speech vs music 5 s |
|---|---|---|---|
{rows}

Selected model `{best}`: **{r["accuracy5s"] or 0:.4f}** on 5 s windows (target >= 0.95),
**{r["accuracy3s"]:.4f}** on 3 s windows; speech vs music **{r["speechVsMusic5s"] or 0:.4f}** on 5 s
windows (target >= 0.99) and {r["speechVsMusic3s"]:.4f} on 3 s windows ("speech vs music" collapses the
four music classes into one: a window counts as right when speech is predicted as speech and music as
any music class).

Confusion matrix, 5 s windows of held-out groups (rows: true class):

{format_confusion(r["confusion5s"] or r["confusion3s"])}

Confusion matrix, 3 s windows of held-out groups:

{format_confusion(r["confusion3s"])}

## Known weaknesses
- **The corpus is synthetic.** General MIDI renderings and formant-synthesised speech are far cleaner and
  more regular than real programme material; accuracy on real recordings will be lower than the
  numbers above. Retrain on real folders with `aimixer train --data DIR` where that matters.
- Styles are defined by the generators' conventions (e.g. distorted power chords = rock, swing ride +
  walking bass = jazz, four-on-the-floor = electronic, no drums = classical). Pop, hip-hop, folk, metal
  sub-genres, acoustic rock or drum-less electronic music have no class of their own and land on the
  nearest one.
- Speech is espeak-ng only (no natural voices); singing is not speech. Speech over loud music beds and
  music with sparse arrangements are the likeliest confusions.
- Features are window statistics over sparse 10.7 ms frames every 100 ms: tempo and rhythm are seen
  only indirectly (flux, MFCC deltas).
- Input must be 48 kHz; other rates must be resampled first (the CLI does).

## Reproduce
`make model` (= `python -m origin.cli train --corpus --seed {src.get("seed", 0)} --out models`) regenerates the
corpus and this model bit for bit on the same library versions ({meta["trainedWith"]["summary"]}).
"""
    path.write_text(text)


def train(
    items: list[dict[str, Any]],
    out_dir: str | Path,
    *,
    seed: int = 0,
    training_data: dict[str, Any],
    progress: bool = True,
    quick: bool = False,
    version: str = MODEL_VERSION,
    models: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Features -> grouped CV -> refit best -> export ``genre.onnx``, ``genre.json``, ``MODEL_CARD.md``.

    Returns the metadata written to ``genre.json``.
    """
    import skl2onnx
    import sklearn
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    wanted = list(models) if models is not None else None
    if wanted is not None:
        names = list(candidate_models(seed, quick=True))
        unknown = [m for m in wanted if m not in names]
        if unknown or not wanted:
            raise TrainError(
                f"unknown model(s): {', '.join(unknown) or '(none)'}; choose from {', '.join(names)}"
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(limits=1):
        ds = build_dataset(
            items,
            progress=progress,
            max_windows=None if training_data.get("kind") == "synthetic" else MAX_WINDOWS_PER_FILE,
        )
        if len(ds["y"]) == 0:
            raise TrainError("no usable clips (every file was unreadable or shorter than 3 s)")
        present = sorted(set(ds["y"].tolist()))
        if len(present) != len(GENRES):
            missing = [g for i, g in enumerate(GENRES) if i not in present]
            raise TrainError(f"no usable clips for: {', '.join(missing)}")
        _log(
            f"{ds['clips']} clips -> {len(ds['y'])} windows of {WINDOW_S} s, {len(ds['y5'])} of {EVAL_WINDOW_S} s",
            progress,
        )
        cands = candidate_models(seed, quick=quick)
        if wanted is not None:
            cands = {k: v for k, v in cands.items() if k in wanted}
        cv = cross_validate(ds, cands, progress=progress)
        best = select_best(cv)
        _log(f"selected {best}; refitting on all {len(ds['y'])} windows", progress)
        final = make_ensemble(cv["ensembleMembers"], cands) if best == ENSEMBLE else clone(cands[best])
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            final.fit(ds["X"], ds["y"])
            onnx_path = out / "genre.onnx"
            data = export_onnx(final, onnx_path)
        parity = onnx_parity(final, data, np.concatenate([ds["X"], ds["X5"]]))
    _log(f"wrote {onnx_path} ({len(data)} bytes), sklearn vs onnxruntime max |dp| = {parity:.2e}", progress)
    clf = final.steps[-1][1] if hasattr(final, "steps") else final
    meta: dict[str, Any] = {
        "version": version,
        "classes": list(GENRES),
        "input": {"name": "features", "type": "float32", "shape": [None, len(FEATURE_NAMES)]},
        "outputs": {"label": "int64 index into classes", "probabilities": "float32 [n, 5] in class order"},
        "featureSpec": FEATURE_SPEC,
        "window": {"seconds": WINDOW_S, "hopSeconds": HOP_S, "evaluationSeconds": EVAL_WINDOW_S},
        "hysteresis": {"switchWindows": 3, "margin": 0.15},
        "model": {
            "name": best,
            "estimator": type(clf).__name__,
            "members": cv["ensembleMembers"] if best == ENSEMBLE else [],
            "params": {
                k: v
                for k, v in sorted(clf.get_params().items())
                if "__" not in k and isinstance(v, (int, float, str, bool, type(None)))
            },
            "onnxBytes": len(data),
            "onnxSha256": hashlib.sha256(data).hexdigest(),
            "onnxParityMaxAbs": parity,
        },
        "metrics": {
            "selected": best,
            "windows3s": int(len(ds["y"])),
            "windows5s": int(len(ds["y5"])),
            "clips": int(ds["clips"]),
            "crossValidation": cv,
        },
        "trainingData": training_data,
        "trainedWith": {
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "numpy": np.__version__,
            "summary": f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
            f"skl2onnx {skl2onnx.__version__}, NumPy {np.__version__}",
        },
        "seed": seed,
    }
    (out / "genre.json").write_text(json.dumps(meta, indent=1, sort_keys=True, default=_json_default) + "\n")
    write_model_card(out / "MODEL_CARD.md", meta)
    _log(f"wrote {out / 'genre.json'} and {out / 'MODEL_CARD.md'}", progress)
    return meta


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON-able: {type(o)}")


def train_from_corpus(
    out_dir: str | Path,
    *,
    seed: int = 0,
    clips: int = 750,
    corpus_dir: str | Path | None = None,
    jobs: int = 2,
    progress: bool = True,
    quick: bool = False,
    models: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Generate (or reuse) the synthetic corpus for ``seed`` and train on it."""
    manifest = ensure_corpus(
        out_dir, seed=seed, clips=clips, corpus_dir=corpus_dir, jobs=jobs, progress=progress
    )
    items = items_from_manifest(manifest)
    m = json.loads(manifest.read_text())
    return train(
        items,
        out_dir,
        seed=seed,
        progress=progress,
        quick=quick,
        models=models,
        training_data={
            "kind": "synthetic",
            "seed": seed,
            "clips": len(items),
            "seconds": m.get("seconds"),
            "corpusVersion": m.get("version"),
        },
    )


def ensure_corpus(
    out_dir: str | Path,
    *,
    seed: int = 0,
    clips: int = 750,
    corpus_dir: str | Path | None = None,
    jobs: int = 2,
    progress: bool = True,
) -> Path:
    """The manifest of the synthetic corpus for ``seed`` (generated unless already there)."""
    from .corpus import generate_corpus

    cdir = Path(corpus_dir) if corpus_dir else Path(out_dir) / ".corpus" / f"seed{seed}-n{clips}"
    manifest = cdir / "manifest.json"
    reuse = False
    if manifest.is_file():
        try:
            m = json.loads(manifest.read_text())
            reuse = (
                m.get("seed") == seed
                and m.get("clips") == clips
                and all((cdir / it["file"]).is_file() for it in m["items"])
            )
        except (ValueError, KeyError):
            reuse = False
    if reuse:
        _log(f"reusing corpus {cdir}", progress)
    else:
        _log(f"generating {clips} clips (seed {seed}) into {cdir}", progress)
        generate_corpus(cdir, clips=clips, seed=seed, jobs=jobs, progress=progress)
    return manifest


def train_from_folders(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    progress: bool = True,
    quick: bool = False,
    models: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Train on ``DIR/<genre>/*`` audio files (any format soundfile reads)."""
    items = items_from_folders(data_dir)
    return train(
        items,
        out_dir,
        seed=seed,
        progress=progress,
        quick=quick,
        models=models,
        version=f"{MODEL_VERSION}-custom",
        training_data={"kind": "folders", "path": str(Path(data_dir).name), "clips": len(items)},
    )
