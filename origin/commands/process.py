"""``aimixer process IN OUT [flags] [--json]``: run the DSP chain over an audio file.

Reads any format/rate/channel count soundfile handles and writes OUT in the format its
extension names (same subtype as IN when the container matches, else that format's default;
PCM output is clipped to [-1, 1]). The chain runs at the file's own rate on all channels
(linked detection) in blocks; its limiter lookahead is compensated, so OUT has exactly IN's
length and alignment. Settings: DEFAULT <- genre preset (``--genre``) <- the flags given.
``--genre auto`` classifies the file with the genre model when the classifier is installed
(``aimixer_dsp.genre`` + ``origin.genre`` and a model file), and otherwise exits with a
one-line error instead of guessing. A progress bar goes to stderr when it is a terminal or
the file is longer than 30 s. ``--json`` prints one object:
``{"input": {peak, rms, lufs, lra}, "output": {...}, "appliedSettings": {...}, "genre", "latencySamples"}``
(no value = null).

Loudness normalisation: ``--target-lufs L [--true-peak-ceiling C]`` or ``--target NAME``
(``ebu-r128`` -23/-1, ``atsc-a85`` -24/-2, ``streaming`` -14/-1, ``podcast`` -16/-1; L in
``presets.TARGET_RANGE``): one analysis pass runs the chain and gathers, per 64-sample chunk of
its output, the K-weighted energy and the true peak (:class:`aimixer_dsp.loudnorm.
NormalizationAnalysis`); from those the gain that puts the output at L *after* the true-peak
limiter at ``C`` dBTP (default -1, or the named target's) is solved for (the limiter's loudness
loss is predicted, not measured); then the output pass applies the chain, that gain and the
limiter (:class:`aimixer_dsp.loudnorm.Normalizer`). ``--true-peak`` switches the chain's own
limiter to true-peak mode. The ``--json`` object then has ``normalization``: ``{targetLufs,
 truePeakCeiling, measuredLufs, predictedLufs, gainDb, analysisPasses}``
(``analysisPasses`` is 1).

``python -m origin.commands.process --make-demo PATH`` regenerates the bundled demo clip.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from origin.cli import CLIError
from origin.commands.analyze import LevelStats, format_value, iter_blocks, json_safe, open_audio

GENRE_CHOICES = ("auto", "speech", "rock", "jazz", "electronic", "classical")
DEMO_PATH = Path(__file__).resolve().parent.parent / "data" / "demo.wav"
PROGRESS_MIN_SECONDS = 30.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "process",
        help="run the DSP chain (gate, compressor, EQ, limiter) over an audio file",
        description="Process IN through the AI Mixer chain and write OUT.",
    )
    p.add_argument("input", metavar="IN", help="input audio file")
    p.add_argument("output", metavar="OUT", help="output audio file (format from its extension)")
    p.add_argument("--genre", choices=GENRE_CHOICES, help="preset to start from ('auto' = classify the file)")
    p.add_argument("--gain", type=float, metavar="DB", help="input gain, -20..20 dB")
    p.add_argument("--gate-threshold", type=float, metavar="DB", help="noise gate threshold, -60..0 dB")
    p.add_argument("--comp-ratio", type=float, metavar="R", help="compressor ratio, 1..20")
    p.add_argument("--comp-threshold", type=float, metavar="DB", help="compressor threshold, -40..0 dB")
    p.add_argument("--comp-attack", type=float, metavar="MS", help="compressor attack, 0.1..100 ms")
    p.add_argument("--comp-release", type=float, metavar="MS", help="compressor release, 10..1000 ms")
    p.add_argument("--eq-low", type=float, metavar="DB", help="low shelf gain, -12..12 dB")
    p.add_argument("--eq-mid", type=float, metavar="DB", help="mid bell gain, -12..12 dB")
    p.add_argument("--eq-high", type=float, metavar="DB", help="high shelf gain, -12..12 dB")
    p.add_argument("--ceiling", type=float, metavar="DB", help="limiter ceiling, -3..0 dB")
    p.add_argument("--no-gate", action="store_true", help="disable the noise gate")
    p.add_argument("--no-comp", action="store_true", help="disable the compressor")
    p.add_argument("--no-eq", action="store_true", help="disable the EQ")
    p.add_argument("--no-limiter", action="store_true", help="disable the limiter")
    p.add_argument(
        "--true-peak", action="store_true", help="limit the true peak (dBTP) instead of the sample peak"
    )
    p.add_argument(
        "--target-lufs", type=float, metavar="LUFS", help="normalise to this loudness, -40..-5 LUFS"
    )
    p.add_argument(
        "--true-peak-ceiling",
        type=float,
        metavar="DBTP",
        help="true-peak ceiling of the normalisation, -3..0 dBTP",
    )
    p.add_argument(
        "--target", choices=sorted(_targets()), help="named loudness target (LUFS and dBTP ceiling)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> dict:
    """The API-shaped ``config`` object holding only the flags the user gave."""
    config: dict[str, Any] = {}

    def put(section: str | None, key: str, value: Any) -> None:
        if value is None:
            return
        if section is None:
            config[key] = value
        else:
            config.setdefault(section, {})[key] = value

    put(None, "gain", args.gain)
    put("noiseGate", "threshold", args.gate_threshold)
    put("compressor", "ratio", args.comp_ratio)
    put("compressor", "threshold", args.comp_threshold)
    put("compressor", "attack", args.comp_attack)
    put("compressor", "release", args.comp_release)
    put("eq", "low", args.eq_low)
    put("eq", "mid", args.eq_mid)
    put("eq", "high", args.eq_high)
    put("limiter", "ceiling", args.ceiling)
    if getattr(args, "true_peak", False):
        put("limiter", "truePeak", True)
    for flag, section in (
        ("no_gate", "noiseGate"),
        ("no_comp", "compressor"),
        ("no_eq", "eq"),
        ("no_limiter", "limiter"),
    ):
        if getattr(args, flag):
            put(section, "enabled", False)
    for section in config.values():
        if isinstance(section, dict):
            for k, v in section.items():
                if isinstance(v, float) and not math.isfinite(v):
                    raise CLIError(f"{k}={v} is not a finite number")
    if isinstance(config.get("gain"), float) and not math.isfinite(config["gain"]):
        raise CLIError(f"--gain {config['gain']} is not a finite number")
    return config


def classify_file(path: str) -> tuple[str, float]:
    """Genre of ``path`` by the genre model, or a CLIError when no classifier is installed."""
    try:
        import aimixer_dsp.genre  # noqa: F401

        import origin.genre as og
    except ImportError:
        raise CLIError("--genre auto: genre classifier not available yet") from None
    try:
        model = og.load_default_model()
    except Exception as exc:
        raise CLIError(
            f"--genre auto: genre classifier not available ({' '.join(str(exc).split())})"
        ) from None
    try:
        result = og.classify_signal(og.load_audio(path), model, vad=False)
    except ValueError as exc:
        raise CLIError(f"--genre auto: {' '.join(str(exc).split())}") from None
    return str(result["genre"]), float(result["confidence"])


def _output_file(path: str, sr: int, channels: int, in_format: str, in_subtype: str) -> Any:
    import soundfile as sf

    ext = Path(path).suffix.lstrip(".").upper()
    fmt = {"AIF": "AIFF", "OGA": "OGG", "OPUS": "OGG"}.get(ext, ext)
    if fmt not in sf.available_formats():
        raise CLIError(f"cannot write {path}: unknown audio format '.{ext.lower()}'")
    subtype = in_subtype if fmt == in_format and sf.check_format(fmt, in_subtype) else None
    if Path(path).suffix.lower() == ".opus":
        subtype = "OPUS"
    try:
        return sf.SoundFile(path, "w", samplerate=sr, channels=channels, format=fmt, subtype=subtype)
    except Exception as exc:
        raise CLIError(f"cannot write {path}: {' '.join(str(exc).split())}") from None


def _levels(summary: dict) -> dict:
    return {k: summary[k] for k in ("peak", "rms", "truePeak", "lufs", "lra")}


def _targets() -> dict:
    from aimixer_dsp.presets import LOUDNESS_TARGETS

    return LOUDNESS_TARGETS


#: normalisation field -> the flag that sets it
NORMALIZE_FLAGS = {
    "target": "--target",
    "targetLufs": "--target-lufs",
    "truePeakCeiling": "--true-peak-ceiling",
}


def normalization_from_args(args: argparse.Namespace) -> tuple[float, float] | None:
    """``(target LUFS, true-peak ceiling dBTP)`` from the flags, or ``None`` (no normalisation)."""
    from aimixer_dsp.errors import ParameterError
    from aimixer_dsp.loudnorm import resolve_normalization

    target = getattr(args, "target", None)
    lufs = getattr(args, "target_lufs", None)
    ceiling = getattr(args, "true_peak_ceiling", None)
    if target is not None and lufs is not None:
        raise CLIError("--target and --target-lufs are exclusive")
    if target is None and lufs is None and ceiling is not None:
        raise CLIError("--true-peak-ceiling needs --target-lufs or --target")
    try:
        resolved = resolve_normalization(target, lufs, ceiling)
    except ParameterError as exc:
        flag = NORMALIZE_FLAGS.get(exc.name, exc.name)
        raise CLIError(f"{flag}: {exc}") from None
    return None if resolved is None else (resolved[1], resolved[2])


def analyse_for_normalization(in_path: str, settings: dict, on_progress: Any = None) -> Any:
    """The analysis pass: the chain over ``in_path``, its output (latency compensated) into a
    :class:`aimixer_dsp.loudnorm.NormalizationAnalysis`. ``on_progress(done, frames)`` after
    each block."""
    import numpy as np
    from aimixer_dsp.loudnorm import NormalizationAnalysis
    from aimixer_dsp.presets import build_chain

    with open_audio(in_path) as f:
        chain = build_chain(settings, sample_rate=f.samplerate)
        analysis = NormalizationAnalysis(f.samplerate, f.channels)
        drop = int(chain.latency_samples)
        total = 0
        for block in iter_blocks(f):
            total += block.shape[0]
            y = _run_chain(chain, block, f.channels)
            y = y.reshape(-1, f.channels) if y.ndim == 1 else y
            cut = min(drop, y.shape[0])
            drop -= cut
            analysis.push(y[cut:])
            if on_progress is not None:
                on_progress(total, f.frames)
        if chain.latency_samples and total:
            tail = _run_chain(chain, np.zeros((int(chain.latency_samples), f.channels)), f.channels)
            tail = tail.reshape(-1, f.channels) if tail.ndim == 1 else tail
            analysis.push(tail[: total - analysis.frames])
    return analysis


def process_file(
    in_path: str,
    out_path: str,
    config: dict,
    genre: str | None,
    *,
    progress: bool | None = None,
    on_progress: Any = None,
    normalize: tuple[float, float] | None = None,
) -> dict:
    """Process ``in_path`` into ``out_path``; returns the ``--json`` object. ``normalize``:
    ``(target LUFS, true-peak ceiling dBTP)`` (see the module docstring).

    ``on_progress(frames done, frames in all)`` is called after each block (file jobs); an
    exception it raises stops the work (the output file is removed)."""
    from aimixer_dsp.loudnorm import Normalizer
    from aimixer_dsp.presets import build_chain, resolve_settings

    if Path(in_path).resolve() == Path(out_path).resolve():
        raise CLIError("OUT must be a different file from IN")
    confidence = None
    if genre == "auto":
        genre, confidence = classify_file(in_path)
    settings = resolve_settings(config, genre)
    norm_info = None
    post = None
    if normalize is not None:
        analysis = analyse_for_normalization(
            in_path, settings, None if on_progress is None else lambda d, t: on_progress(d, 2 * t)
        )
        gain_db, measured, predicted = analysis.gain_for(normalize[0], normalize[1])
        if not math.isfinite(measured):
            raise CLIError("cannot normalise: the (processed) input is silent or shorter than 400 ms")
        norm_info = {
            "targetLufs": normalize[0],
            "truePeakCeiling": normalize[1],
            "measuredLufs": measured,
            "predictedLufs": predicted,
            "gainDb": gain_db,
            "analysisPasses": 1,
        }
    fin = open_audio(in_path)
    with fin:
        sr, channels, frames = fin.samplerate, fin.channels, fin.frames
        chain = build_chain(settings, sample_rate=sr)
        if norm_info is not None:
            post = Normalizer(norm_info["gainDb"], norm_info["truePeakCeiling"], sr)
        latency = int(chain.latency_samples) + (post.latency_samples if post is not None else 0)
        in_stats = LevelStats(sr, channels)
        out_stats = LevelStats(sr, channels)
        fout = _output_file(out_path, sr, channels, fin.format, fin.subtype)
        pcm = fout.subtype.startswith("PCM") or fout.subtype in ("ULAW", "ALAW")
        if progress is None:
            progress = sys.stderr.isatty() or frames / sr > PROGRESS_MIN_SECONDS
        ok = False
        try:
            from tqdm import tqdm

            bar = tqdm(
                total=frames,
                unit="frame",
                unit_scale=True,
                disable=not progress,
                file=sys.stderr,
                leave=False,
            )
            state = {"drop": latency, "written": 0}

            def emit(y: Any) -> None:
                import numpy as np

                y = y.reshape(-1, channels) if y.ndim == 1 else y
                if state["drop"]:
                    cut = min(state["drop"], y.shape[0])
                    y = y[cut:]
                    state["drop"] -= cut
                if not y.shape[0]:
                    return
                out_stats.push(y)
                fout.write(np.clip(y, -1.0, 1.0) if pcm else y)
                state["written"] += y.shape[0]

            total_in = 0
            for block in iter_blocks(fin):
                in_stats.push(block)
                total_in += block.shape[0]
                emit(_run_chain(chain, block, channels, post))
                bar.update(block.shape[0])
                if on_progress is not None:
                    if norm_info is None:
                        on_progress(total_in, frames)
                    else:  # the analysis pass was the first half
                        on_progress(frames + total_in, 2 * frames)
            if latency and total_in:
                import numpy as np

                tail = _run_chain(chain, np.zeros((latency, channels)), channels, post)
                tail = tail.reshape(-1, channels) if tail.ndim == 1 else tail
                need = total_in - state["written"] + state["drop"]
                emit(tail[:need])
            bar.close()
            ok = True
        finally:
            fout.close()
            if not ok:
                Path(out_path).unlink(missing_ok=True)
    result = {
        "input": _levels(in_stats.summary()),
        "output": _levels(out_stats.summary()),
        "appliedSettings": settings,
        "genre": genre,
        "latencySamples": latency,
        "sampleRate": sr,
        "channels": channels,
        "duration": frames / sr,
    }
    if confidence is not None:
        result["confidence"] = confidence
    if norm_info is not None:
        result["normalization"] = norm_info
    return result


def _run_chain(chain: Any, block: Any, channels: int, post: Any = None) -> Any:
    y = chain.process(block[:, 0]) if channels == 1 else chain.process(block)
    return y if post is None else post.process(y)


#: config field -> the flag that sets it (so errors name what the user typed)
FLAG_FOR_FIELD = {
    "gain": "--gain",
    "noiseGate.threshold": "--gate-threshold",
    "compressor.ratio": "--comp-ratio",
    "compressor.threshold": "--comp-threshold",
    "compressor.attack": "--comp-attack",
    "compressor.release": "--comp-release",
    "eq.low": "--eq-low",
    "eq.mid": "--eq-mid",
    "eq.high": "--eq-high",
    "limiter.ceiling": "--ceiling",
}


def run(args: argparse.Namespace) -> int:
    from aimixer_dsp.errors import ParameterError
    from aimixer_dsp.presets import validate_config

    config = config_from_args(args)
    try:  # validate before reading anything, and name the flag
        validate_config(config)
    except ParameterError as exc:
        flag = FLAG_FOR_FIELD.get(getattr(exc, "name", ""))
        raise CLIError(f"{flag}: {exc}" if flag else str(exc)) from None
    normalize = normalization_from_args(args)
    result = process_file(args.input, args.output, config, args.genre, normalize=normalize)
    if args.json:
        print(json.dumps(json_safe(result)))
        return 0
    for side in ("input", "output"):
        vals = "  ".join(f"{k} {format_value(k, v)}" for k, v in result[side].items())
        print(f"{side + ':':<8} {vals}")
    if result["genre"]:
        print(f"genre:   {result['genre']}")
    print(
        f"wrote {args.output} ({result['duration']:.2f} s, {result['sampleRate']} Hz, {result['channels']} ch)"
    )
    return 0


# ----------------------------------------------------------------------------- demo clip


def make_demo_clip(path: str | Path = DEMO_PATH, *, seconds: float = 10.0, sample_rate: int = 48000) -> Path:
    """Write the bundled demo clip: a deterministic, music-like mono 16-bit WAV.

    Kick drum, hi-hat and snare noise bursts, a bass line and a chord pad at 120 BPM, with a
    quiet noise floor at the start and end (so the gate has something to do) and a crescendo.
    Fully determined by the seed, so the file is byte-identical on every machine.
    """
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(20240601)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    beat = 0.5  # s at 120 BPM
    out = np.zeros(n)

    def env(start: float, decay: float, length: float) -> tuple[slice, np.ndarray]:
        i0 = int(start * sample_rate)
        i1 = min(n, i0 + int(length * sample_rate))
        tt = np.arange(i1 - i0) / sample_rate
        return slice(i0, i1), np.exp(-tt / decay)

    for b in range(int(seconds / beat)):
        start = b * beat
        sl, e = env(start, 0.12, 0.4)  # kick: falling sine sweep
        tt = np.arange(e.size) / sample_rate
        out[sl] += 0.55 * e * np.sin(2 * np.pi * (50 * tt + 60 * 0.05 * (1 - np.exp(-tt / 0.05))))
        sl, e = env(start + beat / 2, 0.03, 0.1)  # hi-hat
        out[sl] += 0.12 * e * np.diff(rng.standard_normal(e.size + 1))
        if b % 2 == 1:
            sl, e = env(start, 0.08, 0.25)  # snare
            out[sl] += 0.25 * e * rng.standard_normal(e.size)
    roots = [55.0, 55.0, 43.65, 49.0]  # A1 A1 F1 G1, one bar each
    bar = 4 * beat
    for i in range(int(seconds / bar) + 1):
        f = roots[i % len(roots)]
        for k in range(4):
            sl, e = env(i * bar + k * beat, 0.35, beat)
            tt = np.arange(e.size) / sample_rate
            out[sl] += 0.25 * e * np.tanh(2 * np.sin(2 * np.pi * f * tt))
        sl, e = env(i * bar, 3.0, bar)
        tt = np.arange(e.size) / sample_rate
        chord = sum(np.sin(2 * np.pi * f * 4 * r * tt + p) for r, p in ((1.0, 0.0), (1.26, 1.0), (1.5, 2.0)))
        out[sl] += 0.05 * e * chord
    swell = np.clip(0.4 + 0.6 * t / seconds, 0, 1)
    fade = np.clip(np.minimum(t / 0.5, (seconds - t) / 0.5), 0, 1)
    out = out * swell * fade + 0.002 * rng.standard_normal(n)
    out *= 0.7 / np.max(np.abs(out))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, out, sample_rate, subtype="PCM_16")
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if len(sys.argv) >= 2 and sys.argv[1] == "--make-demo":
        print(make_demo_clip(sys.argv[2] if len(sys.argv) > 2 else DEMO_PATH))
    else:
        print("usage: python -m origin.commands.process --make-demo [PATH]", file=sys.stderr)
        sys.exit(2)
