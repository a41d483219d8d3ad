"""Noise gate with hold and a range floor.

Behaviour (both paths, sample by sample):

* **Detector**: instantaneous sample peak ``|x[n]|`` (linked: the maximum over channels).
  A sample is *above* when ``|x[n]| >= 10**(threshold_db/20)``.
* **Hold**: the gate is *open* while fewer than ``hold`` samples (``round(hold_ms * fs / 1000)``)
  have passed since the last above-threshold sample; otherwise it is *closed*.
* **Target gain**: 1 when open, the range floor ``10**(range_db/20)`` when closed.
* **Release**: a closed gate's gain falls exponentially with time constant ``release_ms``
  (8.69 dB per ``release_ms``) until it reaches the floor — ``y1[n] = max(t[n], aR*y1[n-1])``.
* **Attack**: the gain is then smoothed by a one-pole with time constant ``attack_ms``:
  ``g[n] = aA*g[n-1] + (1-aA)*y1[n]`` — opening takes ``attack_ms`` to reach 63 %.
  (This is the decoupled peak detector of Giannoulis, Massberg & Reiss 2012 applied to the
  gate gain.) ``a = exp(-1/(tau*fs))``.
* A fresh or reset gate starts **closed** (gain at the floor).
"""

from __future__ import annotations

from array import array
from functools import lru_cache
from typing import TYPE_CHECKING

from ..backend import KERNEL_MIN, Kernel
from ..backend import kernel as _kernel
from .base import (
    Param,
    Processor,
    Samples,
    apply_gain,
    block_peaks,
    db_to_lin,
    decay_weights,
    decoupled_smoother,
    linked_level,
    np,
    pack,
    subblock_len,
    time_coeff,
    unpack,
)

THRESHOLD_RANGE = (-60.0, 0.0)
ATTACK_RANGE = (0.1, 100.0)
HOLD_RANGE = (0.0, 1000.0)
RELEASE_RANGE = (1.0, 5000.0)
RANGE_RANGE = (-120.0, 0.0)

_SNAP = 1e-12

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Array = NDArray[np.float64]


