"""The origin app factory.

:func:`create_app` builds one Quart app that serves the mixer API (``origin.mixer_api``), the
studio API (``origin.studio``) and the browser bundle (``origin.wasm_api``). Each domain package
exposes ``init_app(app)``; a package that is not installed in this checkout is skipped.

Shared pieces on ``app.extensions``:

==================  ============================================================
key                 value
==================  ============================================================
``settings``        :class:`origin.config.Settings`
``storage``         :class:`origin.storage.Storage` (opened and migrated here with
                    :func:`origin.migrations.app_schemas`, closed at shutdown)
``shared``          :class:`origin.shared.SharedState` when ``redis_url`` is set, else None
``authenticators``  the authenticator chain (:mod:`origin.auth`)
``secret_key``      HMAC key (settings, else generated once and kept in the DB)
``started_at``      ``time.time()`` when the app started serving
==================  ============================================================

Every response gets ``X-Request-Id`` and the cross-origin isolation headers the browser mixer
needs for ``SharedArrayBuffer``: ``Cross-Origin-Opener-Policy: same-origin``,
``Cross-Origin-Embedder-Policy: require-corp``, ``Cross-Origin-Resource-Policy: same-origin``.
An error answer to a request with a body says ``Connection: close`` (the body may not have
arrived whole, and Hypercorn does not keep such a connection).
"""

from __future__ import annotations

import importlib
import logging
import secrets
import time
from typing import Any

from aimixer_dsp.backend import set_backend
from quart import Quart, Request, Response, request

from origin import __version__
from origin.config import Settings, load_settings, parse_origins
from origin.cors import install_cors
from origin.errors import get_request_id, register_error_handlers
from origin.migrations import open_app_storage

__all__ = ["create_app", "DOMAIN_PACKAGES", "set_body_limit"]

log = logging.getLogger("origin")

#: Domain packages registered by :func:`create_app`, in order.
DOMAIN_PACKAGES = ("origin.mixer_api", "origin.studio", "origin.wasm_api", "origin.apidocs")

SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

_SECURITY_ITEMS = tuple((k, k.lower(), v) for k, v in SECURITY_HEADERS.items())


def _carries_body(req: Request) -> bool:
    """Whether ``req`` has a body (a positive Content-Length or a chunked one)."""
    return bool(req.content_length) or "chunked" in req.headers.get("Transfer-Encoding", "").lower()


def _import_domain(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def set_body_limit(app: Quart, path: str, limit: int | None) -> None:
    """Use ``limit`` bytes (None = no limit) instead of ``MAX_CONTENT_LENGTH`` for bodies sent to
    ``path`` (exact path). Applied when the request object is created, before any byte is read."""
    app.request_class.body_limits[path] = limit  # type: ignore[attr-defined]


def _request_class() -> type[Request]:
    class OriginRequest(Request):
        body_limits: dict[str, int | None] = {}

        def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
            if path in self.body_limits:
                kwargs["max_content_length"] = self.body_limits[path]
            super().__init__(method, scheme, path, *args, **kwargs)

    return OriginRequest


def create_app(settings: Settings | None = None, *, packages: tuple[str, ...] | None = None) -> Quart:
    """Build the origin app.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :func:`origin.config.load_settings` (environment + ``$AIMIXER_CONFIG``).
    packages : tuple of str, optional
        Domain packages to register (default :data:`DOMAIN_PACKAGES`).

    Returns
    -------
    Quart
    """
    settings = settings if settings is not None else load_settings()
    set_backend(settings.dsp_backend)  # the DSP package reads no environment itself
    app = Quart("origin")
    app.request_class = _request_class()
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True
    app.extensions["settings"] = settings
    app.extensions["version"] = __version__
    app.extensions.setdefault("authenticators", [])
    app.extensions["started_at"] = time.time()

    storage = open_app_storage(settings)
    app.extensions["storage"] = storage
    app.extensions["secret_key"] = settings.secret_key or storage.kv_setdefault(
        "secret_key", secrets.token_urlsafe(48)
    )

    if settings.redis_url:
        from origin.shared import SharedState

        app.extensions["shared"] = SharedState(settings.redis_url, session_ttl=settings.session_ttl)
    else:
        app.extensions["shared"] = None

    register_error_handlers(app)
    cors_origins = parse_origins(settings.cors_origins)
    if cors_origins is not None:
        install_cors(app, cors_origins)  # before the domain packages' authentication hooks

    @app.before_serving
    async def _starting() -> None:
        app.extensions["started_at"] = time.time()
        storage.open()  # re-open when the same app is served again
        if settings.dev_mode:
            log.warning(
                "DEV MODE: requests without a key are accepted as the dev admin "
                "(dev-user-001, standard tier). Do not expose this server."
            )

    @app.after_request
    async def _common_headers(response: Response) -> Response:
        # One pass over the response headers instead of a case-insensitive scan (and, in
        # werkzeug, an exception) per missing header: same result as headers["X-Request-Id"] =
        # rid followed by setdefault() of each security header.
        headers = response.headers
        present = {k.lower() for k, _ in headers.items()}
        rid = get_request_id()
        if "x-request-id" in present:
            headers["X-Request-Id"] = rid
        else:
            headers.add("X-Request-Id", rid)
        for k, lk, v in _SECURITY_ITEMS:
            if lk not in present:
                headers.add(k, v)
        if response.status_code >= 400 and _carries_body(request):
            # A refusal may be sent before the request's body has all arrived (authentication,
            # rate limit, size): Hypercorn then closes the connection, and without this header
            # the client would send its next request down a closed connection.
            headers["Connection"] = "close"
        return response

    for name in packages if packages is not None else DOMAIN_PACKAGES:
        mod = _import_domain(name)
        if mod is None:
            log.debug("domain package %s not present; skipped", name)
            continue
        init = getattr(mod, "init_app", None)
        if init is None:  # package present but not wired yet (e.g. a namespace package)
            log.warning("domain package %s has no init_app(app); skipped", name)
            continue
        init(app)

    @app.after_serving
    async def _close_storage() -> None:
        shared = app.extensions.get("shared")
        if shared is not None:
            await shared.close()
        storage.close()

    return app
