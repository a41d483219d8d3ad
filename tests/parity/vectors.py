"""The fixed parity vectors: one set of inputs and configs run through all four runtimes.

Everything is generated deterministically from seeds with the standard library only, and every
sample is rounded to float32 (the SDK's wire format), so CPython, the origin, Node and Chromium
all see bit-identical input.

``build_vectors()`` returns a JSON-able dict::

    {
      "frames":   [{"name", "samples" (960), "config"}],            # stateless /process-audio
      "streams":  [{"name", "samples" (N*960), "config",             # stateful sessions, frame by frame
                    "switchAt"?, "switchConfig"?}],                  # frames >= switchAt use switchConfig
      "features": [{"name", "samples", "opts"}],                     # /extract-features
      "classify": [{"name", "features" (MFCC matrix)}],              # /classify-genre (filled per runtime)
      "errors":   [{"name", "kind", "samples", "config", "code"}],   # expected error codes
    }
"""

from __future__ import annotations

import math
import random
from array import array

SR = 48000
FRAME = 960
GENRES = ("speech", "rock", "jazz", "electronic", "classical")


def f32(xs: list[float]) -> list[float]:
    """Round to float32 values (as Python floats)."""
    return list(array("f", xs))


def _speech(n: int, rng: random.Random) -> list[float]:
    # voiced bursts (pitch ~120-180 Hz with formant-ish harmonics) separated by pauses
    out = []
    phase = 0.0
    for i in range(n):
        t = i / SR
        syl = math.sin(2 * math.pi * 3.2 * t)
        env = max(0.0, syl) ** 1.5 * (1.0 if (int(t * 1.3) % 3) else 0.15)
        f0 = 140 + 30 * math.sin(2 * math.pi * 0.7 * t)
        phase += 2 * math.pi * f0 / SR
        v = sum(math.sin(k * phase) / k * (1.5 if 4 <= k <= 6 else 1.0) for k in range(1, 9))
        out.append(0.25 * env * v + 0.01 * rng.uniform(-1, 1))
    return out


def _rock(n: int, rng: random.Random) -> list[float]:
    out = []
    for i in range(n):
        t = i / SR
        root = 82.4 if int(t * 2) % 2 == 0 else 110.0
        saw = sum(((t * root * m) % 1.0) * 2 - 1 for m in (1, 1.5, 2))
        dist = math.tanh(2.5 * saw) * 0.35
        beat = t % 0.5
        kick = math.sin(2 * math.pi * 60 * beat) * math.exp(-beat * 30) * 0.6
        snare = rng.uniform(-1, 1) * math.exp(-((t + 0.25) % 0.5) * 25) * 0.3
        out.append(dist + kick + snare)
    return out


def _jazz(n: int, rng: random.Random) -> list[float]:
    chord = (261.6, 329.6, 392.0, 493.9)
    out = []
    for i in range(n):
        t = i / SR
        swing = t % 0.6
        env = math.exp(-swing * 3)
        pad = sum(math.sin(2 * math.pi * f * t) for f in chord) * 0.08 * env
        bass = math.sin(2 * math.pi * (55 * (1 + int(t / 0.3) % 4 * 0.25)) * t) * 0.2
        ride = rng.uniform(-1, 1) * math.exp(-(t % 0.3) * 40) * 0.05
        out.append(pad + bass + ride)
    return out


def _electronic(n: int, rng: random.Random) -> list[float]:
    out = []
    for i in range(n):
        t = i / SR
        b = t % 0.25
        kick = math.sin(2 * math.pi * (50 + 100 * math.exp(-b * 40)) * b) * math.exp(-b * 12) * 0.8
        sq = (1.0 if math.sin(2 * math.pi * 220 * t) >= 0 else -1.0) * 0.12
        hat = rng.uniform(-1, 1) * math.exp(-((t + 0.125) % 0.25) * 80) * 0.15
        out.append(kick + sq + hat)
    return out


def _classical(n: int, rng: random.Random) -> list[float]:
    out = []
    notes = (392.0, 440.0, 493.9, 523.3)
    for i in range(n):
        t = i / SR
        f = notes[int(t / 0.8) % 4]
        att = min(1.0, (t % 0.8) / 0.2)
        vib = 1 + 0.004 * math.sin(2 * math.pi * 5.5 * t)
        v = sum(math.sin(2 * math.pi * f * k * vib * t) / (k * k) for k in range(1, 6))
        out.append(0.2 * att * v + 0.002 * rng.uniform(-1, 1))
    return out


