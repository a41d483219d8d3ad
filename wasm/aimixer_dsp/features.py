"""MFCC and spectral features, librosa-compatible, on a pure-Python and a NumPy path.

MFCC matches ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=..., n_fft=..., hop_length=...,
window=..., n_mels=...)`` at librosa's defaults, i.e.:

* STFT: ``center=True`` with constant (zero) padding of ``n_fft // 2`` on both sides, so there
  are ``1 + len(y) // hop`` frames; periodic window (``scipy.signal.get_window(fftbins=True)``);
  ``win_length = n_fft``.
* Power spectrogram (``power=2``).
* Mel filterbank: Slaney mel scale (``htk=False``: linear below 1 kHz, logarithmic above),
  ``norm="slaney"`` (area normalisation ``2 / (f[i+2] - f[i])``), ``fmin=0``, ``fmax=sr/2``.
* ``power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0)``: ``10 log10(max(amin, S))`` then clipped
  at 80 dB below the maximum of the whole mel spectrogram.
* DCT-II with ``norm="ortho"`` over the mel axis, first ``n_mfcc`` coefficients, no liftering.

Spectral features (per frame, on the same centred frames, from the magnitude spectrum ``|X|``):

* ``centroid``: ``sum(f_k |X_k|) / sum(|X_k|)`` in Hz (0 for a silent frame), as
  ``librosa.feature.spectral_centroid``.
* ``rolloff``: lowest bin frequency where the cumulative magnitude reaches 85 % of the total,
  in Hz, as ``librosa.feature.spectral_rolloff`` (0 Hz for a silent frame).
* ``flux``: Euclidean distance between the magnitude spectra of consecutive frames
  (``sqrt(sum_k (|X_t,k| - |X_t-1,k|)^2)``); 0 for the first frame.
* ``zcr``: sign changes between neighbouring samples of the (unwindowed, zero-padded) frame,
  divided by ``n_fft``; a sample is negative when ``x < 0``.

Short input: any non-empty input gives at least one frame (centring pads it); an empty input
gives zero frames, an empty MFCC matrix and 0.0 for the summary values. Nothing raises for
short input. Parameters are validated first (:class:`ParameterError` naming the field).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import accumulate, chain
from operator import mul, ne, sub
from typing import TYPE_CHECKING, Any

from .backend import HAVE_NUMPY, check_list_finite, use_numpy
from .backend import kernel as _kernel
from .errors import NonFiniteInputError, ParameterError
from .fft import _fft, _plan

if HAVE_NUMPY:  # pragma: no branch
    import numpy as np
else:  # pragma: no cover - Pyodide without NumPy
    np = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "WINDOWS",
    "FFT_SIZE_RANGE",
    "get_window",
    "mel_filterbank",
    "dct_matrix",
    "hz_to_mel",
    "mel_to_hz",
    "mfcc",
    "frame_features",
    "extract_features",
]

WINDOWS = ("hann", "hamming", "blackman")
FFT_SIZE_RANGE = (64, 16384)  # powers of two
HOP_RANGE = (1, 65536)
FILTER_RANGE = (1, 256)
COEFF_RANGE = (1, 256)
SAMPLE_RATE_RANGE = (1000, 384000)
AMIN = 1e-10
TOP_DB = 80.0
ROLL_PERCENT = 0.85

#: the pure path's mel filters: ``(first_bin, weights)`` and ``(first_bin, end_bin, weights)``
_SparseFilters = tuple[tuple[int, tuple[float, ...]], ...]
_BinFilters = tuple[tuple[int, int, tuple[float, ...]], ...]
_Quad = tuple[complex, complex, complex, complex]
#: ``(window, twiddles, r, r_quads, plain window)``, see :func:`_pure_tables`
_PureTables = tuple[
    list[tuple[float, ...]],
    list[tuple[complex, ...]],
    list[complex],
    "list[_Quad] | None",
    "array[float]",
]
#: MFCC rows and per-frame features of the pure path
_PureResult = tuple[list[list[float]], "dict[str, list[float]] | None"]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _int_param(name: str, value: Any, rng: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ParameterError(name, value, rng)
    if isinstance(value, float) and value != int(value):
        raise ParameterError(name, value, rng, message=f"{name}={value!r} must be an integer in {list(rng)}")
    iv = int(value)
    if not rng[0] <= iv <= rng[1]:
        raise ParameterError(name, value, rng)
    return iv


def _validate(
    names: tuple[str, str, str, str, str, str],
    sample_rate: Any,
    n_mfcc: Any,
    n_mels: Any,
    n_fft: Any,
    hop: Any,
    window: Any,
) -> tuple[int, int, int, int, int, str]:
    """Check parameters; ``names`` are the caller's field names (API or librosa style)."""
    sr = _int_param(names[0], sample_rate, SAMPLE_RATE_RANGE)
    nfft = _int_param(names[3], n_fft, FFT_SIZE_RANGE)
    if nfft & (nfft - 1):
        raise ParameterError(
            names[3],
            n_fft,
            FFT_SIZE_RANGE,
            message=f"{names[3]}={n_fft!r} must be a power of two in [64, 16384]",
        )
    nm = _int_param(names[2], n_mels, FILTER_RANGE)
    nc = _int_param(names[1], n_mfcc, (COEFF_RANGE[0], min(COEFF_RANGE[1], nm)))
    h = _int_param(names[4], hop, HOP_RANGE)
    if not isinstance(window, str) or window.lower() not in WINDOWS:
        raise ParameterError(names[5], window, WINDOWS)
    return sr, nc, nm, nfft, h, window.lower()


