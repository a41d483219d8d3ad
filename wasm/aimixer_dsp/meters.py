"""Level meters: sample peak, RMS and a streaming ITU-R BS.1770-4 / EBU R128 loudness meter.

"No value" conventions (a meter never raises for short or silent input):

* :func:`peak_db` / :func:`rms_db` return ``-inf`` for an empty block or digital silence.
* :class:`LoudnessMeter` readings are ``-inf`` until enough audio was seen (400 ms for
  ``momentary``, 3 s for ``short_term``, one 400 ms gating block for ``integrated``) and when
  nothing passes the gates; ``loudness_range`` is ``0.0`` until at least one 3 s short-term
  value passes its gates. The origin's JSON layer maps ``-inf`` to ``null``.

Two paths with one semantics: a pure-Python path (lists of floats; used in Pyodide) and a
NumPy path (taken when NumPy imports, the backend is not ``"pure"`` and the block is an
``ndarray``). Both keep their state in plain Python floats, so either can continue the other.
"""

from __future__ import annotations

import math
import operator
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import accumulate, repeat
from struct import pack as _pack
from typing import TYPE_CHECKING, Any, TypedDict

from .backend import HAVE_NUMPY, KERNEL_MIN, check_list_finite, check_meter_format, planar_columns, use_numpy
from .backend import kernel as _kernel
from .errors import InvalidBufferError, NonFiniteInputError, ParameterError
from .processors import biquad as _biquad
from .processors.base import planar_frames

if HAVE_NUMPY:  # pragma: no branch
    import numpy as np
else:  # pragma: no cover - Pyodide without NumPy
    np = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .processors.biquad import Coeffs

    _Array = NDArray[np.float64]

__all__ = ["peak_db", "rms_db", "LoudnessMeter", "k_weighting_coefficients", "channel_weights"]

NEG_INF = float("-inf")

# BS.1770-4 eq. (2): L_K = -0.691 + 10 log10(sum_i G_i z_i)
_LUFS_OFFSET = -0.691
# Absolute gate Γ_a = -70 LKFS (BS.1770-4 §2.1, eq. 5), as a mean-square energy threshold.
_ABS_GATE_LUFS = -70.0
_ABS_GATE_Z = 10.0 ** ((_ABS_GATE_LUFS - _LUFS_OFFSET) / 10.0)
# Relative gates: -10 LU for integrated loudness (BS.1770-4 eq. 6), -20 LU for LRA (EBU Tech 3342).
_REL_GATE_INTEGRATED = 10.0 ** (-10.0 / 10.0)
_REL_GATE_LRA = 10.0 ** (-20.0 / 10.0)

_NP_BLOCK = 512  # block length of the NumPy block-IIR
_NP_ROWS = 32  # blocks per FFT call of the block-IIR (about 250 kB of spectra: stays in cache)
_SMALL_BLOCK = 2048  # up to this many samples the K-filter uses biquad.run_block's matrix plan


def _energy_to_lufs(z: float) -> float:
    return _LUFS_OFFSET + 10.0 * math.log10(z) if z > 0.0 else NEG_INF


def _check_finite_np(x: _Array) -> None:
    if x.size and not np.isfinite(x).all():
        raise NonFiniteInputError(index=int(np.argmin(np.isfinite(x).ravel())))


def _as_float_array(block: Any) -> _Array:
    x = np.asarray(block, dtype=np.float64)
    _check_finite_np(x)
    return x


# --------------------------------------------------------------------------------------------
# Peak / RMS
# --------------------------------------------------------------------------------------------


def peak_db(block: Any) -> float:
    """Sample peak in dBFS (``20 log10 max|x|``).

    Parameters
    ----------
    block : sequence of float or ndarray
        Samples, mono (n,) or multichannel ndarray (frames, channels); the peak is over all.

    Returns
    -------
    float
        dBFS; ``-inf`` for an empty block or silence.
    """
    if use_numpy(block):
        x = np.asarray(block, dtype=np.float64)
        if x.size == 0:
            return NEG_INF
        v = x.reshape(-1)
        p = max(float(v.max()), -float(v.min()))
        if not math.isfinite(p):  # NaN/Inf somewhere (max|x| of finite samples is finite)
            _check_finite_np(x)
    else:
        vals = _flatten_pure(block)
        if not vals:
            return NEG_INF
        check_list_finite(vals)
        p = max(map(abs, vals))
    return 20.0 * math.log10(p) if p > 0.0 else NEG_INF


def rms_db(block: Any) -> float:
    """RMS level in dBFS (``10 log10 mean(x^2)``; a full-scale sine reads -3.01 dBFS).

    Parameters
    ----------
    block : sequence of float or ndarray
        Samples, mono or multichannel ndarray (frames, channels); the mean is over all samples.

    Returns
    -------
    float
        dBFS; ``-inf`` for an empty block or silence.
    """
    if use_numpy(block):
        x = np.asarray(block, dtype=np.float64)
        if x.size == 0:
            return NEG_INF
        v = x.reshape(-1)
        ms = float(v @ v) / v.size
        if not math.isfinite(ms):  # NaN/Inf input, or finite samples whose squares overflow
            _check_finite_np(x)
    else:
        vals = _flatten_pure(block)
        if not vals:
            return NEG_INF
        check_list_finite(vals)
        ms = _sum_squares(vals) / len(vals)
    return 10.0 * math.log10(ms) if ms > 0.0 else NEG_INF


