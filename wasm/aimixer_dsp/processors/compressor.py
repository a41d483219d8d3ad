"""Feed-forward compressor (log-domain gain computer + decoupled peak detector).

Design after Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor Design — A
Tutorial and Analysis", J. Audio Eng. Soc. 60(6), 2012:

* **Level**: instantaneous sample peak in dBFS, ``xL = 20*log10|x[n]|`` (linked stereo: the
  maximum over channels).
* **Gain computer** (their eq. 4) with threshold ``T``, ratio ``R`` and knee width ``W`` dB
  (``W = 0`` is a hard knee), giving the static gain reduction ``gr = xL - yL >= 0``::

      2(xL-T) <  -W        : gr = 0
      2|xL-T| <=  W        : gr = (1 - 1/R) * (xL - T + W/2)**2 / (2W)
      2(xL-T) >   W        : gr = (1 - 1/R) * (xL - T)

* **Smoothing**: the decoupled peak detector (Sec. 3.3) on the gain reduction in dB —
  release ``y1[n] = max(gr[n], aR*y1[n-1])`` then attack
  ``g[n] = aA*g[n-1] + (1-aA)*y1[n]`` — the paper's "log domain, level corrected" placement.
* **Time constants**: ``a = exp(-1/(tau*fs))``; ``attack_ms``/``release_ms`` are the times to
  reach 63 % (1 - 1/e) of a step in gain reduction.
* **Output**: ``y = x * 10**((makeup_db - g)/20)``. No lookahead, zero latency.

In steady state on a sine of peak level ``L > T + W/2`` the output peak is
``T + (L - T)/R`` (+ makeup) up to the small release ripple between the sine's peaks.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..backend import KERNEL_MIN, Kernel
from ..backend import kernel as _kernel
from .base import (
    Mono,
    Param,
    Processor,
    Samples,
    apply_gain,
    block_peaks,
    db_to_lin,
    decoupled_smoother,
    linked_level,
    np,
    pack,
    smoother_weights,
    time_coeff,
    unpack,
)

THRESHOLD_RANGE = (-40.0, 0.0)
RATIO_RANGE = (1.0, 20.0)
ATTACK_RANGE = (0.1, 100.0)
RELEASE_RANGE = (10.0, 1000.0)
KNEE_RANGE = (0.0, 24.0)
MAKEUP_RANGE = (-12.0, 24.0)

_K = 20.0 / math.log(10.0)  # dB per neper
_SNAP = 1e-9  # dB: carried gain reduction below this is zero
_SKIP_RUN = 64  # pure path: samples per run sharing one "no log needed" level

#: one normalised EQ section's coefficients ``(b1, b2, a1, a2)`` and its state ``(s1, s2)``
#: (see :mod:`.eq`)
_EqCoeffs = tuple[float, float, float, float]
_EqState = tuple[float, float]

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Array = NDArray[np.float64]


class Compressor(Processor):
    """Dynamic range compressor.

    Parameters
    ----------
    threshold_db : float
        ``[-40, 0]`` dBFS (sample peak).
    ratio : float
        ``[1, 20]`` (``1`` = no compression).
    attack_ms, release_ms : float
        Time constants, ``[0.1, 100]`` and ``[10, 1000]`` ms (63 % convention).
    knee_db : float
        Soft-knee width, ``[0, 24]`` dB; 0 = hard knee.
    makeup_db : float
        Output makeup gain, ``[-12, 24]`` dB.
    """

    config_key = "compressor"

    threshold_db = Param("threshold", "dBFS", THRESHOLD_RANGE, -20.0, "Threshold", on_change="_update_knee")
    ratio = Param("ratio", ":1", RATIO_RANGE, 4.0, "Ratio", on_change="_ratio_changed")
    attack_ms = Param("attack", "ms", ATTACK_RANGE, 10.0, "Attack", on_change="_attack_changed")
    release_ms = Param("release", "ms", RELEASE_RANGE, 100.0, "Release", on_change="_release_changed")
    knee_db = Param("knee", "dB", KNEE_RANGE, 0.0, "Knee", on_change="_update_knee")
    makeup_db = Param("makeup", "dB", MAKEUP_RANGE, 0.0, "Makeup", on_change="_makeup_changed")
    # the stored values (set by the Params above; the DSP reads these)
    _threshold_db: float
    _ratio: float
    _attack_ms: float
    _release_ms: float
    _knee_db: float
    _makeup_db: float
    # derived values (set by the on_change hooks) and the state (set by _reset_state)
    _lo_lin: float  # level below which the reduction is 0, linear
    _thr_lin: float  # threshold, linear
    _slope: float  # 1 - 1/ratio
    _aA: float  # attack coefficient
    _aR: float  # release coefficient
    _makeup: float  # makeup gain, linear
    _y1: float  # release-stage gain reduction, dB
    _g: float  # smoothed gain reduction, dB

    # -- derived values -----------------------------------------------------------------
    def _update_knee(self) -> None:
        # linear level below which the gain computer gives exactly 0 reduction
        self._lo_lin = db_to_lin(self._threshold_db - self._knee_db / 2.0)
        self._thr_lin = db_to_lin(self._threshold_db)

    def _ratio_changed(self) -> None:
        self._slope = 1.0 - 1.0 / self._ratio

    def _attack_changed(self) -> None:
        self._aA = time_coeff(self._attack_ms, self._sample_rate)

    def _release_changed(self) -> None:
        self._aR = time_coeff(self._release_ms, self._sample_rate)

    def _makeup_changed(self) -> None:
        self._makeup = db_to_lin(self._makeup_db)

    def gain_reduction_db(self, level_db: float) -> float:
        """Static gain reduction (dB, >= 0) of the gain computer for a level in dBFS."""
        d = level_db - self._threshold_db
        w = self._knee_db
        if 2.0 * d <= -w:
            return 0.0
        if w > 0.0 and 2.0 * abs(d) <= w:
            return self._slope * (d + w / 2.0) ** 2 / (2.0 * w)
        return self._slope * d

    # -- state --------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._y1 = 0.0  # release-stage gain reduction, dB
        self._g = 0.0  # smoothed gain reduction, dB

    def _store(self, y1: float, g: float) -> None:
        self._y1 = 0.0 if y1 < _SNAP else y1
        self._g = 0.0 if g < _SNAP else g

    # -- pure path ----------------------------------------------------------------------
    def _py_params(self) -> tuple[float, float, float, float, float]:
        """Loop constants of the pure path, which runs in output-gain nepers: ``Y = -y1/K`` and
        ``G = -g/K`` (<= 0), so the release max becomes a min and the output is ``v * exp(G)``
        (computed as ``e ** G``: the same to an ulp, and a binary operator instead of a call).

        The static curve in nepers of level ``la = log|v|``: above the knee
        ``Ygr = -slope*la + c1`` (``c1 = slope*log(threshold)``), inside it
        ``Ygr = nk*(la - llo)**2`` (``nk = -slope*K/(2*knee_db)``, ``llo = log(lo)``), below 0.
        These are the dB formulas of the module docstring divided by ``-K``."""
        lo = self._lo_lin
        slope = self._slope
        llo = math.log(lo)
        hwn = self._knee_db / (2.0 * _K)
        lT = llo + hwn if hwn > 0.0 else llo  # log of the threshold (exactly log(lo): hard knee)
        lhi = lT + hwn if hwn > 0.0 else llo
        nk = -slope * _K / (2.0 * self._knee_db) if hwn > 0.0 else 0.0
        return -slope, slope * lT, lhi, llo, nk

    def _py(self, data: list[float]) -> list[float]:
        y1 = self._y1
        g = self._g
        mk = self._makeup
        if self._quiet(data):
            return data if mk == 1.0 else [v * mk for v in data]
        kern = _kernel("compressor") if len(data) >= KERNEL_MIN else None
        if kern is not None:  # the loop below, natively (see backend.KERNEL_NAMES)
            return self._run_kernel(kern, [data])[0][0]
        ns, c1, lhi, llo, nk = self._py_params()
        aR = self._aR
        aA = self._aA
        bA = 1.0 - aA
        # the release stage is carried pre-multiplied by (1 - aA): W = bA*Y, so the attack stage
        # is G = aA*G + W (one multiply less per sample); the static curve is scaled to match
        ns *= bA
        c1 *= bA
        nk *= bA
        K = _K
        log = math.log
        E = math.e  # E ** G: exp(G) to an ulp, without a function call per sample
        skip = self._skip_level
        aRK = aR**_SKIP_RUN
        n = len(data)
        out = [0.0] * n
        i = 0
        W = -y1 / K * bA
        G = -g / K
        # Runs of _SKIP_RUN samples: within a run the release stage never falls below
        # aR**_SKIP_RUN times its value at the run start, so a sample below ``skip(...)`` cannot
        # raise it and needs no log (the result is the same as computing it).
        for s in range(0, n, _SKIP_RUN):
            th = skip(-aRK * K * (W / bA))
            nth = -th
            for v in data[s : s + _SKIP_RUN] if n > _SKIP_RUN else data:
                W = aR * W
                if v > th or v < nth:
                    la = log(v) if v > 0.0 else log(-v)
                    if la > lhi:
                        gr = ns * la + c1
                        if gr < W:
                            W = gr
                    elif la > llo:
                        d = la - llo
                        gr = nk * d * d
                        if gr < W:
                            W = gr
                G = aA * G + W
                out[i] = v * E**G
                i += 1
        self._store(-K * (W / bA), -K * G)
        if mk != 1.0:
            return [v * mk for v in out]
        return out

    def _run_kernel(
        self, kern: Kernel, cols: Samples, eq: tuple[float, ...] = (), channels: int = 0
    ) -> tuple[Samples, Sequence[float]]:
        """The ``compressor`` kernel over planar channels (see :data:`backend.KERNEL_NAMES`) with
        the constants of :meth:`_py`, fused with the EQ sections ``eq`` (mono; 12 coefficients,
        6 states, the output gain) when given; stores the state and returns the output (channel
        lists, or a planar ``array('d')`` of ``channels`` channels when ``cols`` is one) and the
        EQ's new states (empty without ``eq``)."""
        ch = channels or len(cols)
        ns, c1, lhi, llo, nk = self._py_params()
        aA = self._aA
        bA = 1.0 - aA
        K = _K
        head = (ns * bA, c1 * bA, lhi, llo, nk * bA, self._aR, aA, self._lo_lin, self._makeup,
                -self._y1 / K * bA, -self._g / K, *eq)  # fmt: skip
        buf = pack(head, cols)
        kern(buf, ch, bool(eq))
        self._store(-K * (buf[9] / bA), -K * buf[10])
        out = unpack(buf, ch, len(head), cols)
        return out, (buf[23:29] if eq else ())

    def linked_kernel(self, cols: list[list[float]]) -> list[list[float]] | None:
        kern = _kernel("compressor") if self._enabled and len(cols[0]) >= KERNEL_MIN else None
        if kern is None:
            return None
        self._check_channels(1)  # the detector's state is one linked channel
        return self._run_kernel(kern, cols)[0]

    def _quiet(self, data: list[float] | array[float]) -> bool:
        """No carried reduction and no sample above the knee's foot: the block passes (makeup)."""
        if self._y1 != 0.0 or self._g != 0.0:
            return False
        lo = self._lo_lin
        if isinstance(data, array):
            return block_peaks(data, math.inf)[0] <= lo
        return max(data) <= lo and -min(data) <= lo

    def run_block(self, block: array[float], channels: int) -> array[float]:
        """The pure path on a planar ``array('d')`` block (enabled, at least ``KERNEL_MIN``
        frames; the ``compressor`` kernel and, in mono, ``peaks`` and ``scale`` installed):
        :meth:`_py` in mono (its pass-through when quiet), :meth:`linked_kernel` for linked
        channels. The same results, bit for bit; may return ``block`` itself."""
        kern = _kernel("compressor")
        assert kern is not None
        self._check_channels(1)  # the detector's state is one linked channel
        if channels == 1 and self._quiet(block):
            mk = self._makeup
            if mk == 1.0:
                return block
            y = block[:]
            scale = _kernel("scale")
            assert scale is not None
            scale(y, mk)
            return y
        return self._run_kernel(kern, block, (), channels)[0]

    def _py_eq3(
        self, data: Mono, coeffs: list[_EqCoeffs], states: list[_EqState], gain: float
    ) -> tuple[Mono, list[_EqState]] | None:
        """Compressor fused with a following 3-section equalizer (normalised sections, see
        :mod:`.eq`): one loop instead of two, the same arithmetic as :meth:`_py` then the EQ's
        loop. Used by the chain's pure path; ``None`` when the compressor is the identity for
        this block (nothing is changed then). ``data`` may be a mono ``array('d')`` block of at
        least ``KERNEL_MIN`` samples (the kernels installed): the output is one then. The makeup gain is folded into the (linear) EQ:
        its states are divided by it and its output gain multiplied. Returns ``(output, new
        EQ states)``; the compressor state is stored."""
        if self._quiet(data):
            return None  # quiet: the compressor is the identity (up to makeup), let the EQ run alone
        mk = self._makeup
        if mk != 1.0:
            states = [(a / mk, b / mk) for a, b in states]
            gain = gain * mk
        out, new = self._py_eq3_tdf2(data, coeffs, states, gain)
        if mk != 1.0:
            new = [(a * mk, b * mk) for a, b in new]
        return out, new

    def _py_eq3_tdf2(
        self, data: Mono, coeffs: list[_EqCoeffs], states: list[_EqState], gain: float
    ) -> tuple[Mono, list[_EqState]]:
        """The fused loop (EQ in transposed direct form II); see :func:`_comp_eq3_loop`."""
        (b1, b2, a1, a2), (c1_, c2, d1, d2), (e1, e2, f1, f2) = coeffs
        (s1, s2), (t1, t2), (u1, u2) = states
        kern = _kernel("compressor") if len(data) >= KERNEL_MIN else None
        if kern is not None:  # the same loop natively (see backend.KERNEL_NAMES)
            eq = (b1, b2, a1, a2, c1_, c2, d1, d2, e1, e2, f1, f2, s1, s2, t1, t2, u1, u2, gain)
            if isinstance(data, array):
                y, st = self._run_kernel(kern, data, eq, 1)
            else:
                ys, st = self._run_kernel(kern, [data], eq)
                y = ys[0]
            return y, [(st[0], st[1]), (st[2], st[3]), (st[4], st[5])]
        assert isinstance(data, list)  # a block (array) takes the kernel: the caller checked
        ns, c1, lhi, llo, nk = self._py_params()
        aR = self._aR
        aA = self._aA
        bA = 1.0 - aA
        # the release stage is carried pre-multiplied by (1 - aA): W = bA*Y, so the attack stage
        # is G = aA*G + W (one multiply less per sample); the static curve is scaled to match
        K = _K
        out, W, G, s1, s2, t1, t2, u1, u2 = _comp_eq3_loop(
            0.0, 0.0, 0.0, 0.0, b1, a1, b2, a2, c1_, d1, c2, d2, e1, f1, e2, f2,
            s1, s2, t1, t2, u1, u2, -self._y1 / K * bA, -self._g / K, aR, aA, math.e, gain,
            data, ns * bA, c1 * bA, lhi, llo, nk * bA, self._skip_level, aR**_SKIP_RUN, bA,
        )  # fmt: skip
        self._store(-K * (W / bA), -K * G)
        return out, [(s1, s2), (t1, t2), (u1, u2)]

    def _skip_level(self, reduction_db: float) -> float:
        """A linear level ``>= lo`` below which the static gain reduction is surely ``<=
        reduction_db`` (with a safety margin for rounding); ``inf`` when ratio is 1."""
        lo = self._lo_lin
        if reduction_db <= 0.0:
            return lo
        slope = self._slope
        if slope == 0.0:
            return math.inf
        hw = self._knee_db / 2.0
        if hw > 0.0 and reduction_db < slope * hw:  # inside the soft knee
            d = math.sqrt(reduction_db * 2.0 * self._knee_db / slope) - hw
        else:
            d = reduction_db / slope
        # capping the exponent keeps exp() finite and only lowers the level (still a valid bound)
        lvl = math.exp(min((d + self._threshold_db) / _K, 700.0)) * (1.0 - 1e-9)
        return lvl if lvl > lo else lo

    # -- NumPy path ---------------------------------------------------------------------
    def _np(self, x: _Array) -> _Array:
        lvl = np.abs(x) if x.ndim == 1 else linked_level(x)
        lo = self._lo_lin
        y10, g0 = self._y1, self._g
        mk = self._makeup
        if y10 == 0.0 and g0 == 0.0 and lvl[lvl.argmax()] <= lo:  # argmax: faster than max
            return x if mk == 1.0 else x * mk
        w = self._knee_db
        if self._slope == 0.0:  # ratio 1: no new reduction, the carried state decays
            scale = 1.0
            gr = np.zeros(lvl.shape[0])
        elif w == 0.0:
            # work in nepers of level above threshold: gr_dB = slope * K * gr
            scale = self._slope * _K
            lvl *= 1.0 / lo
            np.maximum(lvl, 1.0, out=lvl)
            gr = np.log(lvl, out=lvl)
            key = (self._aR, self._aA, scale, gr.shape[0])
            wts = self._np_wts
            if wts is None or wts[0] != key:
                wts = self._np_wts = (key, *smoother_weights(self._aR, self._aA, key[3], -scale / _K))
            if wts[1] is not None:  # one sub-block: decoupled_smoother inlined, weights cached
                _, wr, q, pap, prn = wts
                t = np.multiply(gr, wr, out=gr)
                y1s = y10 / scale
                if y1s > t[0]:
                    t[0] = y1s
                ti = t.view(np.int64)  # t >= 0: the integer order of the bits is the float order
                np.maximum.accumulate(ti, out=ti)
                y1c = float(t[-1]) * prn
                t *= q
                t[0] += g0 / scale
                np.add.accumulate(t, out=t)
                t *= pap
                self._store(y1c * scale, float(t[-1]) * -_K)
                if mk != 1.0:
                    t += math.log(mk)
                np.exp(t, out=t)
                if x.ndim == 1:
                    return np.multiply(x, t, out=t)
                return apply_gain(x, t)
        else:
            scale = 1.0
            d = np.log(np.maximum(lvl, 1e-30))
            d *= _K
            d -= self._threshold_db
            hw = w / 2.0
            knee = d + hw
            knee *= knee
            knee *= self._slope / (2.0 * w)
            gr = np.where(d > hw, self._slope * d, knee)
            gr[d <= -hw] = 0.0
        g, y1c, gc = decoupled_smoother(gr, self._aR, self._aA, y10 / scale, g0 / scale, -scale / _K)
        self._store(y1c * scale, gc * scale)
        if mk != 1.0:
            g += math.log(mk)
        np.exp(g, out=g)
        return apply_gain(x, g)

    #: NumPy path: ``(key, WR, Q, PA*post, PR[-1])`` of the last block length (see
    #: :func:`.base.smoother_weights`)
    _np_wts: tuple[tuple[float, float, float, int], _Array, _Array, _Array, float] | None = None


