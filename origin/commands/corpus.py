"""``aimixer corpus --out DIR [--clips N] [--seed S]``: generate the synthetic training corpus.

Writes ``DIR/<genre>/*.flac`` (48 kHz mono, 8 s) and ``DIR/manifest.json`` / ``manifest.csv``
recording each clip's seed, instrument programs or voice, style parameters and augmentations.
Needs ``fluidsynth``, the FluidR3 GM soundfont (``fluid-soundfont-gm``) and ``espeak-ng``.
The same seed and clip count give the same files.
"""

from __future__ import annotations

from origin.cli import CLIError


def register(sub) -> None:
    p = sub.add_parser("corpus", help="generate the synthetic genre corpus (fluidsynth + espeak-ng)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--clips", type=int, default=750, help="number of clips, cycling through the 5 genres (default 750)"
    )
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--seconds", type=float, default=8.0, help="clip length in seconds (default 8)")
    p.add_argument("--jobs", type=int, default=2, help="parallel render processes (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from aimixer_train.corpus import CorpusError, generate_corpus
    except ImportError as exc:  # training extras missing
        raise CLIError(
            f"the corpus generator needs the training extras (pip install 'aimixer[train]'): {exc}"
        ) from None
    if args.clips < 1 or args.clips > 1_000_000:
        raise CLIError(f"--clips={args.clips} is out of range [1, 1000000]")
    if not 3.0 <= args.seconds <= 120.0:
        raise CLIError(f"--seconds={args.seconds} is out of range [3, 120]")
    if not 1 <= args.jobs <= 64:
        raise CLIError(f"--jobs={args.jobs} is out of range [1, 64]")
    try:
        manifest = generate_corpus(
            args.out,
            clips=args.clips,
            seed=args.seed,
            seconds=args.seconds,
            jobs=args.jobs,
            progress=not args.quiet,
        )
    except (CorpusError, OSError) as exc:
        raise CLIError(str(exc)) from None
    print(f"wrote {args.clips} clips; manifest {manifest}")
    return 0
