"""Backend selection: the NumPy path or the pure-Python path.

A processor call takes the **NumPy path** when NumPy is importable, the backend is not
``"pure"`` and the input is an ``ndarray``; it then returns a float64 ``ndarray`` (1-D mono, or
2-D ``(frames, channels)`` with linked detection). Otherwise it takes the **pure path**: any
sequence of numbers in, ``list[float]`` out (mono only). This is the path that runs in Pyodide.

The default backend is ``"auto"``. Importing this package reads no environment: a program
chooses explicitly, with :func:`set_backend`, :func:`using_backend` (a context manager) or
:func:`apply_env`, which applies ``$AIMIXER_DSP_BACKEND`` (``auto`` | ``numpy`` | ``pure``). The
``aimixer`` CLI, the origin's app factory (its ``dsp_backend`` setting) and the test suite's
set-up call it; Pyodide has no environment and keeps ``"auto"``.
``"pure"`` forces the pure path even for ndarray input (the result is then a list).
``"numpy"`` requires NumPy (``ParameterError`` otherwise) and also converts list input to an
ndarray, returning an ndarray.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .errors import InvalidBufferError, InvalidSampleRateError, NonFiniteInputError, ParameterError

try:  # pragma: no cover - depends on the runtime
    import numpy as np

    HAVE_NUMPY = True
except Exception:  # pragma: no cover - Pyodide without numpy
    np = None  # type: ignore[assignment]
    HAVE_NUMPY = False

__all__ = [
    "HAVE_NUMPY",
    "np",
    "BACKENDS",
    "get_backend",
    "set_backend",
    "using_backend",
    "apply_env",
    "ENV_VAR",
    "is_ndarray",
    "use_numpy",
    "as_float_list",
    "as_array",
    "check_list_finite",
    "check_array_finite",
    "KERNEL_NAMES",
    "kernel",
    "set_kernel",
]

BACKENDS = ("auto", "numpy", "pure")

_backend = "auto"


def _resolve(name: str) -> str:
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ParameterError("backend", name, BACKENDS)
    name = name.lower()
    if name == "numpy" and not HAVE_NUMPY:
        raise ParameterError("backend", name, message="backend='numpy' requested but NumPy is not importable")
    return name


def set_backend(name: str) -> None:
    """Select the backend: ``"auto"`` (default), ``"numpy"`` or ``"pure"``.

    Raises
    ------
    ParameterError
        Unknown name, or ``"numpy"`` without NumPy.
    """
    global _backend
    _backend = _resolve(name)


def get_backend() -> str:
    """The backend a call with ndarray input would use now: ``"numpy"`` or ``"pure"``."""
    if _backend == "pure" or not HAVE_NUMPY:
        return "pure"
    return "numpy"


#: the environment variable :func:`apply_env` reads
ENV_VAR = "AIMIXER_DSP_BACKEND"


@contextmanager
def using_backend(name: str) -> Iterator[None]:
    """Select the backend ``name`` for the ``with`` block, then restore the previous setting."""
    global _backend
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        _backend = previous


def apply_env(environ: Mapping[str, str] | None = None) -> str | None:
    """Apply ``$AIMIXER_DSP_BACKEND`` (from ``environ``, default ``os.environ``) when it is set.

    Returns the backend it selected, or ``None`` when the variable is unset or blank.

    Raises
    ------
    ParameterError
        The variable names no backend (or ``numpy`` without NumPy).
    """
    env = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if not env:
        return None
    set_backend(env)
    return env.lower()


#: Loops of the pure path that a host may run natively (the browser engine installs JavaScript
#: kernels, ``wasm/js/kernels.js``), each behind the same Python function, with the same
#: arithmetic in the same order (``kfilter``, ``cascade``: bit-identical results) or the same
#: result up to float rounding (``spectrum``: another FFT). CPython installs none. Signatures
#: (every buffer an ``array('d')``, used in place):
#:
#: * ``spectrum(frame, window, squared, out)``: ``|FFT(frame * window)|`` (``**2`` when
#:   ``squared``) for ``k = 0 .. n/2`` into ``out`` (:func:`aimixer_dsp.features._pure_spectrum`);
#: * ``kfilter(x, params, out)``: :func:`aimixer_dsp.meters._kfilter_loop` with ``params =
#:   (s1, s2, s3, s4, q1, q2, a1, a2, d1, d2)``; ``out = (acc, s1, s2, s3, s4)``;
#: * ``cascade(x, coeffs, states, gain, out)``: the EQ's normalised biquad sections
#:   (:mod:`aimixer_dsp.processors.eq`), ``coeffs`` 4 and ``states`` 2 per section (updated in
#:   place), ``out[i] = gain * y_last[i]``;
#: * ``truepeak(buf)``: a block's reading of :class:`aimixer_dsp.truepeak.TruePeakMeter` (one
#:   channel) in one buffer ``buf = (T, P, taps (P T), hist (T - 1), x (n))``: ``buf[0] =
#:   max(max |x|, max |sum_j taps[p T + j] y[t - j]|)`` over the phases ``p`` and ``t = T - 1 ..
#:   T - 2 + n`` of ``y = hist + x`` (the FIR term only when ``max |y| > 1e-280``); the same
#:   result up to float rounding (the pure path's integer products are exact to 2**-37 of the
#:   block's peak).
#: * ``stft(padded, window, hop, sample_rate, n_frames, bands, weights, mel_out, frames_out)``:
#:   the per-frame work of :func:`aimixer_dsp.features._analyze_pure` for all frames at once (the
#:   same results up to float rounding): frame ``t`` is ``padded[t hop : t hop + n_fft]``;
#:   ``mel_out[t n_mels + b] = sum_j |X_{first_b + j}|^2 weights[off_b + j]`` (``bands`` holds
#:   ``(first_b, count_b)`` per filter, ``off_b`` the counts before ``b``) and, when
#:   ``frames_out`` is not empty, ``frames_out[4 t : 4 t + 4]`` = centroid (Hz), rolloff (Hz),
#:   flux, zero-crossing rate as defined in :mod:`aimixer_dsp.features`.
#:
#: * ``kweight(buf)``: the K-weighting of :meth:`aimixer_dsp.meters.LoudnessMeter._push_cols_exact`
#:   (the arithmetic of ``meters._kfilter_sq_pure``, bit-identical) for a planar block of ``ch``
#:   channels, their weighted squares summed per sample, and the exact-maximum windows of
#:   ``_fine_update`` over the tail + the new squares, in one buffer ``(ch, n, tl, loM, hiM, winM,
#:   loS, hiS, winS, maxM, maxS, b0, b1, b2, a1, a2, d1, d2, weights (ch), states (4 ch), tail
#:   (tl), x (ch n))``: the squares overwrite ``x[:n]``, the states and ``maxM``/``maxS`` (window
#:   energy sums; ``lo > hi``: no window) are written (:meth:`~aimixer_dsp.meters.LoudnessMeter._kweight_exact`);
#:   :mod:`aimixer_dsp.loudnorm` uses it with no tail and no windows for its chunk energies;
#: * ``tprows(buf, taps, T)``: :meth:`aimixer_dsp.truepeak.TruePeakMeter.row_peaks`:
#:   ``buf[t - T + 1] = max_p |sum_j taps[p T + j] buf[t - j]|`` for ``t = T - 1 .. len(buf) - 1``
#:   (in place; the same result up to float rounding, as ``truepeak``).
#:
#: The dynamics kernels (``wasm/js/kernels_dynamics.js``) take ONE ``array('d')`` ``buf``
#: (constants, state, then a planar block ``x`` of ``ch`` channels, channel ``c`` at ``off + c n``;
#: the state is updated and the output overwrites ``x``): one buffer request per call. They detect
#: on the linked level ``max_c |x_c|`` and apply one gain to every channel (``ch = 1``: the mono
#: pure path; ``ch > 1``: the render's linked channels, :class:`aimixer_dsp.render.ChannelChain`),
#: with the same arithmetic as the Python loops, which call ``exp``/``log`` where JavaScript's
#: ``Math`` may differ by an ulp:
#:
#: * ``gate(buf, ch)``: :meth:`aimixer_dsp.processors.gate.NoiseGate._py`,
#:   ``buf = (thr, hold, floor, aR, aA, since, y1, g, x...)``;
#: * ``compressor(buf, ch, eq)``: the compressor's loop in gain nepers
#:   (:meth:`aimixer_dsp.processors.compressor.Compressor._py`), ``buf = (ns, c1, lhi, llo, nk,
#:   aR, aA, lo, makeup, W, G, x...)``; with ``eq`` true (mono) 19 values follow ``G`` (the EQ's
#:   12 coefficients, 6 states, output gain): the loop fused with the EQ (``_comp_eq3_loop``);
#: * ``limiter(buf, ch)``: the sample-peak limiter (:meth:`aimixer_dsp.processors.limiter.Limiter._py`),
#:   ``buf = (L, M, c, aR, sum(hist), u, hist (M - 1), delay lines (ch x L), x...)``;
#: * ``tplimit(buf, ch, A, T)``: the true-peak limiter of :meth:`aimixer_dsp.loudnorm.Normalizer._planar`
#:   after its ``tprows`` calls, ``buf = (ha (A), hr (T), hx (ch x T), L, M, c, aR, sum(hist), u,
#:   hist (M - 1), core delay (L), de (L), dx (ch x L), wideband row peaks (ch x n), Annex 2 row
#:   peaks (ch x n), x...)``: the linked detector envelope (only max and abs), the core
#:   ``limiter`` loop on it, the delayed channels times ``ye / es``; every history and the core's
#:   state are updated in the buffer.
#:
#: The chain kernels (``wasm/js/kernels_chain.js``) serve the render's planar blocks
#: (:class:`aimixer_dsp.render.FileJob`, :class:`~aimixer_dsp.render.ChannelChain`), exactly:
#:
#: * ``finite(block) -> int``: the index of the first NaN/Inf of an ``array('d')``, or ``-1``;
#: * ``scale(block, g)``: ``x[i] = x[i] * g`` in place;
#: * ``eqblock(block, off, n, coeffs, states, gain)``: the ``cascade`` kernel's sections (1..3)
#:   on ``block[off : off + n]`` in place (output ``gain * y_last``; ``states`` updated);
#: * ``peaks(block, thr, out)``: ``out = (max |x|, first i with |x[i]| >= thr, last such i)``
#:   (``-1`` for none): the pass-through tests of the mono chain's gate, compressor and limiter.
#: The meter kernels (``wasm/js/kernels_meters.js``; bit-identical to the list path, Python's
#: ``math.fsum``/``math.sumprod``/``sum`` reproduced exactly):
#:
#: * ``meter(params, tail, x, out, new_tail)``: :meth:`aimixer_dsp.meters.LoudnessMeter.push_block_stats`;
#: * ``mono(x, k, out)``: ``out[i] = sum(x_c[i] for c < k) / k`` of a planar block;
#: * ``genrerows(mono, count, hop, sample_rate, window, bands, weights, out)``:
#:   :func:`aimixer_dsp.genre.segment_rows_native`.
#: The loudness pass's kernels (``wasm/js/kernels_loudnorm.js``) take the planar ``array('d')``
#: block itself (read only) beside a small state array (constants and carried state, updated):
#:
#: * ``normanalysis(state, block, taps, bounds, out)``: :meth:`aimixer_dsp.loudnorm.NormalizationAnalysis.push`,
#:   ``state = (ch, T, lead, b0, b1, b2, a1, a2, d1, d2, weights (ch), K states (4 ch), true-peak
#:   histories (ch x (T - 1)), row-peak history (lead))``, ``taps`` the true-peak meter's phases,
#:   ``bounds`` the chunk boundaries in the block (``k + 1``); ``out[:k]`` = the chunks' energies
#:   (the ``kweight`` squares, ``math.fsum`` per chunk), ``out[k:]`` = their peaks (``|x|`` and
#:   the ``tprows`` row peaks, max over the channels): the list path's values bit for bit;
#: * ``normalize(state, block, wide, annex, out)``: :meth:`aimixer_dsp.loudnorm.Normalizer.process`,
#:   ``state = (ch, A, T, Tw, Ta, gain, tplimit's buffer head (ha .. dx), wideband histories
#:   (ch x (Tw - 1)), Annex 2 histories (ch x (Ta - 1)))``, ``wide``/``annex`` the two
#:   interpolators' phases: the gain, both interpolators' ``tprows`` rows and the ``tplimit``
#:   loop; the limited block goes to ``out`` (the list path's output bit for bit).
#:
#:   Both compute the rows' FIR in WebAssembly SIMD where the host has it (two samples per
#:   ``f64x2``, each lane the ``tprows`` operations in their order: the same values).
KERNEL_NAMES = (
    "spectrum",
    "kfilter",
    "cascade",
    "truepeak",
    "stft",
    "gate",
    "compressor",
    "limiter",
    "kweight",
    "tprows",
    "tplimit",
    "finite",  # a planar block's first NaN/Inf index or -1 (render.FileJob's input check)
    "scale",  # x *= g in place (the gain stage and makeup on planar blocks)
    "eqblock",  # the EQ's normalised cascade on one channel of a planar block, in place
    "peaks",  # (max |x|, first and last index with |x| >= thr) of a mono block
    "meter",  # render.FileMeter on a planar array: peaks, sums of squares, the exact-max loudness meter
    "mono",  # render.GenreAnalysis: the mono mix sum(x_c[i]) / k of a planar array
    "genrerows",  # genre.segment_rows_native: the spectra, mel energies and frame features of the rows
    "normanalysis",  # loudnorm.NormalizationAnalysis.push of a planar array (kernels_loudnorm.js)
    "normalize",  # loudnorm.Normalizer.process of a planar array (kernels_loudnorm.js)
)
#: shortest block handed to a kernel (below it the call costs more than the loop)
KERNEL_MIN = 256
#: a native kernel (a JavaScript function in the browser): called with a planar ``array('d')``
#: (see :func:`aimixer_dsp.processors.base.planar`) and a few numbers, it writes its results
#: into that buffer
Kernel = Callable[..., object]
_kernels: dict[str, Kernel] = {}


def set_kernel(name: str, fn: Kernel | None) -> None:
    """Install a native kernel for ``name`` (one of :data:`KERNEL_NAMES`), or remove it (``None``)."""
    if name not in KERNEL_NAMES:
        raise ParameterError("kernel", name, KERNEL_NAMES)
    if fn is None:
        _kernels.pop(name, None)
    else:
        _kernels[name] = fn


def kernel(name: str) -> Kernel | None:
    """The installed kernel for ``name``, or ``None``."""
    return _kernels.get(name)


def is_ndarray(block: Any) -> bool:
    """``True`` when ``block`` is a NumPy ndarray."""
    return HAVE_NUMPY and isinstance(block, np.ndarray)


def use_numpy(block: Any) -> bool:
    """Whether a call with this input takes the NumPy path (see module docstring)."""
    if not HAVE_NUMPY or _backend == "pure":
        return False
    if _backend == "numpy":
        return True
    return isinstance(block, np.ndarray)


def check_meter_format(sample_rate: object, channels: object) -> int:
    """A meter's format (the loudness and true-peak meters): ``sample_rate`` a whole number of
    Hz in [8000, 384000], ``channels`` an int in [1, 16]. Returns the rate as an int."""
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int | float)
        or not (8000 <= sample_rate <= 384000)
        or int(sample_rate) != sample_rate
    ):
        raise InvalidSampleRateError(f"sample_rate={sample_rate!r} is out of range [8000, 384000]")
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 16:
        raise ParameterError("channels", channels, (1, 16))
    return int(sample_rate)


def planar_columns(block: Any, channels: int) -> list[list[Any]] | None:
    """The pure path's input as checked per-channel columns: a mono sequence of samples (or of
    one-sample frames), or ``channels``-sample frames; ``None`` for an empty block.

    Raises InvalidBufferError (wrong frame width) or NonFiniteInputError before any state changes.
    """
    data = block if isinstance(block, list) else list(block)
    if not data:
        return None
    if channels == 1:
        if isinstance(data[0], list | tuple):
            data = [float(f[0]) for f in data]
        check_list_finite(data)
        return [data]
    if not isinstance(data[0], list | tuple) or any(len(f) != channels for f in data):
        raise InvalidBufferError(f"expected {channels} channels per frame")
    cols = [[float(f[c]) for f in data] for c in range(channels)]
    for col in cols:
        check_list_finite(col)
    return cols


def check_list_finite(data: list[float]) -> None:
    """Raise :class:`NonFiniteInputError` if a list of floats holds NaN or Inf."""
    try:
        s = sum(data)
    except TypeError as exc:
        raise InvalidBufferError("audio samples must be numbers") from exc
    if not math.isfinite(s):
        isfinite = math.isfinite
        for i, v in enumerate(data):
            if not isfinite(v):
                raise NonFiniteInputError(index=i)


def as_float_list(block: Any) -> list[float]:
    """Validate a mono block for the pure path and return it as a list of numbers.

    A ``list`` of numbers is returned as is (not copied; processors never mutate their input).
    Other sequences (tuple, ``array.array``, 1-D ndarray, memoryview) are converted.

    Raises
    ------
    InvalidBufferError
        Not a flat sequence of numbers (e.g. 2-D, strings).
    NonFiniteInputError
        NaN or Inf anywhere in the block.
    """
    if isinstance(block, list):
        data = block
    else:
        if HAVE_NUMPY and isinstance(block, np.ndarray):
            if block.ndim != 1:
                raise InvalidBufferError(
                    f"the pure-Python path takes mono 1-D input, got shape {tuple(block.shape)}"
                )
            data = block.astype(float).tolist()
        elif isinstance(block, str | bytes | dict) or block is None:
            raise InvalidBufferError(f"audio must be a sequence of numbers, got {type(block).__name__}")
        else:
            try:
                data = list(block)
            except TypeError as exc:
                raise InvalidBufferError(
                    f"audio must be a sequence of numbers, got {type(block).__name__}"
                ) from exc
    if data:
        first = data[0]
        if isinstance(first, list | tuple):
            raise InvalidBufferError(
                "the pure-Python path takes mono 1-D input (use an ndarray for channels)"
            )
        check_list_finite(data)
        if isinstance(first, bool) or not isinstance(first, float | int):
            # rare: ints are fine; anything else (bool, Decimal, str) is rejected/converted
            try:
                data = [float(v) for v in data]
            except (TypeError, ValueError) as exc:
                raise InvalidBufferError("audio samples must be numbers") from exc
    return data


_zeros_buf: list[Any] = []  # [the ndarray of zeros] once one was needed

#: up to this many values :func:`check_array_finite` uses ``isfinite`` (cheaper per call)
_SMALL_CHECK = 16384


def _zeros(n: int) -> Any:
    if not _zeros_buf or _zeros_buf[0].size < n:
        _zeros_buf[:] = [np.zeros(max(n, 4096))]
    return _zeros_buf[0][:n]


def check_array_finite(x: Any) -> None:
    """Raise :class:`NonFiniteInputError` if a float64 ndarray holds NaN or Inf.

    Small blocks: ``isfinite(x)`` (no floating-point warnings to suppress). Long ones:
    ``x . 0`` is NaN iff some element is NaN or Inf (``inf * 0 = nan``) — faster per sample,
    and unlike a plain sum it cannot overflow on huge finite values.
    """
    if x.size == 0:
        return
    flat = x.reshape(-1)
    if flat.size <= _SMALL_CHECK:
        ok = np.isfinite(flat)
        if ok[ok.argmin()]:  # argmin finds a False if there is one (faster than all())
            return
    else:
        with np.errstate(invalid="ignore"):
            probe = float(flat @ _zeros(flat.size))
        if math.isfinite(probe):
            return
    bad = ~np.isfinite(flat)
    if bad.any():
        raise NonFiniteInputError(index=int(np.flatnonzero(bad)[0]))


def as_array(block: Any) -> Any:
    """Validate a block for the NumPy path: float64 ndarray, 1-D or 2-D ``(frames, channels)``.

    Raises
    ------
    InvalidBufferError
        Wrong number of dimensions or not numeric.
    NonFiniteInputError
        NaN or Inf anywhere in the block.
    """
    try:
        x = np.asarray(block, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidBufferError("audio samples must be numbers") from exc
    if x.ndim not in (1, 2):
        raise InvalidBufferError(
            f"audio must be 1-D (frames,) or 2-D (frames, channels), got shape {x.shape}"
        )
    if x.ndim == 2 and x.shape[1] == 0:
        raise InvalidBufferError("audio has zero channels")
    check_array_finite(x)
    return x