class NoiseGate(Processor):
    """Noise gate.

    Parameters
    ----------
    threshold_db : float
        Opening threshold in dBFS (sample peak), ``[-60, 0]``.
    attack_ms : float
        Opening time constant, ``[0.1, 100]`` ms.
    hold_ms : float
        Time the gate stays open after the last above-threshold sample, ``[0, 1000]`` ms.
    release_ms : float
        Closing time constant, ``[1, 5000]`` ms.
    range_db : float
        Attenuation when closed, ``[-120, 0]`` dB (``0`` disables the gate's effect).
    """

    config_key = "noiseGate"

    threshold_db = Param(
        "threshold", "dBFS", THRESHOLD_RANGE, -50.0, "Threshold", on_change="_threshold_changed"
    )
    attack_ms = Param("attack", "ms", ATTACK_RANGE, 1.0, "Attack", on_change="_attack_changed")
    hold_ms = Param("hold", "ms", HOLD_RANGE, 50.0, "Hold", on_change="_hold_changed")
    release_ms = Param("release", "ms", RELEASE_RANGE, 100.0, "Release", on_change="_release_changed")
    range_db = Param("range", "dB", RANGE_RANGE, -80.0, "Range", on_change="_range_changed")
    # the stored values (set by the Params above; the DSP reads these)
    _threshold_db: float
    _attack_ms: float
    _hold_ms: float
    _release_ms: float
    _range_db: float
    # derived values (set by the on_change hooks) and the state (set by _reset_state)
    _thr: float  # threshold, linear
    _aA: float  # attack coefficient
    _hold: int  # hold time in samples
    _aR: float  # release coefficient
    _floor: float  # range floor, linear
    _since: int  # samples since the last above-threshold sample (capped at _hold + 1)
    _y1: float  # release stage
    _g: float  # smoothed gain

    # -- derived values -----------------------------------------------------------------
    def _threshold_changed(self) -> None:
        self._thr = db_to_lin(self._threshold_db)

    def _attack_changed(self) -> None:
        self._aA = time_coeff(self._attack_ms, self._sample_rate)

    def _hold_changed(self) -> None:
        hold = int(round(self._hold_ms * self._sample_rate / 1000.0))
        if self._ready:  # keep the state consistent with the new hold length
            self._since = min(self._since, hold + 1) if self._since <= self._hold else hold + 1
        self._hold = hold

    def _release_changed(self) -> None:
        self._aR = time_coeff(self._release_ms, self._sample_rate)

    def _range_changed(self) -> None:
        floor = db_to_lin(self._range_db)
        if self._ready:  # keep the state >= the new floor
            self._y1 = max(self._y1, floor)
            self._g = max(self._g, floor)
        self._floor = floor

    # -- state --------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._since = self._hold + 1  # samples since the last above-threshold sample (capped)
        self._y1 = self._floor  # release stage
        self._g = self._floor  # smoothed gain

    def _snap(self, y1: float, g: float) -> None:
        floor = self._floor
        if 1.0 - y1 < _SNAP:
            y1 = 1.0
        elif y1 - floor < _SNAP * floor:
            y1 = floor
        if abs(1.0 - g) < _SNAP:
            g = 1.0
        elif abs(g - floor) < _SNAP * floor:
            g = floor
        self._y1 = y1
        self._g = g

    # -- pure path ----------------------------------------------------------------------
    def _py(self, data: list[float]) -> list[float]:
        thr = self._thr
        nthr = -thr
        hold = self._hold
        closed = hold + 1
        floor = self._floor
        aR = self._aR
        aA = self._aA
        bA = 1.0 - aA
        since = self._since
        y1 = self._y1
        g = self._g
        n = len(data)
        if y1 == 1.0 and g == 1.0 and hold >= n - 1:
            # fully open with settled gain: identity if no gap reaches the hold time
            j0 = -1
            for j, v in enumerate(data):
                if v >= thr or v <= nthr:
                    j0 = j
                    break
            if j0 < 0:
                if since + n <= hold:
                    self._since = since + n
                    return data
            elif since + j0 <= hold:
                j1 = n - 1
                while not (data[j1] >= thr or data[j1] <= nthr):
                    j1 -= 1
                self._since = n - 1 - j1
                return data
        kern = _kernel("gate") if n >= KERNEL_MIN else None
        if kern is not None:  # the loop below, natively (see backend.KERNEL_NAMES)
            return self._run_kernel(kern, [data])[0]
        out: list[float] = []
        app = out.append
        for v in data:
            if v >= thr or v <= nthr:
                since = 0
                y1 = 1.0
            elif since < hold:
                since += 1
                y1 = 1.0
            else:
                since = closed
                y1 = aR * y1
                if y1 < floor:
                    y1 = floor
            g = aA * g + bA * y1
            app(v * g)
        self._since = since
        self._snap(y1, g)
        return out

    def _run_kernel(self, kern: Kernel, cols: Samples, channels: int = 0) -> Samples:
        """The ``gate`` kernel over planar channels (see :data:`backend.KERNEL_NAMES`): channel
        lists in and out, or a planar ``array('d')`` block of ``channels`` channels in and out."""
        ch = channels or len(cols)
        head = (self._thr, self._hold, self._floor, self._aR, self._aA, self._since, self._y1, self._g)
        buf = pack(head, cols)
        kern(buf, ch)
        self._since = int(buf[5])
        self._snap(buf[6], buf[7])
        return unpack(buf, ch, 8, cols)

    def run_block(self, block: array[float], channels: int) -> array[float]:
        """The pure path on a planar ``array('d')`` block (enabled, at least ``KERNEL_MIN``
        frames; the ``gate`` kernel and, in mono, ``peaks`` installed): :meth:`_py` in mono (its
        pass-through when open, tested by ``peaks``), :meth:`linked_kernel` for linked channels.
        The same results, bit for bit; may return ``block`` itself."""
        kern = _kernel("gate")
        assert kern is not None
        self._check_channels(1)  # the detector's state is one linked channel
        n = len(block) // channels
        if channels == 1 and self._y1 == 1.0 and self._g == 1.0 and self._hold >= n - 1:
            since = self._since
            hold = self._hold
            _, j0, j1 = block_peaks(block, self._thr)  # |v| >= thr: _py's v >= thr or v <= -thr
            if j0 < 0:
                if since + n <= hold:
                    self._since = since + n
                    return block
            elif since + j0 <= hold:
                self._since = n - 1 - j1
                return block
        return self._run_kernel(kern, block, channels)

    def linked_kernel(self, cols: list[list[float]]) -> list[list[float]] | None:
        kern = _kernel("gate") if self._enabled and len(cols[0]) >= KERNEL_MIN else None
        if kern is None:
            return None
        self._check_channels(1)  # the detector's state is one linked channel
        return self._run_kernel(kern, cols)

    # -- NumPy path ---------------------------------------------------------------------
    def _np(self, x: _Array) -> _Array:
        n = x.shape[0]
        hold = self._hold
        lvl = np.abs(x) if x.ndim == 1 else linked_level(x)
        above = lvl >= self._thr
        prev_last = -1 - self._since  # index of the last above sample before this block
        first = int(above.argmax())
        any_above = bool(above[first])
        if any_above:
            last = n - 1 - int(above[::-1].argmax())
            gap = max(first - 1 - prev_last, n - 1 - last)
            if last > first and hold < n - 2 and gap <= hold:  # interior gaps are < n - 1 long
                gap = max(gap, _interior_gap(above[first : last + 1], hold))
        else:
            last = prev_last
            gap = n - 1 - prev_last
        self_since = min(n - 1 - last, hold + 1)
        y10, g0 = self._y1, self._g
        if gap <= hold and y10 == 1.0:  # open all block long
            if g0 == 1.0:
                self._since = self_since
                return x
            g = 1.0 - (1.0 - g0) * _powers(self._aA, n)
            self._since = self_since
            self._snap(1.0, float(g[-1]))
            return apply_gain(x, g)
        floor = self._floor
        if not any_above and self._since > hold and y10 == floor and g0 == floor:  # closed all block long
            self._since = self_since
            return x * floor
        if any_above:
            idx = _arange(n)
            la = np.where(above, idx, prev_last)
            np.fmax.accumulate(la, out=la)
            t = np.where(idx - la <= hold, 1.0, floor)
        else:  # open only while the hold of the last sample before the block lasts
            t = np.full(n, floor)
            t[: max(0, prev_last + hold + 1)] = 1.0
        g, y1c, gc = decoupled_smoother(t, self._aR, self._aA, y10, g0)
        self._since = self_since
        self._snap(y1c, gc)
        return apply_gain(x, g)


def _interior_gap(seg: NDArray[np.bool_], hold: int) -> int:
    """The longest run of below-threshold samples in ``seg`` (above at both ends), or some
    value ``<= hold`` when that run is ``<= hold``: if every aligned window of ``w = (hold +
    2) // 2`` samples holds an above sample, no run is longer than ``2w - 2 <= hold``; only
    otherwise are the runs measured exactly."""
    w = (hold + 2) // 2
    k = seg.shape[0] // w
    if k and np.logical_or.reduce(seg[: k * w].reshape(k, w), axis=1).all():
        return 0
    pos = np.flatnonzero(seg)
    return int((pos[1:] - pos[:-1]).max()) - 1


@lru_cache(maxsize=16)
def _arange(n: int) -> NDArray[np.intp]:
    a = np.arange(n)
    a.flags.writeable = False
    return a


def _powers(a: float, n: int) -> _Array:
    """``a**(j+1)`` for ``j < n``."""
    m = subblock_len(a)
    if n <= m:
        return decay_weights(a, m)[1][:n]
    p: _Array = np.exp(np.arange(1, n + 1, dtype=np.float64) * np.log(a))
    return p
