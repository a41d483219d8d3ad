"""Whole files: render (the chain over every channel, linked) and analyse, block by block.

The SDK's ``processFile`` / ``analyzeFile`` run this module in the browser's worker (Pyodide,
pure Python) and :func:`render` runs it on CPython; the result equals ``aimixer process`` with
the same settings (same chain, linked detection over channels, limiter latency compensated so
the output has the input's length and alignment).

Rendering, per :class:`FileJob`:

1. ``config.genre == "auto"``: the file's mono mix (mean over channels, 48 kHz) is classified
   as the CLI classifies a file: analysis rows every 100 ms (:func:`aimixer_dsp.genre.frame_rows`),
   3 s windows every 1 s (:func:`aimixer_dsp.genre.window_starts`), the model on every window,
   the mean of the window probabilities picks the preset (:func:`aimixer_dsp.genre.verdict`).
2. Pass 1: ``resolve_settings(config, genre)`` -> :class:`ChannelChain` over the file.
3. Loudness target (optional; a name of :data:`LOUDNESS_TARGETS` or a number in
   :data:`TARGET_RANGE` LUFS, with a true-peak ceiling in the limiter's range): pass 1 is also
   the analysis pass of :mod:`aimixer_dsp.loudnorm` (its output feeds a
   :class:`~aimixer_dsp.loudnorm.NormalizationAnalysis`); pass 2 runs pass 1's output through
   :class:`~aimixer_dsp.loudnorm.Normalizer` — the gain solved for by the analysis (the limiter's
   loudness loss predicted) and the true-peak limiter at the ceiling — as ``aimixer process
   --target`` does. A ceiling without a target is a pass at 0 dB gain through that limiter.

Input and output are metered as ``aimixer analyze`` does (peak, RMS, integrated loudness,
LRA, maximum momentary and short-term loudness); the analysis also keeps the momentary and
short-term loudness every 100 ms (the curve drawn over the waveform).

Bounds (hostile input): 1..:data:`MAX_CHANNELS` channels, at most :data:`MAX_SECONDS` of audio,
blocks of 1..:data:`MAX_BLOCK` samples; everything is validated before any work.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable
from operator import mul, truediv
from typing import Any

from . import SAMPLE_RATE
from .backend import KERNEL_MIN, check_list_finite, kernel
from .errors import InvalidBufferError, InvalidSampleRateError, NonFiniteInputError, ParameterError
from .genre import HOP, SEG, _segment_row, aggregate_rows, file_verdict, segment_rows_native, window_starts
from .loudnorm import NormalizationAnalysis, Normalizer
from .meters import LoudnessMeter, _sum_squares
from .presets import LOUDNESS_TARGETS, SCHEMA, TARGET_RANGE, build_chain, resolve_settings, validate_config
from .processors import Compressor, Equalizer, Gain, Limiter, NoiseGate
from .processors.base import check_sample_rate, planar, planar_frames, unplanar
from .processors.chain import _fused_compressor_eq

__all__ = [
    "LOUDNESS_TARGETS",
    "TARGET_RANGE",
    "MAX_CHANNELS",
    "MAX_SECONDS",
    "resolve_target",
    "ChannelChain",
    "FileMeter",
    "GenreAnalysis",
    "FileJob",
    "render",
]

MAX_CHANNELS = 8
MAX_SECONDS = 3600
MAX_BLOCK = 1 << 20
BLOCK = 1 << 15


def _number(name: str, value: Any, rng: tuple) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(
            name, value, rng, message=f"{name}={value!r} must be a number in [{rng[0]:g}, {rng[1]:g}]"
        )
    if not math.isfinite(value) or not rng[0] <= value <= rng[1]:
        raise ParameterError(name, value, rng)
    return float(value)


def resolve_target(target: Any = None, true_peak: Any = None) -> tuple:
    """``(name, lufs, ceiling_db)`` of a loudness target, or ``(None, None, None)`` for none.

    ``target``: ``None``, a name of :data:`LOUDNESS_TARGETS` or LUFS in :data:`TARGET_RANGE`.
    ``true_peak``: the ceiling in dB (the limiter's range); default the named target's, else -1.
    A ceiling without a target is a pass at 0 dB gain through the limiter at that ceiling.
    """
    name = None
    lufs = None
    ceiling = None
    if isinstance(target, str):
        if target not in LOUDNESS_TARGETS:
            raise ParameterError("targetLufs", target, tuple(LOUDNESS_TARGETS))
        name = target
        lufs, ceiling = LOUDNESS_TARGETS[target]
    elif target is not None:
        lufs = _number("targetLufs", target, TARGET_RANGE)
        name = "custom"
    if true_peak is not None:
        ceiling = _number("truePeak", true_peak, SCHEMA["limiter"]["ceiling"])
    elif lufs is not None and ceiling is None:
        ceiling = -1.0
    if lufs is None and ceiling is None:
        return None, None, None
    return name, lufs, ceiling


def _linked(cols: list) -> list:
    """``max_c |x_c[n]|`` of planar channel lists (the detector input of linked stages)."""
    if len(cols) == 2:
        return list(map(max, map(abs, cols[0]), map(abs, cols[1])))
    return [max(map(abs, t)) for t in zip(*cols, strict=True)]


def _ratio(y: list, m: list) -> list:
    """Per-sample gain ``y[n] / m[n]`` (0 where the level is 0: every channel is 0 there)."""
    try:
        return list(map(truediv, y, m))  # C-level; a block without digital silence
    except ZeroDivisionError:
        return [a / b if b else 0.0 for a, b in zip(y, m, strict=True)]


def _frames(block: array, channels: int, start: int, stop: int) -> array:
    """Frames ``[start, stop)`` of every channel of a planar block (slices: memcpy)."""
    n = len(block) // channels
    if start == 0 and stop >= n:
        return block
    out = array("d")
    for c in range(channels):
        out += block[c * n + start : c * n + min(stop, n)]
    return out


#: the kernels the array path of each chain stage needs (mono adds ``peaks``, see
#: :meth:`ChannelChain.native`)
_STAGE_KERNELS: dict[type, tuple[str, ...]] = {
    Gain: ("scale",),
    NoiseGate: ("gate",),
    Compressor: ("compressor", "scale"),
    Equalizer: ("eqblock",),
    Limiter: ("limiter",),
}


class ChannelChain:
    """A :func:`~aimixer_dsp.presets.build_chain` chain over planar channel lists (pure path).

    One channel runs the chain itself. Several channels are linked as on the NumPy path (and in
    ``aimixer process``): the gate, compressor and limiter run on ``max_c |x_c|`` and their gain
    (output / level, per sample) is applied to every channel; gain and EQ run per channel.
    :meth:`process` drops the limiter's look-ahead from the start and :meth:`finish` returns
    the tail, so the output has the input's length and alignment.

    :meth:`process` also takes a planar ``array('d')`` block (``channels * n`` floats, channel
    ``c`` at ``[c n, (c + 1) n)``) and returns one: with the kernels installed (the browser) and
    at least ``KERNEL_MIN`` frames every stage runs natively on it (:meth:`native`), with the
    same kernels and arguments as the list path, so the output is bit-identical to the list
    path's; otherwise the block goes through the list path (the reference). The state is the
    same either way, so the two paths may alternate from block to block.
    """

    def __init__(self, settings: dict | None, channels: int, sample_rate: int = SAMPLE_RATE) -> None:
        self.chain = build_chain(settings, sample_rate=sample_rate)
        self.channels = channels
        self.latency = int(self.chain.latency_samples)
        eq = self.chain.find(Equalizer)
        self._eqs = [
            Equalizer(eq.low_db, eq.mid_db, eq.high_db, sample_rate=sample_rate, enabled=eq.enabled)
            for _ in range(channels - 1)
        ]
        lim = self.chain.find(Limiter)
        self._dl = [[0.0] * lim.latency_samples for _ in range(channels)]
        self._dm = [0.0] * lim.latency_samples  # the linked level's delay line (= that of _dl)
        self._drop = self.latency
        self.seen = 0
        self.written = 0

    def _run(self, cols: list) -> list:
        chain = self.chain
        if len(cols) == 1:
            return [chain.process_validated(cols[0])]
        if chain.bypass or not chain.enabled:
            return cols
        # The linked level m = max_c |x_c| is carried through the stages that scale every channel
        # by the same non-negative gain g: max_c |fl(x_c g)| = fl(m g) exactly (rounding is
        # monotonic and sign-symmetric), so m is recomputed only after the EQ.
        m = None
        for p in chain:
            if not p.enabled:
                continue
            t = type(p)
            if t is Gain:
                g = p._g
                if g != 1.0:
                    scale = g.__mul__
                    cols = [list(map(scale, c)) for c in cols]
                    if m is not None:
                        m = list(map(scale, m))
            elif t is Equalizer:
                cols = [p._run_py(cols[0])] + [e._run_py(c) for e, c in zip(self._eqs, cols[1:], strict=True)]
                m = None
            elif t is Limiter:
                y = p.linked_kernel(cols, self._dl)  # natively, delays included (or None)
                if y is not None:
                    cols = y
                    self._dm = _linked(self._dl)
                    m = None
                    continue
                if m is None:
                    m = _linked(cols)
                n = len(cols[0])
                delayed = [d + c for d, c in zip(self._dl, cols, strict=True)]
                self._dl = [d[n:] for d in delayed]
                delayed = [d[:n] for d in delayed]
                dm = self._dm + m
                self._dm = dm[n:]
                y = p._run_py(m)
                gains = _ratio(y, dm[:n])
                cols = [list(map(mul, d, gains)) for d in delayed]
                m = None
            else:  # gate, compressor: a gain computed from the linked level
                y = p.linked_kernel(cols)  # natively (or None)
                if y is not None:
                    cols = y
                    m = None
                    continue
                if m is None:
                    m = _linked(cols)
                y = p._run_py(m)
                if y is not m:
                    gains = _ratio(y, m)
                    cols = [list(map(mul, c, gains)) for c in cols]
                    m = list(map(mul, m, gains))
        return cols

    def run(self, cols: list) -> list:
        """One planar block through the linked chain, delayed by the chain's latency like the
        mono chain (no compensation: a live stream reports the latency instead). The caller
        checked the samples (finite floats, equal lengths). Call :meth:`follow_settings` first
        when the chain's settings may have changed since the last block."""
        return self._run(cols)

    def follow_settings(self) -> None:
        """Bring the per-channel parts up to the chain's current settings (a stream whose
        settings change between blocks): the EQ copies of channels 2.. take the EQ's gains and
        switch, and a changed limiter look-ahead restarts the delay lines (the limiter resets its
        own state on that change too)."""
        eq = self.chain.find(Equalizer)
        for e in self._eqs:
            if e.low_db != eq.low_db:
                e.low_db = eq.low_db
            if e.mid_db != eq.mid_db:
                e.mid_db = eq.mid_db
            if e.high_db != eq.high_db:
                e.high_db = eq.high_db
            if e.enabled != eq.enabled:
                e.enabled = eq.enabled
        n = self.chain.find(Limiter).latency_samples
        if len(self._dm) != n:
            self._dl = [[0.0] * n for _ in range(self.channels)]
            self._dm = [0.0] * n

    def reset(self) -> None:
        """Forget the audio: the chain's state, the EQ copies' and the delay lines (a stream's
        reset; the settings are kept)."""
        self.chain.reset()
        for e in self._eqs:
            e.reset()
        n = self.chain.find(Limiter).latency_samples
        self._dl = [[0.0] * n for _ in range(self.channels)]
        self._dm = [0.0] * n
        self._drop = self.latency = int(self.chain.latency_samples)
        self.seen = 0
        self.written = 0

    def native(self, n: int) -> bool:
        """Whether a planar block of ``n`` frames runs natively: at least ``KERNEL_MIN`` frames
        and the kernel of every enabled stage installed (no true-peak limiter)."""
        if n < KERNEL_MIN:
            return False
        need = {"peaks"} if self.channels == 1 else set()
        for p in self.chain:
            if not p.enabled:
                continue
            names = _STAGE_KERNELS.get(type(p))
            if names is None or (type(p) is Limiter and p.true_peak):
                return False
            need.update(names)
        return all(kernel(k) is not None for k in need)

    def _run_block(self, block: array, n: int) -> array:
        """:meth:`_run` on a planar ``array('d')`` block of ``n`` frames (a new block or
        ``block`` itself; ``block`` is not changed)."""
        chain = self.chain
        if chain.bypass or not chain.enabled:
            return block
        ch = self.channels
        if not self.native(n):
            return planar((), self._run(unplanar(block, ch, 0)))
        src = block
        procs = list(chain)
        if ch == 1:  # as Chain._run_py (the mono list path): a compressor fuses with the EQ after it
            chain._check_channels(1)
        i = 0
        while i < len(procs):
            p = procs[i]
            i += 1
            if not p.enabled:
                continue
            t = type(p)
            if ch == 1 and t is Compressor and i < len(procs) and type(procs[i]) is Equalizer:
                y = _fused_compressor_eq(p, procs[i], block)  # type: ignore[arg-type]
                if y is not None:
                    block = y
                    i += 1
                    continue
            if t is Gain:
                if p._g != 1.0:
                    block = block[:] if block is src else block
                    kernel("scale")(block, p._g)  # type: ignore[misc]
            elif t is Equalizer:
                block = block[:] if block is src else block
                for c, e in enumerate([p, *self._eqs]):
                    e.run_block_at(block, c * n, n)
            elif t is Limiter:
                block = p.run_block(block, ch, self._dl)
                if ch > 1:
                    self._dm = _linked(self._dl)
            else:  # gate, compressor
                block = p.run_block(block, ch)  # type: ignore[attr-defined]
        return block

    def _emit(self, cols: list) -> list:
        if self._drop:
            cut = min(self._drop, len(cols[0]))
            cols = [c[cut:] for c in cols]
            self._drop -= cut
        self.written += len(cols[0])
        return cols

    def _emit_block(self, block: array) -> array:
        n = len(block) // self.channels
        if self._drop:
            cut = min(self._drop, n)
            block = _frames(block, self.channels, cut, n)
            self._drop -= cut
            n -= cut
        self.written += n
        return block

    def process(self, cols: Any) -> Any:
        """Planar block (finite floats, equal lengths: channel lists or one planar
        ``array('d')``) in; the compensated output so far out (of the same kind)."""
        if isinstance(cols, array):
            n = planar_frames(cols, self.channels)
            if not n:
                return cols
            self.seen += n
            return self._emit_block(self._run_block(cols, n))
        if not cols[0]:
            return cols
        self.seen += len(cols[0])
        return self._emit(self._run(cols))

    def finish(self, as_block: bool = False) -> Any:
        """The rest of the output (the limiter's look-ahead tail), cut to the input's length:
        channel lists, or a planar ``array('d')`` with ``as_block``."""
        ch = self.channels
        if not self.latency or not self.seen:
            return array("d") if as_block else [[] for _ in range(ch)]
        need = self.seen - self.written + self._drop
        if as_block:
            tail = self._run_block(array("d", bytes(8 * ch * self.latency)), self.latency)
            return self._emit_block(_frames(tail, ch, 0, need))
        tail = self._run([[0.0] * self.latency for _ in range(ch)])
        return self._emit([c[:need] for c in tail])


class NormalizePass:
    """:class:`~aimixer_dsp.loudnorm.Normalizer` over planar blocks with its latency
    compensated (the output has the input's length and alignment), like :class:`ChannelChain`."""

    def __init__(self, gain_db: float, ceiling_db: float, channels: int, sample_rate: int) -> None:
        self.normalizer = Normalizer(gain_db, ceiling_db, sample_rate, channels)
        self.channels = channels
        self.latency = self.normalizer.latency_samples
        self._drop = self.latency
        self.seen = 0
        self.written = 0

    _emit = ChannelChain._emit
    _emit_block = ChannelChain._emit_block

    def process(self, cols: Any) -> Any:
        """Channel lists or a planar ``array('d')`` block in; the same kind out."""
        if isinstance(cols, array):
            n = planar_frames(cols, self.channels)
            if not n:
                return cols
            self.seen += n
            return self._emit_block(self.normalizer.process(cols))
        if not cols[0]:
            return cols
        self.seen += len(cols[0])
        return self._emit(self.normalizer.process(cols))

    def finish(self, as_block: bool = False) -> Any:
        ch = self.channels
        if not self.latency or not self.seen:
            return array("d") if as_block else [[] for _ in range(ch)]
        need = self.seen - self.written + self._drop
        if as_block:
            zeros = array("d", bytes(8 * ch * self.latency))
            tail = self.normalizer.process(zeros)
            return self._emit_block(_frames(tail, ch, 0, need))
        tail = self.normalizer.process([[0.0] * self.latency for _ in range(ch)])
        return self._emit([c[:need] for c in tail])


class FileMeter:
    """Peak, RMS and loudness of planar blocks, as ``aimixer analyze`` reports them; with
    ``curve`` also the momentary and short-term loudness every 100 ms."""

    def __init__(self, sample_rate: int, channels: int, *, curve: bool = False) -> None:
        self.meter = LoudnessMeter(sample_rate, channels=channels, exact_max=True)
        self.sample_rate = sample_rate
        self.channels = channels
        self.peak = 0.0
        self.sumsq = 0.0
        self.frames = 0
        self.curve: list | None = [] if curve else None
        self._step = self.meter._step

    def push(self, cols: list | array) -> None:
        """Meter one planar block: channel lists, or one ``array('d')`` (channel ``c`` at
        ``[c n, (c + 1) n)``), metered natively when the ``meter`` kernel is installed (the same
        numbers bit for bit, see :meth:`~aimixer_dsp.meters.LoudnessMeter.push_block_stats`) and
        else through its lists."""
        if isinstance(cols, array):
            planar_frames(cols, self.channels, doubles=False)
            stats = self.meter.push_block_stats(cols, split=self.curve is not None, on_step=self._curve_point)
            if stats is None:
                cols = unplanar(cols, self.channels, 0)
            else:
                ch = self.channels
                for c in range(ch):
                    if stats[c] > self.peak:
                        self.peak = stats[c]
                    self.sumsq += stats[ch + c]
                self.frames += len(cols) // ch
                return
        n = len(cols[0])
        if not n:
            return
        for c in cols:
            p = max(max(c), -min(c))
            if p > self.peak:
                self.peak = p
            self.sumsq += _sum_squares(c)
        if self.curve is None:
            self.meter.push_planar(cols)
        else:
            start = 0
            while start < n:
                stop = min(n, start + self._step - (self.frames + start) % self._step)
                self.meter.push_planar([c[start:stop] for c in cols] if (start or stop < n) else cols)
                if (self.frames + stop) % self._step == 0:
                    self._curve_point()
                start = stop
        self.frames += n

    def _curve_point(self) -> None:
        if self.curve is not None:
            self.curve.append((self.meter.momentary, self.meter.short_term))

    def summary(self) -> dict:
        count = self.frames * self.channels
        ms = self.sumsq / count if count else 0.0
        m = self.meter
        return {
            "peak": 20.0 * math.log10(self.peak) if self.peak > 0.0 else -math.inf,
            "rms": 10.0 * math.log10(ms) if ms > 0.0 else -math.inf,
            "lufs": m.integrated,
            "momentaryMax": m.momentary_max,
            "shortTermMax": m.short_term_max,
            "lra": m.loudness_range,
        }


class GenreAnalysis:
    """The file's analysis rows (those of :func:`~aimixer_dsp.genre.frame_rows` of the mono mix), fed
    block by block; then the window vectors for the model and the verdict + timeline."""

    def __init__(self, channels: int, sample_rate: int) -> None:
        if sample_rate != SAMPLE_RATE:
            raise InvalidSampleRateError(
                f"genre analysis needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz; resample first",
                details={"sampleRate": sample_rate, "expected": SAMPLE_RATE},
            )
        self.channels = channels
        self.rows: list = []
        self._buf: list | array = []  # mono samples from row len(rows) * HOP on
        self._skip = 0
        self.frames = 0
        self._starts: list = []
        self._win = 0

    def push(self, cols: list | array) -> None:
        """Feed one planar block: channel lists, or one ``array('d')`` (channel ``c`` at
        ``[c n, (c + 1) n)``), mixed and analysed natively when the ``mono`` and ``genrerows``
        kernels are installed (the same rows bit for bit, see
        :func:`~aimixer_dsp.genre.segment_rows_native`) and else through its lists."""
        if isinstance(cols, array):
            k = self.channels
            planar_frames(cols, k, doubles=False)
            rows = kernel("genrerows")
            mix = kernel("mono")
            if rows is not None and (k == 1 or mix is not None) and cols.typecode == "d":
                self._push_array(cols, k, mix, rows)
                return
            cols = unplanar(cols, k, 0)
        if isinstance(self._buf, array):
            self._buf = self._buf.tolist()
        k = len(cols)
        mono = cols[0] if k == 1 else [sum(t) / k for t in zip(*cols, strict=True)]
        self.frames += len(mono)
        if self._skip:  # samples between the last row's segment and the next row's start
            cut = min(self._skip, len(mono))
            mono = mono[cut:]
            self._skip -= cut
        buf = self._buf + mono
        count = (len(buf) - SEG) // HOP + 1 if len(buf) >= SEG else 0
        if count > 0:
            self.rows.extend(_segment_row(buf[t * HOP : t * HOP + SEG]) for t in range(count))
            self._skip = max(0, count * HOP - len(buf))
            buf = buf[count * HOP :]
        self._buf = buf

    def _push_array(self, block: array, k: int, mix: Callable | None, rows: Callable) -> None:
        n = len(block) // k
        mono = block
        if k > 1:
            mono = array("d", [0.0]) * n
            mix(block, k, mono)
        self.frames += n
        if self._skip:
            cut = min(self._skip, n)
            mono = mono[cut:]
            self._skip -= cut
        buf = self._buf if isinstance(self._buf, array) else array("d", self._buf)
        buf = buf + mono
        count = (len(buf) - SEG) // HOP + 1 if len(buf) >= SEG else 0
        if count > 0:
            self.rows.extend(segment_rows_native(rows, buf, count))
            self._skip = max(0, count * HOP - len(buf))
            buf = buf[count * HOP :]
        self._buf = buf

    def vectors(self) -> list:
        """The model inputs, one per window (raises for audio shorter than ``HOP + SEG``)."""
        if self.frames < HOP + SEG:
            raise InvalidBufferError(
                f"audio is too short to classify: {self.frames / SAMPLE_RATE:.3f} s, "
                f"need at least {(HOP + SEG) / SAMPLE_RATE:.3f} s",
                details={"frames": self.frames, "min": HOP + SEG},
            )
        self._starts, self._win = window_starts(len(self.rows))
        return [aggregate_rows(self.rows[s : s + self._win]) for s in self._starts]

    def result(self, probabilities: list, version: str) -> dict:
        """Verdict (mean of the windows' probabilities) and the timeline, as ``aimixer classify``."""
        if len(probabilities) != len(self._starts) or not probabilities:
            raise ParameterError(
                "probabilities",
                len(probabilities),
                message=f"need {len(self._starts)} windows' probabilities",
            )
        duration = self.frames / SAMPLE_RATE
        timeline = []
        for s, p in zip(self._starts, probabilities, strict=True):
            top = max(sorted(p), key=lambda g: p[g])
            start = s * HOP / SAMPLE_RATE
            timeline.append(
                {
                    "start": round(start, 3),
                    "end": round(min(duration, start + 3.0), 3),
                    "genre": top,
                    "confidence": p[top],
                    "probabilities": dict(p),
                }
            )
        classes = list(probabilities[0])
        mean = {c: math.fsum(p[c] for p in probabilities) / len(probabilities) for c in classes}
        out = file_verdict(mean, version)
        out["timeline"] = timeline
        out["duration"] = round(duration, 3)
        out["voiceActivity"] = None  # webrtcvad is not available in the browser
        return out


def _check_shape(channels: Any, sample_rate: Any, frames: Any) -> tuple:
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
        raise InvalidBufferError(
            f"channels={channels!r}: a file needs 1..{MAX_CHANNELS} channels", details={"channels": channels}
        )
    sr = check_sample_rate(sample_rate)
    if isinstance(frames, bool) or not isinstance(frames, int) or not 0 <= frames <= MAX_SECONDS * sr:
        raise InvalidBufferError(
            f"frames={frames!r}: at most {MAX_SECONDS} s of audio ({MAX_SECONDS * sr} frames)",
            details={"frames": frames, "max": MAX_SECONDS * sr},
        )
    return channels, sr, frames


class FileJob:
    """One file's render or analysis, driven block by block (the worker's loop; :func:`render`
    is the same loop for CPython).

    Samples cross in two planar ``array('d')`` buffers (``inp``, ``out``: ``channels * block``
    floats, channel ``c`` at ``c * block``): the caller writes ``n`` frames per channel into
    ``inp`` and calls :meth:`analyse` / :meth:`render`, which write their output into ``out``
    and return how many frames per channel they wrote (the worker copies float32 in and out).
    These move planar blocks (``channels * n`` floats) from stage to stage: copies by slices,
    the finite-sample check and the chain natively (the ``finite`` kernel and
    :meth:`ChannelChain.native`), so no sample becomes a Python float when the kernels are
    installed; without them each stage goes through channel lists. ``render_cols`` /
    ``analyse_cols`` / ``finish_cols`` are the list path (:func:`render`, CPython).
    """

    def __init__(
        self,
        channels: int,
        sample_rate: int,
        frames: int,
        config: Any = None,
        *,
        target: Any = None,
        true_peak: Any = None,
        block: int = BLOCK,
        curve: bool = False,
    ) -> None:
        self.channels, self.sample_rate, self.frames = _check_shape(channels, sample_rate, frames)
        if isinstance(config, str):
            if len(config) > 65536:
                raise ParameterError(
                    "config", len(config), message="config JSON longer than 65536 characters"
                )
            config = json.loads(config)
        validate_config(config)
        self.config = dict(config or {})
        self.target_name, self.target_lufs, self.ceiling = resolve_target(target, true_peak)
        if isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= MAX_BLOCK:
            raise ParameterError("block", block, (1, MAX_BLOCK))
        self.block = block
        size = channels * block
        self.inp = array("d", bytes(8 * size))
        self.out = array("d", bytes(8 * size))
        self.wants_genre = self.config.get("genre") == "auto"
        self.genre: str | None = None
        self.confidence: float | None = None
        self.classification: dict | None = None
        self.analysis = GenreAnalysis(channels, self.sample_rate) if self.wants_genre else None
        self.input_meter = FileMeter(self.sample_rate, channels, curve=curve)
        self.output_meter: FileMeter | None = None
        self.settings: dict | None = None
        self.passes: list = []
        self._chain: ChannelChain | NormalizePass | None = None
        self.target_gain: float | None = None
        self.normalization: NormalizationAnalysis | None = None
        self.measured_lufs: float | None = None
        self.predicted_lufs: float | None = None
        self._tail: array | None = None  # the pass's tail not yet handed out by finish()

    # -- analysis -----------------------------------------------------------------------
    def _read(self, n: int) -> array:
        """The first ``n`` frames of every channel of ``inp`` as a planar block, checked finite."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= self.block:
            raise InvalidBufferError(f"block of {n!r} frames; the job's block is {self.block}")
        block = _frames(self.inp, self.channels, 0, n)
        if block is self.inp:
            block = block[:]  # the caller writes the next block into inp
        fin = kernel("finite")
        if fin is None:
            for c in unplanar(block, self.channels, 0):
                check_list_finite(c)
        elif n:
            i = int(fin(block))
            if i >= 0:
                raise NonFiniteInputError(index=i % n)
        return block

    def _write(self, block: array) -> int:
        """A planar block's frames (at most ``block``) into ``out`` (channel ``c`` at ``c * block``)."""
        b = self.block
        k = len(block) // self.channels
        if not k:  # (assigning an empty slice would count as resizing the exported buffer)
            return 0
        if k == b:
            self.out[:] = block
        else:
            for c in range(self.channels):
                self.out[c * b : c * b + k] = block[c * k : (c + 1) * k]
        return k

    def analyse(self, n: int) -> None:
        """Meter ``n`` input frames of ``inp`` (and collect the genre rows when needed)."""
        block = self._read(n)
        if not n:
            return
        self.input_meter.push(block)
        if self.analysis is not None:
            self.analysis.push(block)

    def analyse_cols(self, cols: list) -> None:
        self.input_meter.push(cols)
        if self.analysis is not None:
            self.analysis.push(cols)

    def genre_vectors(self) -> list:
        """The model inputs of the file's windows (genre ``auto``); ``[]`` otherwise."""
        return self.analysis.vectors() if self.analysis is not None else []

    def set_genre(self, probabilities: list, version: str) -> dict:
        """Apply the model's window probabilities: the verdict picks the preset."""
        if self.analysis is None:
            raise ParameterError("genre", None, message="the job's config has no genre 'auto'")
        self.classification = self.analysis.result(list(probabilities), str(version))
        self.genre = self.classification["genre"]
        self.confidence = float(self.classification["confidence"])
        return self.classification

    # -- rendering ------------------------------------------------------------------------
    @property
    def pass_count(self) -> int:
        """1, or 2 with a loudness target / ceiling."""
        return 2 if self.ceiling is not None else 1

    def begin(self, index: int) -> None:
        """Start pass ``index`` (0: the mix; 1: the loudness pass, after pass 0 finished)."""
        if index == 0:
            if self.wants_genre and self.genre is None:
                raise ParameterError("genre", "auto", message="genre 'auto': call set_genre() first")
            cfg = {k: v for k, v in self.config.items() if k != "genre"}
            self.settings = resolve_settings(
                cfg, self.genre if self.wants_genre else self.config.get("genre")
            )
            settings = self.settings
            self._chain = ChannelChain(settings, self.channels, self.sample_rate)
            if self.target_lufs is not None:
                self.normalization = NormalizationAnalysis(self.sample_rate, self.channels)
        elif index == 1 and self.ceiling is not None and len(self.passes) == 1:
            gain = 0.0
            if self.normalization is not None and self.target_lufs is not None:
                g, measured, predicted = self.normalization.gain_for(self.target_lufs, self.ceiling)
                self.measured_lufs = measured
                if math.isfinite(g):
                    gain, self.predicted_lufs = g, predicted
            self.normalization = None  # its chunk statistics are not needed any more
            self.target_gain = gain
            self._chain = NormalizePass(gain, self.ceiling, self.channels, self.sample_rate)
        else:
            raise ParameterError("pass", index, message=f"pass {index!r} is not available now")
        # the report's output is the last pass's: a mix pass followed by a loudness pass is not metered
        last = index + 1 == self.pass_count
        self.output_meter = FileMeter(self.sample_rate, self.channels) if last else None
        self.passes.append({"latencySamples": self._chain.latency})
        self._tail = None

    def render(self, n: int) -> int:
        """Process ``n`` frames of ``inp`` (pass 0 also meters them); writes ``out``."""
        if self._chain is None:
            raise ParameterError("pass", None, message="call begin() first")
        block = self._read(n)
        if not n:
            return 0
        if len(self.passes) == 1 and self.input_meter.frames < self.frames:
            self.input_meter.push(block)  # not metered before
        return self._write(self._push_out(self._chain.process(block)))

    def _push_out(self, block: array) -> array:
        """A pass's output block to the output meter and the loudness analysis (if any)."""
        if len(block):
            for stage in (self.output_meter, self.normalization):
                if stage is not None:
                    stage.push(block)
        return block

    def render_cols(self, cols: list) -> list:
        if self._chain is None:
            raise ParameterError("pass", None, message="call begin() first")
        if len(self.passes) == 1 and self.input_meter.frames < self.frames:
            self.input_meter.push(cols)  # not metered by an analysis phase before
        out = self._chain.process(cols)
        if out[0]:
            if self.output_meter is not None:
                self.output_meter.push(out)
            if self.normalization is not None:
                self.normalization.push(out)
        return out

    def finish(self) -> int:
        """End the pass: the look-ahead tail goes to ``out``, at most ``block`` frames per call;
        returns their count (call again until it returns 0: a tail longer than the block)."""
        if self._chain is None:
            raise ParameterError("pass", None, message="call begin() first")
        if self._tail is None:
            self._tail = self._push_out(self._chain.finish(as_block=True))
        ch = self.channels
        k = len(self._tail) // ch
        m = min(k, self.block)
        self._write(_frames(self._tail, ch, 0, m))
        self._tail = _frames(self._tail, ch, m, k)
        return m

    def finish_cols(self) -> list:
        out = self._chain.finish()
        if out[0]:
            if self.output_meter is not None:
                self.output_meter.push(out)
            if self.normalization is not None:
                self.normalization.push(out)
        return out

    def report(self) -> dict:
        """``aimixer process --json``'s object plus ``target``, ``classification`` and the input's
        loudness curve (when asked for); non-finite values are ``None``."""
        from .mixer import to_json_safe

        out = {
            "input": self.input_meter.summary(),
            "output": self.output_meter.summary() if self.output_meter else None,
            "appliedSettings": self.settings,
            "genre": self.genre if self.wants_genre else self.config.get("genre"),
            "latencySamples": self.passes[0]["latencySamples"] if self.passes else None,
            "sampleRate": self.sample_rate,
            "channels": self.channels,
            "duration": self.frames / self.sample_rate,
        }
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if self.classification is not None:
            out["classification"] = self.classification
        if self.ceiling is not None:
            out["target"] = {
                "name": self.target_name,
                "lufs": self.target_lufs,
                "ceiling": self.ceiling,
                "gainDb": self.target_gain,
                "measuredLufs": self.measured_lufs,
                "predictedLufs": self.predicted_lufs,
                "truePeakLimiter": True,
            }
        if self.input_meter.curve is not None:
            out["curve"] = {"step": 0.1, "momentary": [m for m, _ in self.input_meter.curve],
                            "shortTerm": [s for _, s in self.input_meter.curve]}  # fmt: skip
        return to_json_safe(out)

    def report_json(self) -> str:
        return json.dumps(self.report(), separators=(",", ":"))


def render(
    channels: list,
    sample_rate: int,
    config: dict | None = None,
    *,
    target: Any = None,
    true_peak: Any = None,
    predict: Callable[[list], dict] | None = None,
    model_version: str = "unknown",
    block: int = BLOCK,
) -> tuple:
    """Render planar channels (lists of floats) through the chain; returns ``(channels, report)``.

    ``predict(vector) -> {genre: probability}`` is the genre model, needed for ``genre: "auto"``.
    The same steps as the browser's worker, on lists (the pure path).
    """
    if not isinstance(channels, list | tuple) or not channels:
        raise InvalidBufferError("channels must be a non-empty list of sample lists")
    cols = [list(map(float, c)) for c in channels]
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise InvalidBufferError("every channel needs the same length")
    job = FileJob(len(cols), sample_rate, n, config, target=target, true_peak=true_peak, block=block)
    if job.wants_genre:
        for s in range(0, n, block):
            job.analyse_cols([c[s : s + block] for c in cols])
        if predict is None:
            raise ParameterError("genre", "auto", message="genre 'auto' needs a genre model (predict)")
        job.set_genre([predict(v) for v in job.genre_vectors()], model_version)
    for p in range(job.pass_count):
        job.begin(p)
        src = cols
        out: list = [[] for _ in cols]
        for s in range(0, n, block):
            for o, y in zip(out, job.render_cols([c[s : s + block] for c in src]), strict=True):
                o.extend(y)
        for o, y in zip(out, job.finish_cols(), strict=True):
            o.extend(y)
        if p + 1 < job.pass_count:  # the next pass reads this one's float32 output, as in JS
            cols = [array("f", o).tolist() for o in out]
        else:
            cols = out
    return cols, job.report()
