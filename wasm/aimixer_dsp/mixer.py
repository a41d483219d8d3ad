"""``MixerSession``: the one function behind ``/process-audio`` (origin and browser alike).

A session owns a chain (:func:`aimixer_dsp.presets.build_chain`), a streaming
:class:`~aimixer_dsp.meters.LoudnessMeter` on the processed output and, optionally, a genre
tracker (:class:`aimixer_dsp.genre.StreamingGenreClassifier` or anything with ``push``,
``genre``, ``confidence`` and ``reset``).

Per call, in this order:

1. Validate the samples (length ``frame_size`` when ``strict_frames``; NaN/Inf ->
   ``NonFiniteInputError``) and the config (``ParameterError``) — nothing changes on error.
2. Choose the settings: ``base_config`` <- ``config``; ``genre`` omitted/``None`` -> the
   defaults (``genre: null``, ``confidence: 0.0``); a genre -> its preset (``confidence: 1.0``);
   ``"auto"`` -> the tracker's verdict *as it stood before this call* (defaults and
   ``genre: null`` until the first verdict). User fields override the preset field by field.
3. Apply them in place (state kept) and run the chain.
4. Feed the *input* samples to the tracker. A verdict produced now affects the next call, never
   this one — on every runtime, so origin and browser results are identical.
5. Meter the output: ``peak``/``rms`` of this frame (dBFS), ``lufs`` = integrated loudness of
   the session so far, ``momentaryLufs`` (400 ms), ``shortTermLufs`` (3 s), ``truePeak``
   (dBTP of this frame, BS.1770-4 Annex 2) and ``truePeakMax`` (dBTP, session); ``-inf`` while
   undefined (``to_json_safe`` turns it into ``null``). ``processingTime`` is wall time in ms
   (the only non-deterministic field).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Protocol

from . import FRAME_SIZE, SAMPLE_RATE
from . import backend as _backend
from .errors import InvalidBufferError, ParameterError
from .meters import LoudnessMeter, _sum_squares, peak_db, rms_db
from .presets import (
    Settings,
    apply_full_settings,
    build_chain,
    merge_config,
    resolve_settings,
    validate_config,
)
from .processors.base import check_sample_rate
from .truepeak import TruePeakMeter, lin_to_dbtp

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["MixerSession", "GenreTracker", "NullGenreTracker", "to_json_safe", "config_cache_key"]


class GenreTracker(Protocol):
    """What a session needs of its genre tracker (``genre_tracker``): the verdict so far, fed
    with each block's input samples (``push`` returns ``True`` when the verdict changed)."""

    @property
    def genre(self) -> str | None: ...

    @property
    def confidence(self) -> float: ...

    def push(self, samples: Any) -> bool: ...

    def reset(self) -> None: ...


class NullGenreTracker:
    """Stands in for the genre classifier where no verdict can come (no model, or a stateless
    one-frame request): ``genre: "auto"`` then runs on the default settings with ``genre: null``.
    The origin and the browser engine both use it."""

    genre = None
    confidence = 0.0
    pending_features = None
    probabilities = None

    def push(self, samples: Any) -> bool:
        """Ignore the samples; never a change."""
        return False

    def reset(self) -> None:
        """Nothing to forget."""


