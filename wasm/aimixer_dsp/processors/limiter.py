r"""Lookahead brickwall limiter.

Let ``c = 10**(ceiling_db/20) * (1 - 1e-6)`` (a 1e-6 relative margin, -8.7e-6 dB, so float32
rounding of the output cannot cross the ceiling), ``L = round(lookahead_ms * fs / 1000)`` the
lookahead (= ``latency_samples``) and ``M = max(L, 1)``. Per input sample (linked: the
maximum over channels)::

    req[n] = min(1, c / |x[n]|)                       gain this sample needs
    m[n]   = min(req[n-L .. n])                       sliding minimum over L+1 samples
    u[n]   = max(1 - m[n], aR * u[n-1])               gain reduction, released exponentially
    G[n]   = 1 - mean(u[n-M+1 .. n])                  moving average over M samples
    y[n]   = x[n-L] * G[n]                            output: input delayed by L samples

``aR = exp(-1/(release_ms*fs/1000))``; the first L outputs come from the zero-initialised delay line.

**Brickwall proof.** For every ``k`` in ``[n-L, n]`` the window of ``m[k]`` contains
``n-L``, so ``m[k] <= req[n-L]``; and ``u[k] >= 1 - m[k]``, i.e. ``1 - u[k] <= req[n-L]``.
The average window ``[n-M+1, n]`` lies inside ``[n-L, n]`` (``M <= L + 1``), hence
``G[n] <= req[n-L]`` and ``|y[n]| = |x[n-L]| G[n] <= |x[n-L]| req[n-L] <= c``. Rounding of the
sums and the block-end snap below are far below the 1e-6 margin; a final clip to ``±c`` guards
the last ulp anyway, and ``c < 10**(ceiling_db/20)`` keeps float32 outputs under the ceiling.

**True-peak mode** (``true_peak=True``, config ``limiter.truePeak``). The gain is computed as
above, but from a detector level ``e[k] = max(|x[k]|, |over-sampled points next to x[k]|)``
(the larger of two 4x interpolators of :mod:`aimixer_dsp.truepeak`: the BS.1770-4 Annex 2
filter our meter uses, and the wideband one, flat nearly to fs/2 like ffmpeg's ``ebur128``
true-peak resampler; near fs/2 either can read higher than the other: the points between
``x[k-1]`` and ``x[k+1]``) against the ceiling lowered by ``TP_MARGIN_DB``, and applied
to the input: ``y[n] = x[n - L - D] * G[n]`` with ``G[n] = (detector output)/(detected level)``.
Here the points are all those within the interpolator's half-span (16 samples) of ``x[k]``, so
every sample that enters the interpolation of a loud point gets a gain that keeps that point
under the ceiling. The brickwall proof above then bounds ``|x| G <= e G <= c`` at the samples
and, for a gain constant over the span, at every interpolated point; the margin covers the
interpolation of a gain that changes within the span, and the property tests check the
output's true peak with our meter and ffmpeg's. The detector adds ``D = 32`` samples of
latency (``latency_samples = L + 32``, 0.67 ms at 48 kHz).

At block ends carried reductions below 1e-10 are set to 0 (both paths), so a limiter that has
released returns to an exact, cheap pass-through (pure delay). The pure path keeps the sliding
minimum in a monotonic deque and the mean as a running sum (re-summed every block); the NumPy
path uses ``log2(L)`` doubling steps for both and the vectorised release recursion (a block
with nothing to limit, where ``u`` only decays, uses the closed-form window sums instead; so
does a long block outside the short stretch around its samples over the ceiling).
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any

from ..backend import KERNEL_MIN, Kernel
from ..backend import kernel as _kernel
from ..truepeak import TruePeakMeter
from .base import (
    Param,
    Processor,
    Samples,
    apply_gain,
    block_peaks,
    db_to_lin,
    decay_weights,
    linked_level,
    max_decay,
    np,
    pack,
    subblock_len,
    time_coeff,
    unpack,
)

CEILING_RANGE = (-3.0, 0.0)
LOOKAHEAD_RANGE = (0.0, 20.0)
RELEASE_RANGE = (1.0, 1000.0)
MARGIN = 1e-6
_SNAP = 1e-10  # carried gain reduction below this (at block ends) is zero
_REL_MAX = 65536  # NumPy path: longest block for the closed-form release (its weights are cached)
_SPARSE_MIN = 4096  # NumPy path: shortest block for which _sparse_np is tried
TP_MARGIN_DB = 0.1  # true-peak mode: the detector's ceiling is this much below the ceiling
TP_SPAN = 16  # true-peak mode: half the span of the wideband 4x interpolator (32 taps per phase)
TP_DELAY = 2 * TP_SPAN  # true-peak mode: extra latency (samples)
_ANNEX_LEAD = TP_SPAN - 6  # the BS.1770 Annex 2 interpolator's delay is 6 samples

if TYPE_CHECKING:
    from typing import TypedDict

    from numpy.typing import NDArray

    _Array = NDArray[np.float64]

    class _TPState(TypedDict):
        """:meth:`Limiter._tp_state`: the true-peak mode's detector and delay lines."""

        meters: tuple[TruePeakMeter, TruePeakMeter]  # (wideband, BS.1770 Annex 2)
        core: Limiter  # the sample-peak limiter run on the detector level
        hx: list[list[float]]  # per channel: the input delay (interpolator)
        hr: list[float]  # the last interpolated row peaks
        ha: list[float]  # the last Annex 2 row peaks (they lead by _ANNEX_LEAD samples)
        dx: list[list[float]]  # per channel: the input delay (lookahead)
        de: list[float]  # the detector delay (lookahead)


