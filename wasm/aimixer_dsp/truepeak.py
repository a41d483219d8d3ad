"""True-peak metering per ITU-R BS.1770-4 Annex 2 (streaming, both paths).

True peak is the largest magnitude of the continuous-time signal the samples represent. Annex 2
estimates it by over-sampling (zero-stuffing + a low-pass interpolation FIR), rectifying and
taking the maximum, in dB TP (dB relative to full scale, true-peak). We do exactly that with a
polyphase FIR: phase ``p`` of an ``L``-times over-sampler is the sub-filter
``g_p[j] = h[L j + p]``, and the over-sampled signal is ``y[L n + p] = sum_j g_p[j] x[n - j]``.

The filters (both built once, :func:`true_peak_filter`):

* ``oversample=4`` (default): the 48-tap, 4-phase interpolating FIR printed in BS.1770-4 Annex 2
  (12 taps per phase). Measured response (``bench/bench_truepeak.py --filter``): passband
  -0.11/+0.10 dB from 0 to 20 kHz at 48 kHz, -6 dB at 23.9 kHz, stopband <= -39.9 dB from 28 kHz
  (the first image of 20 kHz). Its phases' DC gains are 1.0016 (phases 0, 3) and 0.9730
  (phases 1, 2).
* ``oversample=8``: our own 193-tap Kaiser-windowed sinc (beta 6, cut-off at the input's Nyquist
  frequency, each phase normalised to unit DC gain; 24 taps in each of the 7 non-trivial
  phases; phase 0 is the input itself). Passband -0.002/+0.008 dB to 20 kHz, stopband
  <= -61.7 dB from 28 kHz.

The worst-case under-read of an ``L``-times over-sampler is ``20 log10 cos(pi f / (L fs))``
(BS.1770-4 Annex 2, Attachment 1): two over-sampled points symmetric about the crest of a
sinusoid. For content up to 20 kHz at 48 kHz that is 0.48 dB at 4x and 0.12 dB at 8x (0.69 and
0.17 dB at fs/2), plus the passband ripple above.

The reading of a block is ``max(max|x|, max|y|)`` over its channels: the continuous signal
passes through the samples, so its peak is never below the sample peak (libebur128, hence
ffmpeg's ``ebur128=peak=true``, reports the same maximum). The over-sampled points computed
for a block are those up to its last sample minus the filter delay (``latency_samples``: 6
input samples at 4x, 12 at 8x); the rest follow with the next block. The meter keeps the last
``taps - 1`` input samples per channel, so any chunking gives the same readings (exactly on
the pure path; the NumPy path's dot products agree with it to rounding).

The pure path uses ``math.sumprod`` where it exists (Python >= 3.12, Pyodide) and a slower
map-based loop elsewhere; the NumPy path a sliding-window matrix product.
"""

from __future__ import annotations

import math
import operator
from array import array
from functools import lru_cache
from itertools import repeat
from struct import pack as _pack
from typing import Any

from .backend import HAVE_NUMPY, KERNEL_MIN, check_meter_format, planar_columns, use_numpy
from .backend import kernel as _kernel
from .errors import InvalidBufferError, NonFiniteInputError, ParameterError

if HAVE_NUMPY:  # pragma: no branch
    import numpy as np
else:  # pragma: no cover - Pyodide without NumPy
    np = None  # type: ignore[assignment]

__all__ = ["TruePeakMeter", "true_peak_filter", "OVERSAMPLE_FACTORS", "lin_to_dbtp"]

NEG_INF = float("-inf")
#: the polyphase sub-filters of an interpolator: one tuple of taps per phase
_Phases = tuple[tuple[float, ...], ...]
OVERSAMPLE_FACTORS = (4, 8)

