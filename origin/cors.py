"""Cross-origin use of the API from a browser (``cors_origins``).

Off by default: without the setting no response carries an ``Access-Control-*`` header and
browsers keep other sites' pages out, as before. With it, a page of an allowed origin (or of
any, for ``*``) may call the API with ``fetch``: preflights (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) are answered ``204`` before authentication, since a browser
never sends credentials on them, and every answer to an allowed origin names it and exposes the
headers a client reads (request id, rate limit, ``X-Metrics`` …). Credentials stay bearer tokens
in ``Authorization``: ``Access-Control-Allow-Credentials`` is never sent, so cookies never cross.

Written here rather than with ``quart-cors``: that package also refuses WebSocket upgrades from
any origin not in the list, which would lock our own studio page out of ``/ws/levels`` the moment
another site is allowed.
"""

from __future__ import annotations

from quart import Quart, Response, request

__all__ = ["ALLOW_HEADERS", "EXPOSE_HEADERS", "install_cors"]

#: request headers a cross-origin page may send (beyond the CORS-safelisted ones)
ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Request-Id",
    "X-Config",
    "X-Options",
    "X-Session-Id",
    "Range",
)
#: answer headers a cross-origin page may read (beyond the CORS-safelisted ones)
EXPOSE_HEADERS = (
    "X-Request-Id",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "WWW-Authenticate",
    "X-Metrics",
    "X-Session-Id",
    "X-Job-Genre",
    "Location",
    "Link",
    "Content-Disposition",
    "Content-Range",
    "ETag",
)
ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
MAX_AGE_S = 600

_ALLOWED_LOWER = {h.lower() for h in ALLOW_HEADERS}


def install_cors(app: Quart, origins: frozenset[str]) -> None:
    """Answer preflights and mark answers for ``origins`` (call before the domain packages
    register their ``before_request`` hooks, so a preflight meets no authentication)."""
    anyone = "*" in origins

    def allowed(origin: str | None) -> str | None:
        if not origin:
            return None
        if anyone:
            return "*"
        return origin if origin in origins else None

    @app.before_request
    async def _preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        resp = Response(b"", status=204)
        resp.headers["Vary"] = "Origin"
        allow = allowed(request.headers.get("Origin"))
        if allow is not None:
            asked = request.headers.get("Access-Control-Request-Headers", "")[:1024]
            names = [h.strip() for h in asked.split(",") if h.strip().lower() in _ALLOWED_LOWER]
            resp.headers["Access-Control-Allow-Origin"] = allow
            resp.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            if names:
                resp.headers["Access-Control-Allow-Headers"] = ", ".join(names)
            resp.headers["Access-Control-Max-Age"] = str(MAX_AGE_S)
        return resp

    expose = ", ".join(EXPOSE_HEADERS)

    @app.after_request
    async def _mark(response: Response) -> Response:
        if "Access-Control-Allow-Origin" in response.headers:  # a preflight's own answer
            return response
        allow = allowed(request.headers.get("Origin"))
        if not anyone:
            response.vary.add("Origin")
        if allow is not None:
            response.headers["Access-Control-Allow-Origin"] = allow
            response.headers["Access-Control-Expose-Headers"] = expose
        return response
