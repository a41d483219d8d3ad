"""``Chain``: a list-like sequence of processors that is itself a processor."""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .. import backend as _backend
from ..errors import ParameterError
from . import biquad
from .base import Mono, Processor, check_bool, np
from .compressor import Compressor
from .eq import Equalizer

#: the NumPy path runs blocks longer than this through the stages in pieces of this size
#: (16128: whole groups of the EQ's long-block evaluation, so no chunk leaves a remainder; at
#: most ``base.MAX_SUBBLOCK``, so a smoother with time constants of a few ms or more runs each
#: chunk as one sub-block)
CHUNK = 21 * biquad.GROUP * biquad.SUB

_P = TypeVar("_P", bound=Processor)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    _Array = NDArray[np.float64]


class Chain(Processor, MutableSequence[Processor]):
    """Run processors in order.

    Parameters
    ----------
    processors : iterable of Processor
        All must share one sample rate.
    bypass : bool
        When ``True`` the chain is the identity (no stage runs, state untouched, latency 0).

    The block is validated once (NaN/Inf raise before any stage runs); each enabled stage then
    processes the previous stage's output.
    """

    config_key = "chain"

    def __init__(
        self, processors: Iterable[Processor] = (), bypass: bool = False, *, enabled: bool = True
    ) -> None:
        procs = list(processors)
        for p in procs:
            self._check_item(p)
        rates = {p.sample_rate for p in procs}
        if len(rates) > 1:
            raise ParameterError(
                "sample_rate",
                sorted(rates),
                message=f"chain stages have different sample rates {sorted(rates)}",
            )
        self._procs: list[Processor] = procs
        self._bypass = check_bool("bypass", bypass)
        super().__init__(sample_rate=rates.pop() if rates else 48000, enabled=enabled)

    @staticmethod
    def _check_item(p: object) -> None:
        if not isinstance(p, Processor):
            raise ParameterError("processors", p, message=f"{p!r} is not a Processor")

    # -- list protocol ------------------------------------------------------------------
    @overload
    def __getitem__(self, i: int) -> Processor: ...
    @overload
    def __getitem__(self, i: slice) -> list[Processor]: ...
    def __getitem__(self, i: int | slice) -> Processor | list[Processor]:
        return self._procs[i]

    @overload
    def __setitem__(self, i: int, p: Processor) -> None: ...
    @overload
    def __setitem__(self, i: slice, p: Iterable[Processor]) -> None: ...
    def __setitem__(self, i: int | slice, p: Any) -> None:
        if isinstance(i, slice):
            p = list(p)
            for q in p:
                self._check_item(q)
        else:
            self._check_item(p)
        self._procs[i] = p

    def __delitem__(self, i: int | slice) -> None:
        del self._procs[i]

    def __len__(self) -> int:
        return len(self._procs)

    def insert(self, index: int, p: Processor) -> None:
        self._check_item(p)
        self._procs.insert(index, p)

    # -- processor ----------------------------------------------------------------------
    @property
    def bypass(self) -> bool:
        """``True``: the chain passes audio through untouched."""
        return self._bypass

    @bypass.setter
    def bypass(self, value: bool) -> None:
        self._bypass = check_bool("bypass", value)

    @property
    def latency_samples(self) -> int:
        """Total latency of the enabled stages (0 when bypassed)."""
        if self._bypass or not self._enabled:
            return 0
        return sum(p.latency_samples for p in self._procs if p.enabled)

    def find(self, kind: type[_P]) -> _P | None:
        """The first stage that is an instance of ``kind`` (or ``None``)."""
        for p in self._procs:
            if isinstance(p, kind):
                return p
        return None

    def known_peak(self, y: list[float]) -> float | None:
        """``max|y|`` of the pure-path output list ``y`` of the last :meth:`process` call when
        the last stage (a limiter passing the block through) already measured it, else
        ``None``. One answer per block: the measurement is consumed."""
        procs = self._procs
        last = procs[-1] if procs else None
        lp = getattr(last, "last_peak", None)
        if lp is not None and lp[0] is y:
            last.last_peak = None  # type: ignore[union-attr]
            return float(lp[1])
        return None

    def reset(self) -> None:
        super().reset()
        for p in self._procs:
            p.reset()

    def settings(self) -> dict[str, Any]:
        """API-shaped settings: ``{gain, noiseGate, compressor, eq, limiter, bypass}``."""
        out: dict[str, Any] = {}
        for i, p in enumerate(self._procs):
            key = p.config_key or type(p).__name__
            if key in out:
                key = f"{key}{i}"
            s = p.settings()
            if key == "gain":
                out[key] = s["gain"] if s.get("enabled", True) else 0.0
            else:
                out[key] = s
        out["bypass"] = self._bypass
        return out

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self._procs)
        return f"Chain([{inner}], bypass={self._bypass!r}, enabled={self._enabled!r})"

    def _run_py(self, data: list[float]) -> list[float]:
        if self._bypass or not self._enabled or not data:
            return data
        self._check_channels(1)
        procs = self._procs
        i = 0
        n = len(procs)
        while i < n:
            p = procs[i]
            if i + 1 < n and type(p) is Compressor and type(q := procs[i + 1]) is Equalizer:
                out = _fused_compressor_eq(p, q, data)
                if out is not None:
                    data = out
                    i += 2
                    continue
            data = p._run_py(data)
            i += 1
        return data

    def process(self, block: Any) -> Any:
        """:meth:`Processor.process`; a long float32 (or float16) ndarray is checked as it is
        and converted chunk by chunk (no float64 copy of the whole input)."""
        if (
            np is not None
            and isinstance(block, np.ndarray)
            and block.size > CHUNK
            and block.ndim in (1, 2)
            and block.shape[0] > CHUNK
            and block.dtype.kind == "f"
            and block.dtype.itemsize < 8  # float16/float32: every finite value stays finite
            and _backend.use_numpy(block)
            and _all_finite(block)  # else as_array raises the error
        ):
            y = self._run_np(block)
            return block.astype(np.float64) if y is block else y
        return super().process(block)

    def _run_np(self, x: _Array) -> _Array:
        """NumPy path (``x`` is float64, or a long float32/float16 block whose chunks are
        converted one by one: only from :meth:`process`, which converts the block when this
        returns it unchanged; typed as the float64 case)."""
        n = x.shape[0]
        if self._bypass or not self._enabled or n == 0:
            return x
        self._check_channels(1 if x.ndim == 1 else x.shape[1])
        if n > CHUNK:  # long input: run every stage chunk by chunk (cache-sized temporaries)
            y = np.empty(x.shape)
            f64 = x.dtype == np.float64
            for s in range(0, n, CHUNK):
                c = x[s : s + CHUNK]
                y[s : s + CHUNK] = self._stages_np(c if f64 else c.astype(np.float64))
            return y
        return self._stages_np(x)

    def _stages_np(self, x: _Array) -> _Array:
        ch = 1 if x.ndim == 1 else x.shape[1]
        run = Processor._run_np
        for p in self._procs:
            # what Processor._run_np does for a non-empty block, without the call when the
            # stage is enabled and already holds this channel count
            if p._enabled and (p._channels == ch or not p.stateful) and type(p)._run_np is run:
                x = p._np(x)
            else:
                x = p._run_np(x)
        return x


def _all_finite(x: NDArray[np.floating[Any]]) -> bool:
    """No NaN/Inf in a float ndarray (checked in cache-sized pieces, no large temporary)."""
    flat = x.reshape(-1)
    for s in range(0, flat.shape[0], 65536):
        ok = np.isfinite(flat[s : s + 65536])
        if not ok[ok.argmin()]:  # argmin finds a False if there is one
            return False
    return True


def _fused_compressor_eq(comp: Compressor, eq: Equalizer, data: Mono) -> Mono | None:
    """Pure path: compressor then EQ in one loop (same result as running them in turn, up to
    rounding); ``None`` when the case is not covered, with no state changed. ``data`` may be a
    mono ``array('d')`` of at least ``KERNEL_MIN`` samples (the kernels installed; the render's
    array path)."""
    if not (comp._enabled and eq._enabled) or not data:
        return None
    comp._check_channels(1)
    eq._check_channels(1)
    setup = eq._fused_setup()
    if setup is None:
        return None
    coeffs, states, scales = setup
    res = comp._py_eq3(data, coeffs, states, scales[-1])
    if res is None:
        return None
    out, new = res
    eq._fused_store(new, scales)
    return out
