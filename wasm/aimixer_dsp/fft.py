"""Pure-Python FFT helpers (no NumPy), fast enough for Pyodide.

The complex FFT is an iterative radix-2 Stockham auto-sort algorithm: every stage reads the
two halves ``A = x[:n/2]`` and ``B = x[n/2:]`` and writes ``A + B`` and ``(A - B) * w`` into
interleaved blocks, so the output comes out in natural order (the permutation is folded into
the stages, no separate bit-reversal pass). Each stage is a handful of ``map`` calls over
Python ``complex`` lists, which run at C speed, instead of one interpreted loop per
butterfly. Twiddle tables are built once per size and cached.

The real FFT of ``n`` points packs even/odd samples into one ``n/2``-point complex FFT and
untangles the halves with a cached table (the classic "two for the price of one" split).
"""

from __future__ import annotations

import cmath
import math
from functools import lru_cache
from operator import add, mul, sub

__all__ = ["fft", "rfft", "rfft_packed", "rfft_magnitude", "is_power_of_two"]


def is_power_of_two(n: int) -> bool:
    """``True`` for 1, 2, 4, 8, ..."""
    return isinstance(n, int) and n > 0 and (n & (n - 1)) == 0


def _twiddle(k: int, n: int) -> complex:
    """``exp(-2 pi i k / n)`` with exact values at the quarter points."""
    k %= n
    if k == 0:
        return 1.0 + 0.0j
    if 4 * k == n:
        return -1.0j
    if 2 * k == n:
        return -1.0 + 0.0j
    if 4 * k == 3 * n:
        return 1.0j
    return cmath.exp(-2j * math.pi * k / n)


@lru_cache(maxsize=32)
def _plan(n: int) -> tuple:
    """Stockham stages for an ``n``-point complex FFT: ``(l, m, twiddles or None)``.

    Stage with ``l`` butterfly groups of span ``m`` (``l * m = n / 2``):
    ``y[2jm + k] = x[jm + k] + x[jm + k + n/2]`` and
    ``y[2jm + m + k] = (x[jm + k] - x[jm + k + n/2]) * exp(-2 pi i j / (2 l))``.
    """
    stages = []
    half = n // 2
    groups, m = half, 1
    while groups >= 1:
        if groups == 1:
            tw = None  # all twiddles are 1
        else:
            w = [_twiddle(j, 2 * groups) for j in range(groups)]
            tw = [wj for wj in w for _ in range(m)] if m > 1 else w
        stages.append((groups, m, tw))
        groups //= 2
        m *= 2
    return tuple(stages)


def fft(x: list) -> list:
    """Forward complex DFT ``X[k] = sum_n x[n] exp(-2 pi i k n / N)`` of a power-of-two length.

    Parameters
    ----------
    x : list of complex (or float)
        Length N, a power of two.

    Returns
    -------
    list of complex
        Length N, natural order.
    """
    n = len(x)
    if n <= 1:
        return [complex(v) for v in x]
    if n & (n - 1):
        raise ValueError(f"fft length {n} is not a power of two")
    half = n // 2
    y = [0j] * n
    spare = None  # the caller's list is read, never written
    for groups, m, tw in _plan(n):
        a = x[:half]
        b = x[half:]
        s = list(map(add, a, b))
        d = list(map(mul, map(sub, a, b), tw)) if tw is not None else list(map(sub, a, b))
        m2 = 2 * m
        if m < groups:
            for k in range(m):
                y[k::m2] = s[k::m]
                y[m + k :: m2] = d[k::m]
        else:
            for j in range(groups):
                jm = j * m
                y[2 * jm : 2 * jm + m] = s[jm : jm + m]
                y[2 * jm + m : 2 * jm + m2] = d[jm : jm + m]
        if spare is None:
            spare = [0j] * n
            x, y = y, spare
        else:
            x, y = y, x
    return x


@lru_cache(maxsize=32)
def _rfft_tables(n: int) -> tuple:
    """Untangling tables for an ``n``-point real FFT via an ``n/2``-point complex FFT.

    ``X[k] = Z[k] (1 - i w_k) / 2 + conj(Z[h - k]) (1 + i w_k) / 2`` for ``k = 0..h``,
    ``h = n / 2``, ``w_k = exp(-2 pi i k / n)``, indices modulo ``h``.
    """
    h = n // 2
    p = []
    q = []
    for k in range(h + 1):
        w = _twiddle(k, n)
        p.append(0.5 - 0.5j * w)
        q.append(0.5 + 0.5j * w)
    return p, q


def rfft_packed(even: list, odd: list) -> list:
    """Real FFT of the signal whose even samples are ``even`` and odd samples ``odd``.

    Taking the halves separately lets callers window and de-interleave with slices in one
    step. ``len(even) == len(odd) == n / 2`` with ``n`` a power of two >= 2.

    Returns
    -------
    list of complex
        ``n / 2 + 1`` bins (DC .. Nyquist), as ``numpy.fft.rfft``.
    """
    h = len(even)
    n = 2 * h
    z = fft(list(map(complex, even, odd)))
    p, q = _rfft_tables(n)
    z0 = [z[0]]
    zc = map(complex.conjugate, z0 + z[:0:-1] + z0)  # conj(Z[(h - k) mod h]), k = 0..h
    return list(map(add, map(mul, z + z0, p), map(mul, zc, q)))


def rfft(x: list) -> list:
    """Real-input FFT of a power-of-two length >= 2, like ``numpy.fft.rfft``."""
    n = len(x)
    if n < 2 or n & (n - 1):
        raise ValueError(f"rfft length {n} is not a power of two >= 2")
    return rfft_packed(x[0::2], x[1::2])


def rfft_magnitude(x: list) -> list:
    """``|rfft(x)|`` as a list of floats."""
    return list(map(abs, rfft(x)))
