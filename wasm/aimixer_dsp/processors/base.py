"""Processor base class and the shared vectorised recursions of the NumPy path.

Conventions shared by every processor
-------------------------------------
* ``process(block)`` takes a mono list (pure path) or an ndarray (NumPy path, 1-D or
  ``(frames, channels)``) and returns a block of the same length; see :mod:`aimixer_dsp.backend`.
* Input is validated first (``NonFiniteInputError`` for NaN/Inf) so a rejected block never
  touches state.
* ``enabled = False`` makes the processor the identity and leaves its state untouched.
* ``reset()`` clears state and keeps parameters.
* Time constants: a one-pole coefficient for a time constant ``tau`` is
  ``a = exp(-1 / (tau * sample_rate))`` — the step response reaches ``1 - 1/e`` (63 %) of its
  final value after ``tau``.
* State is plain Python floats / lists, so the NumPy and pure paths can continue each other.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from functools import lru_cache
from struct import pack as _pack
from typing import TYPE_CHECKING, Any, TypeVar

from .. import backend as _backend
from ..errors import InvalidBufferError, InvalidSampleRateError
from .param import Param, check_bool, check_param

__all__ = [
    "Processor",
    "Param",
    "check_param",
    "check_bool",
    "check_sample_rate",
    "planar",
    "unplanar",
    "planar_frames",
    "pack",
    "unpack",
    "block_peaks",
]

np = _backend.np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Array = NDArray[np.float64]

#: Sub-block length cap for the vectorised recursions (keeps temporaries cache-sized; not
#: below the chain's chunk, so a chunk needs one sub-block when the time constant allows).
MAX_SUBBLOCK = 16384
#: ``a**-m`` never exceeds ``exp(_MAX_EXP)`` inside a sub-block.
_MAX_EXP = 600.0

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 384000


def check_sample_rate(sample_rate: object) -> int:
    """Validate a sample rate in Hz (an integer in [8000, 384000])."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | float):
        raise InvalidSampleRateError(f"sample_rate={sample_rate!r} must be a number of Hz")
    if (
        not math.isfinite(sample_rate)
        or sample_rate != int(sample_rate)
        or not (MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE)
    ):
        raise InvalidSampleRateError(
            f"sample_rate={sample_rate!r} is out of range [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz",
            details={"sampleRate": repr(sample_rate), "range": [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]},
        )
    return int(sample_rate)


def time_coeff(ms: float, sample_rate: int) -> float:
    """One-pole coefficient ``exp(-1/(tau*fs))`` for a time constant of ``ms`` milliseconds."""
    return math.exp(-1000.0 / (ms * sample_rate))


def db_to_lin(db: float) -> float:
    """``10 ** (db / 20)``."""
    return float(10.0 ** (db / 20.0))