def _sum_squares(vals: list[float]) -> float:
    """Accurately rounded sum of squares: ``math.sumprod`` (Python >= 3.12, e.g. Pyodide; extended
    precision, several times faster) or ``math.fsum`` of the products."""
    sumprod: Callable[[list[float], list[float]], float] | None = getattr(math, "sumprod", None)
    if sumprod is not None:
        return sumprod(vals, vals)
    return math.fsum(map(operator.mul, vals, vals))


def _flatten_pure(block: Any) -> list[float]:
    vals = block if isinstance(block, list) else list(block)
    if vals and isinstance(vals[0], list | tuple):
        return [float(v) for frame in vals for v in frame]
    return vals


# --------------------------------------------------------------------------------------------
# K-weighting (BS.1770-4 Annex 1, Tables 1 and 2)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def k_weighting_coefficients(sample_rate: int) -> tuple[Coeffs, Coeffs]:
    """Biquad coefficients of the K-weighting filter at ``sample_rate``.

    Returns ``((b0, b1, b2, a1, a2) of the pre-filter (shelf), (b0, b1, b2, a1, a2) of the RLB
    high-pass)``, both normalised to ``a0 = 1``.

    At 48 kHz these are the exact values of BS.1770-4 Tables 1 and 2. At other rates the two
    stages are designed with the bilinear transform from the analog prototypes that reproduce
    those tables (the parameters used by libebur128 / ffmpeg ``ebur128`` and pyloudnorm's
    "DeMan" filter): shelf f0 = 1681.97 Hz, G = +3.99984 dB, Q = 0.70718; high-pass
    f0 = 38.135 Hz, Q = 0.50033.
    """
    if sample_rate == 48000:
        # BS.1770-4 Table 1 (stage 1, shelving pre-filter) and Table 2 (stage 2, RLB high-pass).
        shelf = (1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585)
        hp = (1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621)
        return shelf, hp
    fs = float(sample_rate)
    f0 = 1681.974450955533
    gain_db = 3.999843853973347
    q = 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = (
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    )
    f0 = 38.13547087602444
    q = 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1.0 + k / q + k * k
    hp = (1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0)
    return shelf, hp


def channel_weights(channels: int) -> tuple[float, ...]:
    """BS.1770-4 channel weights G_i for ``channels`` in the usual file channel order.

    1-3 channels (mono, L/R, L/R/C): 1.0 each. 4 (quad L R Ls Rs): 1, 1, 1.41, 1.41.
    5 (L R C Ls Rs): 1, 1, 1, 1.41, 1.41. 6 (5.1 as in WAV/FLAC: L R C LFE Ls Rs): LFE
    excluded (0.0), surrounds 1.41. More channels: 1.0 for the first three, 1.41 for the rest.
    """
    if channels <= 3:
        return (1.0,) * channels
    if channels == 4:
        return (1.0, 1.0, 1.41, 1.41)
    if channels == 5:
        return (1.0, 1.0, 1.0, 1.41, 1.41)
    if channels == 6:
        return (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)
    return (1.0, 1.0, 1.0) + (1.41,) * (channels - 3)


class _IirTables(TypedDict):
    """:func:`_block_iir_tables`: ``A^i`` (i = 0..M), ``C A^i``, ``A^(M-1-j) B`` by column,
    the impulse response, its spectrum (``2M`` points) and the block length ``M``."""

    apow: NDArray[np.float64]
    obs: NDArray[np.float64]
    q: NDArray[np.float64]
    h: NDArray[np.float64]
    hf: NDArray[np.complex128]
    m: int


@lru_cache(maxsize=16)
def _block_iir_tables(sample_rate: int) -> _IirTables:
    """State-space form of the cascaded K-filter and the tables of the exact block IIR.

    The cascade of the two transposed-direct-form-II biquads is the 4-state system
    ``s[n+1] = A s[n] + B x[n]``, ``y[n] = C s[n] + D x[n]`` with the state vector
    ``(s1, s2)`` of stage 1 then of stage 2 — the same numbers the pure path keeps.
    A block of M samples is then ``Y = h * X  (first M terms of the convolution; exact)``
    ``+ O s`` with ``O[i] = C A^i``, and the state after it is ``A^M s + Q X``.
    """
    (b0, b1, b2, a1, a2), (c0, c1, c2, d1, d2) = k_weighting_coefficients(sample_rate)
    a_1 = np.array([[-a1, 1.0], [-a2, 0.0]])
    b_1 = np.array([b1 - a1 * b0, b2 - a2 * b0])
    c_1 = np.array([1.0, 0.0])
    a_2 = np.array([[-d1, 1.0], [-d2, 0.0]])
    b_2 = np.array([c1 - d1 * c0, c2 - d2 * c0])
    c_2 = np.array([1.0, 0.0])
    a = np.zeros((4, 4))
    a[:2, :2] = a_1
    a[2:, 2:] = a_2
    a[2:, :2] = np.outer(b_2, c_1)
    b = np.concatenate([b_1, b_2 * b0])
    c = np.concatenate([c0 * c_1, c_2])
    d = c0 * b0
    m = _NP_BLOCK
    apow = np.empty((m + 1, 4, 4))
    apow[0] = np.eye(4)
    for i in range(1, m + 1):
        apow[i] = a @ apow[i - 1]
    obs = np.einsum("j,ijk->ik", c, apow[:m])  # row i = C A^i
    ctrl = np.einsum("ijk,k->ij", apow[:m], b)  # A^i B, shape (m, 4)
    h = np.empty(m)
    h[0] = d
    h[1:] = obs[: m - 1] @ b  # h[i] = C A^(i-1) B
    q = ctrl[::-1].T.copy()  # column j = A^(M-1-j) B
    hf = np.fft.rfft(h, 2 * m)
    return {"apow": apow, "obs": obs, "q": q, "h": h, "hf": hf, "m": m}


