"""Request parsing shared by the mixer blueprints: JSON bodies, audio buffers, configs.

All failures raise :class:`origin.errors.APIError` with a message that names the field:

* ``INVALID_JSON`` — the body is not JSON (or not an object);
* ``INVALID_REQUEST`` — a field is missing or of the wrong type;
* ``INVALID_AUDIO`` — NaN/Infinity (``NaN`` literals or values beyond float32) or a
  non-number in an audio buffer;
* ``INVALID_BUFFER_SIZE`` — not exactly 960 samples where a frame is required;
* ``INVALID_PARAMETER`` — a config value out of range (from ``aimixer_dsp.presets``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from aimixer_dsp import FRAME_SIZE, SAMPLE_RATE
from aimixer_dsp.errors import DSPError
from quart import current_app, request

from origin.errors import APIError
from origin.jsonutil import JSONLimitError, loads
from origin.sessions import SESSION_ID_RE

__all__ = [
    "FRAME_SIZE",
    "DSPError",
    "SAMPLE_RATE",
    "FLOAT32_MAX",
    "read_json",
    "parse_json_text",
    "parse_audio",
    "parse_float32_bytes",
    "parse_config",
    "session_id_from",
    "session_id_value",
    "require",
    "service",
]

FRAME_BYTES = FRAME_SIZE * 4  # one frame of float32 LE audio
FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMBER_TYPES = frozenset((float, int))


def service() -> Any:
    """The app's :class:`origin.mixer_api.service.MixerService`."""
    return current_app.extensions["mixer"]


def _nan_literal(text: bytes | str) -> bool:
    class _Found(Exception):
        pass

    def const(_name: str) -> Any:
        raise _Found

    try:
        json.loads(text, parse_constant=const)
    except _Found:
        return True
    except (ValueError, TypeError, RecursionError):
        return False
    return False


def parse_json_text(raw: bytes | str, *, what: str = "request body") -> Any:
    """Parse JSON, telling a NaN/Infinity literal (``INVALID_AUDIO``) from other syntax errors."""
    if not raw:
        raise APIError(400, "INVALID_JSON", f"{what} is empty; send a JSON object")
    try:
        return loads(raw)
    except JSONLimitError as exc:
        raise APIError(
            400,
            "INVALID_JSON",
            f"{what} is refused: {exc}",
            {"limit": exc.limit, "maximum": exc.maximum},
        ) from None
    except (ValueError, TypeError, RecursionError) as exc:
        if _nan_literal(raw):
            raise APIError(
                400,
                "INVALID_AUDIO",
                f"{what} contains NaN or Infinity, which are not valid JSON numbers; audio must be finite",
            ) from None
        raise APIError(400, "INVALID_JSON", f"{what} is not valid JSON: {exc}") from None


