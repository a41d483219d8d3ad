"""A mixer session's state as bytes, so that a ``sessionId`` can continue on any origin.

The DSP chain, the loudness meter and the genre tracker keep plain data: floats, ints, lists,
tuples, deques, dicts, NumPy ``float64`` arrays and objects of the DSP package's own classes.
:func:`dump_session` walks that graph and writes it as JSON; :func:`load_session` rebuilds it.
It is **not pickle**: only the classes of :mod:`aimixer_dsp` (looked up by name in a fixed table,
never imported by name from the data) are rebuilt, by setting their attributes; nothing in the
data is called. A blob is therefore safe to read even if someone else wrote the Redis key.

Format ``aimixer.session`` version 1 (a JSON object, UTF-8)::

    {"format": "aimixer.session", "version": 1, "root": NODE, "meta": {...}}

    NODE := null | true | false | integer | finite float | string
          | {"f": "inf" | "-inf" | "nan"}                  non-finite float
          | {"t": [NODE, ...]}                              tuple
          | {"l": [NODE, ...], "id": n}                     list
          | {"fl": base64, "id": n}                         list of floats (float64 LE bytes)
          | {"q": [NODE, ...], "maxlen": m|null, "id": n}   collections.deque
          | {"d": [[NODE, NODE], ...], "id": n}             dict (keys of any plain kind)
          | {"a": base64, "dtype": "<f8", "shape": [..], "id": n}   NumPy array (raw bytes)
          | {"o": "ClassName", "s": {attr: NODE}, "id": n}  an aimixer_dsp object
          | {"r": n}                                        the node with "id" n again

``id``/``r`` keep shared and cyclic references: an object reached twice is the same object after
loading. Floats are written with Python's shortest round-trip repr, arrays as raw bytes, so a
loaded session continues bit for bit. Attributes listed in :data:`SKIPPED` (caches keyed by Python
types) are left out and rebuilt on the next call. A change to the format bumps ``version``; a
reader refuses versions it does not know (the session then starts fresh, and the caller says so).
"""

from __future__ import annotations

import array
import base64
import collections
import functools
import importlib
import math
import pkgutil
import sys
from typing import Any

from origin.jsonutil import dumps, loads

__all__ = ["dump_session", "load_session", "SessionStateError", "FORMAT", "VERSION", "MAX_STATE_BYTES"]

FORMAT = "aimixer.session"
VERSION = 1
#: Largest state blob accepted on load (a session is a few tens of kB).
MAX_STATE_BYTES = 8 * 1024 * 1024

#: ``{class name: attributes not serialized}``: caches that are rebuilt on the next call (the
#: class attribute, ``None``, stands in after loading).
SKIPPED: dict[str, frozenset[str]] = {
    "MixerSession": frozenset({"_cfg_key", "_cfg_merged"}),
    "Compressor": frozenset({"_np_wts"}),
    "Limiter": frozenset({"_dl_cache"}),
}
#: lists of at least this many floats are written as raw float64 bytes (``"fl"`` nodes)
PACK_MIN = 8
_BIG_ENDIAN = sys.byteorder == "big"
_NO_KEY_ATTRS = {"MixerSession": "_cfg_key"}


class SessionStateError(ValueError):
    """A state blob is malformed, too large, of an unknown version or names an unknown class."""


@functools.lru_cache(maxsize=1)
def _classes() -> dict[str, type[Any]]:
    """Every class defined in the :mod:`aimixer_dsp` package, by qualified name."""
    import aimixer_dsp

    out: dict[str, type] = {}
    for info in pkgutil.walk_packages(aimixer_dsp.__path__, "aimixer_dsp."):
        if info.name.endswith(("jsbridge",)):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError:  # optional parts (e.g. NumPy-only modules in a bare interpreter)
            continue
        for v in vars(mod).values():
            if isinstance(v, type) and v.__module__ == info.name:
                out[v.__qualname__] = v
    return out