_LIBROSA_NAMES = ("sample_rate", "n_mfcc", "n_mels", "n_fft", "hop_length", "window")
_API_NAMES = ("sample_rate", "numCoefficients", "numFilters", "fftSize", "hopSize", "windowType")


# --------------------------------------------------------------------------------------------
# Cached builders
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def get_window(name: str, n: int) -> tuple[float, ...]:
    """Periodic (DFT-even) window of length ``n``, as ``scipy.signal.get_window(name, n)``.

    ``hann``: ``0.5 - 0.5 cos(2 pi k / n)``; ``hamming``: ``0.54 - 0.46 cos(2 pi k / n)``;
    ``blackman``: ``0.42 - 0.5 cos(2 pi k / n) + 0.08 cos(4 pi k / n)``. Cached.
    """
    if name not in WINDOWS:
        raise ParameterError("window", name, WINDOWS)
    if n <= 0:
        return ()
    c = [math.cos(2.0 * math.pi * k / n) for k in range(n)]
    if name == "hann":
        return tuple(0.5 - 0.5 * v for v in c)
    if name == "hamming":
        return tuple(0.54 - 0.46 * v for v in c)
    c2 = [math.cos(4.0 * math.pi * k / n) for k in range(n)]
    return tuple(0.42 - 0.5 * a + 0.08 * b for a, b in zip(c, c2, strict=True))


_F_SP = 200.0 / 3.0  # Slaney: 66.67 Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: float) -> float:
    """Slaney mel scale (librosa ``hz_to_mel(htk=False)``)."""
    if f >= _MIN_LOG_HZ:
        return _MIN_LOG_MEL + math.log(f / _MIN_LOG_HZ) / _LOGSTEP
    return f / _F_SP


def mel_to_hz(m: float) -> float:
    """Inverse of :func:`hz_to_mel`."""
    if m >= _MIN_LOG_MEL:
        return _MIN_LOG_HZ * math.exp(_LOGSTEP * (m - _MIN_LOG_MEL))
    return _F_SP * m


@lru_cache(maxsize=32)
def _sparse_mel(sample_rate: int, n_fft: int, n_mels: int) -> _SparseFilters:
    """Slaney-normalised triangular filters as ``((first_bin, (weights...)), ...)``."""
    n_bins = n_fft // 2 + 1
    fftfreqs = [k * sample_rate / n_fft for k in range(n_bins)]
    lo_mel, hi_mel = hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0)
    mels = [lo_mel + (hi_mel - lo_mel) * i / (n_mels + 1) for i in range(n_mels + 2)]
    mel_f = [mel_to_hz(m) for m in mels]
    filters: list[tuple[int, tuple[float, ...]]] = []
    for i in range(n_mels):
        f0, f1, f2 = mel_f[i], mel_f[i + 1], mel_f[i + 2]
        enorm = 2.0 / (f2 - f0)
        w = []
        first = None
        for k, f in enumerate(fftfreqs):
            lower = (f - f0) / (f1 - f0)
            upper = (f2 - f) / (f2 - f1)
            v = max(0.0, min(lower, upper))
            if v > 0.0:
                if first is None:
                    first = k
                w.append((k, v * enorm))
        if first is None:
            filters.append((0, ()))
            continue
        last = w[-1][0]
        dense = [0.0] * (last - first + 1)
        for k, v in w:
            dense[k - first] = v
        filters.append((first, tuple(dense)))
    return tuple(filters)


@lru_cache(maxsize=32)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> tuple[tuple[float, ...], ...]:
    """Dense mel filterbank, ``n_mels`` rows of ``n_fft // 2 + 1`` weights (librosa Slaney).

    Equal to ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)`` (computed in
    float64). Cached; the pure path uses the sparse form (only the non-zero weights).
    """
    n_bins = n_fft // 2 + 1
    rows = []
    for first, w in _sparse_mel(sample_rate, n_fft, n_mels):
        row = [0.0] * n_bins
        row[first : first + len(w)] = w
        rows.append(tuple(row))
    return tuple(rows)