async def read_json(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body when not ``required``)."""
    raw = await request.get_data()
    if not raw and not required:
        return {}
    data = parse_json_text(raw)
    if not isinstance(data, dict):
        raise APIError(400, "INVALID_JSON", f"request body must be a JSON object, got {type(data).__name__}")
    return data


def require(data: dict[str, Any], name: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """``data[name]`` checked against ``kind`` (bools are not numbers)."""
    if name not in data or data[name] is None:
        if optional:
            return None
        raise APIError(400, "INVALID_REQUEST", f"{name} is required", {"field": name})
    value = data[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        words = {
            int: "an integer",
            float: "a number",
            str: "a string",
            dict: "an object",
            list: "an array",
            bool: "a boolean",
        }
        names = " or ".join(words.get(k, k.__name__) for k in kinds)
        raise APIError(
            400, "INVALID_REQUEST", f"{name} must be {names}, got {_json_type(value)}", {"field": name}
        )
    return value


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def parse_audio(
    value: Any, *, field: str = "audioBuffer", exact: int | None = FRAME_SIZE, max_len: int | None = None
) -> np.ndarray:
    """A JSON audio buffer as a float64 ndarray (finite, float32-representable numbers).

    Raises
    ------
    APIError
        ``INVALID_REQUEST`` if absent/not an array, ``INVALID_AUDIO`` for non-numbers or
        non-finite values, ``INVALID_BUFFER_SIZE`` for a wrong length.
    """
    if value is None:
        raise APIError(400, "INVALID_REQUEST", f"{field} is required (an array of numbers)", {"field": field})
    if not isinstance(value, list):
        raise APIError(
            400,
            "INVALID_REQUEST",
            f"{field} must be an array of numbers, got {_json_type(value)}",
            {"field": field},
        )
    n = len(value)
    if exact is not None and n != exact:
        raise APIError(
            400,
            "INVALID_BUFFER_SIZE",
            f"Audio buffer size must be {exact} samples ({exact / SAMPLE_RATE * 1000:g} ms at 48 kHz); got {n}",
            {"field": field, "expected": exact, "received": n},
        )
    if max_len is not None and n > max_len:
        raise APIError(
            400,
            "INVALID_BUFFER_SIZE",
            f"{field} has {n} samples; at most {max_len} are accepted",
            {"field": field, "max": max_len, "received": n},
        )
    if not set(map(type, value)) <= _NUMBER_TYPES:  # C-speed type scan; the slow loop only on error
        for i, v in enumerate(value):
            t = type(v)
            if t is not float and t is not int:
                raise APIError(
                    400,
                    "INVALID_AUDIO",
                    f"{field}[{i}] is {_json_type(v)} ({v!r:.40}); samples must be numbers",
                    {"field": field, "index": i},
                )
    try:
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError:  # an int beyond float64
        arr = np.asarray([float("inf") if abs(v) > FLOAT32_MAX else v for v in value], dtype=np.float64)
    _check_finite(arr, field)
    return arr


def _check_finite(arr: np.ndarray, field: str) -> None:
    # One reduction: max|x| is NaN (and the comparison False) when any sample is NaN, inf when
    # one is infinite, so this passes exactly the finite float32-range buffers.
    if arr.size and not (np.abs(arr).max() <= FLOAT32_MAX):
        bad = int(np.flatnonzero(~np.isfinite(arr) | (np.abs(arr) > FLOAT32_MAX))[0])
        raise APIError(
            400,
            "INVALID_AUDIO",
            f"{field}[{bad}]={float(arr[bad])!r} is not a finite float32 sample",
            {"field": field, "index": bad},
        )


def parse_float32_bytes(raw: bytes, *, field: str = "body", exact: int | None = FRAME_SIZE) -> np.ndarray:
    """Little-endian float32 bytes as a float64 ndarray (finite, ``exact`` samples)."""
    if len(raw) % 4:
        raise APIError(
            400,
            "INVALID_BUFFER_SIZE",
            f"{field} is {len(raw)} bytes, not a whole number of float32 samples",
            {"field": field, "bytes": len(raw)},
        )
    n = len(raw) // 4
    if exact is not None and n != exact:
        raise APIError(
            400,
            "INVALID_BUFFER_SIZE",
            f"Audio buffer size must be {exact} samples ({exact * 4} bytes of float32 LE); got {n}",
            {"field": field, "expected": exact, "received": n},
        )
    arr = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    _check_finite(arr, field)
    return arr


def parse_config(value: Any, *, field: str = "config") -> dict[str, Any] | None:
    """Validate an API ``config`` object (``None`` passes through)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise APIError(
            400, "INVALID_REQUEST", f"{field} must be an object, got {_json_type(value)}", {"field": field}
        )
    from aimixer_dsp.presets import validate_config

    validate_config(value)  # ParameterError -> 400 INVALID_PARAMETER naming e.g. compressor.ratio
    return value


def config_from_headers() -> dict[str, Any] | None:
    """Config given as ``X-Config`` header or ``?config=`` query (JSON text), else ``None``."""
    text = request.headers.get("X-Config") or (request.args.get("config") if request.query_string else None)
    if not text:
        return None
    try:
        value = loads(text)
    except JSONLimitError as exc:
        raise APIError(
            400, "INVALID_REQUEST", f"X-Config / ?config= is refused: {exc}", {"field": "config"}
        ) from None
    except (ValueError, TypeError):
        raise APIError(
            400, "INVALID_REQUEST", "X-Config / ?config= must be a JSON object", {"field": "config"}
        ) from None
    return parse_config(value)


_SESSION_ID_MESSAGE = "sessionId must be 1-128 characters of letters, digits, '.', '_', ':' or '-'"


def session_id_value(value: Any, *, field: str = "sessionId") -> str | None:
    """A ``sessionId`` given in a body: a valid id, or ``None`` for absent/empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise APIError(400, "INVALID_REQUEST", "sessionId must be a string", {"field": field})
    if value and not SESSION_ID_RE.match(value):
        raise APIError(400, "INVALID_REQUEST", _SESSION_ID_MESSAGE, {"field": field})
    return value or None


def session_id_from(body_sid: str | None = None) -> str | None:
    """The session id: ``body_sid`` (checked by :func:`session_id_value`), else ``X-Session-Id``
    or ``?sessionId=`` (validated)."""
    if body_sid:
        return body_sid
    sid = request.headers.get("X-Session-Id") or (
        request.args.get("sessionId") if request.query_string else None
    )
    if sid is None:
        return None
    if not SESSION_ID_RE.match(sid):
        raise APIError(400, "INVALID_REQUEST", _SESSION_ID_MESSAGE, {"field": "sessionId"})
    return sid


def public(fn: Any) -> Any:
    """Mark a view as public (no API key needed)."""
    fn.__public__ = True
    return fn


def principal_owner() -> str:
    """Owner id of the authenticated caller (``anonymous`` for public views without one)."""
    from quart import g

    p = g.get("principal")
    if p is None:
        return "anonymous"
    return p.owner