SIGNALS = {
    "speech": _speech,
    "rock": _rock,
    "jazz": _jazz,
    "electronic": _electronic,
    "classical": _classical,
}


def signal(kind: str, seconds: float, seed: int = 0) -> list[float]:
    """A deterministic float32 test signal of ``kind`` (a genre name, ``noise`` or ``silence``)."""
    n = int(round(seconds * SR))
    rng = random.Random(f"{kind}-{seed}")
    if kind == "silence":
        return [0.0] * n
    if kind == "noise":
        return f32([0.003 * rng.uniform(-1, 1) for _ in range(n)])
    if kind == "loud":
        return f32(
            [0.98 * math.sin(2 * math.pi * 997 * i / SR) + 0.02 * rng.uniform(-1, 1) for i in range(n)]
        )
    return f32(SIGNALS[kind](n, rng))


FRAME_CONFIGS: list[tuple[str, str, dict | None]] = [
    ("default-speech", "speech", None),
    ("default-rock", "rock", {}),
    *[(f"preset-{g}", g, {"genre": g}) for g in GENRES],
    ("gate-off", "noise", {"noiseGate": {"enabled": False}}),
    ("gate-on-high", "jazz", {"noiseGate": {"enabled": True, "threshold": -20}}),
    ("compressor-off", "rock", {"compressor": {"enabled": False}}),
    (
        "compressor-hard",
        "rock",
        {"compressor": {"ratio": 20, "threshold": -40, "attack": 0.1, "release": 10}},
    ),
    ("eq-off", "classical", {"eq": {"enabled": False}}),
    ("eq-extreme", "electronic", {"eq": {"low": 12, "mid": -12, "high": 12}}),
    ("limiter-off", "loud", {"limiter": {"enabled": False}, "gain": 6}),
    ("limiter-ceiling", "loud", {"limiter": {"enabled": True, "ceiling": -3}, "gain": 12}),
    ("bypass", "jazz", {"bypass": True}),
    (
        "all-off",
        "speech",
        {
            "noiseGate": {"enabled": False},
            "compressor": {"enabled": False},
            "eq": {"enabled": False},
            "limiter": {"enabled": False},
        },
    ),
    ("gain-minus", "rock", {"gain": -20}),
    ("silence", "silence", None),
    ("auto-stateless", "rock", {"genre": "auto"}),
    ("preset-plus-override", "speech", {"genre": "rock", "compressor": {"ratio": 2}, "eq": {"high": -6}}),
]

STREAMS: list[tuple[str, str, float, dict | None]] = [
    # the stateful 5-second stream: genre "auto" (verdicts from 3 s on) with a user override
    ("auto-5s", "speech", 5.0, {"genre": "auto", "compressor": {"ratio": 3}}),
    ("rock-preset-1s", "rock", 1.0, {"genre": "rock"}),
    # a fixed genre first, then "auto" from frame 50 (1 s): the genre analysis starts at the switch
    # (the origin attaches its classifier on a session's first "auto" frame), so the first verdict
    # can only come 3 s after it, not 3 s after the stream's start
    ("rock-then-auto-4.4s", "rock", 4.4, {"genre": "classical"}),
    # genre "auto" follows only confident verdicts (aimixer_dsp.genre.AUTO_MIN_CONFIDENCE): the
    # calibrated window model is sure of this faint noise (not of the toy music signals), so the
    # verdict and the preset switch it causes are compared across runtimes too
    ("auto-noise-4s", "noise", 4.0, {"genre": "auto"}),
]

# frames from this index on use the second config
STREAM_SWITCHES: dict[str, tuple[int, dict]] = {"rock-then-auto-4.4s": (50, {"genre": "auto"})}

FEATURE_OPTS: list[tuple[str, str, float, dict]] = [
    ("default", "speech", 0.5, {}),
    ("hamming-1024", "rock", 0.5, {"fftSize": 1024, "hopSize": 256, "windowType": "hamming"}),
    ("blackman-20", "classical", 0.3, {"numCoefficients": 20, "numFilters": 64, "windowType": "blackman"}),
    ("short-frame", "jazz", 0.02, {"fftSize": 512, "hopSize": 128}),
]


