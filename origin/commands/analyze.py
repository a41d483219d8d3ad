"""``aimixer analyze FILE [--json]``: levels and loudness of an audio file.

Prints ``peak`` (dBFS, sample peak over all channels), ``rms`` (dBFS, over all samples),
``truePeak`` (dBTP, ITU-R BS.1770-4 Annex 2, 4x over-sampling, max over channels),
``lufs`` (BS.1770-4 integrated), ``momentaryMax`` and ``shortTermMax`` (LUFS, exact: over the
windows ending at every sample), ``lra`` (LU, EBU Tech 3342), ``duration`` (s) and
``sampleRate`` (Hz), plus ``channels``. The file is read
in blocks (any length, rate and channel count soundfile handles); loudness uses the
BS.1770 channel weights. With ``--json`` the values are one JSON object and "no value"
(``-inf``, e.g. silence or audio shorter than 400 ms) is ``null``; the text form prints ``-inf``.

This module also holds the file helpers shared by ``process`` and ``features``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from origin.cli import CLIError

BLOCK_FRAMES = 1 << 16


def open_audio(path: str) -> Any:
    """Open ``path`` with soundfile, turning every failure into a one-line :class:`CLIError`."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise CLIError(f"cannot read {path}: no such file")
    if p.is_dir():
        raise CLIError(f"cannot read {path}: is a directory")
    try:
        f = sf.SoundFile(str(p))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise CLIError(f"cannot read {path}: {_one_line(exc)}") from None
    if f.frames == 0 and f.samplerate <= 0:  # pragma: no cover - defensive
        f.close()
        raise CLIError(f"cannot read {path}: invalid sample rate")
    return f


def iter_blocks(f: Any, block_frames: int = BLOCK_FRAMES) -> Iterator[Any]:
    """Yield float64 ndarray blocks of shape (frames, channels); read errors become CLIError."""
    while True:
        try:
            block = f.read(block_frames, dtype="float64", always_2d=True)
        except Exception as exc:
            raise CLIError(f"cannot read {f.name}: {_one_line(exc)}") from None
        if block.shape[0] == 0:
            return
        yield block


def read_all(path: str) -> tuple[Any, int]:
    """Whole file as (frames, channels) float64 and its sample rate."""
    import numpy as np

    with open_audio(path) as f:
        blocks = list(iter_blocks(f))
        sr = f.samplerate
        channels = f.channels
    data = np.concatenate(blocks) if blocks else np.zeros((0, channels))
    return data, sr


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def json_safe(obj: Any) -> Any:
    """-inf / nan -> None, recursively (JSON has no infinities)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


class LevelStats:
    """Streaming peak / RMS / loudness of (frames, channels) blocks."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        from aimixer_dsp.meters import LoudnessMeter
        from aimixer_dsp.truepeak import TruePeakMeter

        self.sample_rate = sample_rate
        self.channels = channels
        self.meter = LoudnessMeter(sample_rate, channels=min(channels, 16), exact_max=True)
        self.true_peak = TruePeakMeter(sample_rate, channels=min(channels, 16))
        self.peak = 0.0
        self.sumsq = 0.0
        self.count = 0
        self.frames = 0

    def push(self, block: Any) -> None:
        import numpy as np

        if block.size == 0:
            return
        if not np.isfinite(block).all():
            raise CLIError("audio contains NaN or Inf")
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        self.sumsq += float(np.sum(block * block))
        self.count += block.size
        self.frames += block.shape[0]
        self.meter.push(block[:, :16] if block.shape[1] > 16 else block)
        self.true_peak.push(block[:, :16] if block.shape[1] > 16 else block)

    def summary(self) -> dict:
        peak = 20 * math.log10(self.peak) if self.peak > 0 else -math.inf
        ms = self.sumsq / self.count if self.count else 0.0
        rms = 10 * math.log10(ms) if ms > 0 else -math.inf
        return {
            "peak": peak,
            "rms": rms,
            "truePeak": self.true_peak.true_peak,
            "lufs": self.meter.integrated,
            "momentaryMax": self.meter.momentary_max,
            "shortTermMax": self.meter.short_term_max,
            "lra": self.meter.loudness_range,
            "duration": self.frames / self.sample_rate,
            "sampleRate": self.sample_rate,
            "channels": self.channels,
        }


_UNITS = {
    "peak": "dBFS",
    "rms": "dBFS",
    "truePeak": "dBTP",
    "lufs": "LUFS",
    "momentaryMax": "LUFS",
    "shortTermMax": "LUFS",
    "lra": "LU",
    "duration": "s",
    "sampleRate": "Hz",
    "channels": "",
}


def format_value(key: str, value: Any) -> str:
    if isinstance(value, float):
        text = "-inf" if value == -math.inf else f"{value:.2f}" if key != "duration" else f"{value:.3f}"
    else:
        text = str(value)
    unit = _UNITS.get(key, "")
    return f"{text} {unit}".rstrip()


def analyze_file(path: str) -> dict:
    """Level/loudness summary of an audio file (see the module docstring)."""
    with open_audio(path) as f:
        stats = LevelStats(f.samplerate, f.channels)
        for block in iter_blocks(f):
            stats.push(block)
    return stats.summary()


def register(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="peak, RMS, loudness (LUFS, LRA) of an audio file",
        description="Print peak, rms, truePeak, lufs, momentaryMax, shortTermMax, lra, duration and sampleRate.",
    )
    p.add_argument("file", metavar="FILE", help="audio file (any format soundfile reads)")
    p.add_argument("--json", action="store_true", help="print one JSON object (no value = null)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = analyze_file(args.file)
    if args.json:
        print(json.dumps(json_safe(result)))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key + ':':<{width + 1}} {format_value(key, value)}")
    sys.stdout.flush()
    return 0