class MixerSession:
    """Stateful mixer session (chain + meters + optional genre tracker).

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz (the API uses 48000).
    frame_size : int
        Required block length when ``strict_frames`` (960 = 20 ms on the API).
    strict_frames : bool
        Reject blocks whose length is not ``frame_size`` (``InvalidBufferError``).
    genre_tracker : object, optional
        Needed for ``config.genre == "auto"``.
    base_config : dict, optional
        Session defaults merged under every call's ``config``.
    defer_metering : bool
        Pure path: leave the loudness meter's K-weighting of a frame that does not complete a
        100 ms block for :meth:`flush_deferred` (or the next frame that completes one). Results
        are identical; the browser worker uses it to do that work after handing the frame back.
    """

    def __init__(
        self,
        *,
        sample_rate: int = SAMPLE_RATE,
        frame_size: int = FRAME_SIZE,
        strict_frames: bool = True,
        genre_tracker: GenreTracker | None = None,
        base_config: Settings | None = None,
        defer_metering: bool = False,
    ) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        if isinstance(frame_size, bool) or not isinstance(frame_size, int) or frame_size < 1:
            raise ParameterError(
                "frame_size", frame_size, message=f"frame_size={frame_size!r} must be a positive int"
            )
        self.frame_size = frame_size
        self.strict_frames = bool(strict_frames)
        self.genre_tracker = genre_tracker
        validate_config(base_config)
        self.base_config = merge_config(None, base_config)
        self.chain = build_chain(None, sample_rate=self.sample_rate)
        self._applied: Settings | None = None
        # Settings cache: the exact key (see config_cache_key) of the last valid (base, config) pair,
        # the merged config and the resolved settings per genre. A hit skips re-validation and
        # the deep-copying merges; any change of the config (or of base_config) is a miss.
        self._cfg_key: object = _NO_KEY
        self._cfg_merged: Settings = {}
        self._resolved: dict[str | None, Settings] = {}
        self._meter: LoudnessMeter | None = None
        self._tp: TruePeakMeter | None = None
        self._channels: int | None = None
        self.frames = 0  # calls processed since the last reset
        self.defer_metering = bool(defer_metering)

    def flush_deferred(self) -> bool:
        """Do the metering work deferred by ``defer_metering`` now; ``True`` if there was any."""
        meter = self._meter
        return meter is not None and meter.flush()

    def reset(self) -> None:
        """Clear chain, meter and tracker state (the session's configuration is kept)."""
        self.chain.reset()
        self._meter = None
        self._tp = None
        self._channels = None
        self.frames = 0
        if self.genre_tracker is not None and hasattr(self.genre_tracker, "reset"):
            self.genre_tracker.reset()

    @property
    def latency_samples(self) -> int:
        """Current chain latency in samples."""
        return self.chain.latency_samples

    # ------------------------------------------------------------------------------------
    def _validate(self, samples: Any) -> tuple[list[float] | NDArray[np.float64], int]:
        if _backend.use_numpy(samples):
            x = _backend.as_array(samples)
            n, ch = x.shape[0], (1 if x.ndim == 1 else x.shape[1])
        else:
            x = _backend.as_float_list(samples)
            n, ch = len(x), 1
        if self.strict_frames and n != self.frame_size:
            raise InvalidBufferError(
                f"audio buffer must be {self.frame_size} samples, got {n}",
                details={"expected": self.frame_size, "received": n},
            )
        if self._channels is not None and ch != self._channels:
            raise InvalidBufferError(
                f"session holds {self._channels} channel(s) but the block has {ch}; reset() first",
                details={"expected": self._channels, "received": ch},
            )
        return x, ch

    def _genre(self, genre: Any) -> tuple[str | None, float]:
        if genre is None:
            return None, 0.0
        if genre == "auto":
            tr = self.genre_tracker
            if tr is None:
                raise ParameterError(
                    "genre", "auto", message="genre='auto' needs a genre classifier; none is configured"
                )
            verdict = tr.genre
            if verdict is None:
                return None, 0.0
            return verdict, float(tr.confidence)
        return genre, 1.0

    def _known_peak(self, y: list[float]) -> float | None:
        """``max|y|`` when the chain's last stage (a limiter passing the block through) already
        measured it for this very output list, else ``None``."""
        return self.chain.known_peak(y)

    def _configure(self, config: Settings | None) -> tuple[str | None, float]:
        """Validate ``config`` (cached per exact config), apply its settings to the chain if
        they changed; returns ``(genre, confidence)`` for the metrics."""
        key = config_cache_key(config)
        if key is not None:
            base_key = config_cache_key(self.base_config)
            key = None if base_key is None else (base_key, key)
        if key is not None and key == self._cfg_key:
            cfg = self._cfg_merged  # validated and merged when this exact config was first seen
        else:
            validate_config(config)
            cfg = merge_config(self.base_config, config)
            self._cfg_key = _NO_KEY
            self._resolved = {}
        genre, confidence = self._genre(cfg.get("genre"))
        settings = self._resolved.get(genre)
        if settings is None:
            settings = resolve_settings(cfg, genre)
            if key is not None:
                if self._cfg_key != key:
                    self._cfg_key, self._cfg_merged = key, cfg
                self._resolved[genre] = settings
        # -- state changes start here ------------------------------------------------------
        if settings is not self._applied and settings != self._applied:
            apply_full_settings(self.chain, settings)  # resolve_settings: complete and valid
            self._applied = settings
        return genre, confidence

    def prepare(self, config: Settings | None = None, channels: int = 1) -> None:
        """A stream's one-time set-up, done before its first frame arrives: validate ``config``
        and apply its settings (as :meth:`process` would for that config) and create the
        loudness meter for ``channels``. Optional (the first :meth:`process` does the same); a
        real-time stream calls it when it starts so that its first frame costs no more than
        the next ones. Raises ParameterError for a bad config, like :meth:`process`."""
        self._configure(config)
        if self._meter is None:
            if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
                raise ParameterError("channels", channels, message="channels must be a positive int")
            self._meter = LoudnessMeter(self.sample_rate, channels=channels)
            self._meter.defer_partial = self.defer_metering
            self._tp = TruePeakMeter(self.sample_rate, channels=channels)
            self._channels = channels

    def process(
        self, samples: Any, config: Settings | None = None, *, metrics: bool = True
    ) -> dict[str, Any]:
        """Process one block; returns ``{processedBuffer, metrics, appliedSettings}``.

        ``metrics=False`` (a stream that reports no metrics for this frame) skips the readings:
        ``metrics`` and ``appliedSettings`` are ``None``; the loudness meter still takes the
        frame, so later readings are the same as with ``metrics=True``.

        Raises
        ------
        InvalidBufferError, NonFiniteInputError, ParameterError
            Before any state changes.
        """
        t0 = time.perf_counter()
        x, ch = self._validate(samples)
        genre, confidence = self._configure(config)
        y = self.chain.process_validated(x)  # x was checked by _validate
        if self.genre_tracker is not None:
            self.genre_tracker.push(_mono(x))
        if self._meter is None:
            self._meter = LoudnessMeter(self.sample_rate, channels=ch)
            self._meter.defer_partial = self.defer_metering
            self._tp = TruePeakMeter(self.sample_rate, channels=ch)
            self._channels = ch
        meter = self._meter
        tp = self._tp
        assert tp is not None  # created with the meter
        levels: tuple[float, ...] | None
        if type(y) is list:
            levels = _list_levels(y, self._known_peak(y))
            if levels is None:
                meter.push(y)
                levels = (peak_db(y), rms_db(y))
            else:
                meter.push_validated(y)
            if levels[0] == -math.inf:  # silence: the filter history may still ring
                tp.push(y)
            else:
                tp.push_checked(y)
        else:
            levels = _array_levels(y, metrics)
            if levels is None:  # not all finite (or squares overflow): the checking path raises
                meter.push(y)
                levels = (peak_db(y), rms_db(y))
            elif y.ndim == 1 and y.flags.c_contiguous:
                meter._push_np_checked(y)
            else:
                meter.push(y)
            tp.push(y)
        self.frames += 1
        if not metrics:
            return {"processedBuffer": y, "metrics": None, "appliedSettings": None}
        readings = {
            "peak": levels[0],
            "rms": levels[1],
            "lufs": meter.integrated,
            "momentaryLufs": meter.momentary,
            "shortTermLufs": meter.short_term,
            "genre": genre,
            "confidence": confidence,
            "processingTime": 0.0,
            "latencySamples": self.chain.latency_samples,
            "truePeak": lin_to_dbtp(tp.last_block),
            "truePeakMax": tp.true_peak,
        }
        applied = self.chain.settings()
        readings["processingTime"] = (time.perf_counter() - t0) * 1000.0
        return {"processedBuffer": y, "metrics": readings, "appliedSettings": applied}


