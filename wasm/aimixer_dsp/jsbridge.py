"""Per-frame entry points for the JS SDK's engine (``wasm/js/engine.js``, Pyodide).

Crossing the JS <-> Python boundary element by element (a ``Float32Array`` -> ``list`` of
960 floats in, a ``list`` -> JS array out, the result ``dict`` -> JS object through proxies)
costs more than some DSP stages. This module keeps the whole frame on the Python side of one
call, with no per-frame proxies:

* :class:`FrameIO` owns two fixed ``array('f')`` buffers. The engine holds a buffer view of each
  for the whole session (``getBuffer``): it copies the input frame into ``input`` with one
  typed-array ``set``, calls :meth:`FrameIO.run`, and copies the processed frame out of
  ``output``. The metrics' numbers come back in a third buffer (``values``, float64) and the
  genre and applied settings as a JSON string, which Pyodide hands to JS as a plain string
  (:meth:`FrameIO.process` returns the whole result as JSON instead).
* :class:`DeferredTracker` wraps a genre tracker so that the genre analysis of a frame's input
  (``push``) runs *after* the processed frame has been handed back, instead of inside
  ``MixerSession.process``. The engine calls :meth:`DeferredTracker.flush` (and the model +
  ``apply`` when a window is due) before the session's next frame, so the contract's timing rule
  (a verdict produced while processing frame N affects frame N+1) and all results are unchanged.
* ``NullTracker`` is :class:`aimixer_dsp.mixer.NullGenreTracker`, the origin's null tracker (no JS
  callbacks per frame).
* :class:`LinkedSession` and :class:`PlanarFrameIO`: the live preview in stereo. The pure path's
  chain is mono per call; a linked session runs :class:`aimixer_dsp.render.ChannelChain` (the
  file render's linked detection: the gate, compressor and limiter act on ``max_c |x_c|`` and
  apply one gain to every channel) on planar frames, with the metrics of a multichannel
  ``MixerSession`` (equal to the NumPy path's on a ``(frames, channels)`` array).

Results are identical to the plain path: the input samples are the float32 values as Python
floats, the output is rounded to float32 as before, and :func:`dumps` produces exactly the JSON
of :func:`aimixer_dsp.mixer.to_json_safe` of the result.
"""

from __future__ import annotations

import json
import marshal
import math
import struct
import time
from array import array
from typing import TYPE_CHECKING, Any

from . import FRAME_SIZE
from .backend import check_list_finite
from .errors import InvalidBufferError, ParameterError
from .meters import LoudnessMeter, _sum_squares
from .mixer import MixerSession, NullGenreTracker, to_json_safe
from .render import MAX_CHANNELS, ChannelChain
from .truepeak import TruePeakMeter, lin_to_dbtp

if TYPE_CHECKING:
    from .genre import StreamingGenreClassifier

__all__ = [
    "DeferredTracker",
    "FrameIO",
    "LinkedSession",
    "NullTracker",
    "PlanarFrameIO",
    "dumps",
    "gain_reduction",
]


def _finite_or_none(d: dict[str, Any]) -> dict[str, Any]:
    """A flat dict with its non-finite floats replaced by ``None`` (``to_json_safe``'s rule)."""
    isfinite = math.isfinite
    return {k: (None if type(v) is float and not isfinite(v) else v) for k, v in d.items()}


_encode = json.JSONEncoder(separators=(",", ":")).encode


def dumps(obj: Any) -> str:
    """JSON text of ``to_json_safe(obj)`` (``-inf``/``inf``/``nan`` -> ``null``), compact.

    Fast path: the non-finite floats of ``obj``'s dict values one level down (the metrics) are
    replaced by ``None`` first, then ``json.dumps`` encodes the rest, which is the same text as
    that of ``to_json_safe`` whenever no non-finite float is left, keys are str and values are
    JSON types (tuples become lists either way). A non-finite float left deeper shows up as
    ``Infinity``/``NaN`` in that text; then (or for any value ``json`` cannot encode) the result
    is encoded through ``to_json_safe``.
    """
    if type(obj) is dict:
        obj = {k: (_finite_or_none(v) if type(v) is dict else v) for k, v in obj.items()}
    try:
        text = json.dumps(obj, separators=(",", ":"))
    except (TypeError, ValueError):
        text = None
    if text is None or "Infinity" in text or "NaN" in text:
        text = json.dumps(to_json_safe(obj), separators=(",", ":"), allow_nan=False)
    return text


