"""``aimixer classify FILE [--json] [--window S]``: genre of an audio file.

Reads any file soundfile can read (channels averaged, resampled to 48 kHz), classifies every
``--window`` seconds window (hop ``--hop``, default 1 s) with the ONNX genre model
(onnxruntime) and prints the overall verdict — the mean of the window probabilities — and a
timeline of per-window verdicts. ``--json`` prints one JSON object::

    {"file", "genre", "confidence", "probabilities": {5 genres}, "secondaryGenre",
     "modelVersion", "duration", "window", "voiceActivity", "timeline": [{start, end, genre,
     confidence, probabilities}, ...]}

``--model PATH`` (or ``AIMIXER_MODEL_PATH``) selects another model file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from origin.cli import CLIError


def register(sub) -> None:
    p = sub.add_parser(
        "classify", help="classify the genre of an audio file (speech/rock/jazz/electronic/classical)"
    )
    p.add_argument("file", help="audio file (WAV, FLAC, Ogg/Opus, ... anything soundfile reads)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--window",
        type=float,
        default=3.0,
        metavar="S",
        help="window length in seconds, 3..60 (default 3, the model's training window)",
    )
    p.add_argument("--hop", type=float, default=1.0, metavar="S", help="seconds between windows (default 1)")
    p.add_argument(
        "--model", default=None, help="ONNX model file (default: models/genre.onnx or AIMIXER_MODEL_PATH)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from origin.genre import ModelError, classify_signal, load_audio, load_default_model, load_model

    if not (isinstance(args.window, float) and math.isfinite(args.window) and 3.0 <= args.window <= 60.0):
        raise CLIError(f"--window={args.window} is out of range [3, 60] seconds")
    if not (math.isfinite(args.hop) and 0.1 <= args.hop <= 60.0):
        raise CLIError(f"--hop={args.hop} is out of range [0.1, 60] seconds")
    path = Path(args.file)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        model = load_model(args.model) if args.model else load_default_model()
    except ModelError as exc:
        raise CLIError(str(exc)) from None
    try:
        audio = load_audio(path)
        result = classify_signal(audio, model, window_s=args.window, hop_s=args.hop)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    result = {"file": str(path), **result}
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{path}: {result['genre']} ({result['confidence']:.2f}), second {result['secondaryGenre']}, "
        f"model {result['modelVersion']}"
    )
    print("  " + "  ".join(f"{g} {p:.3f}" for g, p in result["probabilities"].items()))
    va = result.get("voiceActivity")
    print(f"  duration {result['duration']:.1f} s, voice activity {va:.2f}" if va is not None else "")
    for w in result["timeline"]:
        print(f"  {w['start']:7.1f}-{w['end']:7.1f} s  {w['genre']:<10} {w['confidence']:.2f}")
    return 0