def _kfilter_np(x: _Array, sample_rate: int, state: list[float]) -> _Array:
    """K-weight one channel (1-D float64 array) exactly; updates ``state`` (4 floats) in place.

    Blocks up to ``_SMALL_BLOCK`` samples (the API's 960-sample frames) use the cached matrix
    plan of :func:`aimixer_dsp.processors.biquad.run_block` (same TDF-II state order
    ``s1, s2`` of stage 1 then stage 2); longer ones the FFT block IIR below. Both are exact
    evaluations of the same recursion (agreeing with the pure loop to ~1e-12).
    """
    n = x.shape[0]
    if n <= _SMALL_BLOCK:
        y, s = _biquad.run_block(k_weighting_coefficients(sample_rate), x, np.array(state))
        state[:] = s.tolist()
        return y
    t = _block_iir_tables(sample_rate)
    m = t["m"]
    s = np.array(state, dtype=np.float64)
    y = np.empty(n)
    k = n // m
    if k:
        hf, q, obs = t["hf"], t["q"], t["obs"]
        r0, r1, r2, r3 = t["apow"][m].tolist()
        s0, s1, s2, s3 = s.tolist()
        # _NP_ROWS blocks at a time: the FFT work stays in cache (each block's numbers are the
        # same as in one call over all blocks)
        for b0 in range(0, k, _NP_ROWS):
            xb = x[b0 * m : min(k, b0 + _NP_ROWS) * m].reshape(-1, m)
            spec = np.fft.rfft(xb, 2 * m, axis=1)
            spec *= hf
            conv = np.fft.irfft(spec, 2 * m, axis=1)[:, :m]
            starts = []
            for dv in (xb @ q.T).tolist():
                starts.append((s0, s1, s2, s3))
                s0, s1, s2, s3 = (
                    r0[0] * s0 + r0[1] * s1 + r0[2] * s2 + r0[3] * s3 + dv[0],
                    r1[0] * s0 + r1[1] * s1 + r1[2] * s2 + r1[3] * s3 + dv[1],
                    r2[0] * s0 + r2[1] * s1 + r2[2] * s2 + r2[3] * s3 + dv[2],
                    r3[0] * s0 + r3[1] * s1 + r3[2] * s2 + r3[3] * s3 + dv[3],
                )
            np.add(conv, np.asarray(starts) @ obs.T, out=y[b0 * m : b0 * m + xb.size].reshape(-1, m))
        s = np.array([s0, s1, s2, s3])
    r = n - k * m
    if r:
        xr = x[k * m :]
        conv = (
            np.convolve(xr, t["h"][:r])[:r]
            if r <= 64
            else np.fft.irfft(np.fft.rfft(xr, 2 * r) * np.fft.rfft(t["h"][:r], 2 * r), 2 * r)[:r]
        )
        y[k * m :] = conv + t["obs"][:r] @ s
        s = t["apow"][r] @ s + t["q"][:, m - r :] @ xr
    state[:] = s.tolist()
    return y