def sliding_min(v: _Array, w: int) -> _Array:
    """``out[i] = min(v[i : i + w])`` for ``i <= len(v) - w``.

    Doubling: ``m_2k[i] = min(m_k[i], m_k[i + k])`` up to the largest power of two ``p <= w``,
    then ``min(m_p[i], m_p[i + w - p])`` — about ``log2(w)`` vectorised minimums.
    """
    cnt = v.shape[0] - w + 1
    m = v
    k = 1
    while 2 * k <= w:
        m = np.fmin(m[:-k], m[k:])
        k *= 2
    if k == w:
        return m[:cnt] if m.shape[0] != cnt else m
    return np.fmin(m[:cnt], m[w - k : w - k + cnt])


def sliding_sum(v: _Array, w: int) -> _Array:
    """``out[i] = sum(v[i : i + w])`` for ``i <= len(v) - w`` (a new array).

    Doubling on the binary digits of ``w``: ``s_2k[i] = s_k[i] + s_k[i + k]``; the partial
    sums for the set bits of ``w`` are added at their offsets — ``~2*log2(w)`` vector adds and
    no long running sum (so no cancellation error).
    """
    cnt = v.shape[0] - w + 1
    out = None
    off = 0
    s = v
    k = 1
    while True:
        if w & k:
            part = s[off : off + cnt]
            out = part.copy() if out is None else np.add(out, part, out=out)
            off += k
        if 2 * k > w:
            break
        s = np.add(s[:-k], s[k:])
        k *= 2
    assert out is not None  # w >= 1 has a set bit
    return out