NullTracker = NullGenreTracker  # the engine's name for it


class DeferredTracker:
    """A genre tracker whose ``push`` is queued and run later by :meth:`flush`.

    Parameters
    ----------
    tracker : object
        The real tracker (``aimixer_dsp.genre.StreamingGenreClassifier`` without ``predict``).

    ``genre``, ``confidence``, ``probabilities``, ``pending_features`` and ``apply`` are the real
    tracker's. The caller must drain the queue (``flush`` until it returns ``False``, classifying
    the pending window each time it returns ``True``) before the session processes its next frame.
    """

    def __init__(self, tracker: StreamingGenreClassifier) -> None:
        self.tracker = tracker
        self._blocks: list[Any] = []  # the sessions' input blocks, as given to push()
        self.flush_ms = 0.0  # time spent in the real push(), summed

    # -- what MixerSession uses
    def push(self, samples: Any) -> bool:
        """Queue the input block (the session never mutates it); the genre cannot change now."""
        self._blocks.append(samples)
        return False

    @property
    def genre(self) -> str | None:
        """The real tracker's verdict."""
        return self.tracker.genre

    @property
    def confidence(self) -> float:
        """The real tracker's confidence."""
        return self.tracker.confidence

    def reset(self) -> None:
        """Drop the queued blocks and reset the real tracker."""
        self._blocks.clear()
        self.tracker.reset()

    # -- what the engine uses
    @property
    def pending_features(self) -> list[float] | None:
        """The real tracker's pending window (``None`` when none is due)."""
        return self.tracker.pending_features

    @property
    def probabilities(self) -> dict[str, float] | None:
        """The real tracker's latest probabilities."""
        return self.tracker.probabilities

    @property
    def queued(self) -> int:
        """Blocks waiting for :meth:`flush`."""
        return len(self._blocks)

    def apply(self, probabilities: dict[str, float]) -> bool:
        """Forward the model's answer for the pending window to the real tracker."""
        return self.tracker.apply(probabilities)

    def flush(self) -> bool:
        """Push queued blocks into the real tracker, oldest first, stopping at a due window.

        Returns ``True`` when a window is pending (classify it, ``apply``, then call ``flush``
        again: blocks are never pushed past an unclassified window, exactly as when every frame
        is followed by its classification), ``False`` when the queue is empty and nothing is due.
        """
        tr = self.tracker
        blocks = self._blocks
        t0 = time.perf_counter()
        try:
            while True:
                if tr.pending_features is not None:
                    return True
                if not blocks:
                    return False
                tr.push(blocks.pop(0))
        finally:
            self.flush_ms += (time.perf_counter() - t0) * 1000.0


#: the keys of ``MixerSession.process``'s metrics, in order; :data:`_NUMERIC`: the numbers
_METRIC_KEYS = (
    "peak", "rms", "lufs", "momentaryLufs", "shortTermLufs", "genre", "confidence", "processingTime",
    "latencySamples", "truePeak", "truePeakMax",
)  # fmt: skip
_NUMERIC = tuple(k for k in _METRIC_KEYS if k != "genre")


