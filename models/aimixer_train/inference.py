"""Genre model inference (onnxruntime), audio loading and resampling, voice activity, file classification.

This is the layer that training, evaluation and the origin share (``aimixer_dsp`` <-
``aimixer_train`` <- ``origin``): the origin's ``origin.genre`` re-exports it.

The model file is ``models/genre.onnx`` at the repository root with its metadata
``models/genre.json`` next to it (same stem). ``AIMIXER_MODEL_PATH`` (or the origin setting
``model_path``) points elsewhere; the metadata is then ``<model path without .onnx>.json``.

The model input is one feature vector per window (:func:`aimixer_dsp.genre.feature_vector`,
48 float32 values), its outputs the label and the five class probabilities in the order of
``GenreModel.classes``. The same file runs in the browser on onnxruntime-web.

Sample rates: model inputs are defined at 48 kHz. :func:`load_audio` and
:func:`resample_to_48k` convert files at other rates with band-limited polyphase resampling
(``scipy.signal.resample_poly`` with its default Kaiser window when SciPy is importable, else a
NumPy FFT resampler of the whole signal).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
from aimixer_dsp import GENRES, SAMPLE_RATE
from aimixer_dsp.genre import (
    FEATURE_SPEC,
    HOP,
    SEG,
    StreamingGenreClassifier,
    aggregate_rows,
    file_verdict,
    frame_rows,
    window_starts,
)

__all__ = [
    "DEFAULT_MODEL_PATH",
    "DEFAULT_MATRIX_MODEL_PATH",
    "matrix_model_path",
    "ModelError",
    "GenreModel",
    "model_path",
    "load_model",
    "load_default_model",
    "voice_activity",
    "resample_to_48k",
    "load_audio",
    "classify_signal",
    "StreamingGenreClassifier",
]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "genre.onnx"
DEFAULT_MATRIX_MODEL_PATH = DEFAULT_MODEL_PATH.with_name("genre_mfcc.onnx")


class ModelError(RuntimeError):
    """The model file is missing or unusable (message names the path)."""

    code = "SERVICE_UNAVAILABLE"


def model_path(settings: Any = None) -> Path:
    """The model to load: ``AIMIXER_MODEL_PATH``, else ``settings.model_path``, else the default."""
    env = os.environ.get("AIMIXER_MODEL_PATH")
    if env:
        return Path(env)
    configured = getattr(settings, "model_path", None) if settings is not None else None
    if configured:
        return Path(configured)
    return DEFAULT_MODEL_PATH


def matrix_model_path(configured: str | Path | None = None) -> Path:
    """The MFCC-statistics model: ``AIMIXER_MATRIX_MODEL_PATH``, else ``configured`` (the origin's
    ``matrix_model_path`` setting), else ``models/genre_mfcc.onnx``."""
    env = os.environ.get("AIMIXER_MATRIX_MODEL_PATH")
    if env:
        return Path(env)
    return Path(configured) if configured else DEFAULT_MATRIX_MODEL_PATH


def _metadata_path(path: Path) -> Path:
    return path.with_suffix(".json")


class GenreModel:
    """An ONNX genre model and its metadata.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file; ``<stem>.json`` next to it is the metadata (class order, version).
    """

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"genre model not found: {self.path}")
        meta_path = _metadata_path(self.path)
        self.metadata: dict[str, Any] = {}
        if meta_path.is_file():
            try:
                self.metadata = json.loads(meta_path.read_text())
            except (OSError, ValueError) as exc:
                raise ModelError(f"cannot read model metadata {meta_path}: {exc}") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load genre model {self.path}: {exc}") from None
        self._input = self._session.get_inputs()[0].name
        outs = [o.name for o in self._session.get_outputs()]
        self._prob_output = "probabilities" if "probabilities" in outs else outs[-1]
        self.classes: tuple[str, ...] = tuple(self.metadata.get("classes", GENRES))
        self.version: str = str(self.metadata.get("version", "unknown"))
        self.feature_size: int = int(
            self.metadata.get("featureSpec", FEATURE_SPEC).get("size", FEATURE_SPEC["size"])
        )
        window = self.metadata.get("window", {})
        self.window_s: float = float(window.get("seconds", 3.0))
        self.hop_s: float = float(window.get("hopSeconds", 1.0))
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GenreModel(path={str(self.path)!r}, version={self.version!r}, classes={self.classes})"

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if batch.ndim != 2 or batch.shape[1] != self.feature_size:
            raise ValueError(
                f"features must have {self.feature_size} values per window, got shape {batch.shape}"
            )
        if not np.all(np.isfinite(batch)):
            raise ValueError("features contain NaN or Inf")
        with self._lock:
            (probs,) = self._session.run([self._prob_output], {self._input: batch.astype(np.float32)})
        return np.asarray(probs, dtype=np.float64)

    def predict_proba(self, features: Sequence[float] | Sequence[Sequence[float]] | np.ndarray) -> Any:
        """Class probabilities.

        Parameters
        ----------
        features : one vector (``feature_size`` floats) or a batch ``[n][feature_size]``

        Returns
        -------
        dict or list of dict
            ``{genre: probability}`` for one vector, a list of those for a batch.
        """
        arr = np.asarray(features, dtype=np.float64)
        single = arr.ndim == 1
        probs = self._run(arr[None, :] if single else arr)
        out = [{c: float(p) for c, p in zip(self.classes, row, strict=True)} for row in probs]
        return out[0] if single else out

    def predict(self, features: Sequence[float]) -> dict[str, float]:
        """``features -> {genre: probability}`` for one vector (the streaming classifier's ``predict``)."""
        result: dict[str, float] = self.predict_proba(features)
        return result

    def classify(self, features: Sequence[float]) -> dict[str, Any]:
        """The ``/classify-genre`` response shape for one feature vector."""
        return file_verdict(self.predict_proba(features), self.version)

    def streaming_classifier(self, **kwargs: Any) -> StreamingGenreClassifier:
        """A :class:`StreamingGenreClassifier` that calls this model (window from the metadata)."""
        kwargs.setdefault("window_s", self.window_s)
        kwargs.setdefault("hop_s", self.hop_s)
        return StreamingGenreClassifier(predict=self.predict, **kwargs)


@lru_cache(maxsize=4)
def _cached_model(path: str, mtime: float) -> GenreModel:
    return GenreModel(path)


def load_model(path: str | Path) -> GenreModel:
    """Load (and cache, keyed by path and modification time) a model."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        raise ModelError(f"genre model not found: {p}") from None
    return _cached_model(str(p.resolve()), mtime)


def load_default_model(settings: Any = None) -> GenreModel:
    """The configured model (see :func:`model_path`), cached."""
    return load_model(model_path(settings))


# ----------------------------------------------------------------------------- audio helpers


def voice_activity(
    samples: Sequence[float] | np.ndarray, sample_rate: int = SAMPLE_RATE, *, aggressiveness: int = 2
) -> float:
    """Fraction of 30 ms frames that webrtcvad marks as speech (0.0 for input shorter than a frame).

    An extra metric reported next to the genre; not a model input (the browser has no webrtcvad).
    Rates other than 8/16/32/48 kHz are resampled to 48 kHz first.
    """
    import webrtcvad

    if not 0 <= aggressiveness <= 3:
        raise ValueError(f"aggressiveness={aggressiveness} is out of range [0, 3]")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
    if x.size and not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or Inf")
    sr = int(sample_rate)
    if sr not in (8000, 16000, 32000, 48000):
        x = resample_to_48k(x, sr)
        sr = SAMPLE_RATE
    n = sr * 30 // 1000
    count = len(x) // n
    if count == 0:
        return 0.0
    pcm = (np.clip(x[: count * n], -1.0, 1.0) * 32767.0).astype("<i2")
    vad = webrtcvad.Vad(aggressiveness)
    speech = sum(1 for i in range(count) if vad.is_speech(pcm[i * n : (i + 1) * n].tobytes(), sr))
    return speech / count


def resample_to_48k(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample mono audio to 48 kHz (polyphase with SciPy, else FFT resampling)."""
    x = np.asarray(x, dtype=np.float64)
    sr = int(sample_rate)
    if sr <= 0:
        raise ValueError(f"sample_rate={sample_rate} must be positive")
    if sr == SAMPLE_RATE or x.size == 0:
        return x
    g = gcd(sr, SAMPLE_RATE)
    up, down = SAMPLE_RATE // g, sr // g
    try:
        from scipy.signal import resample_poly
    except ImportError:  # pragma: no cover - scipy is present wherever training runs
        n_out = int(round(len(x) * SAMPLE_RATE / sr))
        spec = np.fft.rfft(x)
        n_bins = n_out // 2 + 1
        out = np.zeros(n_bins, dtype=complex)
        k = min(n_bins, len(spec))
        out[:k] = spec[:k]
        return np.fft.irfft(out, n_out) * (n_out / len(x))
    result: np.ndarray = resample_poly(x, up, down)
    return result


def load_audio(path: str | Path) -> np.ndarray:
    """Read any file soundfile can read as mono float64 at 48 kHz (channels averaged)."""
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise ValueError(f"cannot read audio file {path}: {exc}") from None
    mono = data.mean(axis=1)
    return resample_to_48k(mono, sr)


@dataclass
class WindowVerdict:
    start: float
    end: float
    genre: str
    confidence: float
    probabilities: dict[str, float]


def classify_signal(
    samples: np.ndarray, model: GenreModel, *, window_s: float = 3.0, hop_s: float = 1.0, vad: bool = True
) -> dict[str, Any]:
    """Classify mono 48 kHz audio window by window.

    The overall probabilities are the mean of the per-window probabilities. Audio shorter than
    one window is classified as a single shorter window (it must hold at least
    ``HOP + SEG`` samples, about 0.12 s).

    Returns
    -------
    dict
        ``genre``, ``confidence``, ``probabilities``, ``secondaryGenre``, ``modelVersion``,
        ``duration`` (s), ``window`` (s), ``voiceActivity`` (0..1, webrtcvad) and ``timeline``:
        a list of ``{start, end, genre, confidence, probabilities}`` per window.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
    if len(x) < HOP + SEG:
        raise ValueError(
            f"audio is too short to classify: {len(x) / SAMPLE_RATE:.3f} s, need at least {(HOP + SEG) / SAMPLE_RATE:.3f} s"
        )
    rows = frame_rows(x)
    starts, win_frames = window_starts(len(rows), window_s=window_s, hop_s=hop_s)
    vectors = [aggregate_rows(rows[s : s + win_frames]) for s in starts]
    probs = model.predict_proba(np.asarray(vectors))
    timeline = []
    for s, p in zip(starts, probs, strict=True):
        top = max(sorted(p), key=lambda g: p[g])
        start = s * HOP / SAMPLE_RATE
        timeline.append(
            {
                "start": round(start, 3),
                "end": round(min(len(x) / SAMPLE_RATE, start + window_s), 3),
                "genre": top,
                "confidence": p[top],
                "probabilities": p,
            }
        )
    mean = {c: float(np.mean([p[c] for p in probs])) for c in model.classes}
    out = file_verdict(mean, model.version)
    out["duration"] = round(len(x) / SAMPLE_RATE, 3)
    out["window"] = window_s
    out["voiceActivity"] = voice_activity(x) if vad else None
    out["timeline"] = timeline
    return out