def _kfilter_sumsq_pure(x: Sequence[float], coeffs: tuple[Coeffs, Coeffs], state: list[float]) -> float:
    """K-weight ``x`` (sequence of floats) through both biquads; return sum of y^2, update state.

    Transposed direct form II, per stage: ``y = b0 x + s1; s1 = b1 x - a1 y + s2;
    s2 = b2 x - a2 y``. Stage 2 has the numerator (1, -2, 1) (BS.1770-4 Table 2).
    The loop runs both stages scaled by ``1/b0`` of stage 1 (states divided by ``b0``, so
    stage 1 needs no multiply by ``b0``) and scales the sum by ``b0**2`` at the end: the same
    filter up to rounding; the stored state stays the plain TDF-II state.
    """
    (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = coeffs
    if b0 == 0.0:  # pragma: no cover - not a K-weighting pre-filter
        return _kfilter_sumsq_plain(x, coeffs, state)
    s1, s2, s3, s4 = state
    kern = _kernel("kfilter") if len(x) >= KERNEL_MIN else None
    if kern is not None:  # the same loop, natively (see backend.KERNEL_NAMES)
        out = array("d", bytes(40))
        kern(
            x if type(x) is array else array("d", x),
            array("d", (s1 / b0, s2 / b0, s3 / b0, s4 / b0, b1 / b0, b2 / b0, a1, a2, d1, d2)),
            out,
        )
        acc, s1, s2, s3, s4 = out
    else:
        acc, s1, s2, s3, s4 = _kfilter_loop(
            0.0, 0.0, 0.0, 0.0, s1 / b0, s2 / b0, s3 / b0, s4 / b0, b1 / b0, b2 / b0, a1, a2, d1, d2, x
        )
    state[0] = s1 * b0
    state[1] = s2 * b0
    state[2] = s3 * b0
    state[3] = s4 * b0
    return acc * (b0 * b0)


def _kfilter_loop(
    v: float, y: float, z: float, acc: float, s1: float, s2: float, s3: float, s4: float,
    q1: float, q2: float, a1: float, a2: float, d1: float, d2: float, x: Iterable[float],
) -> tuple[float, float, float, float, float]:  # fmt: skip
    """The per-sample loop of :func:`_kfilter_sumsq_pure`: ``(acc, s1, s2, s3, s4)``.

    Its parameters are its locals, hottest first (``v, y, z, acc`` are dummies): CPython 3.13+
    fuses two consecutive loads of locals into one instruction only when both slot indices are
    below 16, which all of these are. Same operations in the same order as before.
    """
    for v in x:
        y = v + s1
        s1 = q1 * v - a1 * y + s2
        s2 = q2 * v - a2 * y
        z = y + s3
        s3 = s4 - 2.0 * y - d1 * z
        s4 = y - d2 * z
        acc += z * z
    return acc, s1, s2, s3, s4


def _kfilter_sq_pure(x: Sequence[float], coeffs: tuple[Coeffs, Coeffs], state: list[float]) -> list[float]:
    """K-weight ``x`` and return the squared output per sample (``exact_max``); updates state.
    The same recursion as :func:`_kfilter_sumsq_plain`."""
    (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = coeffs
    s1, s2, s3, s4 = state
    out: list[float] = []
    app = out.append
    for v in x:
        y = b0 * v + s1
        s1 = b1 * v - a1 * y + s2
        s2 = b2 * v - a2 * y
        z = y + s3
        s3 = s4 - 2.0 * y - d1 * z
        s4 = y - d2 * z
        app(z * z)
    state[0] = s1
    state[1] = s2
    state[2] = s3
    state[3] = s4
    return out


def _kfilter_sumsq_plain(
    x: Sequence[float], coeffs: tuple[Coeffs, Coeffs], state: list[float]
) -> float:  # pragma: no cover
    (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = coeffs
    s1, s2, s3, s4 = state
    acc = 0.0
    for v in x:
        y = b0 * v + s1
        s1 = b1 * v - a1 * y + s2
        s2 = b2 * v - a2 * y
        z = y + s3
        s3 = s4 - 2.0 * y - d1 * z
        s4 = y - d2 * z
        acc += z * z
    state[0] = s1
    state[1] = s2
    state[2] = s3
    state[3] = s4
    return acc


# --------------------------------------------------------------------------------------------
# Streaming loudness meter
# --------------------------------------------------------------------------------------------


class LoudnessMeter:
    """Streaming loudness meter per ITU-R BS.1770-4 and EBU R128 / Tech 3341 / Tech 3342.

    The signal is K-weighted per channel, squared, weighted by ``G_i`` and summed into 100 ms
    sub-blocks (``round(sample_rate / 10)`` samples). All readings are built from those
    sub-blocks, so feeding the signal in any chunking gives the same values as feeding it whole.

    * ``momentary``: mean square over the last 4 sub-blocks (400 ms), updated every 100 ms.
    * ``short_term``: over the last 30 sub-blocks (3 s), updated every 100 ms.
    * ``integrated``: BS.1770-4 gating over 400 ms blocks with 75 % overlap (one block per
      100 ms step), absolute gate -70 LUFS then relative gate -10 LU.
    * ``loudness_range``: EBU Tech 3342: short-term values at 10 Hz, absolute gate -70 LUFS,
      relative gate -20 LU below their energy mean, LRA = P95 - P10 of the remaining values
      (percentiles with linear interpolation, as numpy/pyloudnorm).

    Parameters
    ----------
    sample_rate : int
        Hz, 8000..384000. K-weighting uses the standard's coefficients at 48 kHz and the
        bilinear design elsewhere (see :func:`k_weighting_coefficients`).
    channels : int
        1..16. Multichannel input is an ndarray of shape (frames, channels) or, on the pure
        path, a sequence of per-frame sequences. Weights: :func:`channel_weights`.
    weights : sequence of float, optional
        Override the channel weights G_i.
    exact_max : bool
        For file analysis: also evaluate the momentary (400 ms) and short-term (3 s) windows
        ending at *every sample* and report their maxima in :attr:`momentary_max` /
        :attr:`short_term_max` (exact, so EBU Tech 3341 cases 10 and 13 pass for bursts at
        any offset; the 100 ms grid under-reads a 400 ms burst by up to 0.58 LU). The live
        readings (``momentary``, ``short_term``) stay on the 100 ms grid. Costs a cumulative
        sum over the last 3 s per push (NumPy: negligible; pure path: use large blocks).
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        channels: int = 1,
        weights: Iterable[float] | None = None,
        *,
        exact_max: bool = False,
    ) -> None:
        check_meter_format(sample_rate, channels)
        self.sample_rate = int(sample_rate)
        self.channels = channels
        if weights is None:
            weights = channel_weights(channels)
        weights = tuple(float(w) for w in weights)
        if len(weights) != channels:
            raise ParameterError("weights", weights, message=f"weights needs {channels} values")
        self.weights = weights
        self._coeffs = k_weighting_coefficients(self.sample_rate)
        self._step = max(1, int(round(self.sample_rate / 10.0)))
        self.exact_max = bool(exact_max)
        self._win_m = 4 * self._step  # 400 ms
        self._win_s = 30 * self._step  # 3 s
        self.reset()

    # -- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all audio (filter states, sub-blocks and gating history); keep settings."""
        self._states = [[0.0, 0.0, 0.0, 0.0] for _ in range(self.channels)]
        self._pos = 0  # samples in the current (incomplete) sub-block
        self._acc = 0.0  # weighted sum of squares in the current sub-block
        self._recent: deque[float] = deque(maxlen=30)  # last 30 sub-block sums
        self._nsub = 0
        self._blocks = _GateHistogram()  # 400 ms gating-block mean squares (one per 100 ms)
        self._st_blocks = _GateHistogram()  # 3 s short-term mean squares (one per 100 ms)
        self._momentary = NEG_INF
        self._short_term = NEG_INF
        self._momentary_max = NEG_INF
        self._short_term_max = NEG_INF
        self._samples = 0
        self._cache_integrated: tuple[int, float] | None = None
        self._cache_lra: tuple[int, float] | None = None
        self._pending: list[list[float]] = []  # deferred blocks (see defer_partial), oldest first
        self._pending_n = 0
        self._fine_tail: (
            list[float] | array[float] | _Array
        ) = []  # exact_max: the last (3 s - 1) weighted squared samples
        self._fine_m = 0.0  # exact_max: largest 400 ms / 3 s window energy sums so far
        self._fine_s = 0.0

    def __repr__(self) -> str:
        return f"LoudnessMeter(sample_rate={self.sample_rate}, channels={self.channels})"

    @property
    def samples_seen(self) -> int:
        """Number of frames pushed since the last reset."""
        return self._samples + self._pending_n

    #: When ``True``, :meth:`push_validated` (the mixer session's pure path) only queues a block
    #: that does not complete a 100 ms sub-block; :meth:`flush` (or the next block that does
    #: complete one, or any other push) filters the queue, in order. No reading depends on the
    #: queued samples (they only change the state of an incomplete sub-block), so every reading
    #: and every later result is exactly what it would have been; the K-weighting work merely
    #: moves to when the caller has time (the browser worker: after the frame is handed back).
    defer_partial = False

    def flush(self) -> bool:
        """K-weight the queued blocks now; ``True`` if there were any."""
        if not self._pending:
            return False
        self._drain()
        return True

    def _drain(self) -> None:
        pending = self._pending
        if pending:
            self._pending = []
            self._pending_n = 0
            for data in pending:
                self._push_cols([data], len(data))

    # -- feeding -------------------------------------------------------------------------
    def push(self, block: Any) -> None:
        """Feed audio. Raises NonFiniteInputError (state untouched) for NaN/Inf.

        Parameters
        ----------
        block : sequence of float or ndarray
            Mono: (n,) samples. Multichannel: ndarray (n, channels), or a sequence of n
            per-frame sequences on the pure path.
        """
        if use_numpy(block):
            self._push_np(block)
        else:
            self._push_pure(block)

    def _segments(self, n: int) -> list[tuple[int, int]]:
        """Split n new samples at sub-block boundaries -> [(start, stop), ...]."""
        segs = []
        start = 0
        room = self._step - self._pos
        while start < n:
            stop = min(n, start + room)
            segs.append((start, stop))
            start = stop
            room = self._step
        return segs

    def _push_pure(self, block: Any) -> None:
        cols = planar_columns(block, self.channels)
        if cols is None:
            return
        n = len(cols[0])
        self._push_cols(cols, n)

    def push_planar(self, cols: list[list[float]]) -> None:
        """Feed one list of floats per channel (equal lengths; the pure path's multichannel
        form, without building per-frame tuples). Raises like :meth:`push`."""
        if len(cols) != self.channels:
            raise InvalidBufferError(f"expected {self.channels} channels, got {len(cols)}")
        n = len(cols[0])
        if any(len(c) != n for c in cols):
            raise InvalidBufferError("every channel needs the same length")
        if n == 0:
            return
        for col in cols:
            check_list_finite(col)
        self._push_cols(cols, n)

    def push_validated(self, data: list[float]) -> None:
        """:meth:`push` of a mono, non-empty list of floats already known to be finite (the
        caller checked it, and does not mutate it later); the same result as ``push(data)``."""
        n = len(data)
        if self.defer_partial and self._pos + self._pending_n + n < self._step:
            self._pending.append(data[:])  # a copy: the caller owns (and may reuse) ``data``
            self._pending_n += n
            return
        self._push_cols([data], n)

    def _push_cols(self, cols: Sequence[Sequence[float]], n: int) -> None:
        if self._pending:
            self._drain()
        if self.exact_max:
            self._push_cols_exact(cols, n)
            return
        coeffs = self._coeffs
        weights = self.weights
        for start, stop in self._segments(n):
            acc = 0.0
            for c, col in enumerate(cols):
                part = col if (start == 0 and stop == n) else col[start:stop]
                ss = _kfilter_sumsq_pure(part, coeffs, self._states[c])
                acc += weights[c] * ss
            self._add(acc, stop - start)

    def _push_cols_exact(self, cols: Sequence[Sequence[float]], n: int) -> None:
        """The pure path with ``exact_max``: K-weighted squares per sample, then the sums."""
        kern = _kernel("kweight") if n >= KERNEL_MIN else None
        if kern is not None:
            ksq = self._kweight_exact(kern, cols, n)
            for a, b in self._segments(n):
                self._add(math.fsum(ksq[a:b]), b - a)
            return
        sq = [0.0] * n
        for c, col in enumerate(cols):
            w = self.weights[c]
            z = _kfilter_sq_pure(col, self._coeffs, self._states[c])
            if w != 0.0:
                sq = list(map(operator.add, sq, map(operator.mul, z, repeat(w))))
        self._fine_update(sq, n)
        for a, b in self._segments(n):
            self._add(math.fsum(sq[a:b]), b - a)

    def push_block_stats(
        self, block: array[float], *, split: bool = False, on_step: Callable[[], None] | None = None
    ) -> array[float] | None:
        """Feed a planar ``array('d')`` (``channels`` channels of ``n`` samples, channel ``c`` at
        ``c n``) natively, with ``exact_max`` (the ``meter`` kernel, see ``backend.KERNEL_NAMES``):
        the readings bit-identical to :meth:`push_planar` of the channel lists — with ``split``,
        to one :meth:`push_planar` per 100 ms segment (the windows' running sums restart at each).
        ``on_step()`` is called after every completed 100 ms sub-block. Returns the channels'
        sample peaks then sums of squares (``math.sumprod(x_c, x_c)``), or ``None`` (nothing fed)
        when the kernel is not installed, the meter has no ``exact_max`` or the array is not of
        doubles.

        Raises InvalidBufferError (length not a multiple of ``channels``) or NonFiniteInputError
        before any state changes."""
        kern = _kernel("meter")
        if kern is None or not self.exact_max or type(block) is not array or block.typecode != "d":
            return None
        ch = self.channels
        n = planar_frames(block, ch)
        if not n:
            return array("d", bytes(16 * ch))
        if self._pending:
            self._drain()
        segs = self._segments(n)
        tail = self._fine_tail
        if type(tail) is not array:
            tail = array("d", tail)
        tl = len(tail)
        keep = self._win_s - 1
        (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = self._coeffs
        head: list[float] = [ch, n, tl, self._samples, self._win_m, self._win_s, keep, self._step]
        head += [self._pos, split, b0, b1, b2, a1, a2, d1, d2, *self.weights]
        for st in self._states:
            head += st
        params = array("d", [*head, self._fine_m, self._fine_s])
        out = array("d", bytes(8 * (2 * ch + len(segs))))
        m = min(keep, tl + n)
        # the kernel reads the tail before it writes the new one: once full, it is updated in place
        new_tail = tail if m == tl else array("d", [0.0]) * m
        kern(params, tail, block, out, new_tail)
        if out[0] < 0.0:
            raise NonFiniteInputError(index=int(-1.0 - out[0]) % n)  # within its channel, as push_planar
        s_off = len(head) - 4 * ch
        for c, st in enumerate(self._states):
            st[:] = params[s_off + 4 * c : s_off + 4 * c + 4].tolist()
        self._fine_m, self._fine_s = params[-2], params[-1]
        self._fine_tail = new_tail
        for (a, b), energy in zip(segs, out[2 * ch :], strict=True):
            self._add(energy, b - a)
            if on_step is not None and self._pos == 0:
                on_step()
        return out[: 2 * ch]

    def _kweight_exact(
        self, kern: Callable[..., object], cols: Sequence[Sequence[float]], n: int
    ) -> array[float]:
        """:meth:`_push_cols_exact`'s K-weighting and :meth:`_fine_update` in one ``kweight``
        kernel call (the same arithmetic in the same order; see ``backend.KERNEL_NAMES``); returns
        the weighted squares (an ``array('d')``)."""
        ch = self.channels
        old = self._fine_tail
        tail = old if isinstance(old, array) else array("d", old)
        tl = len(tail)
        seen = self._samples + self._pending_n
        off = seen - tl
        total = seen + n
        head = [float(ch), float(n), float(tl)]
        for win in (self._win_m, self._win_s):
            head += [float(max(win, seen + 1) - off), float(total - off), float(win)]
        (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = self._coeffs
        head += [0.0, 0.0, b0, b1, b2, a1, a2, d1, d2, *self.weights]
        for st in self._states:
            head += st
        buf = array("d", head)
        s_off = len(buf) - 4 * ch
        buf += tail
        x_off = len(buf)
        for col in cols:
            buf.frombytes(col.tobytes() if type(col) is array else _pack(f"{n}d", *col))
        kern(buf)
        for c, st in enumerate(self._states):
            st[:] = buf[s_off + 4 * c : s_off + 4 * c + 4].tolist()
        for i, (lo, hi, attr) in enumerate(((head[3], head[4], "_fine_m"), (head[6], head[7], "_fine_s"))):
            if lo <= hi and buf[9 + i] > getattr(self, attr):
                setattr(self, attr, buf[9 + i])
        keep = self._win_s - 1
        end = x_off + n
        self._fine_tail = buf[max(x_off - tl, end - keep) : end]
        return buf[x_off:end]

    def _fine_update(self, sq: list[float] | array[float] | _Array, n: int) -> None:
        """exact_max: fold the windows ending at each of the ``n`` new samples into the maxima.

        With ``c`` the cumulative sum of (tail + new squares), the window of length ``W``
        ending at sample ``e`` has energy ``c[e] - c[e - W]`` (valid once ``e >= W``).
        """
        seen = self._samples + self._pending_n  # samples before this block (not yet added)
        tail = self._fine_tail
        off = seen - len(tail)  # global index of ext[0]
        total = seen + n
        if use_numpy(sq) or (np is not None and isinstance(tail, np.ndarray)):
            arr = np.concatenate([np.asarray(tail, dtype=np.float64), np.asarray(sq, dtype=np.float64)])
            cum = np.concatenate([[0.0], np.cumsum(arr)])
            for win, attr in ((self._win_m, "_fine_m"), (self._win_s, "_fine_s")):
                lo = max(win, seen + 1) - off
                hi = total - off
                if lo <= hi:
                    v = float((cum[lo : hi + 1] - cum[lo - win : hi + 1 - win]).max())
                    if v > getattr(self, attr):
                        setattr(self, attr, v)
            self._fine_tail = arr[-(self._win_s - 1) :].copy()
            return
        ext = list(tail) + list(sq)
        c = [0.0]
        c.extend(accumulate(ext))
        for win, attr in ((self._win_m, "_fine_m"), (self._win_s, "_fine_s")):
            lo = max(win, seen + 1) - off
            hi = total - off
            if lo <= hi:
                v = max(map(operator.sub, c[lo : hi + 1], c[lo - win : hi + 1 - win]))
                if v > getattr(self, attr):
                    setattr(self, attr, v)
        self._fine_tail = ext[-(self._win_s - 1) :]

    def _push_np_checked(self, y: _Array) -> None:
        """:meth:`push` of a mono, non-empty, C-contiguous float64 1-D array already known to be
        finite (the caller checked it); the same readings as ``push(y)`` up to rounding (the
        energy of a block is one dot product here). Other shapes take :meth:`push`."""
        if self.exact_max or self.channels != 1 or y.ndim != 1 or self.weights[0] != 1.0 or y.shape[0] < 64:
            self.push(y)
            return
        if self._pending:
            self._drain()
        n = y.shape[0]
        if n > self._step - self._pos:  # crosses a 100 ms sub-block boundary: the general path
            self._push_np(y)
            return
        k = _kfilter_np(y, self.sample_rate, self._states[0])
        self._add(float(k @ k), n)

    def _push_np(self, block: Any) -> None:
        x = _as_float_array(block)
        if x.ndim == 1:
            if self.channels != 1:
                raise InvalidBufferError(f"expected shape (frames, {self.channels}), got {x.shape}")
            x = x[:, None]
        elif x.ndim != 2 or x.shape[1] != self.channels:
            raise InvalidBufferError(f"expected shape (frames, {self.channels}), got {x.shape}")
        n = x.shape[0]
        if n == 0:
            return
        if self._pending:
            self._drain()
        if n < 64 and not self.exact_max:  # tiny blocks: the scalar loop is cheaper, same numbers
            self._push_pure(x[:, 0].tolist() if self.channels == 1 else x.tolist())
            return
        sq: _Array | None
        if self.channels == 1 and self.weights[0] == 1.0:
            # mono, unit weight: the same numbers as the general loop (0 + 1.0 * y^2 == y^2)
            y = _kfilter_np(np.ascontiguousarray(x[:, 0]), self.sample_rate, self._states[0])
            sq = y * y
        else:
            sq = None
            for c, w in enumerate(self.weights):
                y = _kfilter_np(np.ascontiguousarray(x[:, c]), self.sample_rate, self._states[c])
                if w == 0.0:
                    continue
                e = y * y if w == 1.0 else w * (y * y)  # 1.0 * v == v: the same numbers
                if sq is None:
                    sq = e  # == 0.0 + e (e >= 0)
                else:
                    sq += e
            if sq is None:
                sq = np.zeros(n)
        if self.exact_max:
            self._fine_update(sq, n)
        start = 0
        first = min(n, self._step - self._pos)
        if first:
            self._add(float(sq[:first].sum()), first)
            start = first
        full = (n - start) // self._step
        if full:
            sums = sq[start : start + full * self._step].reshape(full, self._step).sum(axis=1).tolist()
            for s in sums:
                self._add(s, self._step)
            start += full * self._step
        if start < n:
            self._add(float(sq[start:].sum()), n - start)

    def _add(self, energy: float, count: int) -> None:
        """Accumulate ``count`` samples of weighted energy; close sub-blocks at 100 ms."""
        self._acc += energy
        self._pos += count
        self._samples += count
        if self._pos < self._step:
            return
        # A 100 ms sub-block is complete.
        self._recent.append(self._acc)
        self._acc = 0.0
        self._pos = 0
        self._nsub += 1
        recent = self._recent
        if self._nsub >= 4:
            # BS.1770-4 eq. (1): z_i = (1/T) ∫ y_i^2 dt over the 400 ms gating block,
            # one block every 100 ms (75 % overlap, eq. 3).
            z = (recent[-1] + recent[-2] + recent[-3] + recent[-4]) / (4 * self._step)
            self._blocks.add(z)
            self._momentary = _energy_to_lufs(z)
            if self._momentary > self._momentary_max:
                self._momentary_max = self._momentary
        if self._nsub >= 30:
            # EBU Tech 3341 short-term loudness: 3 s sliding window, 10 Hz update.
            zs = sum(recent) / (30 * self._step)
            self._st_blocks.add(zs)
            self._short_term = _energy_to_lufs(zs)
            if self._short_term > self._short_term_max:
                self._short_term_max = self._short_term

    # -- readings ------------------------------------------------------------------------
    @property
    def momentary(self) -> float:
        """Momentary loudness (LUFS, last 400 ms on the 100 ms grid); -inf before 400 ms."""
        return self._momentary

    @property
    def short_term(self) -> float:
        """Short-term loudness (LUFS, last 3 s on the 100 ms grid); -inf before 3 s."""
        return self._short_term

    @property
    def momentary_max(self) -> float:
        """Maximum momentary loudness so far (LUFS); -inf before 400 ms. On the 100 ms grid,
        or over every sample position with ``exact_max``."""
        if self.exact_max and self._fine_m > 0.0:
            return max(self._momentary_max, _energy_to_lufs(self._fine_m / self._win_m))
        return self._momentary_max

    @property
    def short_term_max(self) -> float:
        """Maximum short-term loudness so far (LUFS); -inf before 3 s. On the 100 ms grid, or
        over every sample position with ``exact_max``."""
        if self.exact_max and self._fine_s > 0.0:
            return max(self._short_term_max, _energy_to_lufs(self._fine_s / self._win_s))
        return self._short_term_max

    @property
    def integrated(self) -> float:
        """Gated integrated loudness (LUFS) per BS.1770-4 §2; -inf when no block passes."""
        n = self._blocks.seen
        if self._cache_integrated is not None and self._cache_integrated[0] == n:
            return self._cache_integrated[1]
        value = self._blocks.integrated()
        self._cache_integrated = (n, value)
        return value

    @property
    def loudness_range(self) -> float:
        """Loudness range (LU) per EBU Tech 3342; 0.0 while no short-term value passes."""
        n = self._st_blocks.seen
        if self._cache_lra is not None and self._cache_lra[0] == n:
            return self._cache_lra[1]
        value = self._st_blocks.loudness_range()
        self._cache_lra = (n, value)
        return value

    def summary(self) -> dict[str, float]:
        """All readings as a dict (``-inf`` kept; use ``to_json_safe`` for JSON)."""
        return {
            "integrated": self.integrated,
            "momentary": self.momentary,
            "shortTerm": self.short_term,
            "momentaryMax": self.momentary_max,
            "shortTermMax": self.short_term_max,
            "lra": self.loudness_range,
        }


def _gated_loudness(blocks: list[float]) -> float:
    # BS.1770-4 eq. (5)/(6): J_a = {j : l_j > Γ_a}; Γ_r = -0.691 + 10 log10(mean_{J_a} z) - 10;
    # L_KG = -0.691 + 10 log10(mean over J_g = {j : l_j > Γ_a and l_j > Γ_r} of z_j).
    above = [z for z in blocks if z > _ABS_GATE_Z]
    if not above:
        return NEG_INF
    rel = sum(above) / len(above) * _REL_GATE_INTEGRATED
    gated = [z for z in above if z > rel]
    if not gated:
        return NEG_INF
    return _energy_to_lufs(sum(gated) / len(gated))


def _percentile(sorted_vals: list[float], pct: float) -> float:
    """Linear-interpolation percentile (numpy's default method) of a sorted list."""
    pos = (len(sorted_vals) - 1) * pct / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_vals) - 1)
    frac = pos - lo
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * frac


def _loudness_range(st_blocks: list[float]) -> float:
    # EBU Tech 3342 §3: short-term values (3 s, 10 Hz); absolute gate -70 LUFS; relative gate
    # -20 LU below the energy mean of the absolutely gated values; LRA = L_95 - L_10.
    above = [z for z in st_blocks if z > _ABS_GATE_Z]
    if not above:
        return 0.0
    rel = sum(above) / len(above) * _REL_GATE_LRA
    vals = sorted(_energy_to_lufs(z) for z in above if z > rel)
    if len(vals) < 2:
        return 0.0
    return max(0.0, _percentile(vals, 95.0) - _percentile(vals, 10.0))


class _GateHistogram:
    """Block energies above the absolute gate, bucketed by loudness in 0.1 LU bins.

    Gives exactly the same gated sets as the list-based :func:`_gated_loudness` and
    :func:`_loudness_range` (bins away from the relative threshold are summed whole, the
    bins next to it are compared member by member), but a reading costs O(bins) instead of
    O(blocks), so hour-long sessions stay cheap on the pure path (one block per 100 ms).
    """

    __slots__ = ("seen", "bins", "sums", "total", "count")

    def __init__(self) -> None:
        self.seen = 0  # blocks offered (also those below the absolute gate)
        self.bins: dict[int, list[float]] = {}
        self.sums: dict[int, float] = {}
        self.total = 0.0
        self.count = 0

    @staticmethod
    def _index(z: float) -> int:
        return int(math.floor((_energy_to_lufs(z) - _ABS_GATE_LUFS) * 10.0))

    def add(self, z: float) -> None:
        self.seen += 1
        if not z > _ABS_GATE_Z:
            return
        i = self._index(z)
        members = self.bins.get(i)
        if members is None:
            self.bins[i] = [z]
            self.sums[i] = z
        else:
            members.append(z)
            self.sums[i] += z
        self.total += z
        self.count += 1

    def _gated(self, factor: float) -> tuple[float, list[tuple[int, list[float]]]]:
        """Relative threshold energy and the bins (ascending) with their members above it."""
        rel = self.total / self.count * factor
        edge = self._index(rel) if rel > _ABS_GATE_Z else -(10**9)
        out: list[tuple[int, list[float]]] = []
        for i in sorted(self.bins):
            if i < edge - 1:
                continue
            members = self.bins[i]
            if i <= edge + 1:
                members = [z for z in members if z > rel]
                if not members:
                    continue
            out.append((i, members))
        return rel, out

    def integrated(self) -> float:
        # BS.1770-4 eq. (5)/(6), see _gated_loudness.
        if not self.count:
            return NEG_INF
        rel, kept = self._gated(_REL_GATE_INTEGRATED)
        total = 0.0
        n = 0
        for i, members in kept:
            if len(members) == len(self.bins[i]):
                total += self.sums[i]
            else:
                total += sum(members)
            n += len(members)
        return _energy_to_lufs(total / n) if n else NEG_INF

    def loudness_range(self) -> float:
        # EBU Tech 3342, see _loudness_range: percentiles by rank over the ascending bins.
        if not self.count:
            return 0.0
        _, kept = self._gated(_REL_GATE_LRA)
        n = sum(len(m) for _, m in kept)
        if n < 2:
            return 0.0

        def kth(k: int) -> float:
            for _, members in kept:
                if k < len(members):
                    return _energy_to_lufs(sorted(members)[k])
                k -= len(members)
            raise IndexError(k)  # pragma: no cover - k < n

        def pct(p: float) -> float:
            pos = (n - 1) * p / 100.0
            lo = int(math.floor(pos))
            a = kth(lo)
            b = kth(min(lo + 1, n - 1))
            return a + (b - a) * (pos - lo)

        return max(0.0, pct(95.0) - pct(10.0))