class FrameIO:
    """Fixed float32 input/output buffers and the one-call frame path of the engine.

    Parameters
    ----------
    frame_size : int
        Samples per frame (960 on the API).
    """

    #: the metrics that :meth:`run` passes in :attr:`values`, in order
    NUMERIC = _NUMERIC

    def __init__(self, frame_size: int = FRAME_SIZE) -> None:
        if isinstance(frame_size, bool) or not isinstance(frame_size, int) or frame_size < 1:
            raise ValueError(f"frame_size={frame_size!r} must be a positive int")
        self.frame_size = frame_size
        self.input = array("f", bytes(4 * frame_size))
        self.output = array("f", bytes(4 * frame_size))
        self._pack = struct.Struct(f"={frame_size}f")
        self._config_json: str | None = None  # the last config JSON text and its parsed dict
        self._config: Any = None
        self._settings_key: bytes | None = None  # marshal of the last appliedSettings, its JSON
        self._settings_json = ""
        #: ``run``'s metrics numbers: ``[flag, *NUMERIC]`` (see :meth:`run`)
        self.values = array("d", bytes(8 * (1 + len(_NUMERIC))))
        self._head_key: tuple[str | None, bytes] | None = (
            None  # (genre, marshal of appliedSettings) -> its JSON
        )
        self._head_json = ""
        self.frames = 0
        self.dsp_ms_total = 0.0
        self.dsp_ms_max = 0.0
        self.dsp_ms_last = 0.0

    def read_input(self) -> list[float]:
        """The input buffer as a list of Python floats (the float32 values, exactly)."""
        return self.input.tolist()

    def write_output(self, samples: Any) -> None:
        """Round ``samples`` (``frame_size`` numbers) to float32 into the output buffer."""
        if len(samples) != self.frame_size:
            raise ValueError(f"processed block has {len(samples)} samples, expected {self.frame_size}")
        try:
            self._pack.pack_into(self.output, 0, *samples)
        except (OverflowError, struct.error):
            # beyond float32 range: the same C cast as array('f') (-> +-inf), in place
            self.output[:] = array("f", [float(v) for v in samples])

    def process(
        self, session: MixerSession, config_json: str | None = None, want_result: bool = True
    ) -> str | None:
        """Process the frame in :attr:`input` with ``session`` (a ``MixerSession``).

        Parameters
        ----------
        session : MixerSession
        config_json : str or None
            The request's ``config`` as JSON text (``None``: no config).
        want_result : bool
            Return the JSON of the result without ``processedBuffer`` (else ``None``; live
            audio only needs the metrics now and then).

        Returns
        -------
        str or None
            ``{"metrics": ..., "appliedSettings": ...}`` as JSON (``to_json_safe`` semantics).
            The processed samples are in :attr:`output`.
        """
        res = self._process(session, config_json)
        return self._dumps_result(res) if want_result else None

    def run(
        self, session: MixerSession, config_json: str | None = None, want_result: bool = True
    ) -> str | None:
        """:meth:`process` with the metrics' numbers passed in :attr:`values` instead of as text.

        The engine's per-frame call: writing eight doubles into a buffer the engine reads
        costs far less than formatting them as JSON (a float's shortest repr is a bignum
        computation, slow in wasm). When ``values[0] == 1.0``, ``values[1:]`` hold the
        metrics named in :attr:`NUMERIC` (in that order; a non-finite one is ``null`` in the
        result) and the returned text is ``{"genre": ..., "appliedSettings": ...}`` as JSON;
        when ``values[0] == 0.0`` (metrics of another shape) the text is the whole result, as
        from :meth:`process`. :meth:`decode` rebuilds the result from both, as the engine does.
        ``None`` (and ``values`` untouched) when ``want_result`` is false.
        """
        res = self._process(session, config_json)
        if not want_result:
            return None
        metrics = res.get("metrics")
        applied = res.get("appliedSettings")
        values = self.values
        if (
            len(res) == 2
            and type(metrics) is dict
            and type(applied) is dict
            and tuple(metrics) == _METRIC_KEYS
        ):
            genre = metrics["genre"]
            nums = [metrics[k] for k in _NUMERIC]
            if (genre is None or type(genre) is str) and all(
                type(v) is float or type(v) is int for v in nums
            ):
                try:
                    key = (genre, marshal.dumps(applied))
                    if key != self._head_key:
                        text = dumps({"genre": genre, "appliedSettings": applied})
                        self._head_key, self._head_json = key, text
                except (TypeError, ValueError):
                    pass
                else:
                    values[1:] = array("d", nums)
                    values[0] = 1.0
                    return self._head_json
        values[0] = 0.0
        return self._dumps_result(res)

    def decode(self, text: str) -> dict[str, Any]:
        """The result (``to_json_safe`` form, without ``processedBuffer``) from what :meth:`run`
        returned and :attr:`values`: what the engine builds in JS, for tests and Python callers."""
        obj: dict[str, Any] = json.loads(text)
        if self.values[0] != 1.0:
            return obj
        isfinite = math.isfinite
        nums = dict(zip(_NUMERIC, self.values[1:], strict=True))
        metrics = {}
        for k in _METRIC_KEYS:
            v = obj["genre"] if k == "genre" else nums[k]
            metrics[k] = v if k == "genre" or isfinite(v) else None
        return {"metrics": metrics, "appliedSettings": obj["appliedSettings"]}

    def _process(self, session: MixerSession, config_json: str | None) -> dict[str, Any]:
        """Run ``session`` on :attr:`input`, write :attr:`output`; the result without samples."""
        x = self.read_input()
        if config_json is None:
            config = None
        elif config_json == self._config_json:
            config = self._config  # the same text as the last frame's: the same (unmodified) dict
        else:
            config = json.loads(config_json)
            self._config_json, self._config = config_json, config
        t0 = time.perf_counter()
        res: dict[str, Any] = session.process(x, config)
        ms = (time.perf_counter() - t0) * 1000.0
        self.frames += 1
        self.dsp_ms_total += ms
        self.dsp_ms_last = ms
        if ms > self.dsp_ms_max:
            self.dsp_ms_max = ms
        self.write_output(res.pop("processedBuffer"))
        return res

    def _dumps_result(self, res: dict[str, Any]) -> str:
        """``dumps(res)`` of ``{"metrics": dict, "appliedSettings": dict}``, reusing the JSON of
        the applied settings while they are exactly the last frame's (the same ``marshal``
        bytes: same keys, order, types and float bits), i.e. until the config changes.

        ``dumps`` of such a dict is ``{"metrics":`` + the JSON of the metrics with their
        non-finite floats as ``null`` + ``,"appliedSettings":`` + the same for the settings +
        ``}``; anything else (or a part that still holds ``Infinity``/``NaN``) takes ``dumps``.
        """
        metrics = res.get("metrics")
        applied = res.get("appliedSettings")
        if (
            len(res) != 2
            or type(metrics) is not dict
            or type(applied) is not dict
            or next(iter(res)) != "metrics"
        ):
            return dumps(res)
        try:
            key = marshal.dumps(applied)
            if key != self._settings_key:
                text = _encode(_finite_or_none(applied))
                if "Infinity" in text or "NaN" in text:
                    return dumps(res)
                self._settings_key, self._settings_json = key, text
            mtext = _encode(_finite_or_none(metrics))
        except (TypeError, ValueError):
            return dumps(res)
        if "Infinity" in mtext or "NaN" in mtext:
            return dumps(res)
        return '{"metrics":' + mtext + ',"appliedSettings":' + self._settings_json + "}"

    def stats(self) -> str:
        """``{"frames", "dspMsTotal", "dspMsMax"}`` as JSON."""
        return json.dumps(
            {"frames": self.frames, "dspMsTotal": self.dsp_ms_total, "dspMsMax": self.dsp_ms_max}
        )


