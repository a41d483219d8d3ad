"""Exception hierarchy of :mod:`aimixer_dsp`.

Every error carries an API error ``code`` (the mixer API's ``error.code``) and a JSON-able
``details`` dict, so the origin and the browser SDK can turn any of them into the spec's error
shape without a traceback.

==========================  =======================  ==========================================
class                       ``code``                 raised for
==========================  =======================  ==========================================
:class:`DSPError`           ``DSP_ERROR``            base class
:class:`ParameterError`     ``INVALID_PARAMETER``    out-of-range / wrongly typed parameter
:class:`InvalidBufferError` ``INVALID_BUFFER_SIZE``  wrong frame length / shape / dtype
:class:`NonFiniteInputError` ``INVALID_AUDIO``       NaN or Inf in the input samples
:class:`InvalidSampleRateError` ``INVALID_SAMPLE_RATE``  unsupported sample rate
==========================  =======================  ==========================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DSPError",
    "ParameterError",
    "InvalidBufferError",
    "NonFiniteInputError",
    "InvalidSampleRateError",
]


def _json_value(value: Any) -> Any:
    """Return ``value`` if it is JSON-able (finite numbers, str, bool, None), else its repr."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)


def _fmt_num(x: Any) -> str:
    """Format a number without a trailing ``.0`` (``25`` not ``25.0``)."""
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, float) and math.isfinite(x) and x == int(x):
        return str(int(x))
    if isinstance(x, int | float):
        return repr(x) if isinstance(x, float) else str(x)
    return repr(x)


class DSPError(Exception):
    """Base class of every error raised by :mod:`aimixer_dsp`.

    Parameters
    ----------
    message : str
        One-line human readable message.
    code : str, optional
        API error code; defaults to the class attribute ``code``.
    details : dict, optional
        Extra JSON-able information.
    """

    code: str = "DSP_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """``{"code", "message", "details"}`` — the body of the API's ``error`` object."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}


class ParameterError(DSPError, ValueError):
    """A parameter is out of range, of the wrong type, or unknown.

    Parameters
    ----------
    name : str
        Parameter name or field path, e.g. ``"compressor.ratio"`` or ``"threshold_db"``.
    value : object
        The offending value.
    range : tuple or sequence, optional
        ``(low, high)`` for numeric ranges, or the allowed choices (e.g. genre names).
    message : str, optional
        Override the generated message. The default is
        ``"compressor.ratio=25 is out of range [1, 20]"`` for a numeric range and
        ``"genre='pop' is not one of ['speech', ...]"`` for choices.
    """

    code = "INVALID_PARAMETER"

    def __init__(
        self,
        name: str,
        value: Any,
        range: Sequence[Any] | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.range = tuple(range) if range is not None else None
        if message is None:
            if (
                self.range is not None
                and len(self.range) == 2
                and all(isinstance(r, int | float) and not isinstance(r, bool) for r in self.range)
            ):
                lo, hi = self.range
                message = f"{name}={_fmt_num(value)} is out of range [{_fmt_num(lo)}, {_fmt_num(hi)}]"
            elif self.range is not None:
                message = f"{name}={value!r} is not one of {list(self.range)!r}"
            else:
                message = f"{name}={value!r} is invalid"
        details = {
            "parameter": name,
            "value": _json_value(value),
            "range": [_json_value(r) for r in self.range] if self.range is not None else None,
        }
        super().__init__(message, details=details)


class InvalidBufferError(DSPError, ValueError):
    """The audio buffer has the wrong length, shape or type."""

    code = "INVALID_BUFFER_SIZE"


class NonFiniteInputError(DSPError, ValueError):
    """The input contains NaN or +/-Inf. Raised before any state changes.

    Parameters
    ----------
    message : str, optional
    index : int, optional
        Index (flat, first offending sample) reported in ``details["index"]``.
    """

    code = "INVALID_AUDIO"

    def __init__(
        self,
        message: str | None = None,
        *,
        index: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if message is None:
            message = "audio contains NaN or Inf"
            if index is not None:
                message += f" (first at sample {index})"
        d = dict(details or {})
        if index is not None:
            d["index"] = int(index)
        super().__init__(message, details=d)


class InvalidSampleRateError(DSPError, ValueError):
    """The sample rate is not supported (not a positive number / not the API's 48000 Hz)."""

    code = "INVALID_SAMPLE_RATE"