# BS.1770-4 Annex 2: "one set of filter coefficients (for the order 48, 4-phase, FIR
# interpolating) that would satisfy the requirements". Phase p holds h[4 j + p], j = 0..11.
_ANNEX2_PHASES = (
    (
        0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000,
        -0.0594482421875, 0.1373291015625, 0.9721679687500, -0.1022949218750,
        0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500,
    ),
    (
        -0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250,
        -0.1665039062500, 0.4650878906250, 0.7797851562500, -0.2003173828125,
        0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375,
    ),
    (
        -0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000,
        -0.2003173828125, 0.7797851562500, 0.4650878906250, -0.1665039062500,
        0.0891113281250, -0.0517578125000, 0.0292968750000, -0.0291748046875,
    ),
    (
        -0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750,
        -0.1022949218750, 0.9721679687500, 0.1373291015625, -0.0594482421875,
        0.0332031250000, -0.0196533203125, 0.0109863281250, 0.0017089843750,
    ),
)  # fmt: skip

_KAISER8_TAPS_PER_PHASE = 24
_KAISER8_BETA = 6.0


def _bessel_i0(x: float) -> float:
    """Modified Bessel function of the first kind, order 0 (power series; |x| <= 20 here)."""
    total = 1.0
    term = 1.0
    k = 0
    half = x / 2.0
    while term > 1e-17 * total:
        k += 1
        term *= (half / k) ** 2
        total += term
    return total


def _kaiser_phases(factor: int, taps_per_phase: int, beta: float, cutoff: float) -> _Phases:
    """Polyphase sub-filters of a Kaiser-windowed sinc interpolator of ``factor * taps + 1``
    taps, cut-off ``cutoff`` x the input's Nyquist frequency, each phase scaled to unit DC
    gain. With ``cutoff == 1`` phase 0 is the input itself and is left out."""
    n_taps = factor * taps_per_phase + 1
    mid = (n_taps - 1) / 2.0
    i0b = _bessel_i0(beta)
    h: list[float] = []
    for k in range(n_taps):
        t = k - mid
        arg = math.pi * cutoff * t / factor
        sinc = 1.0 if t == 0 else math.sin(arg) / arg
        r = t / mid
        h.append(sinc * _bessel_i0(beta * math.sqrt(max(0.0, 1.0 - r * r))) / i0b)
    phases: list[tuple[float, ...]] = []
    for p in range(1 if cutoff == 1.0 else 0, factor):
        taps = [h[factor * j + p] for j in range(taps_per_phase)]
        s = math.fsum(taps)
        phases.append(tuple(v / s for v in taps))
    return tuple(phases)


@lru_cache(maxsize=4)
def _filter_bank(
    oversample: int, wideband: bool
) -> tuple[_Kronecker, Any, list[Any], array[float], array[float]]:
    """(pure-path FIR, NumPy tap matrix or None, NumPy phases, the phases' taps one after the
    other for the row kernels, the ``truepeak`` kernel's head ``(T, P, taps)``) for one filter,
    built once."""
    phases = _quantised_taps(true_peak_filter(oversample, wideband))
    # y_p[n] = sum_j g_p[j] x[n - j] = dot(g_p reversed, x[n - T + 1 .. n]): one column per phase.
    rev = [list(reversed(g)) for g in phases]
    mat = np.array(rev, dtype=np.float64).T.copy() if HAVE_NUMPY else None
    phases_np = [np.array(g, dtype=np.float64) for g in phases] if HAVE_NUMPY else []
    taps = array("d", [v for g in phases for v in g])
    return _Kronecker(phases), mat, phases_np, taps, array("d", (len(phases[0]), len(phases))) + taps