def _state_of(obj: Any) -> dict[str, Any]:
    state = dict(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                state[slot] = getattr(obj, slot)
    skip = SKIPPED.get(type(obj).__qualname__)
    if skip:
        for k in skip:
            state.pop(k, None)
    return state


def _encode(root: Any) -> Any:
    ids: dict[int, int] = {}
    keep: list[Any] = []  # keeps encoded objects alive so their id() stays unique
    classes = _classes()

    def enc(x: Any) -> Any:
        if x is None or isinstance(x, bool | str):
            return x
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            xf = float(x)
            if math.isfinite(xf):
                return xf
            return {"f": "nan" if xf != xf else ("inf" if xf > 0 else "-inf")}
        if isinstance(x, tuple):
            return {"t": [enc(v) for v in x]}
        ref = ids.get(id(x))
        if ref is not None:
            return {"r": ref}
        n = len(ids)
        ids[id(x)] = n
        keep.append(x)
        if isinstance(x, list):
            if len(x) >= PACK_MIN and all(type(v) is float for v in x):
                packed = array.array("d", x)
                if _BIG_ENDIAN:
                    packed.byteswap()
                return {"fl": base64.b64encode(packed.tobytes()).decode("ascii"), "id": n}
            return {"l": [enc(v) for v in x], "id": n}
        if isinstance(x, collections.deque):
            return {"q": [enc(v) for v in x], "maxlen": x.maxlen, "id": n}
        if isinstance(x, dict):
            return {"d": [[enc(k), enc(v)] for k, v in x.items()], "id": n}
        mod = type(x).__module__
        if mod == "numpy" and type(x).__name__ == "ndarray":
            a = x if x.flags.c_contiguous else x.copy()
            return {
                "a": base64.b64encode(a.tobytes()).decode("ascii"),
                "dtype": a.dtype.str,
                "shape": list(a.shape),
                "id": n,
            }
        if mod.startswith("numpy"):  # a NumPy scalar
            return enc(x.item())
        name = type(x).__qualname__
        if mod.startswith("aimixer_dsp") and classes.get(name) is type(x):
            return {"o": name, "s": {k: enc(v) for k, v in _state_of(x).items()}, "id": n}
        raise SessionStateError(f"cannot serialize a {mod}.{name} in session state")

    return enc(root)


def _decode(node: Any) -> Any:
    objs: dict[int | None, Any] = {}
    classes = _classes()

    def dec(x: Any) -> Any:
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if not isinstance(x, dict):
            raise SessionStateError("malformed session state (unexpected node)")
        if "r" in x:
            try:
                return objs[int(x["r"])]
            except (KeyError, TypeError, ValueError):
                raise SessionStateError("malformed session state (dangling reference)") from None
        if "f" in x:
            return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}[x["f"]]
        if "t" in x:
            return tuple(dec(v) for v in x["t"])
        n: int | None = x.get("id")
        if "l" in x:
            out: Any = []
            objs[n] = out
            out.extend(dec(v) for v in x["l"])
            return out
        if "fl" in x:
            packed = array.array("d")
            packed.frombytes(base64.b64decode(x["fl"], validate=True))
            if _BIG_ENDIAN:
                packed.byteswap()
            out = objs[n] = packed.tolist()
            return out
        if "q" in x:
            out = objs[n] = collections.deque(maxlen=x.get("maxlen"))
            out.extend(dec(v) for v in x["q"])
            return out
        if "d" in x:
            out = objs[n] = {}
            for k, v in x["d"]:
                out[_hashable(dec(k))] = dec(v)
            return out
        if "a" in x:
            import numpy as np

            dtype = np.dtype(str(x["dtype"]))
            if dtype.kind not in "fiub":
                raise SessionStateError(f"array dtype {dtype} not allowed in session state")
            raw = base64.b64decode(x["a"], validate=True)
            out = objs[n] = np.frombuffer(raw, dtype=dtype).reshape(tuple(int(s) for s in x["shape"])).copy()
            return out
        if "o" in x:
            cls = classes.get(str(x["o"]))
            if cls is None:
                raise SessionStateError(f"unknown class {x['o']!r} in session state")
            out = objs[n] = object.__new__(cls)  # state set below, no constructor run
            for k, v in x["s"].items():
                object.__setattr__(out, str(k), dec(v))
            attr = _NO_KEY_ATTRS.get(cls.__qualname__)
            if attr is not None:  # the skipped config cache: "nothing cached yet"
                mod = importlib.import_module(cls.__module__)
                object.__setattr__(out, attr, mod._NO_KEY)
            return out
        raise SessionStateError("malformed session state (unknown node kind)")

    return dec(node)


def _hashable(k: Any) -> Any:
    if isinstance(k, list | dict):
        raise SessionStateError("malformed session state (unhashable dict key)")
    return k


def dump_session(session: Any, meta: dict[str, Any] | None = None) -> bytes:
    """``session`` (a ``MixerSession`` with its meter and tracker) and plain ``meta`` as bytes."""
    return dumps(
        {"format": FORMAT, "version": VERSION, "root": _encode(session), "meta": _encode(meta or {})}
    )


def load_session(blob: bytes | str) -> tuple[Any, dict[str, Any]]:
    """The ``(session, meta)`` written by :func:`dump_session`.

    Raises
    ------
    SessionStateError
        Too large, not the format, an unknown version or class, or malformed.
    """
    if len(blob) > MAX_STATE_BYTES:
        raise SessionStateError(f"session state of {len(blob)} bytes exceeds {MAX_STATE_BYTES}")
    try:
        doc = loads(blob)
    except Exception as exc:
        raise SessionStateError(f"session state is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionStateError("not an aimixer.session state")
    if doc.get("version") != VERSION:
        raise SessionStateError(f"session state version {doc.get('version')!r} is not {VERSION}")
    try:
        return _decode(doc.get("root")), _decode(doc.get("meta") or {"d": [], "id": -1})
    except SessionStateError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SessionStateError(f"malformed session state: {exc}") from None
