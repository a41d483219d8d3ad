r"""Loudness normalisation of files: one analysis pass, then gain and a true-peak limiter.

``aimixer process --target``, the file jobs (``POST /jobs``) and the SDK's ``processFile``
(:mod:`aimixer_dsp.render`) all normalise with this module, so they give the same result.

1. **Analysis pass.** :class:`NormalizationAnalysis` is fed the chain's output (latency
   compensated). Per chunk of ``step / 75`` samples (64 at 48 kHz; 75 chunks per 100 ms
   sub-block of the BS.1770 meter) it keeps two numbers: the K-weighted, channel-weighted
   energy ``e[j]`` (the meter's quantity, so the sub-blocks' sums *are* the meter's sub-blocks)
   and the peak ``p[j] = max(|x|, Annex 2 over-sampled points)`` over the channels.
2. **Gain.** Without limiting, the output loudness at gain ``g`` is ``measured + g`` exactly.
   The limiter (:class:`~aimixer_dsp.processors.Limiter` in true-peak mode at the ceiling
   ``c``) takes loudness away where ``g p > c``. :meth:`NormalizationAnalysis.predict` runs the
   limiter's gain computer on the chunk grid — reduction ``R[j] = max(0, 1 - c' / (g P[j]))``
   with ``P[j] = max(p[j-1], p[j], p[j+1])`` (the detector's ±16-sample span and the look-ahead
   ramp, rounded up to a chunk), released as the limiter releases,
   ``U[j] = max(R[j], aR^B U[j-1])`` — and sums ``g^2 e[j] (1 - U[j])^2`` into the sub-blocks,
   then gates them as BS.1770-4 does. :meth:`gain_for` solves ``predict(g) = target`` by the
   secant method (the prediction is monotonic in ``g``). ``c'`` is the detector's ceiling, the
   limiter's ceiling less its 0.1 dB margin.
3. **Output pass.** :class:`Normalizer`: the chain's output times ``g``, then the true-peak
   limiter (linked over channels). The CLI and the jobs re-run the chain for it (NumPy);
   the SDK runs it over the first pass's float32 output (pure Python).

Storage: 8 bytes per chunk (two float32), 6 KB per second of audio at 48 kHz.

Both classes also take **planar** ``array('d')`` **blocks** (channel ``c`` at ``[c n, (c + 1) n)``;
the render's blocks in the browser). With the browser's kernels (``normanalysis``, ``normalize``:
``wasm/js/kernels_loudnorm.js``) a block is one native call and its samples never become Python
floats; the results equal the list path's (with its ``kweight``, ``tprows`` and ``tplimit``
kernels) bit for bit. Without them (CPython), or for a block shorter than ``KERNEL_MIN``, the
block's channel lists take the list path, the reference. The caller hands finite samples.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from itertools import compress
from operator import mul, truediv
from struct import pack as _pack
from typing import Any

from .backend import KERNEL_MIN, use_numpy
from .backend import kernel as _kernel
from .errors import InvalidBufferError, ParameterError
from .meters import _gated_loudness, _kfilter_sumsq_pure, channel_weights, k_weighting_coefficients
from .presets import LOUDNESS_TARGETS, TARGET_RANGE
from .processors.base import planar, planar_frames, time_coeff, unplanar
from .processors.limiter import CEILING_RANGE, TP_DELAY, TP_MARGIN_DB, Limiter, _window_max_list
from .truepeak import TruePeakMeter

__all__ = [
    "CHUNKS_PER_STEP",
    "NormalizationAnalysis",
    "Normalizer",
    "resolve_normalization",
]

#: chunks per 100 ms sub-block of the loudness meter (64 samples at 48 kHz)
CHUNKS_PER_STEP = 75
#: the secant iteration stops when the prediction is this close to the target (LU)
SOLVE_TOLERANCE = 1e-6
SOLVE_MAX_ITER = 40
#: the most loudness the gain search lets the limiter take (dB of gain above target - measured)
MAX_MAKEUP_DB = 20.0
#: a reduction below this (relative) has released
RELEASED = 1e-7


def resolve_normalization(
    target: Any = None, target_lufs: Any = None, ceiling: Any = None
) -> tuple[str | None, float, float] | None:
    """``(name, lufs, ceiling_dbtp)`` of a normalisation request, or ``None`` for none.

    ``target``: a name of :data:`~aimixer_dsp.presets.LOUDNESS_TARGETS`; ``target_lufs``: LUFS
    in :data:`~aimixer_dsp.presets.TARGET_RANGE` (exclusive with ``target``); ``ceiling``: the
    true-peak ceiling in dBTP (the limiter's range), default the named target's, else -1. A
    ceiling alone is an error. Raises :class:`~aimixer_dsp.errors.ParameterError` naming the
    field (``target``, ``targetLufs``, ``truePeakCeiling``).
    """
    if target is not None and target_lufs is not None:
        raise ParameterError("target", target, message="target and targetLufs are exclusive; give one")
    name = None
    lufs = None
    if target is not None:
        if not isinstance(target, str) or target not in LOUDNESS_TARGETS:
            shown = repr(target)[:40]
            raise ParameterError(
                "target",
                shown,
                tuple(LOUDNESS_TARGETS),
                message=f"target={shown} is not one of {', '.join(sorted(LOUDNESS_TARGETS))}",
            )
        name = target
        lufs, default_ceiling = LOUDNESS_TARGETS[target]
        if ceiling is None:
            ceiling = default_ceiling
    elif target_lufs is not None:
        lufs = _number("targetLufs", target_lufs, TARGET_RANGE)
        name = "custom"
    if lufs is None:
        if ceiling is not None:
            raise ParameterError(
                "truePeakCeiling", ceiling, message="truePeakCeiling needs target or targetLufs"
            )
        return None
    ceiling = -1.0 if ceiling is None else _number("truePeakCeiling", ceiling, CEILING_RANGE)
    return name, float(lufs), float(ceiling)


def _number(name: str, value: Any, rng: tuple[float, float]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = repr(value)[:40]
        raise ParameterError(
            name, shown, rng, message=f"{name}={shown} must be a number in [{rng[0]:g}, {rng[1]:g}]"
        )
    if not math.isfinite(value) or not rng[0] <= value <= rng[1]:
        raise ParameterError(name, value, rng)
    return float(value)


def _limiter_constants(sample_rate: int, ceiling_db: float) -> tuple[float, float]:
    """``(c', aR)``: the true-peak limiter's detector ceiling and per-sample release coefficient
    (its defaults: the normaliser's limiter has default look-ahead and release)."""
    ref = Limiter(ceiling_db, sample_rate=sample_rate, true_peak=True)
    c = 10.0 ** (ceiling_db / 20.0) * (1.0 - 1e-6) * 10.0 ** (-TP_MARGIN_DB / 20.0)
    return c, time_coeff(ref.release_ms, sample_rate)


class NormalizationAnalysis:
    """The analysis pass of normalisation: feed the chain's output with :meth:`push`
    (a planar list of float lists, a planar ``array('d')`` of ``channels`` channels, or an
    ndarray ``(frames, channels)`` / 1-D for mono), then :meth:`gain_for`. See the module
    docstring."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.step = max(1, int(round(self.sample_rate / 10.0)))
        self._bounds = [round(i * self.step / CHUNKS_PER_STEP) for i in range(CHUNKS_PER_STEP + 1)]
        self._bounds = sorted(set(self._bounds))
        self._coeffs = k_weighting_coefficients(self.sample_rate)
        self._weights = channel_weights(channels)
        self._kstate = [[0.0] * 4 for _ in range(channels)]
        self._tp = TruePeakMeter(self.sample_rate, channels)
        self._lead = self._tp.latency_samples  # rows come this many samples after their points
        self._rows_hist = [0.0] * self._lead
        self.energy = array("f")  # e[j] per chunk
        self.peak = array("f")  # p[j] per chunk
        self._acc_e = 0.0
        self._acc_p = 0.0
        self.frames = 0

    # -- feeding -------------------------------------------------------------------------
    def push(self, block: Any) -> None:
        if isinstance(block, array):
            self._push_array(block)
            return
        if use_numpy(block):
            import numpy as np

            x = np.asarray(block, dtype=np.float64)
            x = x[:, None] if x.ndim == 1 else x
            if not x.shape[0]:
                return
            self._push_np(x)
            return
        cols = block
        if not cols or not cols[0]:
            return
        self._push_py(cols)

    def _push_py(self, cols: list[list[float]]) -> None:
        """Pure path: the K-weighted energy of each chunk straight from the meter's filter loop
        (per chunk and channel; no per-sample list), the levels per sample."""
        n = len(cols[0])
        cuts = self._cuts(n)
        bounds = [0, *cuts]
        if not cuts or cuts[-1] != n:
            bounds.append(n)
        es = [0.0] * (len(bounds) - 1)
        lvl: list[float] = []
        rows: list[float] = []
        kern = _kernel("kweight") if n >= KERNEL_MIN else None
        if kern is not None:  # the meter's K-weighting natively, all channels in one call
            es = self._energies_kernel(kern, cols, n, bounds)
        for c, col in enumerate(cols):
            if kern is None:
                w = self._weights[c]
                st = self._kstate[c]
                for i in range(len(es)):
                    ss = _kfilter_sumsq_pure(col[bounds[i] : bounds[i + 1]], self._coeffs, st)
                    es[i] += w * ss
            r = self._tp.row_peaks(col, c)
            a = list(map(abs, col))
            if c:
                lvl = list(map(max, lvl, a))
                rows = list(map(max, rows, r))
            else:
                lvl, rows = a, r
        rs = self._rows_hist + rows
        self._rows_hist = rs[n:]
        lvl = list(map(max, lvl, rs[:n]))
        ps = [max(lvl[bounds[i] : bounds[i + 1]]) for i in range(len(es))]
        k = len(cuts)
        self._close(es[:k], ps[:k], es[k] if k < len(es) else 0.0, ps[k] if k < len(ps) else 0.0, n)

    def _push_array(self, block: array[float]) -> None:
        """A planar ``array('d')`` block: the ``normanalysis`` kernel (see
        :data:`backend.KERNEL_NAMES`) does the per-sample work in one call, giving the chunk
        energies and peaks of :meth:`_push_py` (with its ``kweight`` and ``tprows`` kernels) bit
        for bit. Without that kernel (CPython) or for a block shorter than ``KERNEL_MIN``:
        :meth:`_push_py` on the block's channel lists."""
        ch = self.channels
        n = planar_frames(block, ch)
        if not n:
            return
        kern = _kernel("normanalysis") if n >= KERNEL_MIN else None
        if kern is None:
            self._push_py(unplanar(block, ch, 0))
            return
        cuts = self._cuts(n)
        bounds = [0, *cuts]
        if not cuts or cuts[-1] != n:
            bounds.append(n)
        tp = self._tp
        t1 = tp._taps - 1
        (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = self._coeffs
        head = [ch, tp._taps, self._lead, b0, b1, b2, a1, a2, d1, d2, *self._weights]
        for st in self._kstate:
            head += st
        for h in tp._hist:
            head += h
        head += self._rows_hist
        state = array("d", head)
        k = len(bounds) - 1
        out = array("d", bytes(16 * k))
        kern(state, block, tp.kernel_taps, array("d", bounds), out)
        off = 10 + ch
        for st in self._kstate:
            st[:] = state[off : off + 4].tolist()
            off += 4
        tp._hist = [state[off + c * t1 : off + (c + 1) * t1].tolist() for c in range(ch)]
        self._rows_hist = state[off + ch * t1 :].tolist()
        es = out[:k].tolist()
        ps = out[k:].tolist()
        m = len(cuts)
        self._close(es[:m], ps[:m], es[m] if m < k else 0.0, ps[m] if m < k else 0.0, n)

    def _energies_kernel(self, kern: Any, cols: list[list[float]], n: int, bounds: list[int]) -> list[float]:
        """The chunks' K-weighted, channel-weighted energies by the ``kweight`` kernel (no
        exact-maximum windows: ``lo > hi``); the chunk sums by ``math.fsum``."""
        ch = self.channels
        (b0, b1, b2, a1, a2), (_c0, _c1, _c2, d1, d2) = self._coeffs
        head = [float(ch), float(n), 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
        head += [b0, b1, b2, a1, a2, d1, d2, *self._weights]
        for st in self._kstate:
            head += st
        buf = array("d", head)
        s_off = len(buf) - 4 * ch
        x_off = len(buf)
        for col in cols:
            buf.frombytes(_pack(f"{n}d", *col))
        kern(buf)
        for c, st in enumerate(self._kstate):
            st[:] = buf[s_off + 4 * c : s_off + 4 * c + 4].tolist()
        fsum = math.fsum
        return [fsum(buf[x_off + bounds[i] : x_off + bounds[i + 1]]) for i in range(len(bounds) - 1)]

    def _push_np(self, x: Any) -> None:
        import numpy as np

        from .meters import _kfilter_np

        n, ch = x.shape
        sq = np.zeros(n)
        lvl = np.zeros(n)
        rows = np.zeros(n)
        for c in range(ch):
            col = np.ascontiguousarray(x[:, c])
            y = _kfilter_np(col, self.sample_rate, self._kstate[c])
            sq += self._weights[c] * (y * y)
            np.maximum(lvl, np.abs(col), out=lvl)
            np.maximum(rows, self._tp.row_peaks(col, c), out=rows)
        rs = np.concatenate([np.array(self._rows_hist), rows])
        self._rows_hist = rs[n:].tolist()
        np.maximum(lvl, rs[:n], out=lvl)
        cuts = self._cuts(n)
        if cuts:
            idx = np.array([0] + cuts[:-1])
            end = cuts[-1]
            es = np.add.reduceat(sq[:end], idx).tolist()
            ps = np.maximum.reduceat(lvl[:end], idx).tolist()
        else:
            es, ps = [], []
        rest = cuts[-1] if cuts else 0
        self._close(es, ps, float(sq[rest:].sum()), float(lvl[rest:].max()) if rest < n else 0.0, n)

    def _cuts(self, n: int) -> list[int]:
        """Offsets in the new block where chunks end (the first one closes the open chunk)."""
        f0 = self.frames
        bounds = self._bounds
        b, off = divmod(f0, self.step)
        k = bisect_right(bounds, off)
        cuts: list[int] = []
        while True:
            at = b * self.step + bounds[k] - f0
            if at > n:
                return cuts
            cuts.append(at)
            k += 1
            if k == len(bounds):
                b += 1
                k = 1

    def _close(self, es: list[float], ps: list[float], rest_e: float, rest_p: float, n: int) -> None:
        if es:
            es[0] += self._acc_e
            if self._acc_p > ps[0]:
                ps[0] = self._acc_p
            self.energy.extend(es)
            self.peak.extend(ps)
            self._acc_e = rest_e
            self._acc_p = rest_p
        else:
            self._acc_e += rest_e
            self._acc_p = max(self._acc_p, rest_p)
        self.frames += n

    # -- readings --------------------------------------------------------------------------
    def _subblocks(self) -> int:
        return len(self.energy) // (len(self._bounds) - 1)

    def measured(self) -> float:
        """Integrated loudness (LUFS) of what was pushed (the meter's value up to rounding)."""
        return self.predict(0.0, None)

    def predict(self, gain_db: float, ceiling_db: float | None) -> float:
        """Predicted integrated loudness (LUFS) after the gain and the true-peak limiter at
        ``ceiling_db`` (``None``: no limiter)."""
        k = len(self._bounds) - 1
        nsub = self._subblocks()
        if nsub < 4:
            return -math.inf
        g2 = 10.0 ** (gain_db / 10.0)
        e = self.energy
        subs = [math.fsum(e[b * k : (b + 1) * k]) for b in range(nsub)]
        if ceiling_db is not None:
            for j, loss in self._losses(gain_db, ceiling_db, nsub * k):
                subs[j // k] -= loss
        norm = g2 / (4 * self.step)
        blocks = [(subs[i - 3] + subs[i - 2] + subs[i - 1] + subs[i]) * norm for i in range(3, nsub)]
        return _gated_loudness(blocks)

    def _losses(self, gain_db: float, ceiling_db: float, count: int) -> list[tuple[int, float]]:
        """``(j, e[j] (1 - (1 - U[j])^2))`` for every chunk ``j`` with a reduction ``U[j]``."""
        c, aR = _limiter_constants(self.sample_rate, ceiling_db)
        thr = c / 10.0 ** (gain_db / 20.0)  # a chunk peak above thr is limited
        p = self.peak
        e = self.energy
        ab = aR ** (self.step / (len(self._bounds) - 1))  # the release over one chunk
        hot = list(compress(range(count), map(thr.__lt__, p[:count])))
        out: list[tuple[int, float]] = []
        if not hot:
            return out
        h = 0
        nh = len(hot)
        u = 0.0
        j = max(0, hot[0] - 1)
        while j < count:
            while h < nh and hot[h] < j - 1:
                h += 1
            r = 0.0
            if h < nh and hot[h] <= j + 1:  # a hot chunk within one: the limiter works here
                pw = max(p[j - 1] if j else 0.0, p[j], p[j + 1] if j + 1 < count else 0.0)
                r = 1.0 - thr / pw
            u *= ab
            if r > u:
                u = r
            if u > RELEASED:
                out.append((j, e[j] * (1.0 - (1.0 - u) ** 2)))
                j += 1
            elif h < nh:
                u = 0.0
                j = max(j + 1, hot[h] - 1)
            else:
                break
        return out

    def gain_for(self, target_lufs: float, ceiling_db: float) -> tuple[float, float, float]:
        """``(gain_db, measured_lufs, predicted_lufs)``: the gain that puts the limited output
        at ``target_lufs`` by :meth:`predict` (``measured`` is the pass's integrated loudness).

        ``predict`` grows monotonically with the gain. The search starts at ``g0 = target -
        measured`` (the answer without limiting; the absolute gate at -70 LUFS can move it a
        little for quiet passages), brackets the answer and refines it by secant steps inside
        the bracket (bisection when a step leaves it), to :data:`SOLVE_TOLERANCE`. The gain is
        at most ``g0 + MAX_MAKEUP_DB``: a target the limiter does not let through even then gets
        that gain and its (short) prediction."""
        measured = self.measured()
        if not math.isfinite(measured):
            return math.nan, measured, -math.inf
        g0 = target_lufs - measured
        top = g0 + MAX_MAKEUP_DB
        lo = hi = None  # (gain, prediction) below / above the target
        g = g0
        for _ in range(SOLVE_MAX_ITER):
            lg = self.predict(g, ceiling_db)
            if not math.isfinite(lg) or abs(lg - target_lufs) <= SOLVE_TOLERANCE:
                return g, measured, lg
            if lg < target_lufs:
                if g >= top:
                    return g, measured, lg  # not reachable under the ceiling
                slope = (lg - lo[1]) / (g - lo[0]) if lo is not None and g > lo[0] else 1.0
                lo = (g, lg)
            else:
                hi = (g, lg)
            if lo is not None and hi is not None:
                g = lo[0] + (target_lufs - lo[1]) * (hi[0] - lo[0]) / (hi[1] - lo[1])
                if not lo[0] < g < hi[0]:
                    g = 0.5 * (lo[0] + hi[0])
            elif lo is not None:  # extrapolate up (the slope is at most about 1)
                g = min(top, lo[0] + (target_lufs - lo[1]) / max(slope, 0.05))
            elif hi is not None:
                g = hi[0] - (hi[1] - target_lufs) - 0.01
        return g, measured, self.predict(g, ceiling_db)


class Normalizer:
    """Gain, then the true-peak limiter at ``ceiling_db`` (linked over channels): the output pass
    of normalisation. :meth:`process` takes an ndarray (NumPy path: the limiter's own), a
    planar list of float lists (pure path) or a planar ``array('d')`` of ``channels`` channels
    (returns one); the output is delayed by :attr:`latency_samples`."""

    def __init__(
        self, gain_db: float, ceiling_db: float, sample_rate: int, channels: int | None = None
    ) -> None:
        if channels is not None and (
            isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 16
        ):
            raise ParameterError("channels", channels, (1, 16))
        self.gain_db = float(gain_db)
        self.gain = 10.0 ** (gain_db / 20.0)
        self.channels = channels  # needed for planar array('d') blocks
        self.limiter = Limiter(ceiling_db, sample_rate=sample_rate, true_peak=True)

    @property
    def latency_samples(self) -> int:
        return self.limiter.latency_samples

    def process(self, y: Any) -> Any:
        if isinstance(y, array):
            return self._process_array(y)
        if use_numpy(y):
            return self.limiter.process(y * self.gain)
        return self._process_cols(y)

    def _process_cols(self, y: list[list[float]]) -> list[list[float]]:
        """The pure path: planar lists (the reference algorithm of the array path)."""
        g = self.gain
        cols = [list(map(g.__mul__, c)) for c in y]
        if len(cols) == 1:
            return [self.limiter.process(cols[0])]
        return self._planar(cols)

    def _process_array(self, block: array[float]) -> array[float]:
        """A planar ``array('d')`` block: the ``normalize`` kernel (see
        :data:`backend.KERNEL_NAMES`) does the gain, both interpolators' row peaks and the
        ``tplimit`` loop in one call; the output equals the list path's (with its ``tprows``
        and ``tplimit`` kernels) bit for bit. Without that kernel (CPython) or for a block
        shorter than ``KERNEL_MIN``: the list path on the block's channel lists."""
        ch = self.channels
        if ch is None:
            raise ParameterError(
                "channels", None, message="a planar array block needs Normalizer(..., channels=N)"
            )
        n = planar_frames(block, ch)
        held = self.limiter._tp
        if held is not None and len(held["hx"]) != ch:
            raise InvalidBufferError(
                f"the normaliser's state holds {len(held['hx'])} channel(s), the block {ch}"
            )
        kern = _kernel("normalize") if n >= KERNEL_MIN else None
        if kern is None:
            if not n:
                return array("d")
            return planar((), self._process_cols(unplanar(block, ch, 0)))
        lim = self.limiter
        if ch == 1:
            lim._check_channels(1)  # as the mono list path (Limiter.process) does
        lim.last_peak = None
        st = lim._tp_state(ch)
        wide, annex = st["meters"]
        head = [ch, len(st["ha"]), TP_DELAY, wide._taps, annex._taps, self.gain, *_tplimit_head(st)]
        for h in wide._hist:
            head += h
        for h in annex._hist:
            head += h
        state = array("d", head)
        out = array("d", bytes(8 * len(block)))
        kern(state, block, wide.kernel_taps, annex.kernel_taps, out)
        off = _tplimit_store(st, state, 6, ch)
        tw = wide._taps - 1
        wide._hist = [state[off + c * tw : off + (c + 1) * tw].tolist() for c in range(ch)]
        off += ch * tw
        ta = annex._taps - 1
        annex._hist = [state[off + c * ta : off + (c + 1) * ta].tolist() for c in range(ch)]
        return out

    def _planar(self, cols: list[list[float]]) -> list[list[float]]:
        """The limiter's true-peak mode over planar channels (its pure path takes mono lists):
        the same detector as :meth:`Limiter._tp_np` — ``max_c`` of ``|x|`` and both
        interpolators' row peaks — the same core and delays."""
        lim = self.limiter
        ch = len(cols)
        st = lim._tp_state(ch)
        n = len(cols[0])
        wide, annex = st["meters"]
        wrows: list[list[float]] = [wide.row_peaks(cols[c], c) for c in range(ch)]
        arows: list[list[float]] = [annex.row_peaks(cols[c], c) for c in range(ch)]
        kern = _kernel("tplimit") if n >= KERNEL_MIN else None
        if kern is not None:  # the rest of the block natively (see backend.KERNEL_NAMES)
            return _tplimit_kernel(kern, st, wrows, arows, cols)
        rows: list[float] = wrows[0]
        ra: list[float] = arows[0]
        for c in range(1, ch):
            rows = list(map(max, rows, wrows[c]))
            ra = list(map(max, ra, arows[c]))
        ra = st["ha"] + ra
        st["ha"] = ra[n:]
        rows = list(map(max, rows, ra[:n]))
        xs = [h + c for h, c in zip(st["hx"], cols, strict=True)]
        rs = st["hr"] + rows
        xd = [x[:n] for x in xs]
        lvl = list(map(abs, xd[0]))
        for x in xd[1:]:
            lvl = list(map(max, lvl, map(abs, x)))
        env = list(map(max, lvl, _window_max_list(rs[1:], TP_DELAY)))
        st["hx"] = [x[n:] for x in xs]
        st["hr"] = rs[n:]
        ye = st["core"].process_validated(env)
        es = st["de"] + env
        xx = [d + x for d, x in zip(st["dx"], xd, strict=True)]
        st["de"] = es[n:]
        st["dx"] = [x[n:] for x in xx]
        try:
            gains = list(map(truediv, ye, es[:n]))  # C-level; a block without a zero level
        except ZeroDivisionError:
            gains = [g / ev if ev > 0.0 else 0.0 for g, ev in zip(ye, es[:n], strict=True)]
        return [list(map(mul, x[:n], gains)) for x in xx]


def _tplimit_kernel(
    kern: Any, st: Any, wrows: list[list[float]], arows: list[list[float]], cols: list[list[float]]
) -> list[list[float]]:
    """The ``tplimit`` kernel (see :data:`backend.KERNEL_NAMES`) for :meth:`Normalizer._planar`:
    from the channels' wideband and Annex 2 row peaks and samples, the limited output; the
    histories of ``st`` and its core limiter's state are updated."""
    ch = len(cols)
    n = len(cols[0])
    buf = planar(_tplimit_head(st), wrows + arows + cols)
    kern(buf, ch, len(st["ha"]), TP_DELAY)
    off = _tplimit_store(st, buf, 0, ch)
    return unplanar(buf, ch, off + 2 * ch * n)


def _tplimit_head(st: Any) -> list[float]:
    """The state part of the ``tplimit`` kernel's buffer: ``(ha, hr, hx, L, M, c, aR,
    sum(hist), u, hist, core delay, de, dx)`` of the true-peak limiter's state ``st``."""
    core: Limiter = st["core"]
    head = [*st["ha"], *st["hr"]]
    for h in st["hx"]:
        head += h
    head += [core._L, core._M, core._c, core._aR, sum(core._uh), core._u, *core._uh]
    head += core._delays(1)[0]
    head += st["de"]
    for h in st["dx"]:
        head += h
    return head


def _tplimit_store(st: Any, buf: array[float], off: int, ch: int) -> int:
    """Read :func:`_tplimit_head`'s state back from ``buf`` at ``off`` after the kernel ran
    (into ``st`` and its core limiter); returns the offset after it."""
    core: Limiter = st["core"]
    na = len(st["ha"])
    L = core._L
    hist = core._M - 1
    st["ha"] = buf[off : off + na].tolist()
    off += na
    st["hr"] = buf[off : off + TP_DELAY].tolist()
    off += TP_DELAY
    st["hx"] = [buf[off + c * TP_DELAY : off + (c + 1) * TP_DELAY].tolist() for c in range(ch)]
    off += ch * TP_DELAY
    core._store(buf[off + 5], buf[off + 6 : off + 6 + hist].tolist())
    off += 6 + hist
    core._delay = [buf[off : off + L].tolist()]
    core.last_peak = None
    off += L
    st["de"] = buf[off : off + L].tolist()
    off += L
    st["dx"] = [buf[off + c * L : off + (c + 1) * L].tolist() for c in range(ch)]
    return off + ch * L
