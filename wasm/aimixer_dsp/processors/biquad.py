"""RBJ "Audio EQ Cookbook" biquads (R. Bristow-Johnson) and their exact block evaluation.

Coefficients are normalised so ``a0 = 1`` and returned as ``(b0, b1, b2, a1, a2)``.
Filters run in transposed direct form II (TDF-II), state ``(s1, s2)`` per section::

    y  = b0*x + s1
    s1 = b1*x - a1*y + s2
    s2 = b2*x - a2*y

The NumPy path evaluates a cascade of sections over a block exactly (no truncation) from its
state-space form ``s' = A s + B x``, ``y = C s + D x``: the block is cut into sub-blocks of
``b`` samples; per sub-block the output is a lower-triangular Toeplitz product with the
impulse response plus the zero-input response ``C A^j s``, and the sub-block start states
follow from one block-Toeplitz product — all matrix products, cached per (coefficients, n).
Long blocks (:func:`run_long`) add a second level: groups of sub-blocks whose start states
follow from one more such product.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

from .. import backend as _backend

np = _backend.np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Array = NDArray[np.float64]
    #: :func:`block_plan`'s ``(b, k, T, R, G, Ob, F, An)``
    _Plan = tuple[int, int, _Array, _Array, _Array, _Array, _Array | None, _Array | None]

Coeffs = tuple[float, float, float, float, float]  # (b0, b1, b2, a1, a2)

IDENTITY: Coeffs = (1.0, 0.0, 0.0, 0.0, 0.0)


def _norm(b0: float, b1: float, b2: float, a0: float, a1: float, a2: float) -> Coeffs:
    return (b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0)


def low_shelf(freq_hz: float, gain_db: float, q: float, sample_rate: float) -> Coeffs:
    """RBJ low shelf: gain ``gain_db`` below ``freq_hz`` (the shelf midpoint, gain/2 dB)."""
    if gain_db == 0.0:
        return IDENTITY
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    k = 2.0 * math.sqrt(A) * alpha
    return _norm(
        A * ((A + 1) - (A - 1) * cw + k),
        2 * A * ((A - 1) - (A + 1) * cw),
        A * ((A + 1) - (A - 1) * cw - k),
        (A + 1) + (A - 1) * cw + k,
        -2 * ((A - 1) + (A + 1) * cw),
        (A + 1) + (A - 1) * cw - k,
    )


def high_shelf(freq_hz: float, gain_db: float, q: float, sample_rate: float) -> Coeffs:
    """RBJ high shelf: gain ``gain_db`` above ``freq_hz`` (the shelf midpoint, gain/2 dB)."""
    if gain_db == 0.0:
        return IDENTITY
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    k = 2.0 * math.sqrt(A) * alpha
    return _norm(
        A * ((A + 1) + (A - 1) * cw + k),
        -2 * A * ((A - 1) + (A + 1) * cw),
        A * ((A + 1) + (A - 1) * cw - k),
        (A + 1) - (A - 1) * cw + k,
        2 * ((A - 1) - (A + 1) * cw),
        (A + 1) - (A - 1) * cw - k,
    )


def peaking(freq_hz: float, gain_db: float, q: float, sample_rate: float) -> Coeffs:
    """RBJ peaking EQ (bell): gain ``gain_db`` at ``freq_hz``, bandwidth set by ``q``."""
    if gain_db == 0.0:
        return IDENTITY
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    return _norm(1 + alpha * A, -2 * cw, 1 - alpha * A, 1 + alpha / A, -2 * cw, 1 - alpha / A)


def magnitude_db(coeffs: Coeffs, freq_hz: float, sample_rate: float) -> float:
    """Analytic magnitude response ``20*log10|H(e^jw)|`` of one biquad at ``freq_hz``."""
    b0, b1, b2, a1, a2 = coeffs
    w = 2.0 * math.pi * freq_hz / sample_rate
    z1 = complex(math.cos(w), -math.sin(w))  # e^{-jw}
    z2 = z1 * z1
    h = (b0 + b1 * z1 + b2 * z2) / (1.0 + a1 * z1 + a2 * z2)
    return 20.0 * math.log10(abs(h))


# ---------------------------------------------------------------------------------------
# NumPy: exact block evaluation of a cascade of TDF-II sections
# ---------------------------------------------------------------------------------------


def state_space(sections: tuple[Coeffs, ...]) -> tuple[_Array, _Array, _Array, float]:
    """``(A, B, C, D)`` of a cascade; state order ``[s1_0, s2_0, s1_1, s2_1, ...]``."""
    Ac = np.zeros((0, 0))
    Bc = np.zeros(0)
    Cc = np.zeros(0)
    Dc = 1.0
    for b0, b1, b2, a1, a2 in sections:
        Ak = np.array([[-a1, 1.0], [-a2, 0.0]])
        Bk = np.array([b1 - a1 * b0, b2 - a2 * b0])
        Ck = np.array([1.0, 0.0])
        Dk = b0
        m = Ac.shape[0]
        A = np.zeros((m + 2, m + 2))
        A[:m, :m] = Ac
        A[m:, :m] = np.outer(Bk, Cc)
        A[m:, m:] = Ak
        B = np.concatenate([Bc, Bk * Dc])
        C = np.concatenate([Dk * Cc, Ck])
        Ac, Bc, Cc, Dc = A, B, C, Dk * Dc
    return Ac, Bc, Cc, Dc


def _powers_rows(C: _Array, A: _Array, n: int) -> _Array:
    """Rows ``C A^j`` for ``j < n`` by doubling, shape ``(n, order)``."""
    rows = C.reshape(1, -1)
    P = A
    while rows.shape[0] < n:
        rows = np.vstack([rows, rows @ P])
        P = P @ P
    return rows[:n]


def _powers_cols(A: _Array, B: _Array, n: int) -> _Array:
    """Columns ``A^j B`` for ``j < n`` by doubling, shape ``(order, n)``."""
    cols = B.reshape(-1, 1)
    P = A
    while cols.shape[1] < n:
        cols = np.hstack([cols, P @ cols])
        P = P @ P
    return cols[:, :n]


SUB = 48  # sub-block length of the block evaluation


@lru_cache(maxsize=128)
def block_plan(sections: tuple[Coeffs, ...], n: int) -> _Plan:
    """Matrices that evaluate the cascade over ``n`` samples (cached).

    Returns ``(b, k, T, R, G, Ob, F, An)`` for sub-blocks of ``b`` samples, ``k = ceil(n/b)``:
    ``T`` (b, b) = Toeplitz(h) maps a sub-block's input to its zero-state output and ``R``
    (b, p) to its contribution ``z`` to the state at its end; ``G`` ((k+1)p, kp+p) maps all ``z`` and
    the initial state to the states at the sub-block starts (and, when ``b`` divides ``n``, at
    the block end); ``Ob`` (p, b) is the zero-input response ``C A^j``; ``F``/``An`` give the
    end state directly when ``b`` does not divide ``n`` (else ``None``).
    """
    A, B, C, D = state_space(sections)
    p = A.shape[0]
    b = min(SUB, n)
    k = -(-n // b)
    exact = k * b == n
    rows = _powers_rows(C, A, b)  # C A^j
    cols = _powers_cols(A, B, max(n, b))  # A^j B
    h = np.empty(b)
    h[0] = D
    h[1:] = rows[: b - 1] @ B
    i = np.arange(b)
    lag = i[None, :] - i[:, None]  # T[j, i] = h[i - j]: input j -> output i
    T = np.where(lag >= 0, h[np.clip(lag, 0, b - 1)], 0.0)
    R = cols[:, :b][:, ::-1].T  # (b, p): input j -> state at the sub-block end, A^(b-1-j) B
    R = np.ascontiguousarray(R)
    Ab = np.linalg.matrix_power(A, b)
    # S_i = Ab^i s0 + sum_{l<i} Ab^(i-1-l) z_l  for i <= k
    pw = [np.eye(p)]
    for _ in range(k + 1):
        pw.append(pw[-1] @ Ab)
    nrows = k + 1 if exact else k
    G = np.zeros((nrows * p, k * p + p))
    for ii in range(nrows):
        G[ii * p : (ii + 1) * p, k * p :] = pw[ii]
        for ll in range(ii):
            G[ii * p : (ii + 1) * p, ll * p : (ll + 1) * p] = pw[ii - 1 - ll]
    Ob = np.ascontiguousarray(rows[:b].T)  # (p, b)
    if exact:
        F = An = None
    else:
        F = np.ascontiguousarray(cols[:, :n][:, ::-1])  # (p, n): x[j] -> A^(n-1-j) B
        An = np.linalg.matrix_power(A, n)
        F.flags.writeable = False
        An.flags.writeable = False
    for arr in (T, R, G, Ob):
        arr.flags.writeable = False
    return b, k, T, R, G, Ob, F, An


def run_block(sections: tuple[Coeffs, ...], x: _Array, s0: _Array) -> tuple[_Array, _Array]:
    """Filter one channel ``x`` (1-D float64) from state ``s0``; returns ``(y, s_end)``."""
    n = x.shape[0]
    b, k, T, R, G, Ob, F, An = block_plan(sections, n)
    dot = np.dot
    if F is None:
        X = x.reshape(k, b)
    else:
        X = np.zeros((k, b))
        X.reshape(-1)[:n] = x
    p = s0.shape[0]
    zs = np.empty((k + 1, p))
    dot(X, R, out=zs[:k])
    zs[k] = s0
    S = dot(G, zs.reshape(-1))
    kp = k * p
    Y = dot(S[:kp].reshape(k, p), Ob)
    Y += dot(X, T)
    if F is None:
        return Y.reshape(-1), S[kp:]
    assert An is not None  # F and An are both set or both None
    return Y.reshape(-1)[:n], dot(An, s0) + dot(F, x)


GROUP = 16  # run_long: sub-blocks per group


@lru_cache(maxsize=16)
def _scan_matrix(T: tuple[float, ...], p: int, k: int) -> _Array:
    """``((k+1)p, (k+1)p)`` matrix mapping ``[e_0 .. e_(k-1), u_0]`` to ``[u_0 .. u_k]`` for
    ``u_(j+1) = M u_j + e_j`` (``T`` is ``M`` as a flat tuple)."""
    M = np.array(T).reshape(p, p)
    pw = [np.eye(p)]
    for _ in range(k):
        pw.append(pw[-1] @ M)
    out = np.zeros(((k + 1) * p, (k + 1) * p))
    for i in range(k + 1):
        out[i * p : (i + 1) * p, k * p :] = pw[i]
        for j in range(i):
            out[i * p : (i + 1) * p, j * p : (j + 1) * p] = pw[i - 1 - j]
    out.flags.writeable = False
    return out


def run_long(sections: tuple[Coeffs, ...], x: _Array, s0: _Array) -> tuple[_Array, _Array]:
    """:func:`run_block` for a block of ``J`` whole groups (``len(x) = J * GROUP * SUB``):
    the same sub-block products for all sub-blocks at once, then two levels of state
    propagation — inside each group of ``GROUP`` sub-blocks from zero (one matrix product over
    all groups) and across the ``J`` group starts (one ``(J+1)p`` square product) — so the
    long-block cost stays matrix-matrix. Exact up to rounding; returns ``(y, s_end)``."""
    n = x.shape[0]
    g = GROUP
    b, _, T, R, G, Ob, _, _ = block_plan(sections, g * SUB)
    p = s0.shape[0]
    J = n // (g * b)
    gp = g * p
    X = x.reshape(J * g, b)
    Zr = np.empty((J, gp))
    np.dot(X, R, out=Zr.reshape(J * g, p))
    # states inside each group from its own inputs (group start state 0); the last p columns
    # are the group's contribution to the next group's start state
    Lc = np.dot(Zr, G[:, :gp].T)
    ab = G[gp:, gp:]  # the state transition over one group
    zs = np.empty((J + 1, p))
    zs[:J] = Lc[:, gp:]
    zs[J] = s0
    U = np.dot(_scan_matrix(tuple(ab.ravel().tolist()), p, J), zs.reshape(-1)).reshape(J + 1, p)
    S = Lc[:, :gp]
    S += np.dot(U[:J], G[:gp, gp:].T)
    Y = np.dot(S.reshape(J * g, p), Ob)
    Y += np.dot(X, T)
    return Y.reshape(-1), U[J]