_NO_KEY = object()
_SCALAR_TYPES = frozenset((float, int, bool, str, type(None)))


def config_cache_key(config: Any) -> tuple[object, ...] | None:
    """An exact, hashable form of a config dict (two levels, as the API's), or ``None``.

    Equal keys mean the same fields in the same order with equal values *of the same types*
    (``True``/``1``/``1.0`` stay apart), so a config whose key was validated before is valid
    and resolves to the same settings. Anything else (lists, NumPy scalars, deeper nesting)
    gives ``None``: not cached, validated every time.
    """
    if config is None:
        return ()
    if type(config) is not dict:
        return None
    scalars = _SCALAR_TYPES
    out: list[tuple[object, type, object]] = []
    for k, v in config.items():
        t = type(v)
        if t is dict:
            inner: list[tuple[object, type, object]] = []
            for k2, v2 in v.items():
                t2 = type(v2)
                if t2 not in scalars:
                    return None
                inner.append((k2, t2, v2))
            out.append((k, t, tuple(inner)))
        elif t in scalars:
            out.append((k, t, v))
        else:
            return None
    return tuple(out)


def _list_levels(y: list[float], peak: float | None = None) -> tuple[float, float] | None:
    """``(peak_db(y), rms_db(y))`` of a non-empty mono list of floats in three C-level passes
    (the sum of squares, ``max``, ``min``; the last two skipped when ``peak = max|y|`` is
    given), or ``None`` when ``y`` is empty or not all finite (then the caller takes the
    checking path, which raises as before).

    The sum of squares doubles as the finiteness check: it is finite exactly when every sample
    is (squares are >= 0, so an Inf or NaN cannot cancel). The values are those of
    :func:`peak_db` (``max|y| = max(max(y), -min(y))``) and :func:`rms_db` (the same sum).
    """
    n = len(y)
    if not n:
        return None
    try:
        ss = _sum_squares(y)
    except (OverflowError, TypeError):  # fsum of huge squares (Python < 3.12), or not floats
        return None
    if not math.isfinite(ss):
        return None
    if peak is None:
        p = max(y)
        q = -min(y)
        if q > p:
            p = q
    else:
        p = peak
    return _db_pair(p, ss / n)