class Processor:
    """Base class: validation, ``enabled``, dispatch to the pure or NumPy implementation.

    Subclasses implement ``_py(data) -> list`` (mono list, non-empty, validated),
    ``_np(x) -> ndarray`` (float64, non-empty, validated; 1-D mono or 2-D ``(frames,
    channels)``; they may return ``x`` itself for the identity) and
    ``_reset_state()``; stateless ones need nothing else.
    """

    #: key of this stage in the API ``config`` / ``appliedSettings`` objects
    config_key: str = ""
    #: stateless processors accept any channel count at any time
    stateful: bool = True
    #: this processor's parameters in declaration order (collected from its :class:`Param`
    #: class attributes): constructor arguments, ``settings()``, ``__repr__``, presets, schema
    PARAMS: tuple[Param, ...] = ()
    #: ``False`` while the constructor runs (``on_change`` hooks then have no state to adjust)
    _ready: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Param):
                    params[value.attr] = value
        cls.PARAMS = tuple(params.values())

    def __init__(self, *args: Any, sample_rate: int = 48000, enabled: bool = True, **kwargs: Any) -> None:
        """Parameters in :attr:`PARAMS` order (positional or by attribute name), then the
        keyword-only ``sample_rate`` and ``enabled``. Every value is validated before any
        ``on_change`` hook runs."""
        self._sample_rate = check_sample_rate(sample_rate)
        self._enabled = check_bool("enabled", enabled)
        self._channels: int | None = None
        params = type(self).PARAMS
        name = type(self).__name__
        if len(args) > len(params):
            raise TypeError(f"{name}() takes at most {len(params)} positional parameter(s), got {len(args)}")
        values = {p.attr: p.default for p in params}
        for p, value in zip(params, args, strict=False):
            values[p.attr] = value
        for key, value in kwargs.items():
            if key not in values:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            if list(values).index(key) < len(args):
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[key] = value
        for p in params:  # setattr, not self.__dict__: a materialised __dict__ slows every
            setattr(self, p.private, p.check(values[p.attr]))  # attribute read in the DSP
        for hook in dict.fromkeys(p.on_change for p in params if p.on_change is not None):
            getattr(self, hook)()
        self._reset_state()
        self._ready = True

    # -- public API ---------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """Sample rate in Hz (fixed at construction)."""
        return self._sample_rate

    @property
    def enabled(self) -> bool:
        """When ``False`` the processor is the identity and its state is left untouched."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = check_bool("enabled", value)

    @property
    def latency_samples(self) -> int:
        """Delay (samples) this stage adds to the signal when enabled."""
        return 0

    def process(self, block: Any) -> Any:
        """Process one block; returns a block of the same length (list or ndarray).

        Raises
        ------
        NonFiniteInputError
            NaN/Inf in ``block`` (state untouched).
        InvalidBufferError
            Not a 1-D/2-D numeric block, or a channel count that differs from the state's.
        """
        if _backend.use_numpy(block):
            return self.process_validated(_backend.as_array(block))
        return self.process_validated(_backend.as_float_list(block))

    def process_validated(self, x: list[float] | _Array) -> Any:
        """:meth:`process` for a block already checked by ``backend.as_array`` (an ndarray:
        NumPy path) or ``backend.as_float_list`` (a list: pure path); skips the second pass
        over the samples. Callers that validate once up front (``MixerSession``) use it.
        Returns the type of ``x`` (typed ``Any``: callers branch on ``type(y) is list``, which
        mypy does not narrow in the ``else`` branch)."""
        if isinstance(x, list):
            y = self._run_py(x)
            return list(y) if y is x else y
        a = self._run_np(x)
        return a.copy() if a is x else a

    def reset(self) -> None:
        """Clear the processing state; parameters are kept."""
        self._channels = None
        self._reset_state()

    def settings(self) -> dict[str, Any]:
        """API-shaped applied settings of this stage (``config_key`` names its place)."""
        return {"enabled": self._enabled, **{p.key: getattr(self, p.private) for p in self.PARAMS}}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._repr_params().items())
        sep = ", " if params else ""
        return (
            f"{type(self).__name__}({params}{sep}enabled={self._enabled!r}, sample_rate={self._sample_rate})"
        )

    # -- internals (also used by Chain, which validates once) ---------------------------
    def _repr_params(self) -> dict[str, Any]:
        return {p.attr: getattr(self, p.private) for p in self.PARAMS}

    def _reset_state(self) -> None:
        pass

    def _check_channels(self, channels: int) -> None:
        if not self.stateful:
            return
        if self._channels is None:
            self._channels = channels
        elif self._channels != channels:
            raise InvalidBufferError(
                f"{type(self).__name__} state holds {self._channels} channel(s) but the block has "
                f"{channels}; call reset() first"
            )

    def _run_py(self, data: list[float]) -> list[float]:
        if not self._enabled or not data:
            return data
        self._check_channels(1)
        return self._py(data)

    def _run_np(self, x: _Array) -> _Array:
        if not self._enabled or x.shape[0] == 0:
            return x
        self._check_channels(1 if x.ndim == 1 else x.shape[1])
        return self._np(x)

    def _py(self, data: list[float]) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def linked_kernel(self, cols: list[list[float]]) -> list[list[float]] | None:
        """Pure path with several linked channels (planar lists of one length, finite): the
        stage's native kernel (``backend.KERNEL_NAMES``) detects on ``max_c |x_c|`` and scales
        every channel by the same gain, in one call per block; ``None`` (nothing changed) when
        this stage has no kernel installed, is disabled or the block is short."""
        return None

    def _np(self, x: _Array) -> _Array:  # pragma: no cover - abstract
        raise NotImplementedError


def planar(head: Iterable[float], cols: list[list[float]]) -> array[float]:
    """``head`` (numbers) then the channel lists one after the other, as one ``array('d')``: the
    layout of the dynamics kernels (channel ``c`` at ``len(head) + c n``)."""
    out = array("d", head)
    for c in cols:
        # struct packs a list of floats several times faster than array.extend/fromlist (Pyodide)
        out.frombytes(_pack(f"{len(c)}d", *c))
    return out


def planar_frames(block: array[float], channels: int, *, doubles: bool = True) -> int:
    """Frames per channel of a planar block of ``channels`` channels (channel ``c`` at
    ``[c n, (c + 1) n)``). Raises :class:`InvalidBufferError` when its length is not a multiple
    of ``channels`` or, with ``doubles``, it is not an ``array('d')``."""
    n, rest = divmod(len(block), channels)
    if rest or (doubles and block.typecode != "d"):
        kind = "array('d') of " if doubles else ""
        raise InvalidBufferError(
            f"a planar block of {channels} channel(s) needs {kind}a multiple of {channels} floats, "
            f"got array({block.typecode!r}) of {len(block)}"
        )
    return n


def unplanar(buf: array[float], channels: int, off: int) -> list[list[float]]:
    """The channel lists of a planar ``array('d')`` from ``off`` on (:func:`planar`'s inverse)."""
    n = (len(buf) - off) // channels
    return [buf[off + c * n : off + (c + 1) * n].tolist() for c in range(channels)]


#: a planar block of samples: channel lists, or one planar ``array('d')``
Samples = TypeVar("Samples", list[list[float]], "array[float]")
#: a mono block: a list, or an ``array('d')``
Mono = TypeVar("Mono", list[float], "array[float]")


def pack(head: Iterable[float], x: list[list[float]] | array[float]) -> array[float]:
    """A dynamics kernel's buffer: ``head`` then the samples ``x`` (channel lists, as
    :func:`planar`, or a planar ``array('d')`` block: then only memcpy-class copies)."""
    if isinstance(x, array):
        return array("d", head) + x
    return planar(head, x)


def unpack(buf: array[float], channels: int, off: int, like: Samples) -> Samples:
    """The samples of a kernel's buffer from ``off`` on, as ``like`` was given to :func:`pack`:
    channel lists (:func:`unplanar`) or a planar ``array('d')`` (a slice: a memcpy)."""
    if isinstance(like, array):
        return buf[off:]
    return unplanar(buf, channels, off)


def block_peaks(block: array[float], thr: float) -> tuple[float, int, int]:
    """``(max |x|, first i with |x[i]| >= thr, last such i)`` of a mono ``array('d')`` block
    (``-1`` for none) by the ``peaks`` kernel, which the caller checked is installed."""
    kern = _backend.kernel("peaks")
    assert kern is not None
    out = array("d", bytes(24))
    kern(block, thr, out)
    return out[0], int(out[1]), int(out[2])


# ---------------------------------------------------------------------------------------
# Vectorised recursions (NumPy path). Each is exact up to rounding: no truncation.
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def subblock_len(a: float) -> int:
    """Longest sub-block over which ``a**-m`` stays below ``exp(600)``."""
    la = -math.log(a) if a > 0.0 else float("inf")
    if la <= 0.0:
        return MAX_SUBBLOCK
    return max(1, min(MAX_SUBBLOCK, int(_MAX_EXP / la)))


@lru_cache(maxsize=128)
def decay_weights(a: float, m: int) -> tuple[_Array, _Array]:
    """``(W, P)`` with ``W[j] = a**-(j+1)`` and ``P[j] = a**(j+1)`` for ``j < m`` (read-only)."""
    k = np.arange(1, m + 1, dtype=np.float64) * math.log(a)
    w = np.exp(-k)
    p = np.exp(k)
    w.flags.writeable = False
    p.flags.writeable = False
    return w, p


def max_decay(v: _Array, a: float, carry: float, exact: bool = False) -> tuple[_Array, float]:
    """Vectorised ``y[n] = max(v[n], a * y[n-1])`` with ``y[-1] = carry`` (``v >= 0``).

    Unrolled: ``y[n] = a**(n+1) * max(carry, max_{j<=n} v[j] * a**-(j+1))`` — a running
    maximum of weighted values, computed in sub-blocks short enough that ``a**-m`` cannot
    overflow. With ``exact`` a final ``maximum(y, v)`` removes the rounding of
    ``a**(n+1) * a**-(n+1)`` so that ``y >= v`` holds bit-exactly.

    Returns ``(y, y[-1])``.
    """
    n = v.shape[0]
    m = subblock_len(a)
    if n <= m:
        w, p = decay_weights(a, m)
        t = v * w[:n]
        if carry > t[0]:
            t[0] = carry
        np.fmax.accumulate(t, out=t)
        t *= p[:n]
        if exact:
            np.fmax(t, v, out=t)
        return t, float(t[-1])
    out = np.empty(n)
    for s in range(0, n, m):
        y, carry = max_decay(v[s : s + m], a, carry, exact)
        out[s : s + m] = y
    return out, carry


def one_pole(v: _Array, a: float, carry: float) -> tuple[_Array, float]:
    """Vectorised ``y[n] = a * y[n-1] + (1 - a) * v[n]`` with ``y[-1] = carry``.

    Unrolled: ``y[n] = a**(n+1) * (carry + (1-a) * sum_{j<=n} v[j] * a**-(j+1))`` — one
    ``cumsum`` per sub-block (sub-blocks keep ``a**-m`` finite). Returns ``(y, y[-1])``.
    """
    n = v.shape[0]
    m = subblock_len(a)
    if n <= m:
        w, p = decay_weights(a, m)
        t = v * w[:n]
        t *= 1.0 - a
        t[0] += carry
        np.add.accumulate(t, out=t)
        t *= p[:n]
        return t, float(t[-1])
    out = np.empty(n)
    for s in range(0, n, m):
        y, carry = one_pole(v[s : s + m], a, carry)
        out[s : s + m] = y
    return out, carry


@lru_cache(maxsize=128)
def _smooth_weights(aR: float, aA: float, m: int, post: float) -> tuple[_Array, _Array, _Array, _Array]:
    """``(WR, Q, PA*post, PR)`` for :func:`decoupled_smoother` sub-blocks of length ``m``."""
    wr, pr = decay_weights(aR, m)
    wa, pa = decay_weights(aA, m)
    q = pr * wa * (1.0 - aA)
    pap = pa * post
    q.flags.writeable = False
    pap.flags.writeable = False
    return wr, q, pap, pr


def smoother_weights(
    aR: float, aA: float, n: int, post: float
) -> tuple[_Array, _Array, _Array, float] | tuple[None, None, None, None]:
    """:func:`decoupled_smoother`'s weights for a block of ``n <= min(subblock_len(aR),
    subblock_len(aA))`` samples (one sub-block): ``(WR, Q, PA*post, PR[n-1])`` cut to ``n``
    (read-only arrays), or four ``None`` for a longer block. For callers that inline it."""
    m = min(subblock_len(aR), subblock_len(aA))
    if n > m:
        return None, None, None, None
    wr, q, pap, pr = _smooth_weights(aR, aA, m, post)
    return wr[:n], q[:n], pap[:n], float(pr[n - 1])


def decoupled_smoother(
    v: _Array, aR: float, aA: float, y1: float, g: float, post: float = 1.0
) -> tuple[_Array, float, float]:
    """Decoupled peak detector (Giannoulis, Massberg & Reiss 2012), vectorised and fused.

    ``y1[n] = max(v[n], aR * y1[n-1])`` (release), ``g[n] = aA * g[n-1] + (1-aA) * y1[n]``
    (attack). With ``R = cummax(v * aR**-(j+1))`` (carry folded in),
    ``y1 = aR**(j+1) * R`` and ``g = aA**(j+1) * (g0 + cumsum(R * aR**(j+1) * aA**-(j+1) * (1-aA)))``
    — five array operations per sub-block. Returns ``(post * g, y1_last, g_last)`` (the
    returned array is scaled by ``post`` for free; the carried values are not).
    """
    n = v.shape[0]
    m = min(subblock_len(aR), subblock_len(aA))
    if n <= m:
        wr, q, pap, pr = _smooth_weights(aR, aA, m, post)
        t = v * wr[:n]
        if y1 > t[0]:
            t[0] = y1
        np.fmax.accumulate(t, out=t)
        y1_last = float(t[-1] * pr[n - 1])
        t *= q[:n]
        t[0] += g
        np.add.accumulate(t, out=t)
        t *= pap[:n]
        return t, y1_last, float(t[-1]) / post
    out = np.empty(n)
    for s in range(0, n, m):
        gg, y1, g = decoupled_smoother(v[s : s + m], aR, aA, y1, g, post)
        out[s : s + m] = gg
    return out, y1, g


def linked_level(x: _Array) -> _Array:
    """Detector input ``|x[n]|`` (1-D) or ``max_c |x[n, c]|`` of a ``(frames, channels)`` block."""
    if x.ndim == 1:
        return np.abs(x)
    if x.shape[1] == 1:
        return np.abs(x[:, 0])
    lvl: _Array = np.abs(x).max(axis=1)  # (NumPy's stubs type a reduction along an axis as Any)
    return lvl


def apply_gain(x: _Array, g: _Array) -> _Array:
    """``x * g`` per frame for 1-D or ``(frames, channels)`` blocks."""
    return x * g if x.ndim == 1 else x * g[:, None]
