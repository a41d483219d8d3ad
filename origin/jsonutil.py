"""Fast, strict JSON for the origin: non-finite floats become ``null``, output is compact.

Uses :mod:`orjson` when importable (several times faster on 960-sample buffers), else the
standard library with the same semantics.

Hostile input
-------------
Every JSON document the origin reads (HTTP bodies of both APIs, ``/ws`` and ``/ws/levels`` text
messages, ``X-Config`` headers, JSON settings) goes through :func:`loads`, which bounds the
document's *structure* before any parser sees the bytes (:func:`check_structure`):

* nesting depth at most :data:`MAX_DEPTH` (``[``/``{`` levels; orjson crashes the process at
  about 70,000 levels and the standard library raises ``RecursionError`` near 1,000);
* every run of digits at most :data:`MAX_NUMBER_DIGITS` long (``{"port": <5000 digits>}``
  would otherwise hit Python's int-digits limit, or cost quadratic time below it).

A document over a limit raises :class:`JSONLimitError` (a ``ValueError``) naming the limit.
The check runs at C speed: ``bytes.count``, ``bytes.translate`` and ``bytes.find`` in the common
case; documents with more brackets than the depth limit, or with a long digit run, also get
their strings removed (one regular-expression substitution) and a prefix sum over their
brackets (NumPy). Linear in the size of the document, a few milliseconds per megabyte.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = [
    "dumps",
    "loads",
    "check_structure",
    "JSONLimitError",
    "MAX_DEPTH",
    "MAX_NUMBER_DIGITS",
    "HAVE_ORJSON",
]

try:  # pragma: no cover - depends on the environment
    import orjson as _orjson

    HAVE_ORJSON = True
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]
    HAVE_ORJSON = False

#: Deepest accepted nesting of arrays/objects (our deepest real document has 4 levels).
MAX_DEPTH = 64
#: Longest accepted run of digits in a number (a float64 needs 17 significant digits).
MAX_NUMBER_DIGITS = 100

# A JSON string (unrolled loop: no per-character alternation). Replacing every string by ""
# leaves the brackets and digits that are structure, not text.
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# every digit -> "0", everything else -> " ": a digit run of n is then n zeros in a row, found by
# bytes.find at C speed (a regular expression costs 20x more on a 960-sample body)
_DIGITS_ONLY = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_NOT_BRACKETS = bytes(i for i in range(256) if i not in b"[]{}")
# "[" / "{" -> +1, "]" / "}" -> -1 (as int8)
_STEPS = bytes(1 if i in b"[{" else (0xFF if i in b"]}" else 0) for i in range(256))


def _max_depth(brackets: bytes) -> int:
    """Deepest nesting of a string of brackets only (prefix-sum maximum)."""
    steps = brackets.translate(_STEPS)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - the origin always has NumPy
        from itertools import accumulate

        return max(accumulate(b if b < 128 else b - 256 for b in steps))
    return int(np.cumsum(np.frombuffer(steps, dtype=np.int8), dtype=np.int64).max())


class JSONLimitError(ValueError):
    """A JSON document exceeds a structural limit (nesting depth or number length).

    Attributes
    ----------
    limit : str
        ``"depth"`` or ``"digits"``.
    maximum : int
        The limit that was exceeded.
    """

    def __init__(self, message: str, *, limit: str, maximum: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum


def check_structure(
    data: bytes | bytearray | memoryview | str,
    *,
    max_depth: int = MAX_DEPTH,
    max_digits: int = MAX_NUMBER_DIGITS,
) -> None:
    """Raise :class:`JSONLimitError` when ``data`` nests deeper than ``max_depth`` or holds a
    number with a run of more than ``max_digits`` digits; return ``None`` otherwise.

    Works on the raw text without parsing it (so it is safe on any input). Invalid JSON may
    pass: the parser rejects it afterwards.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    maybe_deep = raw.count(b"[") + raw.count(b"{") > max_depth
    needle = b"0" * (max_digits + 1)
    maybe_long = raw.translate(_DIGITS_ONLY).find(needle) >= 0
    if not maybe_deep and not maybe_long:
        return
    # strings are text: drop them before looking at brackets and digits again
    structure = _STRING_RE.sub(b'""', raw) if b'"' in raw else raw
    if maybe_long and structure.translate(_DIGITS_ONLY).find(needle) >= 0:
        raise JSONLimitError(
            f"JSON number has more than {max_digits} digits", limit="digits", maximum=max_digits
        )
    if maybe_deep:
        brackets = structure.translate(None, _NOT_BRACKETS)
        if len(brackets) > max_depth and _max_depth(brackets) > max_depth:
            raise JSONLimitError(
                f"JSON nests deeper than {max_depth} levels", limit="depth", maximum=max_depth
            )


def _safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_safe(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _safe(obj.tolist())
    return obj


def dumps(obj: Any) -> bytes:
    """Serialize ``obj`` to compact UTF-8 JSON; NaN/Inf -> ``null``; NumPy arrays -> lists."""
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, option=_orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS)
        except TypeError:
            obj = _safe(obj)
            return _orjson.dumps(obj, default=str)
    return json.dumps(_safe(obj), separators=(",", ":"), allow_nan=False, default=str).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON after :func:`check_structure`; ``NaN``/``Infinity`` literals are rejected.

    Raises
    ------
    JSONLimitError
        The document is too deep or holds an over-long number (checked before parsing).
    ValueError
        Any other invalid JSON (``orjson.JSONDecodeError`` and ``json.JSONDecodeError`` are
        both ``ValueError`` subclasses; undecodable UTF-8 is one too).
    """
    check_structure(data)
    if _orjson is not None:
        return _orjson.loads(data)
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise JSONLimitError("JSON nests too deep", limit="depth", maximum=MAX_DEPTH) from None