def stream_config(stream: dict, k: int) -> dict | None:
    """The config of frame ``k`` of a stream vector."""
    at = stream.get("switchAt")
    return stream["switchConfig"] if at is not None and k >= at else stream["config"]


def build_vectors(*, stream_seconds: float | None = None) -> dict:
    """All parity inputs (see the module docstring)."""
    frames = []
    for i, (name, kind, config) in enumerate(FRAME_CONFIGS):
        sig = signal(kind, 0.1, seed=i)
        frames.append({"name": name, "samples": sig[FRAME * 2 : FRAME * 3], "config": config})
    streams = []
    for i, (name, kind, seconds, config) in enumerate(STREAMS):
        secs = stream_seconds if (stream_seconds and i == 0) else seconds
        n = int(round(secs * SR)) // FRAME * FRAME
        stream = {"name": name, "samples": signal(kind, secs, seed=100 + i)[:n], "config": config}
        if name in STREAM_SWITCHES:
            stream["switchAt"], stream["switchConfig"] = STREAM_SWITCHES[name]
        streams.append(stream)
    features = []
    for i, (name, kind, seconds, opts) in enumerate(FEATURE_OPTS):
        features.append({"name": name, "samples": signal(kind, seconds, seed=200 + i), "opts": opts})
    classify = classify_vectors()
    errors = [
        {
            "name": "short-buffer",
            "kind": "process",
            "samples": [0.0] * 959,
            "config": None,
            "code": "INVALID_BUFFER_SIZE",
        },
        {
            "name": "long-buffer",
            "kind": "process",
            "samples": [0.0] * 961,
            "config": None,
            "code": "INVALID_BUFFER_SIZE",
        },
        {
            "name": "ratio-out-of-range",
            "kind": "process",
            "samples": [0.0] * FRAME,
            "config": {"compressor": {"ratio": 25}},
            "code": "INVALID_PARAMETER",
        },
        {
            "name": "unknown-genre",
            "kind": "process",
            "samples": [0.0] * FRAME,
            "config": {"genre": "polka"},
            "code": "INVALID_PARAMETER",
        },
    ]
    return {
        "frames": frames,
        "streams": streams,
        "features": features,
        "classify": classify,
        "errors": errors,
    }


CLASSIFY_SECONDS = 3.0
MATRIX_SECONDS = 4.0


def classify_signals() -> dict[str, list[float]]:
    """One 3-second signal per genre."""
    return {g: signal(g, CLASSIFY_SECONDS, seed=300 + i) for i, g in enumerate(GENRES)}


def classify_vectors() -> list[dict]:
    """``[{"name", "features"}]`` for /classify-genre, computed once here so every runtime
    classifies the same input: the spec's flow (the ``/extract-features`` MFCC matrix of 4 s of
    audio per genre, one with 20 coefficients of which the first 13 are used), rows of genre-model
    window vectors (``aimixer_dsp.genre.feature_vector`` of 3 s windows, one and two rows), and
    refused inputs (a matrix shorter than 3 s, an empty list)."""
    from aimixer_dsp.features import extract_features
    from aimixer_dsp.genre import feature_vector

    sigs = classify_signals()
    rows = {g: [float(x) for x in feature_vector(sig)] for g, sig in sigs.items()}
    out = [{"name": g, "features": [row]} for g, row in rows.items()]
    out.append({"name": "two-windows", "features": [rows["rock"], rows["jazz"]]})
    for i, g in enumerate(GENRES):
        audio = signal(g, MATRIX_SECONDS, seed=400 + i)
        out.append({"name": f"matrix-{g}", "features": extract_features(audio)["features"]})
    audio = signal("jazz", MATRIX_SECONDS, seed=499)
    out.append(
        {
            "name": "matrix-20-coefficients",
            "features": extract_features(audio, numCoefficients=20)["features"],
        }
    )
    out.append(
        {"name": "mfcc-matrix-too-short", "features": extract_features(sigs["speech"][:9600])["features"]}
    )
    out.append({"name": "empty-refused", "features": []})
    return out