class PlanarFrameIO(FrameIO):
    """:class:`FrameIO` over planar multichannel frames: :attr:`input` and :attr:`output` hold
    ``channels * frame_size`` floats, channel ``c`` at ``c * frame_size``; the session is a
    :class:`LinkedSession` (planar lists in, planar lists out)."""

    def __init__(self, frame_size: int = FRAME_SIZE, channels: int = 2) -> None:
        super().__init__(frame_size)
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
            raise ValueError(f"channels={channels!r} must be an int in [1, {MAX_CHANNELS}]")
        self.channels = channels
        self.input = array("f", bytes(4 * frame_size * channels))
        self.output = array("f", bytes(4 * frame_size * channels))
        # self._pack (FrameIO's, one channel) writes each channel at its offset

    def read_input(self) -> list[Any]:
        """The input buffer as one list of Python floats per channel (``list[float]`` each)."""
        n = self.frame_size
        x = self.input
        return [x[c * n : (c + 1) * n].tolist() for c in range(self.channels)]

    def write_output(self, samples: Any) -> None:
        """Round the planar block ``samples`` (one list per channel) to float32 into the output."""
        n = self.frame_size
        if len(samples) != self.channels or any(len(c) != n for c in samples):
            raise ValueError(f"processed block must be {self.channels} x {n} samples")
        for c, col in enumerate(samples):
            try:
                self._pack.pack_into(self.output, 4 * n * c, *col)
            except (OverflowError, struct.error):
                self.output[c * n : (c + 1) * n] = array("f", [float(v) for v in col])


