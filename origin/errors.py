"""Error shapes of the origin and the handlers that enforce them.

Two shapes, chosen by path:

* the mixer API (everything except the studio prefixes) answers every 4xx/5xx with
  ``{"error": {"code", "message", "details", "timestamp", "requestId"}}`` and the same request id
  in the ``X-Request-Id`` header;
* the studio API (``/api/``, ``/auth/``, ``/ws/levels``) answers ``{"detail": "..."}``.

Raise :class:`APIError` (mixer) or :class:`StudioError` (studio) from a view, or return
:func:`error_response` / :func:`studio_error`. Any :class:`aimixer_dsp.errors.DSPError` becomes a
400 with its own code. Unknown routes are ``404 ENDPOINT_NOT_FOUND``, wrong methods
``405 METHOD_NOT_ALLOWED``, unparsable JSON ``400 INVALID_JSON`` and anything unexpected
``500 INTERNAL_ERROR`` (logged with its traceback, never sent).
"""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from typing import Any

from quart import Quart, Response, g, has_request_context, has_websocket_context, request, websocket
from werkzeug.exceptions import HTTPException

__all__ = [
    "APIError",
    "StudioError",
    "error_body",
    "error_response",
    "studio_error",
    "is_studio_path",
    "get_request_id",
    "register_error_handlers",
    "STUDIO_PREFIXES",
]

log = logging.getLogger("origin.errors")

#: Paths answered in the studio shape ``{"detail": ...}``.
STUDIO_PREFIXES: tuple[str, ...] = ("/api/", "/auth/", "/ws/levels")

_REQ_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "ENDPOINT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "SERVICE_UNAVAILABLE",
}


class APIError(Exception):
    """An error answered in the mixer shape.

    Parameters
    ----------
    status : int
        HTTP status.
    code : str
        Error code, e.g. ``"INVALID_BUFFER_SIZE"``.
    message : str
        Human readable, names the offending field/value.
    details : dict, optional
        JSON-able extra information.
    headers : dict, optional
        Extra response headers (e.g. ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


class StudioError(Exception):
    """An error answered in the studio shape ``{"detail": detail}``."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


_RID_PREFIX = "req_" + uuid.uuid4().hex[:12]
_RID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A fresh request id: ``req_`` + 12 random hex digits per process + a 10-digit hex counter."""
    return f"{_RID_PREFIX}{next(_RID_COUNTER):010x}"


def get_request_id() -> str:
    """The current request's id (the client's ``X-Request-Id`` if sane, else generated)."""
    if not (has_request_context() or has_websocket_context()):
        return new_request_id()
    rid = g.get("request_id")
    if rid is None:
        ctx = request if has_request_context() else websocket
        incoming = ctx.headers.get("X-Request-Id", "")
        rid = incoming if _REQ_ID_RE.match(incoming) else new_request_id()
        g.request_id = rid
    return rid


def is_studio_path(path: str) -> bool:
    """True when ``path`` belongs to the studio API (``{"detail"}`` error shape)."""
    p = path[3:] if path.startswith("/v1/") else path
    return any(p.startswith(prefix) or p == prefix.rstrip("/") for prefix in STUDIO_PREFIXES)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mixer error object ``{"error": {...}}`` for the current request."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": dict(details or {}),
            "timestamp": int(time.time() * 1000),
            "requestId": get_request_id(),
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON :class:`Response` in the mixer error shape."""
    from origin.jsonutil import dumps

    resp = Response(dumps(error_body(code, message, details)), status=status, content_type="application/json")
    resp.headers["X-Request-Id"] = get_request_id()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def studio_error(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON :class:`Response` in the studio shape ``{"detail": detail}``."""
    from origin.jsonutil import dumps

    resp = Response(dumps({"detail": detail}), status=status, content_type="application/json")
    resp.headers["X-Request-Id"] = get_request_id()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _shaped(status: int, code: str, message: str, details: dict | None = None, headers=None) -> Response:
    path = request.path if has_request_context() else ""
    if is_studio_path(path):
        return studio_error(status, message, headers)
    return error_response(status, code, message, details, headers)


def _http_exception_response(exc: HTTPException) -> Response:
    status = exc.code or 500
    if has_request_context() and is_studio_path(request.path):
        detail = {404: "Not Found", 405: "Method Not Allowed"}.get(status, exc.description or exc.name)
        return studio_error(status, detail)
    headers: dict[str, str] = {}
    if status == 404:
        message = f"No endpoint {request.path}" if has_request_context() else "Not found"
        code = "ENDPOINT_NOT_FOUND"
    elif status == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        message = f"Method {request.method} is not allowed for {request.path}"
        if allowed:
            headers["Allow"] = ", ".join(allowed)
            message += f" (allowed: {', '.join(allowed)})"
        code = "METHOD_NOT_ALLOWED"
    elif status == 400:
        code = "INVALID_JSON" if "JSON" in (exc.description or "") else "BAD_REQUEST"
        message = exc.description or "Bad request"
    else:
        code = _STATUS_CODES.get(status, "HTTP_ERROR")
        message = exc.description or exc.name
    details = {"allowedMethods": sorted(getattr(exc, "valid_methods", None) or [])} if status == 405 else None
    return _shaped(status, code, message, details, headers)


def register_error_handlers(app: Quart) -> None:
    """Install the handlers that give every error the right shape."""

    @app.errorhandler(APIError)
    async def _api_error(exc: APIError) -> Response:
        if is_studio_path(request.path):
            return studio_error(exc.status, exc.message, exc.headers)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(StudioError)
    async def _studio_error(exc: StudioError) -> Response:
        return studio_error(exc.status, exc.detail, exc.headers)

    from aimixer_dsp.errors import DSPError

    @app.errorhandler(DSPError)
    async def _dsp_error(exc: Exception) -> Response:
        return _shaped(400, getattr(exc, "code", "DSP_ERROR"), str(exc), getattr(exc, "details", {}))

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        return _http_exception_response(exc)

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return _http_exception_response(exc)
        rid = get_request_id()
        log.exception("unhandled error in %s %s (requestId=%s)", request.method, request.path, rid)
        return _shaped(500, "INTERNAL_ERROR", f"Internal server error (requestId {rid})")
