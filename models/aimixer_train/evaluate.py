"""Evaluate an exported ONNX genre model on a freshly generated corpus (another seed).

``python -m aimixer_train.evaluate [--model models/genre.onnx] [--seed 1] [--clips 100]``
generates (or reuses) ``models/.corpus/seed<S>-n<N>`` and prints window-level accuracy (3 s and
5 s windows, every 1 s), clip-level accuracy (mean of the 5 s windows' probabilities), speech vs
music accuracy and the confusion matrix, through onnxruntime exactly as the origin runs it.
A new seed means new clips, tempos, keys, texts and augmentations; instrument programs and
voice variants come from the same lists as in training.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from aimixer_dsp import GENRES
from aimixer_dsp.genre import frame_rows

from .metrics import confusion, format_confusion, speech_vs_music
from .train import clip_windows, items_from_manifest


def evaluate(model_path: str | Path, manifest: str | Path, *, progress: bool = True) -> dict[str, Any]:
    from .inference import GenreModel, load_audio

    model = GenreModel(model_path)
    items = items_from_manifest(manifest)
    y3: list[int] = []
    p3: list[int] = []
    y5: list[int] = []
    p5: list[int] = []
    yc: list[int] = []
    pc: list[int] = []
    for it in items:
        rows = frame_rows(load_audio(it["path"]))
        yi = GENRES.index(it["label"])
        for secs, ys, ps in ((3.0, y3, p3), (5.0, y5, p5)):
            vecs = clip_windows(rows, secs)
            probs = np.array([[d[c] for c in GENRES] for d in model.predict_proba(vecs)])
            ys += [yi] * len(vecs)
            ps += probs.argmax(axis=1).tolist()
            if secs == 5.0:
                yc.append(yi)
                pc.append(int(probs.mean(axis=0).argmax()))
    a = {
        k: np.asarray(v) for k, v in (("y3", y3), ("p3", p3), ("y5", y5), ("p5", p5), ("yc", yc), ("pc", pc))
    }
    return {
        "model": str(model_path),
        "modelVersion": model.version,
        "clips": len(items),
        "accuracy3s": float(np.mean(a["y3"] == a["p3"])),
        "accuracy5s": float(np.mean(a["y5"] == a["p5"])),
        "clipAccuracy": float(np.mean(a["yc"] == a["pc"])),
        "speechVsMusic5s": speech_vs_music(a["y5"], a["p5"]),
        "confusion5s": confusion(a["y5"], a["p5"]),
    }


def main(argv: list[str] | None = None) -> int:
    from .corpus import generate_corpus

    ap = argparse.ArgumentParser(prog="python -m aimixer_train.evaluate")
    ap.add_argument("--model", default="models/genre.onnx")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--corpus-dir", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    cdir = Path(args.corpus_dir or f"models/.corpus/seed{args.seed}-n{args.clips}")
    manifest = cdir / "manifest.json"
    if not manifest.is_file():
        generate_corpus(cdir, clips=args.clips, seed=args.seed, jobs=args.jobs)
    res = evaluate(args.model, manifest)
    print(json.dumps({k: v for k, v in res.items() if k != "confusion5s"}, indent=1))
    print(format_confusion(res["confusion5s"]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
