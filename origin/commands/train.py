"""``aimixer train``: train the genre model and export it to ONNX.

* ``aimixer train --data DIR [--out DIR]``: ``DIR`` holds one folder per genre (``speech``,
  ``rock``, ``jazz``, ``electronic``, ``classical``) of audio files in any format soundfile
  reads (GTZAN-style). Each file is one cross-validation group.
* ``aimixer train --corpus [--seed S] [--clips N] [--out DIR]``: generate the synthetic corpus
  (cached under ``OUT/.corpus/``) and train on it; ``make model`` runs
  ``--corpus --seed 0 --out models`` and reproduces the committed model bit for bit.

* ``aimixer train --corpus --mfcc [--real-dir DIR]``: the MFCC-statistics model of the spec's
  extract -> classify flow (``OUT/genre_mfcc.onnx`` + ``.json``), trained on the synthetic
  corpus plus the real-recording development set, which it rebuilds from Debian packages
  (``aimixer_train.realset``; cached in ``OUT/.realset``); it appends its real-recording
  results to ``OUT/MODEL_CARD.md``. ``make model`` runs both.

Both write ``OUT/genre.onnx``, ``OUT/genre.json`` and ``OUT/MODEL_CARD.md`` and show progress on
stderr. ``--quick`` uses smaller ensembles (for tests); ``--models a,b`` restricts the comparison.
"""

from __future__ import annotations

from origin.cli import CLIError


def register(sub) -> None:
    p = sub.add_parser("train", help="train the genre model (from genre folders or the synthetic corpus)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="DIR", help="folder with one sub-folder of audio files per genre")
    src.add_argument("--corpus", action="store_true", help="generate and use the synthetic corpus")
    p.add_argument("--out", default="models", help="output directory (default ./models)")
    p.add_argument("--seed", type=int, default=0, help="random seed (corpus and estimators; default 0)")
    p.add_argument("--clips", type=int, default=750, help="--corpus: number of clips (default 750)")
    p.add_argument("--corpus-dir", default=None, help="--corpus: where to keep the generated clips")
    p.add_argument("--jobs", type=int, default=2, help="--corpus: parallel render processes (default 2)")
    p.add_argument(
        "--models",
        default=None,
        help="comma-separated subset of logistic_regression,random_forest,gradient_boosting,svc,mlp",
    )
    p.add_argument("--quick", action="store_true", help="small ensembles (fast; for tests)")
    p.add_argument(
        "--mfcc",
        action="store_true",
        help="--corpus: train the MFCC-statistics model (genre_mfcc.onnx) on the corpus + real recordings",
    )
    p.add_argument(
        "--real-dir", default=None, help="--mfcc: cache of the real-recording set (default OUT/.realset)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from aimixer_train.corpus import CorpusError
        from aimixer_train.train import TrainError, train_from_corpus, train_from_folders
    except ImportError as exc:
        raise CLIError(f"training needs the training extras (pip install 'aimixer[train]'): {exc}") from None
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.corpus and not 10 <= args.clips <= 1_000_000:
        raise CLIError(f"--clips={args.clips} is out of range [10, 1000000]")
    if args.mfcc:
        if not args.corpus:
            raise CLIError("--mfcc needs --corpus")
        from aimixer_train.matrix import train_matrix_from_packages
        from aimixer_train.realset import RealsetError

        try:
            meta = train_matrix_from_packages(
                args.out,
                seed=args.seed,
                clips=args.clips,
                corpus_dir=args.corpus_dir,
                real_dir=args.real_dir,
                jobs=args.jobs,
                progress=not args.quiet,
                models=models,
            )
        except (TrainError, CorpusError, RealsetError, OSError) as exc:
            raise CLIError(str(exc)) from None
        r = meta["metrics"]["candidates"][meta["metrics"]["selected"]]["realHeldOut"]
        print(
            f"model {meta['model']['name']} -> {args.out}/genre_mfcc.onnx ({meta['model']['onnxBytes']} bytes); "
            f"real held-out: 5-class {r.get('accuracy')}, speech vs music {r.get('speechVsMusic')}, ECE {r.get('ece')}"
        )
        return 0
    try:
        if args.corpus:
            meta = train_from_corpus(
                args.out,
                seed=args.seed,
                clips=args.clips,
                corpus_dir=args.corpus_dir,
                jobs=args.jobs,
                progress=not args.quiet,
                quick=args.quick,
                models=models,
            )
        else:
            meta = train_from_folders(
                args.data, args.out, seed=args.seed, progress=not args.quiet, quick=args.quick, models=models
            )
    except (TrainError, CorpusError, OSError) as exc:
        raise CLIError(str(exc)) from None
    best = meta["metrics"]["selected"]
    r = meta["metrics"]["crossValidation"]["models"][best]
    acc5 = r["accuracy5s"] if r["accuracy5s"] is not None else float("nan")
    print(
        f"model {best} -> {args.out}/genre.onnx ({meta['model']['onnxBytes']} bytes); held-out accuracy "
        f"3 s {r['accuracy3s']:.4f}, 5 s {acc5:.4f}; speech vs music 5 s {r['speechVsMusic5s'] or 0:.4f}"
    )
    return 0