@lru_cache(maxsize=4)
def true_peak_filter(oversample: int = 4, wideband: bool = False) -> tuple[tuple[float, ...], ...]:
    """The polyphase sub-filters of the true-peak over-sampler, ``phases[p][j] = h[L j + p]``.

    Parameters
    ----------
    oversample : int
        4 (the BS.1770-4 Annex 2 filter, 4 phases x 12 taps) or 8 (Kaiser-windowed sinc,
        beta 6, 193 taps; the 7 non-trivial phases x 24 taps are returned, phase 0 being the
        input itself). See the module docstring for the measured responses.
    wideband : bool
        4x only: a longer interpolator that passes nearly up to the Nyquist frequency
        (Kaiser-windowed sinc, 4 x 32 + 1 taps, beta 9, cut-off at fs/2; the parameters of
        ffmpeg's default resampler, which its ``ebur128`` uses for true peak). The true-peak
        limiter detects with it, so that content between 20 kHz and fs/2, which the Annex 2
        filter attenuates, cannot slip through.

    Returns
    -------
    tuple of tuple of float
        One tuple of taps per phase, all of the same length.
    """
    if isinstance(oversample, bool) or oversample not in OVERSAMPLE_FACTORS:
        raise ParameterError("oversample", oversample, OVERSAMPLE_FACTORS)
    if wideband:
        if oversample != 4:
            raise ParameterError("oversample", oversample, message="the wideband interpolator is 4x only")
        return _kaiser_phases(4, 32, 9.0, 1.0)
    if oversample == 4:
        return _ANNEX2_PHASES
    return _kaiser_phases(8, _KAISER8_TAPS_PER_PHASE, _KAISER8_BETA, 1.0)


def lin_to_dbtp(value: float) -> float:
    """``20 log10(value)``; ``-inf`` for 0."""
    return 20.0 * math.log10(value) if value > 0.0 else NEG_INF


_TAP_BITS = 20  # taps as integers over 2**20 (the Annex 2 taps are exact multiples of 2**-13)
_SAMPLE_BITS = 37  # the pure path rounds a block to 37 bits below its peak (see _Kronecker)
_SLOT_BITS = 64  # one over-sampled value per 64-bit slot of the big-integer product
_SLOT_BIAS = 1 << 62


def _quantised_taps(phases: _Phases) -> _Phases:
    """The taps rounded to multiples of ``2**-_TAP_BITS`` (exact for the Annex 2 filter); both
    paths use these, so they compute the same over-sampled values up to the pure path's input
    quantisation."""
    scale = float(1 << _TAP_BITS)
    return tuple(tuple(round(v * scale) / scale for v in g) for g in phases)


class _Kronecker:
    """Pure-Python polyphase FIR in a handful of C-level passes (Kronecker substitution).

    The block (history + new samples) is rounded to integers ``q[i] = round(x[i] 2**k)``, with
    ``k`` chosen per block so that max|q| < 2**37 (relative error below 2**-37, under 1e-10 dB):
    adding ``1.5 * 2**(52 - k)`` to a float leaves ``q[i]`` in the low bits of its mantissa, so
    one ``map`` and the bytes of an ``array('d')`` give ``A = sum_i q[i] 2**(64 i)`` (after
    subtracting the constant exponent bits of every slot). Each phase's taps (integers over
    2**20) pack likewise into ``H_p = sum_j g_p[j] 2**(64 j)``. Python's big-integer product
    ``A H_p`` then holds that phase's FIR output, one value per 64-bit slot (|value| < 2**60);
    adding 2**62 to every slot makes them all non-negative, so the bytes of the sum *are* the
    values. No per-sample Python bytecode runs at all, which is what makes the pure path usable
    in Pyodide.
    """

    def __init__(self, phases: _Phases) -> None:
        self.T = len(phases[0])
        self.H = [
            sum(round(v * (1 << _TAP_BITS)) << (_SLOT_BITS * j) for j, v in enumerate(g)) for g in phases
        ]
        self._consts: dict[int, tuple[int, int]] = {}

    def _constants(self, m: int) -> tuple[int, int]:
        """(sum of 2**(64 i) over m slots, sum of 2**62 over the m + T product slots)."""
        c = self._consts.get(m)
        if c is None:
            if len(self._consts) > 8:
                self._consts.clear()
            ones = int.from_bytes(array("Q", [1]) * m, "little")
            bias = int.from_bytes(array("Q", [_SLOT_BIAS]) * (m + self.T), "little")
            c = self._consts[m] = (ones, bias)
        return c

    def peak(self, buf: list[float], n: int, amax: float) -> float:
        """max |y| of the over-sampled points of the last ``n`` samples of ``buf``;
        ``amax`` = max|buf| > 0."""
        m = len(buf)
        k = _SAMPLE_BITS - math.frexp(amax)[1]  # amax < 2**(37 - k)
        magic = math.ldexp(1.5, 52 - k)
        packed = array("d", map(operator.add, buf, repeat(magic)))
        ones, bias = self._constants(m)
        # every slot = bits of `magic` + q[i]; the bits of `magic` = exponent field + 2**51
        base = ((1023 + 52 - k) << 52) + (1 << 51)
        a = int.from_bytes(packed, "little") - base * ones
        nbytes = 8 * (m + self.T)
        start = self.T - 1
        hi = 0
        lo = 0
        for h in self.H:
            mv = memoryview((a * h + bias).to_bytes(nbytes, "little")).cast("Q")[start : start + n]
            v = max(mv)
            if v > hi:
                hi = v
            v = min(mv)
            if lo == 0 or v < lo:
                lo = v
        return math.ldexp(float(max(hi - _SLOT_BIAS, _SLOT_BIAS - lo)), -(_TAP_BITS + k))

    def rows(self, buf: list[float], n: int, amax: float) -> list[float]:
        """Per input sample of the last ``n`` of ``buf``: max over the phases of |y| (floats)."""
        m = len(buf)
        k = _SAMPLE_BITS - math.frexp(amax)[1]
        magic = math.ldexp(1.5, 52 - k)
        packed = array("d", map(operator.add, buf, repeat(magic)))
        ones, bias = self._constants(m)
        base = ((1023 + 52 - k) << 52) + (1 << 51)
        a = int.from_bytes(packed, "little") - base * ones
        nbytes = 8 * (m + self.T)
        start = self.T - 1
        best: list[int] | None = None
        for h in self.H:
            mv = memoryview((a * h + bias).to_bytes(nbytes, "little")).cast("Q")[start : start + n]
            mag = list(map(abs, map(operator.sub, mv, repeat(_SLOT_BIAS))))
            best = mag if best is None else list(map(max, best, mag))
        if best is None:  # no phases
            return [0.0] * n
        scale = math.ldexp(1.0, -(_TAP_BITS + k))
        return list(map(operator.mul, best, repeat(scale)))