def _comp_eq3_loop(
    x: float, y: float, z: float, w: float, b1: float, a1: float, b2: float, a2: float,
    c1_: float, d1: float, c2: float, d2: float, e1: float, f1: float, e2: float, f2: float,
    s1: float, s2: float, t1: float, t2: float, u1: float, u2: float, W: float, G: float,
    aR: float, aA: float, E: float, gain: float, data: list[float], ns: float, c1: float,
    lhi: float, llo: float, nk: float, skip: Callable[[float], float], aRK: float, bA: float,
) -> tuple[list[float], float, float, float, float, float, float, float, float]:  # fmt: skip
    """The per-sample loop of :meth:`Compressor._py_eq3_tdf2` (compressor in gain nepers, then
    the three normalised EQ sections): ``(output, W, G, s1, s2, t1, t2, u1, u2)``.

    A module-level function whose parameters are its hottest locals, in this order: CPython
    (3.13+) fuses two consecutive loads of locals into one instruction only when both have a
    slot index below 16, so the signal values ``x, y, z, w`` and the twelve EQ coefficients
    come first (their pairs are most of the loop's loads). The arithmetic is exactly that of the
    former inline loop (same operations in the same order: bit-identical results); ``x``..``w``
    are passed as dummies.
    """
    K = _K
    log = math.log
    n = len(data)
    out: list[float] = []
    # Runs of _SKIP_RUN samples: within a run the release stage never falls below
    # aR**_SKIP_RUN times its value at the run start, so a sample below ``skip(...)`` cannot
    # raise it and needs no log (the result is the same as computing it).
    for s in range(0, n, _SKIP_RUN):
        th = skip(-aRK * K * (W / bA))
        nth = -th
        for v in data[s : s + _SKIP_RUN] if n > _SKIP_RUN else data:
            W = aR * W
            if v > th or v < nth:
                la = log(v) if v > 0.0 else log(-v)
                if la > lhi:
                    gr = ns * la + c1
                    if gr < W:
                        W = gr
                elif la > llo:
                    d = la - llo
                    gr = nk * d * d
                    if gr < W:
                        W = gr
            G = aA * G + W
            x = E**G * v  # E ** G: exp(G) to an ulp, without a function call per sample
            y = x + s1
            s1 = b1 * x - a1 * y + s2
            s2 = b2 * x - a2 * y
            z = y + t1
            t1 = c1_ * y - d1 * z + t2
            t2 = c2 * y - d2 * z
            w = z + u1
            u1 = e1 * z - f1 * w + u2
            u2 = e2 * z - f2 * w
            out.append(gain * w)
    return out, W, G, s1, s2, t1, t2, u1, u2
