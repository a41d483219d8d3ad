"""``Param``: one declaration per DSP parameter.

A processor declares each parameter once, in its class body::

    class Compressor(Processor):
        ratio = Param("ratio", ":1", (1.0, 20.0), 4.0, "Ratio", on_change="_ratio_changed")

and everything else derives from that table (``Processor.PARAMS``, in declaration order):

* the validated property ``ratio`` (the value lives in ``self._ratio``, which the DSP reads
  directly: the per-frame paths never go through the descriptor);
* the constructor's arguments (in declaration order, defaults from the table);
* ``settings()`` (API keys) and ``__repr__`` (attribute names);
* :mod:`aimixer_dsp.presets`: ``SCHEMA``, ``UNITS``, ``DEFAULT_SETTINGS``, ``controls()``,
  ``build_chain`` / ``apply_settings`` and the JSON Schema of the API's ``config`` object.

``on_change`` names a method called after a new value is stored (to recompute coefficients).
During construction all values are stored first and each distinct hook then runs once, before
``_reset_state()``; hooks that adjust running state check ``self._ready``.
"""

from __future__ import annotations

import math
from typing import Any, overload

from .. import backend as _backend
from ..errors import ParameterError

__all__ = ["Param", "check_param", "check_bool"]


def check_param(name: str, value: object, lo: float, hi: float) -> float:
    """Return ``float(value)`` if it is a real number in ``[lo, hi]``, else raise ParameterError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if _backend.HAVE_NUMPY and isinstance(value, _backend.np.integer | _backend.np.floating):
            value = value.item()
        else:
            raise ParameterError(
                name,
                value,
                (lo, hi),
                message=f"{name}={value!r} must be a number in [{_fmt(lo)}, {_fmt(hi)}]",
            )
    if not math.isfinite(value) or not (lo <= value <= hi):
        raise ParameterError(name, value, (lo, hi))
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool, else raise ParameterError."""
    if not isinstance(value, bool):
        raise ParameterError(name, value, message=f"{name}={value!r} must be true or false")
    return value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


class Param:
    """A processor parameter: API key, attribute, unit, range, default, label.

    Parameters
    ----------
    key : str
        Its key in the stage's API ``config`` / ``appliedSettings`` object (``"threshold"``).
    unit : str
        What the UI shows after the number (``"dBFS"``, ``"ms"``, ``":1"``; ``""`` for a bool).
    range : (float, float) or None
        Inclusive numeric range; ``None`` for a boolean parameter.
    default : float or bool
        Constructor default and the value of ``presets.DEFAULT_SETTINGS``.
    label : str
        Human-readable name (UI, OpenAPI description).
    on_change : str or None
        Name of the method that recomputes derived values after a change.

    The attribute name (``threshold_db``) is the name it is bound to in the class body.
    """

    __slots__ = ("key", "unit", "range", "default", "label", "on_change", "attr", "private")

    def __init__(
        self,
        key: str,
        unit: str,
        range: tuple[float, float] | None,  # noqa: A002 - the table's column name
        default: float | bool,
        label: str,
        *,
        on_change: str | None = None,
    ) -> None:
        self.key = key
        self.unit = unit
        self.range = range
        self.default = default
        self.label = label
        self.on_change = on_change
        self.attr = ""
        self.private = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name
        self.private = "_" + name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Param: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Any: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj, self.private)

    def __set__(self, obj: object, value: object) -> None:
        setattr(obj, self.private, self.check(value))
        if self.on_change is not None:
            getattr(obj, self.on_change)()

    @property
    def is_bool(self) -> bool:
        """``True`` for an on/off parameter (no range)."""
        return self.range is None

    def check(self, value: object) -> float | bool:
        """The validated value (a float in range, or a bool); raises ``ParameterError``."""
        if self.range is None:
            return check_bool(self.attr, value)
        return check_param(self.attr, value, *self.range)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this field in the API's ``config`` object."""
        if self.range is None:
            return {"type": "boolean", "description": self.label}
        lo, hi = self.range
        return {"type": "number", "minimum": lo, "maximum": hi, "description": f"{self.label}, {self.unit}"}

    def __repr__(self) -> str:
        return f"Param({self.key!r}, attr={self.attr!r}, unit={self.unit!r}, range={self.range!r}, default={self.default!r})"
