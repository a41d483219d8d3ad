"""3-band equalizer: low shelf, mid bell, high shelf (RBJ cookbook biquads).

=========  ==============  ==================  ===========  ==========
band       type            frequency           Q            gain range
=========  ==============  ==================  ===========  ==========
low        low shelf       100 Hz (midpoint)   0.7071 (S=1) -12..+12 dB
mid        peaking (bell)  1 kHz (centre)      1.0          -12..+12 dB
high       high shelf      8 kHz (midpoint)    0.7071 (S=1) -12..+12 dB
=========  ==============  ==================  ===========  ==========

Coefficients are designed for the actual sample rate. A band's frequency is capped at
``0.4 * sample_rate`` (e.g. the high shelf sits at 6.4 kHz for 16 kHz audio). A shelf's gain
is ``gain/2`` dB at its midpoint frequency and tends to ``gain`` dB far inside the shelf; the
bell has its full gain at the centre. A band at 0 dB is exactly the identity.

The three sections run in cascade (low -> mid -> high) in transposed direct form II; the pure
path fuses them into one loop, the NumPy path evaluates the cascade over each block exactly
(see :mod:`.biquad`).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..backend import KERNEL_MIN, np
from ..backend import kernel as _kernel
from . import biquad
from .base import Param, Processor
from .biquad import Coeffs

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Array = NDArray[np.float64]

GAIN_RANGE = (-12.0, 12.0)
LOW_FREQ_HZ = 100.0
MID_FREQ_HZ = 1000.0
HIGH_FREQ_HZ = 8000.0
SHELF_Q = 0.7071067811865476
MID_Q = 1.0
_MAX_NP_BLOCK = 1920  # NumPy path: longer blocks go through biquad.run_long
_LONG_GROUPS = 32  # NumPy path: at most this many groups per biquad.run_long call

#: the pure path's normalised sections ``(b1/b0, b2/b0, a1, a2)`` and their states ``(s1, s2)``
_NormCoeffs = tuple[float, float, float, float]
_NormState = tuple[float, float]
#: :func:`_normalise`'s ``(coeffs, states, scales)``
_Normalised = tuple[list[_NormCoeffs], list[_NormState], list[float]]
#: a cascade's output block and its new per-section states
_CascadeResult = tuple[list[float], list[list[float]]]
_NormCascadeResult = tuple[list[float], list[_NormState]]


class Equalizer(Processor):
    """Low shelf / mid bell / high shelf equalizer.

    Parameters
    ----------
    low_db, mid_db, high_db : float
        Band gains in dB, each ``[-12, +12]``.
    """

    config_key = "eq"

    low_db = Param("low", "dB", GAIN_RANGE, 0.0, "Low shelf 100 Hz", on_change="_design")
    mid_db = Param("mid", "dB", GAIN_RANGE, 0.0, "Mid bell 1 kHz", on_change="_design")
    high_db = Param("high", "dB", GAIN_RANGE, 0.0, "High shelf 8 kHz", on_change="_design")
    # the stored values (set by the Params above; the DSP reads these)
    _low_db: float
    _mid_db: float
    _high_db: float

    def _design(self) -> None:
        fs = self._sample_rate
        self.low_freq_hz = min(LOW_FREQ_HZ, 0.4 * fs)
        self.mid_freq_hz = min(MID_FREQ_HZ, 0.4 * fs)
        self.high_freq_hz = min(HIGH_FREQ_HZ, 0.4 * fs)
        self._sections = (
            biquad.low_shelf(self.low_freq_hz, self._low_db, SHELF_Q, fs),
            biquad.peaking(self.mid_freq_hz, self._mid_db, MID_Q, fs),
            biquad.high_shelf(self.high_freq_hz, self._high_db, SHELF_Q, fs),
        )

    @property
    def sections(self) -> tuple[Coeffs, Coeffs, Coeffs]:
        """The three ``(b0, b1, b2, a1, a2)`` sections (low, mid, high)."""
        return self._sections

    def magnitude_db(self, freq_hz: float) -> float:
        """Analytic magnitude response of the cascade at ``freq_hz`` (dB)."""
        return sum(biquad.magnitude_db(c, freq_hz, self._sample_rate) for c in self._sections)

    # -- state --------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._state: list[list[float]] = []  # per channel: [s1_low, s2_low, s1_mid, s2_mid, s1_high, s2_high]

    def _chan_states(self, channels: int) -> list[list[float]]:
        if not self._state:
            self._state = [[0.0] * 6 for _ in range(channels)]
        return self._state

    def _idle(self) -> bool:
        return all(c == biquad.IDENTITY for c in self._sections) and not any(any(s) for s in self._state)

    # -- pure path ----------------------------------------------------------------------
    def _active(self) -> tuple[list[int], list[Coeffs], list[list[float]]]:
        """The sections that run (those exactly the identity with zero state are skipped):
        their indices, coefficients and states."""
        st = self._chan_states(1)[0]
        active = [
            i
            for i, c in enumerate(self._sections)
            if c != biquad.IDENTITY or st[2 * i] != 0.0 or st[2 * i + 1] != 0.0
        ]
        return active, [self._sections[i] for i in active], [st[2 * i : 2 * i + 2] for i in active]

    def _store_active(self, active: list[int], new: list[list[float]]) -> None:
        st = self._state[0]
        for i, pair in zip(active, new, strict=True):
            st[2 * i : 2 * i + 2] = pair

    def _py(self, data: list[float]) -> list[float]:
        if self._idle():
            return data
        active, secs, sts = self._active()
        out, new = _run_cascade(data, secs, sts)
        self._store_active(active, new)
        return out

    def run_block_at(self, block: array[float], off: int, n: int) -> None:
        """:meth:`_run_py` on the channel ``block[off : off + n]`` of a planar ``array('d')``
        block, in place, by the ``eqblock`` kernel (installed: the caller checked): the same
        arithmetic as the pure path's loops, bit for bit."""
        if not self._enabled or not n:
            return
        self._check_channels(1)
        if self._idle():
            return
        active, secs, sts = self._active()
        norm = _normalise(secs, sts)
        if norm is None:  # a section with b0 == 0: the plain loops (never for these designs)
            out, new = _CASCADES_PLAIN[len(secs)](block[off : off + n].tolist(), secs, sts)
            block[off : off + n] = array("d", out)
        else:
            coeffs, states, scales = norm
            kern = _kernel("eqblock")
            assert kern is not None
            st = array("d", [v for pair in states for v in pair])
            kern(block, off, n, array("d", [v for c in coeffs for v in c]), st, scales[-1])
            new = [[st[2 * k] * p, st[2 * k + 1] * p] for k, p in enumerate(scales)]
        self._store_active(active, new)

    def _fused_setup(self) -> _Normalised | None:
        """For a fused compressor -> EQ loop (chain pure path): ``(coeffs, states, scales)`` of
        the normalised cascade when all three sections run, else ``None``."""
        if self._idle():
            return None
        st = self._chan_states(1)[0]
        for i, c in enumerate(self._sections):
            if c == biquad.IDENTITY and st[2 * i] == 0.0 and st[2 * i + 1] == 0.0:
                return None
        return _normalise(list(self._sections), [st[0:2], st[2:4], st[4:6]])

    def _fused_store(self, new: list[_NormState], scales: list[float]) -> None:
        self._state[0][:] = [v * p for pair, p in zip(new, scales, strict=True) for v in pair]

    # -- NumPy path ---------------------------------------------------------------------
    def _np(self, x: _Array) -> _Array:
        secs = self._sections
        if secs is not self._np_secs:  # sections changed: is the cascade the identity?
            self._np_secs = secs
            self._np_ident = all(c == biquad.IDENTITY for c in secs)
        if self._np_ident and not any(any(s) for s in self._state):
            return x
        if x.ndim == 1:
            states = self._chan_states(1)
            st = states[0]
            cache = self._np_cache  # (list stored by this path, its values, as ndarray)
            s0 = cache[2] if cache is not None and cache[0] is st and st == cache[1] else np.array(st)
            y, s = _run(secs, x, s0)
            lst = s.tolist()
            states[0] = lst
            self._np_cache = (lst, lst[:], s)
            return y
        n, ch = x.shape
        states = self._chan_states(ch)
        y = np.empty_like(x)
        for c in range(ch):
            yc, s = _run(secs, np.ascontiguousarray(x[:, c]), np.array(states[c], dtype=np.float64))
            y[:, c] = yc
            states[c] = s.tolist()
        return y

    #: NumPy path: the sections last seen and whether all are the identity; the state of the
    #: last mono block as ``(list, copy of its values, ndarray)`` (reused while unchanged)
    _np_secs: tuple[Coeffs, ...] | None = None
    _np_ident = False
    _np_cache: tuple[list[float], list[float], _Array] | None = None


