"""The web site on the origin: ``/`` (landing page) and ``/studio/`` (studio monitor).

* ``GET /`` -> ``web/index.html`` (links the studio monitor and the in-browser mixer at
  ``/mixer/``, which :mod:`origin.wasm_api` serves).
* ``GET /studio/`` and ``GET /studio/<file>`` -> ``web/studio/`` (plain ES modules + CSS, no
  build step). Paths go through :func:`origin.studio.paths.resolve_under`, so nothing outside
  ``web/studio`` can be read.

Pages are ``Cache-Control: no-cache`` (revalidated; they are small). The cross-origin isolation
headers (COOP/COEP/CORP) are added to every response by :mod:`origin.app`.
"""

from __future__ import annotations

import os
from pathlib import Path

from quart import Blueprint, Quart, Response, current_app, redirect
from werkzeug.wrappers import Response as WerkzeugResponse

from origin.errors import error_response

__all__ = ["init_app", "WEB_DIR"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}

bp = Blueprint("webapp", __name__)


def _web_dir() -> Path:
    return Path(current_app.config.get("AIMIXER_WEB_DIR") or os.environ.get("AIMIXER_WEB_DIR") or WEB_DIR)


def _send(root: Path, name: str) -> Response:
    from origin.studio.paths import PathError, resolve_under

    try:
        path = resolve_under(root, name)
    except PathError:
        path = None
    if path is None or not path.is_file():
        return error_response(404, "ENDPOINT_NOT_FOUND", f"No web file {name!r}", {"file": name})
    ctype = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return Response(path.read_bytes(), status=200, content_type=ctype, headers={"Cache-Control": "no-cache"})


@bp.get("/")
@bp.get("/index.html")
async def index() -> Response:
    return _send(_web_dir(), "index.html")


@bp.get("/studio")
async def studio_noslash() -> WerkzeugResponse:
    return redirect("/studio/", 308)


@bp.get("/studio/")
@bp.get("/studio/<path:name>")
async def studio(name: str = "index.html") -> Response:
    return _send(_web_dir() / "studio", name)


def init_app(app: Quart) -> None:
    """Register the web site routes (called by :func:`origin.studio.init_app`)."""
    if "webapp" not in app.blueprints:
        app.register_blueprint(bp)