class Limiter(Processor):
    """Brickwall lookahead limiter.

    Parameters
    ----------
    ceiling_db : float
        Output ceiling (sample peak) in dBFS, ``[-3, 0]``.
    lookahead_ms : float
        Lookahead in ms, ``[0, 20]``; the limiter delays the signal by ``latency_samples``.
    release_ms : float
        Release time constant in ms, ``[1, 1000]``.
    """

    config_key = "limiter"

    ceiling_db = Param("ceiling", "dBFS", CEILING_RANGE, -1.0, "Ceiling", on_change="_ceiling_changed")
    lookahead_ms = Param("lookahead", "ms", LOOKAHEAD_RANGE, 1.5, "Lookahead", on_change="_lookahead_changed")
    release_ms = Param("release", "ms", RELEASE_RANGE, 50.0, "Release", on_change="_release_changed")
    #: limit the true peak (dBTP, 4x over-sampled) instead of the sample peak; changing it resets
    #: the state (the latency changes by ``TP_DELAY``)
    true_peak = Param("truePeak", "", None, False, "True peak", on_change="_true_peak_changed")
    # the stored values (set by the Params above; the DSP reads these)
    _ceiling_db: float
    _lookahead_ms: float
    _release_ms: float
    _true_peak: bool

    # derived values (set by the on_change hooks) and the state (set by _reset_state)
    _L: int = -1  # lookahead in samples (set by _lookahead_changed; -1 before)
    _M: int  # max(L, 1): the moving average's length
    _c: float  # ceiling with the margin, linear
    _aR: float  # release coefficient
    _delay: list[list[float]]  # per channel: the last L input samples (oldest first)
    _u: float  # release-stage gain reduction of the last sample
    _uh: list[float]  # last M-1 values of u (oldest first)
    _tp: _TPState | None  # true-peak mode state (see _tp_state)

    # -- derived values -----------------------------------------------------------------
    def _ceiling_changed(self) -> None:
        self._c = db_to_lin(self._ceiling_db) * (1.0 - MARGIN)

    def _lookahead_changed(self) -> None:
        """Changing the lookahead (in samples) resets the state."""
        L = int(round(self._lookahead_ms * self._sample_rate / 1000.0))
        if L != self._L:
            self._L = L
            self._M = max(L, 1)
            if self._ready:
                self.reset()

    def _release_changed(self) -> None:
        self._aR = time_coeff(self._release_ms, self._sample_rate)

    def _true_peak_changed(self) -> None:
        if self._ready:
            self.reset()

    @property
    def latency_samples(self) -> int:
        """Lookahead delay in samples (``round(lookahead_ms * fs / 1000)``, plus ``TP_DELAY``
        in true-peak mode)."""
        return max(self._L, 0) + (TP_DELAY if self._true_peak else 0)

    # -- state --------------------------------------------------------------------------
    def _reset_state(self) -> None:
        if self._L < 0:
            return
        self._delay = []
        self._u = 0.0
        self._uh = [0.0] * (self._M - 1)
        self._tp = None

    #: pure path: ``(output, peak)`` of the last block when it was a plain delay (the peak
    #: ``max|output|`` is known from the pass-through check), else ``None``
    last_peak: tuple[list[float], float] | None = None

    def _delays(self, channels: int) -> list[list[float]]:
        if not self._delay:
            self._delay = [[0.0] * self._L for _ in range(channels)]
        return self._delay

    def _quiet(self, dl_max: float) -> bool:
        return self._u == 0.0 and dl_max <= self._c and not any(self._uh)

    # -- true-peak mode ------------------------------------------------------------------
    def _tp_state(self, channels: int) -> _TPState:
        st = self._tp
        if st is None:
            core = Limiter(
                self._ceiling_db, self._lookahead_ms, self._release_ms, sample_rate=self._sample_rate
            )
            st = self._tp = {
                "meters": (
                    TruePeakMeter(self._sample_rate, channels, wideband=True),
                    TruePeakMeter(self._sample_rate, channels),
                ),
                "core": core,
                "hx": [[0.0] * TP_DELAY for _ in range(channels)],  # input delay (interpolator)
                "hr": [0.0] * TP_DELAY,  # the last interpolated row peaks
                "ha": [0.0] * _ANNEX_LEAD,  # the last Annex 2 row peaks (they lead by 10 samples)
                "dx": [[0.0] * self._L for _ in range(channels)],  # input delay (lookahead)
                "de": [0.0] * self._L,  # detector delay (lookahead)
            }
        core = st["core"]
        if core._aR != self._aR:
            core.release_ms = self._release_ms
        core._c = self._c * 10.0 ** (-TP_MARGIN_DB / 20.0)
        return st

    def _tp_py(self, data: list[float]) -> list[float]:
        st = self._tp_state(1)
        n = len(data)
        wide, annex = st["meters"]
        ra = st["ha"] + annex.row_peaks(data)  # Annex 2 rows, delayed to the wideband rows' times
        st["ha"] = ra[n:]
        rows = list(map(max, wide.row_peaks(data), ra[:n]))
        xs = st["hx"][0] + data
        rs = st["hr"] + rows
        xd = xs[:n]
        env = list(map(max, map(abs, xd), _window_max_list(rs[1:], TP_DELAY)))
        st["hx"][0] = xs[n:]
        st["hr"] = rs[n:]
        ye = st["core"].process_validated(env)
        es = st["de"] + env
        xx = st["dx"][0] + xd
        st["de"] = es[n:]
        st["dx"][0] = xx[n:]
        return [xv * (g / ev) if ev > 0.0 else 0.0 for xv, g, ev in zip(xx[:n], ye, es[:n], strict=True)]

    def _tp_np(self, x: _Array) -> _Array:
        one_d = x.ndim == 1
        x2 = x[:, None] if one_d else x
        n, ch = x2.shape
        st = self._tp_state(ch)
        wide, annex = st["meters"]
        rows = np.zeros(n)
        ra = np.zeros(n)
        for c in range(ch):
            col = np.ascontiguousarray(x2[:, c])
            np.maximum(rows, wide.row_peaks(col, c), out=rows)
            np.maximum(ra, annex.row_peaks(col, c), out=ra)
        ra = np.concatenate([np.array(st["ha"], dtype=np.float64), ra])  # delayed to the wideband rows' times
        st["ha"] = ra[n:].tolist()
        np.maximum(rows, ra[:n], out=rows)
        xs = np.concatenate([np.array(st["hx"], dtype=np.float64).T, x2])
        rs = np.concatenate([np.array(st["hr"], dtype=np.float64), rows])
        xd = xs[:n]
        env = np.maximum(
            np.abs(xd).max(axis=1), np.lib.stride_tricks.sliding_window_view(rs[1:], TP_DELAY).max(axis=1)
        )
        st["hx"] = xs[n:].T.tolist()
        st["hr"] = rs[n:].tolist()
        ye = st["core"].process_validated(env)
        es = np.concatenate([np.array(st["de"], dtype=np.float64), env])
        xx = np.concatenate([np.array(st["dx"], dtype=np.float64).reshape(ch, -1).T, xd])
        st["de"] = es[n:].tolist()
        st["dx"] = xx[n:].T.tolist()
        ed = es[:n]
        g = np.divide(ye, ed, out=np.zeros(n), where=ed > 0.0)
        y: _Array = xx[:n] * g[:, None]
        return y[:, 0] if one_d else y

    # -- pure path ----------------------------------------------------------------------
    def _py(self, data: list[float]) -> list[float]:
        if self._true_peak:
            self.last_peak = None
            return self._tp_py(data)
        L = self._L
        M = self._M
        c = self._c
        dl = self._delays(1)[0]
        n = len(data)
        dmax = max(max(dl), -min(dl)) if L else 0.0
        self.last_peak = None
        if n > L and self._quiet(dmax):
            # the pass-through check, split at n - L: the output is the delay line + the head,
            # so their peak is the output's (kept for the session's metrics: no second pass)
            front = data[: n - L] if L else data
            tail = data[n - L :] if L else []
            hmax = max(front)
            hmin = min(front)
            if hmax <= c and -hmin <= c and (not L or (max(tail) <= c and -min(tail) <= c)):
                delayed = dl + front
                self._delay[0] = tail
                if -hmin > hmax:
                    hmax = -hmin
                self.last_peak = (delayed, hmax if hmax > dmax else dmax)
                return delayed
        buf = dl + data
        delayed = buf[:n]
        self._delay[0] = buf[n:] if L else []
        if n <= L and self._quiet(dmax) and max(data) <= c and -min(data) <= c:
            return delayed
        kern = _kernel("limiter") if n >= KERNEL_MIN else None
        if kern is not None:  # the loop below, natively (see backend.KERNEL_NAMES)
            return self._run_kernel(kern, [data], [dl])[0][0]
        aR = self._aR
        u = self._u
        uall = self._uh[:]
        acc = sum(uall)
        inv = 1.0 / M
        # monotonic deque of (position, req) for req < 1 within the window, seeded from the delay line
        qp: list[int] = []
        qv: list[float] = []
        for j in range(L):
            a = dl[j]
            if a < 0.0:
                a = -a
            if a > c:
                r = c / a
                while qv and qv[-1] >= r:
                    qv.pop()
                    qp.pop()
                qp.append(j - L)
                qv.append(r)
        head = 0
        out: list[float] = []
        app = out.append
        uapp = uall.append
        nc = -c
        i = 0
        for v, xd in zip(data, delayed, strict=True):
            a = v if v >= 0.0 else -v
            if a > c:
                r = c / a
                while len(qv) > head and qv[-1] >= r:
                    qv.pop()
                    qp.pop()
                qp.append(i)
                qv.append(r)
            if len(qv) > head:
                if qp[head] < i - L:
                    head += 1
                w = 1.0 - qv[head] if len(qv) > head else 0.0
            else:
                w = 0.0
            u = aR * u
            if w > u:
                u = w
            uapp(u)
            acc += u
            y = xd * (1.0 - acc * inv)
            acc -= uall[i]
            if y > c:
                y = c
            elif y < nc:
                y = nc
            app(y)
            i += 1
        self._store(u, uall[len(uall) - (M - 1) :] if M > 1 else [])
        return out

    def _run_kernel(
        self, kern: Kernel, cols: Samples, delays: list[list[float]], channels: int = 0
    ) -> tuple[Samples, list[list[float]]]:
        """The ``limiter`` kernel over planar channels and their delay lines (see
        :data:`backend.KERNEL_NAMES`), from and to this limiter's release state; returns the
        output (channel lists, or a planar ``array('d')`` of ``channels`` channels when ``cols``
        is one) and the new delay lines."""
        ch = channels or len(cols)
        head = (self._L, self._M, self._c, self._aR, sum(self._uh), self._u, *self._uh)
        if isinstance(cols, array):
            buf = pack(head, delays) + cols
        else:
            buf = pack(head, delays + cols)
        kern(buf, ch)
        h = len(head)
        self._store(buf[5], buf[6:h].tolist())
        L = self._L
        out = unpack(buf, ch, h + ch * L, cols)
        return out, [buf[h + c * L : h + (c + 1) * L].tolist() for c in range(ch)]

    def linked_kernel(
        self, cols: list[list[float]], delays: list[list[float]] | None = None
    ) -> list[list[float]] | None:
        """:meth:`Processor.linked_kernel` for the sample-peak mode; the output is the input
        delayed by ``L`` samples. ``delays`` are the channels' delay lines (``L`` samples each,
        oldest first), replaced by the block's last ``L`` samples (the limiter's own delay line
        then holds their linked level)."""
        if self._true_peak or not self._enabled or len(cols[0]) < KERNEL_MIN:
            return None
        kern = _kernel("limiter")
        if kern is None:
            return None
        return self._linked(kern, cols, delays, len(cols))

    def _linked(self, kern: Kernel, cols: Samples, delays: list[list[float]] | None, ch: int) -> Samples:
        self._check_channels(1)  # the detector's state is one linked channel
        if delays is None:
            delays = [[0.0] * self._L for _ in range(ch)]
        y, new = self._run_kernel(kern, cols, delays, ch)
        delays[:] = new
        self._delay = [[max(map(abs, t)) for t in zip(*new, strict=True)]]
        self.last_peak = None
        return y

    def run_block(
        self, block: array[float], channels: int, delays: list[list[float]] | None = None
    ) -> array[float]:
        """The pure path of the sample-peak mode on a planar ``array('d')`` block (enabled, at
        least ``KERNEL_MIN`` frames; the ``limiter`` kernel and, in mono, ``peaks`` installed):
        :meth:`_py` in mono (its pass-through when quiet, ``last_peak`` not kept), else
        :meth:`linked_kernel` with the channels' ``delays``. The same results, bit for bit."""
        kern = _kernel("limiter")
        assert kern is not None and not self._true_peak
        if channels > 1:
            return self._linked(kern, block, delays, channels)
        self._check_channels(1)
        self.last_peak = None
        L = self._L
        c = self._c
        dl = self._delays(1)[0]
        n = len(block)
        dmax = max(max(dl), -min(dl)) if L else 0.0
        quiet = self._quiet(dmax) and block_peaks(block, math.inf)[0] <= c
        if quiet and n > L:  # a plain delay
            self._delay[0] = block[n - L :].tolist() if L else []
            return array("d", dl) + block[: n - L] if L else block
        if L:
            self._delay[0] = (dl[n:] + block.tolist()) if n < L else block[n - L :].tolist()
        if quiet:  # n <= L: the delay line's head
            return (array("d", dl) + block)[:n]
        return self._run_kernel(kern, block, [dl], 1)[0]

    # -- NumPy path ---------------------------------------------------------------------
    def _np(self, x: _Array) -> _Array:
        if self._true_peak:
            return self._tp_np(x)
        n = x.shape[0]
        one_d = x.ndim == 1
        L = self._L
        M = self._M
        c = self._c
        if L:
            if one_d:
                lst = self._delay[0] if self._delay else self._delays(1)[0]
                cache = self._dl_cache
                dl = cache[1] if cache is not None and cache[0] is lst else np.array(lst, dtype=np.float64)
                buf = np.concatenate((dl, x))
                tail = buf[n:]
                lst = tail.tolist()
                self._delay = [lst]
                self._dl_cache = (lst, tail)
            else:
                dls = self._delays(x.shape[1])
                dl = self._cached(dls, "_dl_cache")
                buf = np.concatenate([dl.T, x])
                tail = buf[n:]
                self._delay = tail.T.tolist()
                self._dl_cache = (self._delay, tail.T.copy())
            delayed = buf[:n]
        else:
            self._delays(1 if one_d else x.shape[1])
            buf = delayed = x
        lvl = np.abs(buf) if one_d else linked_level(buf)
        u0 = self._u
        if lvl[lvl.argmax()] <= c:  # nothing to limit in the window (argmax: faster than max)
            if u0 == 0.0 and not any(self._uh):
                return delayed
            if M > 1 and M - 1 <= n <= _REL_MAX:
                return self._release_np(delayed, u0)
            u = _powers(self._aR, n)
            u *= u0
            clip = False
        elif M > 1 and _SPARSE_MIN <= n <= _REL_MAX and (y := self._sparse_np(delayed, lvl, u0)) is not None:
            return y
        else:
            np.fmax(lvl, c, out=lvl)
            req = np.divide(c, lvl, out=lvl)  # exactly 1.0 where |x| <= c
            m = sliding_min(req, L + 1)  # len n
            w = np.subtract(1.0, m, out=m if m is not req else None)
            u, _ = max_decay(w, self._aR, u0, exact=True)
            clip = True
        uc = float(u[-1])
        if M > 1:
            ext = np.concatenate([self._cached(self._uh, "_uh_cache"), u])
            G = sliding_sum(ext, M)
            hist = ext[ext.shape[0] - (M - 1) :]
        else:
            G = u.copy()
            hist = None
        G *= -1.0 / M
        G += 1.0
        y = apply_gain(delayed, G)
        if clip:
            np.fmin(y, c, out=y)
            np.fmax(y, -c, out=y)
        self._store(uc, hist.tolist() if hist is not None else [])
        if hist is not None and self._u != 0.0:
            self._uh_cache = (self._uh, hist)
        return y

    def _release_np(self, delayed: _Array, u0: float) -> _Array:
        """NumPy path of a block with nothing to limit (``M > 1``, ``M - 1 <= n <=
        _REL_MAX``): the reduction is ``u[j] = u0 * aR**(j+1)``, so a window of ``M`` values
        of it inside the block sums to ``u[j] * SM`` (``SM = sum_{d<M} aR**-d``); the first
        ``M - 1`` windows add the history's suffix sums to ``u0 * C[j]`` (``C[j] =
        sum_{i<=j} aR**(i+1)``). The same values as the doubling sum up to rounding, in a few
        operations."""
        n = delayed.shape[0]
        M = self._M
        key = (self._aR, M, n)
        rw = self._rel_wts
        if rw is None or rw[0] != key:
            rw = self._rel_wts = (key, *_release_weights(self._aR, M, n))
        _, P, C, SM = rw
        W = P * (u0 * SM)  # window sums of the reduction
        head = W[: M - 1]
        np.multiply(C, u0, out=head)
        cache = self._uh_cache
        uh = cache[1] if cache is not None and cache[0] is self._uh else np.array(self._uh)
        head += np.add.accumulate(uh[::-1])[::-1]  # sums of the history's suffixes
        W *= -1.0 / M
        W += 1.0
        hist = P[n - M + 1 :] * u0
        self._store(float(hist[-1]), hist.tolist())
        if self._u != 0.0:
            self._uh_cache = (self._uh, hist)
        return delayed * W if delayed.ndim == 1 else delayed * W[:, None]

    def _sparse_np(self, delayed: _Array, lvl: _Array, u0: float) -> _Array | None:
        """NumPy path of a block whose samples above the ceiling lie close together (``M >
        1``, ``_SPARSE_MIN <= n <= _REL_MAX``); ``None`` (nothing changed) when they do not. Only
        outputs ``[jA, jB]`` whose lookahead window holds such a sample need the sliding
        minimum and the release recursion; before them the reduction decays from ``u0``,
        after them from ``u[jB]``, so the window sums there are closed-form as in
        :meth:`_release_np` and only the windows that reach into ``[jA, jB]`` are summed.
        Outputs outside ``[jA, jB]`` are a sample ``<= c`` times a gain ``<= 1`` (no clip)."""
        n = delayed.shape[0]
        L = self._L
        M = self._M
        c = self._c
        above = lvl > c
        pf = int(above.argmax())
        pl = above.shape[0] - 1 - int(above[::-1].argmax())
        jA = max(pf - L, 0)  # outputs [jA, jB] have an above sample in their window
        jB = min(pl, n - 1)
        s0 = jA - (M - 1)  # the windows of outputs [jA, e) read u[s0 .. e-1]
        e = min(n, jB + M)
        if 4 * (e - s0) > n:
            return None
        aR = self._aR
        key = (aR, M, n)
        rw = self._rel_wts
        if rw is None or rw[0] != key:
            rw = self._rel_wts = (key, *_release_weights(aR, M, n))
        _, P, C, SM = rw
        m = sliding_min(c / np.fmax(lvl[jA : jB + L + 1], c), L + 1)
        uR, uB = max_decay(np.subtract(1.0, m, out=m), aR, u0 * P[jA - 1] if jA else u0, exact=True)
        cache = self._uh_cache
        uh = cache[1] if cache is not None and cache[0] is self._uh else np.array(self._uh)
        parts = [uh[s0:], P[:jA] * u0] if s0 < 0 else [P[s0:jA] * u0]
        parts.append(uR)
        if e - 1 > jB:
            parts.append(P[: e - 1 - jB] * uB)
        useg = np.concatenate(parts)  # u[s0 .. e-1] (history before 0)
        W = np.empty(n)  # window sums of the reduction
        W[jA:e] = sliding_sum(useg, M)
        if jA:
            np.multiply(P[:jA], u0 * SM, out=W[:jA])
            h = min(jA, M - 1)
            head = W[:h]
            np.multiply(C[:h], u0, out=head)
            head += np.add.accumulate(uh[::-1])[::-1][:h]  # sums of the history's suffixes
        if e < n:
            np.multiply(P[e - 1 - jB : n - 1 - jB], uB * SM, out=W[e:])
            hist = P[n - M - jB : n - 1 - jB] * uB
        else:
            hist = useg[useg.shape[0] - (M - 1) :]
        W *= -1.0 / M
        W += 1.0
        y = delayed * W if delayed.ndim == 1 else delayed * W[:, None]
        yr = y[jA : jB + 1]
        np.fmin(yr, c, out=yr)
        np.fmax(yr, -c, out=yr)
        self._store(float(hist[-1]), hist.tolist())
        if self._u != 0.0:
            self._uh_cache = (self._uh, hist)
        return y

    #: NumPy path caches: the delay line and the reduction history as arrays (``(list, array)``
    #: pairs, reused while the state list is the one this path stored) and the release weights
    _dl_cache: tuple[list[Any], _Array] | None = None
    _uh_cache: tuple[list[float], _Array] | None = None
    _rel_wts: tuple[tuple[float, int, int], _Array, _Array, float] | None = None

    def _cached(self, lst: list[Any], attr: str) -> _Array:
        """ndarray of a state list, reusing the array this path produced for the same list."""
        cache: tuple[list[Any], _Array] | None = getattr(self, attr, None)
        if cache is not None and cache[0] is lst:
            return cache[1]
        return np.array(lst, dtype=np.float64)

    def _store(self, u: float, uh: list[float]) -> None:
        # block-end snap: reductions below _SNAP count as none (enables the quiet path)
        self._u = 0.0 if u < _SNAP else u
        self._uh = [0.0 if v < _SNAP else v for v in uh] if self._u == 0.0 else uh


