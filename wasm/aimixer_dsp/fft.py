"""Pure-Python FFT helpers (no NumPy), fast enough for Pyodide.

The complex FFT is an iterative Stockham auto-sort algorithm with radix-4 stages (plus one
radix-2 stage when ``log2 n`` is odd): every stage reads the four quarters of ``x`` and writes
the butterflies' outputs into interleaved blocks, so the output comes out in natural order (the
permutation is folded into the stages, no separate bit-reversal pass). Each stage is one list
comprehension over the quarters (and the stage's twiddles) that returns the butterflies as
4-tuples; ``chain.from_iterable`` flattens them and a few slice assignments scatter them into
place. On Pyodide (CPython compiled to WebAssembly, no JIT) an interpreted ``complex``
operation costs about as much as one element of a C-level ``map(operator.add, ...)``, so the
cost is the number of complex operations plus the per-element loop overhead, which a radix-4
butterfly (12 operations for 4 points over 2 stages) spreads over twice the work of a radix-2
one. Twiddle tables and slice plans are built once per size and cached.

The real FFT of ``n`` points packs even/odd samples into one ``n/2``-point complex FFT and
untangles the halves with a cached table (the classic "two for the price of one" split).
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from operator import add, mul

__all__ = ["fft", "rfft", "rfft_packed", "rfft_magnitude", "is_power_of_two"]

#: one Stockham stage: ``(radix, twiddles or None, moves or None)`` (see :func:`_plan`)
_Stage = tuple[int, tuple[list[complex], ...] | None, tuple[tuple[slice, slice], ...] | None]


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
def _plan(n: int) -> tuple[_Stage, ...]:
    """Stockham stages for an ``n``-point complex FFT, radix 4 (plus one radix-2 stage when
    ``log2 n`` is odd): ``(radix, twiddles or None, moves)``.

    A radix-4 stage with ``g`` butterfly groups of span ``m`` (``4 g m = n``) reads the quarters
    ``x_p[jm + k] = x[p n/4 + jm + k]`` (``0 <= j < g``, ``0 <= k < m``) and writes, with
    ``t0 = x_0 + x_2``, ``t1 = x_0 - x_2``, ``t2 = x_1 + x_3``, ``t3 = -i (x_1 - x_3)`` and
    ``w = exp(-2 pi i j / (4 g))``: ``y[4jm + k] = t0 + t2``, ``y[4jm + m + k] = (t1 + t3) w``,
    ``y[4jm + 2m + k] = (t0 - t2) w^2``, ``y[4jm + 3m + k] = (t1 - t3) w^3``. The twiddles are
    three lists ``w^q`` repeated per ``k`` (``None`` when ``g = 1``: all are 1). The
    butterflies come out as 4-tuples; ``moves`` are the ``(destination, source)`` slice pairs
    that scatter the flattened tuples into that order (``None`` when ``m = 1``: the flattened
    order is already right). The radix-2 stage is the last one (``g = 1``, no twiddles):
    ``y[k] = x_0 + x_1``, ``y[n/2 + k] = x_0 - x_1``.
    """
    stages: list[_Stage] = []
    groups, m = n, 1
    while groups >= 4:
        groups //= 4
        tw: tuple[list[complex], ...] | None
        moves: tuple[tuple[slice, slice], ...] | None
        if groups == 1:
            tw = None
        else:
            w = [[_twiddle(q * j, 4 * groups) for j in range(groups)] for q in (1, 2, 3)]
            tw = tuple([wj for wj in wq for _ in range(m)] if m > 1 else wq for wq in w)
        m4 = 4 * m
        if m == 1:
            moves = None
        elif m < groups:
            moves = tuple(
                (slice(p * m + k, None, m4), slice(4 * k + p, None, m4)) for k in range(m) for p in range(4)
            )
        else:
            moves = tuple(
                (slice(j * m4 + p * m, j * m4 + p * m + m), slice(j * m4 + p, j * m4 + m4, 4))
                for j in range(groups)
                for p in range(4)
            )
        stages.append((4, tw, moves))
        m = m4
    if groups == 2:
        stages.append((2, None, None))
    return tuple(stages)


def fft(x: Sequence[complex]) -> list[complex]:
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
    return _fft(x, n)


def _fft(x: Sequence[complex], n: int, start: int = 0, stop: int | None = None) -> list[complex]:
    """:func:`fft` of a sequence of length ``n >= 2`` (a power of two); ``x`` is not modified.

    Runs only the stages ``_plan(n)[start:stop]``: the caller runs the others (``features``
    fuses the first stage with the window and the last one with the real-FFT untangling).
    """
    q = n // 4
    q2 = 2 * q
    q3 = 3 * q
    mj = -1j
    from_iter = chain.from_iterable
    for radix, tw, moves in _plan(n)[start:stop]:
        if radix == 2:
            h = n // 2
            a = x[:h]
            b = x[h:]
            return [u + v for u, v in zip(a, b, strict=True)] + [u - v for u, v in zip(a, b, strict=True)]
        if tw is None:
            f = list(
                from_iter(
                    [
                        (
                            (t0 := a + c) + (t2 := b + d),
                            (t1 := a - c) + (t3 := (b - d) * mj),
                            t0 - t2,
                            t1 - t3,
                        )
                        for a, b, c, d in zip(x[:q], x[q:q2], x[q2:q3], x[q3:], strict=True)
                    ]
                )
            )
        else:
            f = list(
                from_iter(
                    [
                        (
                            (t0 := a + c) + (t2 := b + d),
                            ((t1 := a - c) + (t3 := (b - d) * mj)) * w1,
                            (t0 - t2) * w2,
                            (t1 - t3) * w3,
                        )
                        for a, b, c, d, w1, w2, w3 in zip(x[:q], x[q:q2], x[q2:q3], x[q3:], *tw, strict=True)
                    ]
                )
            )
        if moves is None:
            x = f
        else:
            x = [0j] * n
            for dst, src in moves:
                x[dst] = f[src]
    return x if isinstance(x, list) else list(x)  # x is still the input when no stage ran


@lru_cache(maxsize=32)
def _rfft_tables(n: int) -> tuple[list[complex], list[complex]]:
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


def rfft_packed(even: Sequence[float], odd: Sequence[float]) -> list[complex]:
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


def rfft(x: Sequence[float]) -> list[complex]:
    """Real-input FFT of a power-of-two length >= 2, like ``numpy.fft.rfft``."""
    n = len(x)
    if n < 2 or n & (n - 1):
        raise ValueError(f"rfft length {n} is not a power of two >= 2")
    return rfft_packed(x[0::2], x[1::2])


def rfft_magnitude(x: Sequence[float]) -> list[float]:
    """``|rfft(x)|`` as a list of floats."""
    return list(map(abs, rfft(x)))