def _fir_np(buf: Any, g: Any) -> Any:
    """``y[i] = sum_j g[j] buf[i + T - 1 - j]`` for the ``len(buf) - T + 1`` full windows."""
    t = g.shape[0]
    n = buf.shape[0] - t + 1
    if n < 8192:  # short blocks: one call beats a call per tap
        return np.convolve(buf, g, "valid")
    y = g[0] * buf[t - 1 : t - 1 + n]
    for j in range(1, t):
        y += g[j] * buf[t - 1 - j : t - 1 - j + n]
    return y


class TruePeakMeter:
    """Streaming true-peak meter (ITU-R BS.1770-4 Annex 2), per channel and overall.

    Parameters
    ----------
    sample_rate : int
        Hz, 8000..384000 (the filter is defined relative to the sample rate; BS.1770 notes
        that 96 kHz input needs less over-sampling, which we do not exploit).
    channels : int
        1..16. Multichannel input is an ndarray (frames, channels) or, on the pure path, a
        sequence of per-frame sequences.
    oversample : int
        4 (default; the Annex 2 filter) or 8.
    wideband : bool
        Use the wideband 4x interpolator (see :func:`true_peak_filter`) instead.

    Readings: :meth:`push` returns the block's true peak (dBTP over all channels, ``-inf`` for
    silence or an empty block); :attr:`true_peak` is the maximum since the last reset (dBTP),
    :attr:`channel_true_peaks` the same per channel.
    """

    def __init__(
        self, sample_rate: int = 48000, channels: int = 1, oversample: int = 4, *, wideband: bool = False
    ) -> None:
        check_meter_format(sample_rate, channels)
        if isinstance(oversample, bool) or oversample not in OVERSAMPLE_FACTORS:
            raise ParameterError("oversample", oversample, OVERSAMPLE_FACTORS)
        self.sample_rate = int(sample_rate)
        self.channels = channels
        self.oversample = int(oversample)
        self.wideband = bool(wideband)
        self._taps = len(true_peak_filter(self.oversample, self.wideband)[0])
        self.reset()

    # The filter banks are shared, immutable and rebuilt from (oversample, wideband): they are not
    # part of a meter's state (a serialized session holds only settings, history and maxima).
    @property
    def _pure(self) -> _Kronecker:
        return _filter_bank(self.oversample, self.wideband)[0]

    @property
    def _mat(self) -> Any:
        return _filter_bank(self.oversample, self.wideband)[1]

    @property
    def _phases_np(self) -> list[Any]:
        return _filter_bank(self.oversample, self.wideband)[2]

    @property
    def kernel_taps(self) -> array[float]:
        """The phases' taps one after the other (``latency_samples * 2`` each), as the row-peak
        kernels take them (``tprows``; ``aimixer_dsp.loudnorm``'s kernels)."""
        return _filter_bank(self.oversample, self.wideband)[3]

    def __repr__(self) -> str:
        return f"TruePeakMeter(sample_rate={self.sample_rate}, channels={self.channels}, oversample={self.oversample})"

    @property
    def latency_samples(self) -> int:
        """Input samples by which the over-sampled points lag the newest sample (filter delay)."""
        return self._taps // 2

    def reset(self) -> None:
        """Forget the audio (history and maxima); keep the settings."""
        self._hist = [[0.0] * (self._taps - 1) for _ in range(self.channels)]
        self._max = [0.0] * self.channels
        self.last_block = 0.0  # linear true peak of the last block (max over channels)

    @property
    def true_peak(self) -> float:
        """Maximum true peak since the last reset, dBTP over all channels (-inf: silence)."""
        return lin_to_dbtp(max(self._max))

    @property
    def true_peak_linear(self) -> float:
        """:attr:`true_peak` as a linear magnitude (1.0 = full scale)."""
        return max(self._max)

    @property
    def channel_true_peaks(self) -> list[float]:
        """Per-channel maximum true peak since the last reset (dBTP)."""
        return [lin_to_dbtp(v) for v in self._max]

    def push(self, block: Any) -> float:
        """Feed audio; returns the block's true peak in dBTP (``-inf`` for silence/empty).

        Raises NonFiniteInputError / InvalidBufferError before any state changes.
        """
        if use_numpy(block):
            peaks = self._push_np(block)
        else:
            peaks = self._push_pure(block)
        if peaks is None:
            self.last_block = 0.0
            return NEG_INF
        mx = self._max
        for c, v in enumerate(peaks):
            if v > mx[c]:
                mx[c] = v
        self.last_block = max(peaks)
        return lin_to_dbtp(self.last_block)

    def _push_pure(self, block: Any) -> list[float] | None:
        cols = planar_columns(block, self.channels)
        if cols is None:
            return None
        return [self._channel_pure(c, col) for c, col in enumerate(cols)]

    def _channel_pure(self, c: int, col: list[float]) -> float:
        n = len(col)
        hist = self._hist[c]
        kern = _kernel("truepeak") if n >= KERNEL_MIN else None
        if kern is not None:  # the whole reading natively (see backend.KERNEL_NAMES)
            # (T, P, taps, hist, col): the samples packed at C speed (struct beats array('d', list))
            head = _filter_bank(self.oversample, self.wideband)[4]
            kbuf = head + array("d", _pack(f"{len(hist) + n}d", *hist, *col))
            kern(kbuf)
            self._hist[c] = kbuf[-(self._taps - 1) :].tolist()
            return kbuf[0]
        buf = hist + col
        sp = max(col)
        sn = -min(col)
        peak = sp if sp > sn else sn
        hp = max(hist)
        hn = -min(hist)
        amax = max(peak, hp, hn)
        if amax > 1e-280:  # below that (-5600 dBFS) the sample peak is the reading
            ip = self._pure.peak(buf, n, amax)
            if ip > peak:
                peak = ip
        self._hist[c] = buf[-(self._taps - 1) :]
        return peak

    def push_checked(self, data: list[float]) -> float:
        """:meth:`push` of a mono, non-empty list of finite floats (the caller checked them):
        the block's linear true peak, maxima updated. Used by the mixer session."""
        peak = self._channel_pure(0, data)
        if peak > self._max[0]:
            self._max[0] = peak
        self.last_block = peak
        return peak

    def _push_np(self, block: Any) -> list[float] | None:
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            if self.channels != 1:
                raise InvalidBufferError(f"expected shape (frames, {self.channels}), got {x.shape}")
            x = x[:, None]
        elif x.ndim != 2 or x.shape[1] != self.channels:
            raise InvalidBufferError(f"expected shape (frames, {self.channels}), got {x.shape}")
        n = x.shape[0]
        if n == 0:
            return None
        if not np.isfinite(x).all():
            raise NonFiniteInputError(index=int(np.argmin(np.isfinite(x).ravel())))
        out = []
        t = self._taps
        for c in range(self.channels):
            buf = np.concatenate([np.asarray(self._hist[c]), x[:, c]])
            out.append(self._channel_np(buf, n))
            self._hist[c] = buf[-(t - 1) :].tolist()
        return out

    def _channel_np(self, buf: Any, n: int) -> float:
        """Peak of the over-sampled points of the last ``n`` samples of ``buf`` (history first).
        One multiply-add per tap and phase on whole arrays: twice as fast here as
        ``np.convolve`` and far faster than a BLAS product (whose threads cost more than they save)."""
        peak = 0.0
        for g in self._phases_np:
            y = _fir_np(buf, g)
            peak = max(peak, float(y.max()), -float(y.min()))
        tail = buf[self._taps - 1 :]
        return max(peak, float(tail.max()), -float(tail.min()))

    def push_channels(self, block: Any) -> list[float]:
        """:meth:`push` of an ndarray (frames, channels); returns the block's linear true peak per
        channel (0.0 for an empty block). NumPy only (the recorder's level meter)."""
        peaks = self._push_np(block)
        if peaks is None:
            return [0.0] * self.channels
        mx = self._max
        for c, v in enumerate(peaks):
            if v > mx[c]:
                mx[c] = v
        self.last_block = max(peaks)
        return peaks

    def row_peaks(self, col: Any, c: int = 0) -> Any:
        """Streaming: for each new sample of channel ``c`` (a list on the pure path, a 1-D
        ndarray on the NumPy path), the largest |over-sampled value| computed at it (the
        points between the samples ``latency_samples`` and ``latency_samples - 1`` back).
        Updates the history, not the maxima. Used by the true-peak limiter."""
        t = self._taps
        if isinstance(col, list):
            n = len(col)
            buf = self._hist[c] + col
            self._hist[c] = buf[-(t - 1) :]
            amax = max(max(buf), -min(buf)) if buf else 0.0
            if amax <= 1e-280:
                return [0.0] * n
            kern = _kernel("tprows") if n >= KERNEL_MIN else None
            if kern is not None:  # the same FIR natively (see backend.KERNEL_NAMES)
                rows = array("d", _pack(f"{len(buf)}d", *buf))
                kern(rows, self.kernel_taps, t)
                return rows[:n].tolist()
            return self._pure.rows(buf, n, amax)
        arr = np.concatenate([np.asarray(self._hist[c]), col])
        self._hist[c] = arr[-(t - 1) :].tolist()
        out = np.abs(_fir_np(arr, self._phases_np[0]))
        for g in self._phases_np[1:]:
            np.maximum(out, np.abs(_fir_np(arr, g)), out=out)
        return out

    def oversampled(self, block: Any) -> Any:
        """The over-sampled signal of a mono block (NumPy only; not streaming, history zero):
        shape (n, phases), row ``n`` holding the phase outputs computed at input sample n.
        For tests and figures."""
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        buf = np.concatenate([np.zeros(self._taps - 1), x])
        return np.lib.stride_tricks.sliding_window_view(buf, self._taps) @ self._mat

    def summary(self) -> dict[str, Any]:
        """``{"truePeak": dBTP, "channelTruePeaks": [dBTP, ...], "oversample": L}``."""
        return {
            "truePeak": self.true_peak,
            "channelTruePeaks": self.channel_true_peaks,
            "oversample": self.oversample,
        }