def _window_max_list(v: list[float], w: int) -> list[float]:
    """``out[i] = max(v[i : i + w])`` for ``i <= len(v) - w`` (doubling, as :func:`sliding_min`)."""
    cnt = len(v) - w + 1
    m = v
    k = 1
    while 2 * k <= w:
        m = list(map(max, m[:-k], m[k:]))
        k *= 2
    if k == w:
        return m[:cnt]
    return list(map(max, m[:cnt], m[w - k : w - k + cnt]))


def _powers(a: float, n: int) -> _Array:
    """New array ``a**(j+1)`` for ``j < n``."""
    m = subblock_len(a)
    if n <= m:
        return decay_weights(a, m)[1][:n].copy()
    p: _Array = np.exp(np.arange(1, n + 1, dtype=np.float64) * np.log(a))
    return p


def _release_weights(aR: float, M: int, n: int) -> tuple[_Array, _Array, float]:
    """``(P, C, SM)`` for :meth:`Limiter._release_np`: ``P[j] = aR**(j+1)`` (``j < n``),
    ``C[j] = sum_{i<=j} P[i]`` (``j < M - 1``) and ``SM = sum_{d<M} aR**-d`` (read-only)."""
    P = _powers(aR, n)
    C = np.cumsum(P[: M - 1])
    SM = math.fsum(aR**-d for d in range(M))
    P.flags.writeable = False
    C.flags.writeable = False
    return P, C, SM