def _array_levels(y: NDArray[np.float64], want: bool = True) -> tuple[float, ...] | None:
    """``(peak_db(y), rms_db(y))`` of a float64 ndarray (any shape), or ``None`` when it is
    empty or not all finite. The sum of squares doubles as the finiteness check (it is finite
    exactly when every sample is, unless the squares overflow: then ``None`` as well). With
    ``want=False`` only the check is done (an empty tuple when it passes)."""
    v = y.reshape(-1)
    n = v.shape[0]
    if not n:
        return None
    ss = float(v @ v)
    if not math.isfinite(ss):
        return None
    if not want:
        return ()
    np = _backend.np
    return _db_pair(max(float(np.maximum.reduce(v)), -float(np.minimum.reduce(v))), ss / n)


def _db_pair(peak: float, mean_square: float) -> tuple[float, float]:
    """``(peak dBFS, RMS dBFS)`` as :func:`peak_db` / :func:`rms_db` compute them (-inf for 0)."""
    return (
        20.0 * math.log10(peak) if peak > 0.0 else -math.inf,
        10.0 * math.log10(mean_square) if mean_square > 0.0 else -math.inf,
    )


def _mono(x: Any) -> Any:
    if _backend.is_ndarray(x) and x.ndim == 2:
        return x.mean(axis=1)
    return x


def to_json_safe(obj: Any) -> Any:
    """Make ``obj`` JSON-safe: ``-inf``/``inf``/``nan`` -> ``None``, ndarrays and NumPy scalars ->
    Python lists / numbers, tuples -> lists, dicts and lists recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        if obj and all(type(v) is float for v in obj):
            isfinite = math.isfinite
            return [v if isfinite(v) else None for v in obj]
        return [to_json_safe(v) for v in obj]
    if _backend.HAVE_NUMPY:
        np = _backend.np
        if isinstance(obj, np.ndarray):
            return to_json_safe(obj.tolist())
        if isinstance(obj, np.generic):
            return to_json_safe(obj.item())
    return obj
