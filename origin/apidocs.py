"""``GET /docs``: Swagger UI over ``/openapi.json``, served from the npm package
``swagger-ui-dist`` (``node_modules``, installed by ``make setup``); nothing is loaded from a CDN.

``/docs/assets/{name}`` serves the three files the page needs (the bundle, its CSS and our
start-up script). Without ``node_modules/swagger-ui-dist`` the page answers 503 with a hint.
"""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Quart, Response, send_file

from origin.errors import error_response

__all__ = ["init_app", "SWAGGER_DIR"]

#: where ``npm install`` puts Swagger UI (the repository's ``node_modules``)
SWAGGER_DIR = Path(__file__).resolve().parents[1] / "node_modules" / "swagger-ui-dist"

_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}

# validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io
_INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: true,
  });
});
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>AI Mixer API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
"""

bp = Blueprint("apidocs", __name__)


def _missing() -> Response:
    return error_response(
        503,
        "SERVICE_UNAVAILABLE",
        "Swagger UI is not installed: run `npm install` (node_modules/swagger-ui-dist)",
        {"dir": str(SWAGGER_DIR)},
    )


@bp.get("/docs")
async def page() -> Response:
    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        return _missing()
    return Response(_PAGE, content_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


@bp.get("/docs/assets/<name>")
async def asset(name: str) -> Response:
    if name == "init.js":
        return Response(_INIT_JS, content_type="text/javascript; charset=utf-8")
    ctype = _ASSETS.get(name)
    if ctype is None:
        return error_response(404, "ENDPOINT_NOT_FOUND", f"No docs asset {name[:64]!r}", {"file": name[:64]})
    path = SWAGGER_DIR / name
    if not path.is_file():
        return _missing()
    resp = await send_file(path, mimetype=ctype)
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def init_app(app: Quart) -> None:
    app.register_blueprint(bp)