@lru_cache(maxsize=32)
def dct_matrix(n_mfcc: int, n_mels: int) -> tuple[tuple[float, ...], ...]:
    """Orthonormal DCT-II rows: ``c_k[n] = s_k cos(pi k (2n + 1) / (2 N))``, s_0 = sqrt(1/N),
    s_k = sqrt(2/N) (``scipy.fft.dct(type=2, norm="ortho")``)."""
    rows = []
    for k in range(n_mfcc):
        s = math.sqrt(1.0 / n_mels) if k == 0 else math.sqrt(2.0 / n_mels)
        rows.append(tuple(s * math.cos(math.pi * k * (2 * n + 1) / (2 * n_mels)) for n in range(n_mels)))
    return tuple(rows)


@lru_cache(maxsize=16)
def _np_tables(
    sample_rate: int, n_fft: int, n_mels: int, n_mfcc: int, window: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    return (
        np.array(get_window(window, n_fft)),
        np.array(mel_filterbank(sample_rate, n_fft, n_mels)),
        np.array(dct_matrix(n_mfcc, n_mels)),
    )


@lru_cache(maxsize=16)
def _pure_tables(n_fft: int, window: str) -> _PureTables:
    """Tables for :func:`_pure_spectrum`: ``(window, twiddles, r, r_quads, plain window)``.

    The real FFT of a frame packs ``z[n] = (w[2n] x[2n] + i w[2n+1] x[2n+1]) / 2`` into an
    ``h = n_fft / 2``-point complex FFT (:func:`.fft._plan`) whose first radix-4 stage is fused
    with the windowing: ``window[j]`` holds ``w[2(pq + j)] / 2`` and ``w[2(pq + j) + 1] / 2``
    for the quarters ``p = 0..3`` of ``z`` (``q = h / 4``; the factor 1/2 of the real-FFT split
    is folded into the window, exact: a power of two), ``twiddles[j]`` the stage's twiddles
    ``w_1, w_2, w_3`` and ``i w_1, i w_2, i w_3``. ``r[k] = -i exp(-2 pi i k / n_fft)``,
    ``k = 0 .. h / 2``, untangles the halves. When the last stage is radix 4 (``h`` a power of
    4) it is fused with the untangling, which reads ``r_quads[k - 1] = (r[k], r[m + k],
    r[m - k], r[2m - k])``, ``k = 1 .. m/2 - 1``, ``m = h / 4``; otherwise ``r_quads`` is
    ``None``.
    """
    win = get_window(window, n_fft)
    h = n_fft // 2
    q = h // 4
    even = [0.5 * w for w in win[0::2]]
    odd = [0.5 * w for w in win[1::2]]  # the odd samples go to the imaginary part
    plan = _plan(h)
    cols = []
    for p in range(4):
        cols += [even[p * q : (p + 1) * q], odd[p * q : (p + 1) * q]]
    tw = plan[0][1]  # h >= 32: a radix-4 stage with twiddles
    assert tw is not None
    jtw = [[1j * w for w in wq] for wq in tw]  # exact: swaps and negates
    win_table = list(zip(*cols, strict=True))
    tw_table = list(zip(*tw, *jtw, strict=True))
    r: list[complex] = []
    for k in range(n_fft // 4 + 1):
        w = complex(math.cos(2.0 * math.pi * k / n_fft), -math.sin(2.0 * math.pi * k / n_fft))
        r.append(-1j * w)
    quads: list[_Quad] | None = None
    if plan[-1][0] == 4:
        m = q
        quads = [(r[k], r[m + k], r[m - k], r[2 * m - k]) for k in range(1, m // 2)]
    return win_table, tw_table, r, quads, array("d", win)


# --------------------------------------------------------------------------------------------
# Analysis core
# --------------------------------------------------------------------------------------------


def _pure_spectrum(
    padded: list[float], s: int, n_fft: int, tables: _PureTables, squared: bool
) -> list[float]:
    """``|X_k|^2`` (``squared``) or ``|X_k|``, ``k = 0 .. n_fft / 2``, of the windowed frame
    ``padded[s : s + n_fft]`` (pure path; ``tables = _pure_tables(n_fft, window)``).

    ``Z = FFT(z)`` of the packed frame (see :func:`_pure_tables`) gives ``X`` by the real-FFT
    split: with ``A = Z[k]``, ``B = conj(Z[(h - k) mod h])``, ``E = A + B`` and
    ``O = r_k (A - B)``, ``X[k] = E + O`` and ``conj(X[h - k]) = E - O``, so one ``(E, O)`` pair
    gives ``|X|`` at ``k`` and at ``h - k``, ``k = 0 .. h/2``.
    """
    win, tw, r, quads, plain = tables
    kernel = _kernel("spectrum")  # a native FFT installed by the host (the browser), if any
    if kernel is not None:
        out = array("d", bytes(8 * (n_fft // 2 + 1)))
        frame = array("d", padded[s : s + n_fft])
        if len(frame) < n_fft:
            frame.extend([0.0] * (n_fft - len(frame)))
        kernel(frame, plain, squared, out)
        return out.tolist()
    h = n_fft // 2
    h2 = h // 2
    from_iter = chain.from_iterable
    # First radix-4 stage of Z straight from the samples; quarter p of z is the samples
    # padded[s + p h/2 : s + (p + 1) h/2] (even ones real, odd ones imaginary).
    s1, s2, s3, s4 = s + h2, s + 2 * h2, s + 3 * h2, s + 4 * h2
    # All sums of the stage are formed on the real and imaginary parts (floats, cheap);
    # complex numbers appear only in the outputs: y0 = (R0 + R2) + (I0 + I2) i and, e.g.,
    # y2 = (t0 - t2) w^2 = (R0 - R2) w^2 + (I0 - I2) (i w^2), with t0 = R0 + I0 i, etc.
    first = [
        (
            (r0 := (ea := e0 * v0) + (ec := e2 * v2))
            + (r2 := (eb := e1 * v1) + (ed := e3 * v3))
            + ((i0 := (oa := o0 * u0) + (oc := o2 * u2)) + (i2 := (ob := o1 * u1) + (od := o3 * u3))) * 1j,
            ((r1 := ea - ec) + (i3 := ob - od)) * w1 + ((i1 := oa - oc) - (r3 := eb - ed)) * k1,
            (r0 - r2) * w2 + (i0 - i2) * k2,
            (r1 - i3) * w3 + (i1 + r3) * k3,
        )
        for e0, o0, e1, o1, e2, o2, e3, o3, (v0, u0, v1, u1, v2, u2, v3, u3), (w1, w2, w3, k1, k2, k3) in zip(
            padded[s:s1:2],
            padded[s + 1 : s1 : 2],
            padded[s1:s2:2],
            padded[s1 + 1 : s2 : 2],
            padded[s2:s3:2],
            padded[s2 + 1 : s3 : 2],
            padded[s3:s4:2],
            padded[s3 + 1 : s4 : 2],
            win,
            tw,
            strict=True,
        )
    ]
    f = list(from_iter(first))
    if quads is not None:
        return _last_stage_spectrum(_fft(f, h, 1, -1), h, r, quads, squared)
    zf = _fft(f, h, 1)
    a = zf[: h2 + 1]
    c = zf[0:1] + zf[h - 1 : h2 - 1 : -1]
    if squared:
        pairs = [
            ((m1 := abs((e := u + (v := w.conjugate())) + (o := (u - v) * rk))) * m1, (m2 := abs(e - o)) * m2)
            for u, w, rk in zip(a, c, r, strict=True)
        ]
    else:
        pairs = [
            (abs((e := u + (v := w.conjugate())) + (o := (u - v) * rk)), abs(e - o))
            for u, w, rk in zip(a, c, r, strict=True)
        ]
    f = list(from_iter(pairs))  # S[0], S[h], S[1], S[h - 1], ..., S[h/2], S[h/2]
    return f[0::2] + f[2 * h2 - 1 :: -2]


def _last_stage_spectrum(
    x: list[complex], h: int, r: list[complex], quads: list[_Quad], squared: bool
) -> list[float]:
    """The last (radix-4, twiddle-free) FFT stage fused with the real-FFT split.

    ``x`` is the input of the last stage of the ``h``-point FFT (``m = h / 4``): butterfly ``k``
    of the quarters ``x_p[k]`` gives ``Z[pm + k]``, ``p = 0..3``. The split pairs ``Z[K]`` with
    ``Z[h - K]``, and butterflies ``k`` and ``m - k`` hold each other's partners: ``(Z[k],
    Z[4m - k])``, ``(Z[m + k], Z[3m - k])``, ``(Z[m - k], Z[3m + k])``, ``(Z[2m - k], Z[2m + k])``.
    One loop step computes both butterflies and the four pairs (``k = 1 .. m/2 - 1``);
    butterflies ``0`` and ``m/2`` are their own partners and are done apart. Same operations
    as the separate stage and split, in a different order: identical results.
    """
    m = h // 4
    mh = m // 2
    mj = -1j
    x0, x1, x2, x3 = x[:m], x[m : 2 * m], x[2 * m : 3 * m], x[3 * m :]
    out: list[tuple[float, ...]] = []
    app = out.append
    for a, b, c, d, a_, b_, c_, d_, (ra, rb, rc, rd) in zip(
        x0[1:mh],
        x1[1:mh],
        x2[1:mh],
        x3[1:mh],
        x0[m - 1 : mh : -1],
        x1[m - 1 : mh : -1],
        x2[m - 1 : mh : -1],
        x3[m - 1 : mh : -1],
        quads,
        strict=True,
    ):
        t0 = a + c
        t1 = a - c
        t2 = b + d
        t3 = (b - d) * mj
        y0 = t0 + t2  # Z[k]
        y1 = t1 + t3  # Z[m + k]
        y2 = (t0 - t2).conjugate()  # conj(Z[2m + k])
        y3 = (t1 - t3).conjugate()  # conj(Z[3m + k])
        t0 = a_ + c_
        t1 = a_ - c_
        t2 = b_ + d_
        t3 = (b_ - d_) * mj
        z0 = t0 + t2  # Z[m - k]
        z1 = t1 + t3  # Z[2m - k]
        z2 = (t0 - t2).conjugate()  # conj(Z[3m - k])
        z3 = (t1 - t3).conjugate()  # conj(Z[4m - k])
        e = y0 + z3
        o = (y0 - z3) * ra
        p1 = abs(e + o)  # |X[k]|
        p2 = abs(e - o)  # |X[4m - k]|
        e = y1 + z2
        o = (y1 - z2) * rb
        p3 = abs(e + o)  # |X[m + k]|
        p4 = abs(e - o)  # |X[3m - k]|
        e = z0 + y3
        o = (z0 - y3) * rc
        p5 = abs(e + o)  # |X[m - k]|
        p6 = abs(e - o)  # |X[3m + k]|
        e = z1 + y2
        o = (z1 - y2) * rd
        p7 = abs(e + o)  # |X[2m - k]|
        p8 = abs(e - o)  # |X[2m + k]|
        if squared:
            app((p1 * p1, p5 * p5, p3 * p3, p7 * p7, p8 * p8, p4 * p4, p6 * p6, p2 * p2))
        else:
            app((p1, p5, p3, p7, p8, p4, p6, p2))
    ends: list[float] = []  # |X| at 0, h, m, 3m, 2m, 2m, m/2, 7m/2, 3m/2, 5m/2
    zs: list[_Quad] = []
    for k in (0, mh):
        a, b, c, d = x0[k], x1[k], x2[k], x3[k]
        t0 = a + c
        t1 = a - c
        t2 = b + d
        t3 = (b - d) * mj
        zs.append((t0 + t2, t1 + t3, t0 - t2, t1 - t3))  # Z[pm + k], p = 0..3
    (z00, z10, z20, z30), (z0h, z1h, z2h, z3h) = zs
    for k, u, w in ((0, z00, z00), (m, z10, z30), (2 * m, z20, z20), (mh, z0h, z3h), (m + mh, z1h, z2h)):
        v = w.conjugate()
        e = u + v
        o = (u - v) * r[k]
        ends += [abs(e + o), abs(e - o)]
    if squared:
        ends = [v * v for v in ends]
    f = list(chain.from_iterable(out))  # per k: S at k, m-k, m+k, 2m-k, 2m+k, 3m-k, 3m+k, 4m-k
    return (
        ends[0:1]
        + f[0::8]
        + ends[6:7]
        + f[1::8][::-1]
        + ends[2:3]
        + f[2::8]
        + ends[8:9]
        + f[3::8][::-1]
        + ends[4:5]
        + f[4::8]
        + ends[9:10]
        + f[5::8][::-1]
        + ends[3:4]
        + f[6::8]
        + ends[7:8]
        + f[7::8][::-1]
        + ends[1:2]
    )


@lru_cache(maxsize=32)
def _pure_filters(sample_rate: int, n_fft: int, n_mels: int) -> _BinFilters:
    """:func:`_sparse_mel` as ``(first_bin, end_bin, weights)`` triples."""
    return tuple((first, first + len(w), w) for first, w in _sparse_mel(sample_rate, n_fft, n_mels))


def _mel_db(power: list[float], filters: _BinFilters) -> list[float]:
    """``10 log10(max(AMIN, mel energy))`` per filter (``filters = _pure_filters(...)``)."""
    dot = _dot
    log10 = math.log10
    # an empty filter (w == ()) sums to 0 -> AMIN
    return [
        10.0 * log10(e if (e := dot(power[first:last], w)) > AMIN else AMIN) for first, last, w in filters
    ]


def _centroid_rolloff(mag: list[float], freqs: list[float]) -> tuple[float, float]:
    """Spectral centroid and 85 % rolloff (Hz) of one magnitude spectrum (0, 0 when silent)."""
    total = sum(mag)
    if total > 0.0:
        cum = list(accumulate(mag))
        idx = bisect.bisect_left(cum, ROLL_PERCENT * cum[-1])
        return sum(map(mul, freqs, mag)) / total, freqs[min(idx, len(freqs) - 1)]
    return 0.0, 0.0


def _flux(mag: list[float], prev: list[float]) -> float:
    d = list(map(sub, mag, prev))
    return math.sqrt(sum(map(mul, d, d)))


def _mfcc_rows(
    logmel: list[list[float]], n_mfcc: int, n_mels: int, only: int | None = None
) -> list[list[float]]:
    """Clip the log-mel rows at ``TOP_DB`` below their maximum and apply the DCT (with ``only``:
    to that row alone, ``[its coefficients]``; the clip still from every row's maximum)."""
    dot = _dot
    top = max(max(r) for r in logmel) - TOP_DB
    dct = dct_matrix(n_mfcc, n_mels)
    out: list[list[float]] = []
    for row in logmel if only is None else logmel[only : only + 1]:
        row = [v if v > top else top for v in row]
        out.append([dot(c, row) for c in dct])
    return out


def _check_samples(samples: Any) -> tuple[bool, Any]:
    """Return ``(numpy_path, data)``: validated float64 1-D ndarray or list of floats."""
    if use_numpy(samples):
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1:
            raise ParameterError(
                "samples", f"shape {x.shape}", message=f"samples must be mono (1-D), got {x.shape}"
            )
        if x.size and not np.isfinite(x).all():
            raise NonFiniteInputError(index=int(np.argmin(np.isfinite(x))))
        return True, x
    data = samples if isinstance(samples, list) else list(samples)
    check_list_finite(data)
    return False, data


def _analyze(
    numpy_path: bool,
    x: Any,
    sr: int,
    n_mfcc: int,
    n_mels: int,
    n_fft: int,
    hop: int,
    window: str,
    want_mfcc: bool,
    want_frames: bool,
) -> tuple[Any, dict[str, Any] | None]:
    """MFCC rows and per-frame features on either path: lists, or ndarrays on the NumPy path."""
    if numpy_path:
        return _analyze_np(x, sr, n_mfcc, n_mels, n_fft, hop, window, want_mfcc, want_frames)
    return _analyze_pure(x, sr, n_mfcc, n_mels, n_fft, hop, window, want_mfcc, want_frames)


@lru_cache(maxsize=32)
def _kernel_filters(sample_rate: int, n_fft: int, n_mels: int) -> tuple[array[float], array[float]]:
    """:func:`_sparse_mel` for the ``stft`` kernel: ``(bands, weights)``, ``bands`` holding
    ``(first_bin, count)`` per filter and ``weights`` the filters' weights one after the other."""
    bands, weights = array("d"), array("d")
    for first, w in _sparse_mel(sample_rate, n_fft, n_mels):
        bands.extend((first, len(w)))
        weights.extend(w)
    return bands, weights


def _analyze_kernel(
    kern: Any,
    x: list[float],
    sr: int,
    n_mfcc: int,
    n_mels: int,
    n_fft: int,
    hop: int,
    window: str,
    want_mfcc: bool,
    want_frames: bool,
) -> _PureResult:
    """:func:`_analyze_pure` with the per-frame work in the host's ``stft`` kernel (see
    :data:`aimixer_dsp.backend.KERNEL_NAMES`): one call for all frames; the log, the top-dB clip
    and the DCT stay here."""
    n_frames = 1 + len(x) // hop
    pad = bytes(8 * (n_fft // 2))
    padded = array("d", pad)
    padded.fromlist(x)
    padded.frombytes(pad)
    bands, weights = _kernel_filters(sr, n_fft, n_mels)
    mel_out = array("d", bytes(8 * n_frames * n_mels)) if want_mfcc else array("d")
    frames_out = array("d", bytes(32 * n_frames)) if want_frames else array("d")
    kern(padded, _pure_tables(n_fft, window)[4], hop, sr, n_frames, bands, weights, mel_out, frames_out)
    out: list[list[float]] = []
    if want_mfcc:
        log10 = math.log10
        db = [10.0 * log10(e if e > AMIN else AMIN) for e in mel_out.tolist()]
        out = _mfcc_rows([db[i : i + n_mels] for i in range(0, len(db), n_mels)], n_mfcc, n_mels)
    frames = None
    if want_frames:
        f = frames_out.tolist()
        frames = {"centroid": f[0::4], "rolloff": f[1::4], "flux": f[2::4], "zcr": f[3::4]}
    return out, frames


def _analyze_pure(
    x: list[float],
    sr: int,
    n_mfcc: int,
    n_mels: int,
    n_fft: int,
    hop: int,
    window: str,
    want_mfcc: bool,
    want_frames: bool,
) -> _PureResult:
    if not x:
        return [], ({"centroid": [], "rolloff": [], "flux": [], "zcr": []} if want_frames else None)
    x = [float(v) for v in x] if not isinstance(x[0], float) else x
    kern = _kernel("stft")  # the host's native per-frame loop (the browser), if any
    if kern is not None:
        return _analyze_kernel(kern, x, sr, n_mfcc, n_mels, n_fft, hop, window, want_mfcc, want_frames)
    filters = _pure_filters(sr, n_fft, n_mels)
    tables = _pure_tables(n_fft, window)
    pad = n_fft // 2
    padded = [0.0] * pad + x + [0.0] * pad
    logmel: list[list[float]] = []
    cent: list[float] = []
    roll: list[float] = []
    flux: list[float] = []
    zcr: list[float] = []
    freqs = [k * sr / n_fft for k in range(n_fft // 2 + 1)]
    prev: list[float] | None = None
    if want_frames:
        neg = [v < 0.0 for v in padded]
        # crossings[i] = number of sign changes between positions (j-1, j) for 1 <= j <= i
        crossings = [0, *accumulate(map(ne, neg[1:], neg[:-1]))]
    for t in range(1 + len(x) // hop):
        s = t * hop
        spec = _pure_spectrum(padded, s, n_fft, tables, not want_frames)
        if want_mfcc:
            logmel.append(_mel_db([v * v for v in spec] if want_frames else spec, filters))
        if want_frames:
            c, r = _centroid_rolloff(spec, freqs)
            cent.append(c)
            roll.append(r)
            flux.append(0.0 if prev is None else _flux(spec, prev))
            prev = spec
            zcr.append((crossings[s + n_fft - 1] - crossings[s]) / n_fft)
    out = _mfcc_rows(logmel, n_mfcc, n_mels) if want_mfcc else []
    frames = {"centroid": cent, "rolloff": roll, "flux": flux, "zcr": zcr} if want_frames else None
    return out, frames


def _sum_of_products(a: Sequence[float], b: Sequence[float]) -> float:
    total: float = sum(map(mul, a, b))
    return total


# math.sumprod (Python >= 3.12, e.g. Pyodide) is several times faster than sum(map(mul, ...)).
_dot: Callable[[Sequence[float], Sequence[float]], float] = getattr(math, "sumprod", _sum_of_products)

_NP_CHUNK = 16  # frames per NumPy STFT chunk: ~260 kB of spectrum, stays in cache (as librosa)


def _analyze_np(
    x: NDArray[np.float64],
    sr: int,
    n_mfcc: int,
    n_mels: int,
    n_fft: int,
    hop: int,
    window: str,
    want_mfcc: bool,
    want_frames: bool,
) -> tuple[NDArray[np.float64] | None, dict[str, NDArray[np.float64]] | None]:
    n = x.shape[0]
    if n == 0:
        empty = np.zeros(0)
        return np.zeros((0, n_mfcc)), (
            {"centroid": empty, "rolloff": empty, "flux": empty, "zcr": empty} if want_frames else None
        )
    win, fb, dct = _np_tables(sr, n_fft, n_mels, n_mfcc, window)
    pad = n_fft // 2
    xp = np.pad(x, pad)
    frames_all = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop]
    n_frames = frames_all.shape[0]
    mels = np.empty((n_frames if want_mfcc else 0, n_mels))
    freqs = np.arange(n_fft // 2 + 1) * (sr / n_fft)
    if want_frames:
        cent = np.empty(n_frames)
        roll = np.empty(n_frames)
        flux = np.empty(n_frames)
        prev = None
    fbt = fb.T.copy()
    buf = np.empty((min(_NP_CHUNK, n_frames), n_fft))
    for c0 in range(0, n_frames, _NP_CHUNK):
        fr = frames_all[c0 : c0 + _NP_CHUNK]
        k = fr.shape[0]
        wfr = np.multiply(fr, win, out=buf[:k])
        spec = np.fft.rfft(wfr, axis=1)
        if want_mfcc:
            power = np.square(spec.real)
            power += np.square(spec.imag)
            np.matmul(power, fbt, out=mels[c0 : c0 + k])
        if want_frames:
            mag = np.abs(spec)
            total = mag.sum(axis=1)
            safe = np.where(total > 0, total, 1.0)
            cent[c0 : c0 + k] = np.where(total > 0, (mag @ freqs) / safe, 0.0)
            cum = np.cumsum(mag, axis=1)
            idx = np.argmax(cum >= ROLL_PERCENT * cum[:, -1:], axis=1)
            roll[c0 : c0 + k] = np.where(total > 0, freqs[idx], 0.0)
            both = mag if prev is None else np.vstack([prev[None, :], mag])
            d = np.sqrt(((both[1:] - both[:-1]) ** 2).sum(axis=1))
            if prev is None:
                flux[c0] = 0.0
                flux[c0 + 1 : c0 + k] = d
            else:
                flux[c0 : c0 + k] = d
            prev = mag[-1]
    out = None
    if want_mfcc:
        np.maximum(mels, AMIN, out=mels)
        np.log10(mels, out=mels)
        mels *= 10.0
        np.maximum(mels, mels.max() - TOP_DB, out=mels)
        out = mels @ dct.T
    frames = None
    if want_frames:
        neg = xp < 0.0
        ch = np.concatenate([[0], np.cumsum(neg[1:] != neg[:-1])])
        starts = np.arange(n_frames) * hop
        zcr = (ch[starts + n_fft - 1] - ch[starts]) / n_fft
        frames = {"centroid": cent, "rolloff": roll, "flux": flux, "zcr": zcr}
    return out, frames


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def mfcc(
    samples: Any,
    *,
    sample_rate: int = 48000,
    n_mfcc: int = 13,
    n_mels: int = 40,
    n_fft: int = 2048,
    hop_length: int = 512,
    window: str = "hann",
) -> Any:
    """Mel-frequency cepstral coefficients, librosa-compatible (see the module docstring).

    Parameters
    ----------
    samples : sequence of float or 1-D ndarray
        Mono audio.
    sample_rate : int
        Hz, 1000..384000.
    n_mfcc : int
        Coefficients, 1..n_mels.
    n_mels : int
        Mel filters, 1..256.
    n_fft : int
        FFT size and frame length, a power of two in [64, 16384].
    hop_length : int
        Samples between frames, 1..65536.
    window : {"hann", "hamming", "blackman"}

    Returns
    -------
    list of list of float, or ndarray
        Shape ``[frames][n_mfcc]`` with ``frames = 1 + len(samples) // hop_length`` (0 for empty
        input); an ndarray of shape ``(frames, n_mfcc)`` on the NumPy path. Note: librosa
        returns the transpose, ``(n_mfcc, frames)``.
    """
    sr, nc, nm, nfft, hop, win = _validate(
        _LIBROSA_NAMES, sample_rate, n_mfcc, n_mels, n_fft, hop_length, window
    )
    numpy_path, x = _check_samples(samples)
    out, _ = _analyze(numpy_path, x, sr, nc, nm, nfft, hop, win, True, False)
    return out


def frame_features(
    samples: Any,
    *,
    sample_rate: int = 48000,
    n_fft: int = 2048,
    hop_length: int = 512,
    window: str = "hann",
) -> dict[str, Any]:
    """Per-frame spectral centroid (Hz), rolloff (85 %, Hz), flux and zero-crossing rate.

    Returns
    -------
    dict
        ``{"centroid", "rolloff", "flux", "zcr"}``, each a list (ndarray on the NumPy path) of
        ``1 + len(samples) // hop_length`` values (empty for empty input).
    """
    sr, _, nm, nfft, hop, win = _validate(_LIBROSA_NAMES, sample_rate, 1, 1, n_fft, hop_length, window)
    numpy_path, x = _check_samples(samples)
    _, frames = _analyze(numpy_path, x, sr, 1, nm, nfft, hop, win, False, True)
    assert frames is not None  # want_frames
    return frames


def _mean(values: list[float] | NDArray[np.float64]) -> float:
    n = len(values)
    if n == 0:
        return 0.0
    return float(sum(values) / n) if isinstance(values, list) else float(np.mean(values))


def extract_features(
    samples: Any,
    *,
    sample_rate: int = 48000,
    numCoefficients: int = 13,  # noqa: N803 - API field names
    numFilters: int = 40,  # noqa: N803
    fftSize: int = 2048,  # noqa: N803
    hopSize: int = 512,  # noqa: N803
    windowType: str = "hann",  # noqa: N803
) -> dict[str, Any]:
    """The ``/extract-features`` response for ``samples``.

    Returns
    -------
    dict
        ``features`` (MFCC ``[frames][numCoefficients]``), ``spectralCentroid`` (Hz),
        ``zeroCrossingRate``, ``spectralRolloff`` (Hz), ``spectralFlux`` — each the mean of
        the per-frame values (flux over frames 1.., i.e. excluding the first, 0.0 when fewer
        than two frames) — plus ``frameCount``, ``duration`` (s) and ``truePeak`` (dBTP of the
        whole buffer, ITU-R BS.1770-4 Annex 2; ``None`` for silence). Plain JSON-able values.
    """
    sr, nc, nm, nfft, hop, win = _validate(
        _API_NAMES, sample_rate, numCoefficients, numFilters, fftSize, hopSize, windowType
    )
    numpy_path, x = _check_samples(samples)
    feats, fr = _analyze(numpy_path, x, sr, nc, nm, nfft, hop, win, True, True)
    assert fr is not None  # want_frames
    if numpy_path:
        feats = feats.tolist()
        fr = {k: v.tolist() for k, v in fr.items()}
    n = len(x)
    from .truepeak import TruePeakMeter  # a sibling module; imported here to keep import light

    tp = TruePeakMeter(sr).push(x)
    return {
        "features": feats,
        "spectralCentroid": _mean(fr["centroid"]),
        "zeroCrossingRate": _mean(fr["zcr"]),
        "spectralRolloff": _mean(fr["rolloff"]),
        "spectralFlux": _mean(fr["flux"][1:]),
        "frameCount": len(feats),
        "duration": n / sr,
        "truePeak": tp if math.isfinite(tp) else None,
    }