def _run(secs: tuple[Coeffs, ...], x: _Array, s: _Array) -> tuple[_Array, _Array]:
    """Filter a 1-D block from a 6-float state array; returns ``(y, new_state_array)``.
    Blocks longer than ``_MAX_NP_BLOCK`` run as whole groups through :func:`biquad.run_long`
    (at most ``_LONG_GROUPS`` per call) and the rest through :func:`biquad.run_block`."""
    n = x.shape[0]
    if n <= _MAX_NP_BLOCK:
        return biquad.run_block(secs, x, s)
    y = np.empty(n)
    step = biquad.GROUP * biquad.SUB
    start = 0
    while n - start >= step:
        m = min(step * _LONG_GROUPS, (n - start) // step * step)
        y[start : start + m], s = biquad.run_long(secs, x[start : start + m], s)
        start += m
    if start < n:  # fewer than ``step`` samples left
        y[start:], s = biquad.run_block(secs, x[start:], s)
    return y, s


# -- pure-path loops (one fused loop per number of active sections; TDF-II) ---------------
#
# Each section runs with its ``b0`` factored out (saving one multiply per section and sample):
# with ``P_k`` the product of the ``b0`` of sections ``0..k``, section ``k`` filters the
# normalised signal ``u = X / P_(k-1)`` as ``y = u + s1``, ``s1 = (b1/b0) u - a1 y + s2``,
# ``s2 = (b2/b0) u - a2 y`` on states divided by ``P_k``; the output is ``P_last * y``. This is
# the same filter up to rounding; the stored state stays the plain TDF-II state.


def _normalise(secs: Sequence[Coeffs], sts: Sequence[Sequence[float]]) -> _Normalised | None:
    """``(coeffs, states, scales)``: per section ``(b1/b0, b2/b0, a1, a2)``, the scaled states
    and the running products ``P_k``; ``None`` if a section has ``b0 == 0``."""
    coeffs: list[_NormCoeffs] = []
    states: list[_NormState] = []
    scales: list[float] = []
    p = 1.0
    for (b0, b1, b2, a1, a2), (s1, s2) in zip(secs, sts, strict=True):
        if b0 == 0.0:
            return None
        p *= b0
        coeffs.append((b1 / b0, b2 / b0, a1, a2))
        states.append((s1 / p, s2 / p))
        scales.append(p)
    return coeffs, states, scales


def _run_cascade(data: list[float], secs: list[Coeffs], sts: list[list[float]]) -> _CascadeResult:
    norm = _normalise(secs, sts)
    if norm is None:
        return _CASCADES_PLAIN[len(secs)](data, secs, sts)
    coeffs, states, scales = norm
    kern = _kernel("cascade") if len(data) >= KERNEL_MIN else None
    if kern is not None:  # the same loops, natively (see backend.KERNEL_NAMES)
        st = array("d", [v for pair in states for v in pair])
        y = array("d", bytes(8 * len(data)))
        kern(array("d", data), array("d", [v for c in coeffs for v in c]), st, scales[-1], y)
        new = [(st[2 * k], st[2 * k + 1]) for k in range(len(secs))]
        return y.tolist(), [[s1 * p, s2 * p] for (s1, s2), p in zip(new, scales, strict=True)]
    out, new = _CASCADES[len(secs)](data, coeffs, states, scales[-1])
    return out, [[s1 * p, s2 * p] for (s1, s2), p in zip(new, scales, strict=True)]


def _ncascade1(
    data: list[float], coeffs: list[_NormCoeffs], states: list[_NormState], gain: float
) -> _NormCascadeResult:
    ((b1, b2, a1, a2),) = coeffs
    ((s1, s2),) = states
    out = [0.0] * len(data)
    i = 0
    for x in data:
        y = x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        out[i] = gain * y
        i += 1
    return out, [(s1, s2)]


def _ncascade2(
    data: list[float], coeffs: list[_NormCoeffs], states: list[_NormState], gain: float
) -> _NormCascadeResult:
    (b1, b2, a1, a2), (c1, c2, d1, d2) = coeffs
    (s1, s2), (t1, t2) = states
    out = [0.0] * len(data)
    i = 0
    for x in data:
        y = x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        z = y + t1
        t1 = c1 * y - d1 * z + t2
        t2 = c2 * y - d2 * z
        out[i] = gain * z
        i += 1
    return out, [(s1, s2), (t1, t2)]


def _ncascade3(
    data: list[float], coeffs: list[_NormCoeffs], states: list[_NormState], gain: float
) -> _NormCascadeResult:
    (b1, b2, a1, a2), (c1, c2, d1, d2), (e1, e2, f1, f2) = coeffs
    (s1, s2), (t1, t2), (u1, u2) = states
    out, s1, s2, t1, t2, u1, u2 = _ncascade3_loop(
        0.0, 0.0, 0.0, 0.0, b1, a1, b2, a2, c1, d1, c2, d2, e1, f1, e2, f2,
        s1, s2, t1, t2, u1, u2, gain, data,
    )  # fmt: skip
    return out, [(s1, s2), (t1, t2), (u1, u2)]


def _ncascade3_loop(
    x: float, y: float, z: float, w: float,
    b1: float, a1: float, b2: float, a2: float, c1: float, d1: float, c2: float, d2: float,
    e1: float, f1: float, e2: float, f2: float,
    s1: float, s2: float, t1: float, t2: float, u1: float, u2: float, gain: float, data: list[float],
) -> tuple[list[float], float, float, float, float, float, float]:  # fmt: skip
    """The loop of :func:`_ncascade3`. Its parameters are its locals, hottest first (``x, y, z,
    w`` are dummies): CPython 3.13+ fuses two consecutive loads of locals into one instruction
    only when both slot indices are below 16, so the signal values and the twelve coefficients
    (most of the loop's load pairs) take slots 0-15. Same operations in the same order."""
    out: list[float] = []
    for x in data:
        y = x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        z = y + t1
        t1 = c1 * y - d1 * z + t2
        t2 = c2 * y - d2 * z
        w = z + u1
        u1 = e1 * z - f1 * w + u2
        u2 = e2 * z - f2 * w
        out.append(gain * w)
    return out, s1, s2, t1, t2, u1, u2


# plain TDF-II loops (used only if a section has b0 == 0)


def _cascade1(data: list[float], secs: list[Coeffs], sts: list[list[float]]) -> _CascadeResult:
    (b0, b1, b2, a1, a2) = secs[0]
    s1, s2 = sts[0]
    out: list[float] = []
    app = out.append
    for x in data:
        y = b0 * x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        app(y)
    return out, [[s1, s2]]


def _cascade2(data: list[float], secs: list[Coeffs], sts: list[list[float]]) -> _CascadeResult:
    (b0, b1, b2, a1, a2), (c0, c1, c2, d1, d2) = secs
    (s1, s2), (t1, t2) = sts
    out: list[float] = []
    app = out.append
    for x in data:
        y = b0 * x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        z = c0 * y + t1
        t1 = c1 * y - d1 * z + t2
        t2 = c2 * y - d2 * z
        app(z)
    return out, [[s1, s2], [t1, t2]]


def _cascade3(data: list[float], secs: list[Coeffs], sts: list[list[float]]) -> _CascadeResult:
    (b0, b1, b2, a1, a2), (c0, c1, c2, d1, d2), (e0, e1, e2, f1, f2) = secs
    (s1, s2), (t1, t2), (u1, u2) = sts
    out: list[float] = []
    app = out.append
    for x in data:
        y = b0 * x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        z = c0 * y + t1
        t1 = c1 * y - d1 * z + t2
        t2 = c2 * y - d2 * z
        w = e0 * z + u1
        u1 = e1 * z - f1 * w + u2
        u2 = e2 * z - f2 * w
        app(w)
    return out, [[s1, s2], [t1, t2], [u1, u2]]


_CASCADES = {1: _ncascade1, 2: _ncascade2, 3: _ncascade3}
_CASCADES_PLAIN = {1: _cascade1, 2: _cascade2, 3: _cascade3}