class LinkedSession(MixerSession):
    """A :class:`~aimixer_dsp.mixer.MixerSession` over planar frames of ``channels`` channels on
    the pure path, linked as the file render links them (:class:`~aimixer_dsp.render.ChannelChain`).

    :meth:`process` takes one list of ``frame_size`` floats per channel and returns the processed
    block in the same form. The settings, the genre (the tracker hears the mean of the channels),
    the metrics and the errors are those of ``MixerSession.process`` on a ``(frames, channels)``
    array: ``peak``/``rms`` over every sample of the frame, loudness and true peak over the
    channels (BS.1770 weights 1.0). Nothing changes state on a bad frame or config.
    """

    def __init__(self, *, channels: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(channels, bool) or not isinstance(channels, int) or not 2 <= channels <= MAX_CHANNELS:
            raise ParameterError(
                "channels", channels, message=f"a linked session takes 2..{MAX_CHANNELS} channels"
            )
        self.linked = ChannelChain(None, channels, sample_rate=self.sample_rate)
        self.chain = self.linked.chain  # _configure applies the settings to it
        self._tps: list[TruePeakMeter] = []
        self._unmetered: list[list[list[float]]] = []  # defer_metering: output blocks not yet metered
        self._unmetered_n = 0

    def flush_deferred(self) -> bool:
        """Meter the output blocks queued by ``defer_metering`` now; ``True`` if there were any."""
        if not self._unmetered:
            return False
        meter = self._meters()
        blocks, self._unmetered, self._unmetered_n = self._unmetered, [], 0
        for cols in blocks:
            meter.push_planar(cols)
        return True

    def _meter_block(self, y: list[list[float]]) -> None:
        """Feed the loudness meter, or (``defer_metering``) queue a block that completes no
        100 ms sub-block: no reading depends on it until one is complete (see
        ``LoudnessMeter.defer_partial``), so the readings are exactly those of an immediate push."""
        meter = self._meters()
        n = len(y[0])
        if self.defer_metering:
            pos = (meter.samples_seen + self._unmetered_n) % meter._step
            if pos + n < meter._step:
                self._unmetered.append([c[:] for c in y])
                self._unmetered_n += n
                return
        self.flush_deferred()
        meter.push_planar(y)

    def reset(self) -> None:
        """Clear the chain (every channel's state), meters and tracker; keep the configuration."""
        super().reset()
        self.linked.reset()
        self._tps = []
        self._unmetered, self._unmetered_n = [], 0

    def _planar(self, cols: Any) -> list[list[float]]:
        k = self.linked.channels
        if not isinstance(cols, list | tuple) or len(cols) != k:
            raise InvalidBufferError(f"a linked session takes {k} channel lists", details={"expected": k})
        out: list[list[float]] = []
        for c in cols:
            col = c if type(c) is list else list(c)
            if self.strict_frames and len(col) != self.frame_size:
                raise InvalidBufferError(
                    f"audio buffer must be {self.frame_size} samples, got {len(col)}",
                    details={"expected": self.frame_size, "received": len(col)},
                )
            check_list_finite(col)
            out.append(col)
        if len({len(c) for c in out}) != 1:
            raise InvalidBufferError("every channel needs the same length")
        return out

    def prepare(self, config: dict[str, Any] | None = None, channels: int | None = None) -> None:
        """``MixerSession.prepare`` for this session's channel count (``channels`` is ignored)."""
        self._configure(config)
        self._meters()

    def _meters(self) -> LoudnessMeter:
        """The loudness meter over the channels and one true-peak meter per channel, made once."""
        if self._meter is None:
            k = self.linked.channels
            self._meter = LoudnessMeter(self.sample_rate, channels=k)
            self._channels = k
            self._tps = [TruePeakMeter(self.sample_rate) for _ in range(k)]
        return self._meter

    def process(
        self, samples: Any, config: dict[str, Any] | None = None, *, metrics: bool = True
    ) -> dict[str, Any]:
        """Process one planar block; ``{processedBuffer: [list per channel], metrics,
        appliedSettings}`` (see ``MixerSession.process``)."""
        t0 = time.perf_counter()
        cols = self._planar(samples)
        genre, confidence = self._configure(config)
        linked = self.linked
        linked.follow_settings()
        y = linked.run(cols)
        tracker = self.genre_tracker
        if tracker is not None and type(tracker) is not NullGenreTracker:
            k = len(cols)
            if k == 2:
                mono = [(a + b) / 2 for a, b in zip(cols[0], cols[1], strict=True)]
            else:
                mono = [sum(t) / k for t in zip(*cols, strict=True)]
            tracker.push(mono)
        self._meter_block(y)
        n = len(y[0])
        peak = 0.0
        ss = 0.0
        tp_last = 0.0
        for col, tp in zip(y, self._tps, strict=True):
            p = max(max(col), -min(col)) if col else 0.0
            if p > peak:
                peak = p
            ss += _sum_squares(col)
            if col:
                v = tp.push_checked(col)
                if v > tp_last:
                    tp_last = v
        self.frames += 1
        if not metrics:
            return {"processedBuffer": y, "metrics": None, "appliedSettings": None}
        count = n * len(y)
        meter = self._meters()
        out = {
            "peak": 20.0 * math.log10(peak) if peak > 0.0 else -math.inf,
            "rms": 10.0 * math.log10(ss / count) if count and ss > 0.0 else -math.inf,
            "lufs": meter.integrated,
            "momentaryLufs": meter.momentary,
            "shortTermLufs": meter.short_term,
            "genre": genre,
            "confidence": confidence,
            "processingTime": 0.0,
            "latencySamples": self.chain.latency_samples,
            "truePeak": lin_to_dbtp(tp_last),
            "truePeakMax": lin_to_dbtp(max(tp.true_peak_linear for tp in self._tps)),
        }
        applied = self.chain.settings()
        out["processingTime"] = (time.perf_counter() - t0) * 1000.0
        return {"processedBuffer": y, "metrics": out, "appliedSettings": applied}


def gain_reduction(session: MixerSession) -> list[float]:
    """``[gate, compressor, limiter]`` gain reduction in dB (>= 0) after the session's last
    sample, read from the stages' state (0 for a disabled stage or a bypassed chain): the gate's
    smoothed gain, the compressor's smoothed reduction, the limiter's release stage. For the
    live meters (read when metrics are posted, not per frame)."""
    from .processors import Compressor, Limiter, NoiseGate

    chain = session.chain
    out = [0.0, 0.0, 0.0]
    if chain.bypass or not chain.enabled:
        return out
    for p in chain:
        if not p.enabled:
            continue
        if type(p) is NoiseGate:
            g = p._g
            out[0] = -20.0 * math.log10(g) if 0.0 < g < 1.0 else (0.0 if g >= 1.0 else 120.0)
        elif type(p) is Compressor:
            out[1] = max(0.0, float(p._g))
        elif type(p) is Limiter:
            u = p._u
            out[2] = -20.0 * math.log10(1.0 - u) if 0.0 < u < 1.0 else (0.0 if u <= 0.0 else 120.0)
    return out
