"""Serve the browser bundle (``wasm/dist``, built by ``wasm/build_bundle.py``).

Routes
------
``GET /wasm``
    The main WebAssembly binary (Pyodide's ``pyodide.asm.wasm``), ``application/wasm``, strong
    ``ETag``, ``Cache-Control: public, max-age=86400``, ``304`` on ``If-None-Match``.
``GET /wasm/manifest.json``
    Logical name -> hashed file, size, sha256, gzip/brotli sizes. Revalidated on every use
    (``Cache-Control: public, no-cache``) since its URL is stable.
``GET /wasm/aimixer.js``
    Stable entry point of the JS SDK (re-exports the hashed module); revalidated like the manifest.
``GET /mixer/``
    The in-browser mixer page (``web/mixer/index.html``, ``mixer.js``, ``export.js``, ``mixer.css``), unless
    another domain already serves ``web/``.
``GET /wasm/<file>``
    Any file listed in the manifest. Its name (or directory) carries a content hash, so it is
    ``Cache-Control: public, max-age=86400, immutable``.

Every response negotiates ``Content-Encoding`` (``br`` > ``gzip`` > identity, honouring q-values)
from the precompressed siblings, sends ``Vary: Accept-Encoding`` and a strong ETag per
representation. Only files named in the manifest are served: a path that is not in it (``..``,
absolute paths, siblings outside the bundle) is a 404, so traversal is impossible by construction.
A missing bundle is a ``503 SERVICE_UNAVAILABLE`` in the mixer error shape.

The bundle directory is ``app.config["AIMIXER_WASM_DIST"]``, else ``$AIMIXER_WASM_DIST``, else
``<repo>/wasm/dist``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quart import Blueprint, Quart, Response, current_app, request

from origin.errors import error_response
from origin.openapi import doc

__all__ = ["init_app", "bp", "BundleStore", "negotiate_encoding", "MIME_TYPES"]

DEFAULT_DIST = Path(__file__).resolve().parent.parent / "wasm" / "dist"

MIME_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".onnx": "application/octet-stream",
    ".map": "application/json",
}

CACHE_HASHED = "public, max-age=86400, immutable"
CACHE_WASM = "public, max-age=86400"
CACHE_REVALIDATE = "public, no-cache"
STABLE_FILES = ("manifest.json", "aimixer.js")

bp = Blueprint("wasm_api", __name__)


def negotiate_encoding(accept: str | None, available: set[str]) -> str | None:
    """Pick ``"br"``, ``"gzip"`` or ``None`` (identity) from an ``Accept-Encoding`` header.

    Parameters
    ----------
    accept : str or None
        The header value, e.g. ``"gzip, deflate, br"`` or ``"br;q=0, gzip;q=0.5"``.
    available : set of str
        Encodings with a precompressed sibling.

    Returns
    -------
    str or None
        The best acceptable encoding (ties prefer brotli), or ``None`` for identity.
    """
    if not accept:
        return None
    q: dict[str, float] = {}
    for part in accept.split(","):
        bits = [b.strip() for b in part.split(";")]
        name = bits[0].lower()
        if not name:
            continue
        weight = 1.0
        for b in bits[1:]:
            if b.lower().startswith("q="):
                try:
                    weight = float(b[2:])
                except ValueError:
                    weight = 0.0
        q[name] = weight
    best, best_q = None, 0.0
    for enc in ("br", "gzip"):
        w = q.get(enc, q.get("*", 0.0))
        if enc in available and w > best_q:
            best, best_q = enc, w
    return best


@dataclass
class _File:
    data: bytes
    mtime_ns: int


class BundleStore:
    """Reads the manifest and files of a bundle directory, caching bytes by (path, mtime)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._manifest: tuple[int, dict] | None = None
        self._cache: dict[str, _File] = {}

    def manifest(self) -> dict | None:
        """The parsed manifest, or ``None`` when the bundle is not built."""
        path = self.root / "manifest.json"
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            if self._manifest is not None and self._manifest[0] == mtime:
                return self._manifest[1]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            return None
        with self._lock:
            self._manifest = (mtime, data)
            self._cache.clear()
        return data

    def read(self, rel: str) -> bytes | None:
        """Bytes of ``rel`` (a path from the manifest), or ``None`` if missing."""
        path = self.root / rel
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            hit = self._cache.get(rel)
            if hit is not None and hit.mtime_ns == mtime:
                return hit.data
        try:
            data = path.read_bytes()
        except OSError:
            return None
        with self._lock:
            self._cache[rel] = _File(data, mtime)
        return data


def _store() -> BundleStore:
    return current_app.extensions["wasm_bundle"]


def _unavailable(reason: str) -> Response:
    return error_response(
        503,
        "SERVICE_UNAVAILABLE",
        f"The wasm bundle is not available: {reason}. Build it with `python wasm/build_bundle.py`.",
        {"bundleDir": str(_store().root)},
    )


def _not_found(name: str) -> Response:
    return error_response(404, "ENDPOINT_NOT_FOUND", f"No bundle file {name!r}", {"file": name})


def _mime(name: str) -> str:
    return MIME_TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")


def _etag_matches(header: str | None, etags: set[str]) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag in etags:
            return True
    return False


async def _send(rel: str, entry: dict | None, cache_control: str) -> Response:
    store = _store()
    raw = store.read(rel)
    if raw is None:
        return _unavailable(f"{rel} is missing") if entry is not None else _not_found(rel)
    if entry is not None:
        base_tag = entry.get("sha256", "")[:32]
    else:
        import hashlib

        base_tag = hashlib.sha256(raw).hexdigest()[:32]
    available = set()
    if entry is not None:
        if entry.get("br") is not None:
            available.add("br")
        if entry.get("gzip") is not None:
            available.add("gzip")
    encoding = negotiate_encoding(request.headers.get("Accept-Encoding"), available)
    body = raw
    if encoding is not None:
        sibling = store.read(rel + (".br" if encoding == "br" else ".gz"))
        if sibling is None:
            encoding = None
        else:
            body = sibling
    etag = f'"{base_tag}-{encoding}"' if encoding else f'"{base_tag}"'
    all_tags = {f'"{base_tag}"', f'"{base_tag}-br"', f'"{base_tag}-gzip"'}
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if available:
        headers["Vary"] = "Accept-Encoding"
    if _etag_matches(request.headers.get("If-None-Match"), all_tags if etag in all_tags else {etag}):
        return Response(b"", status=304, headers=headers)
    resp = Response(body, status=200, content_type=_mime(rel), headers=headers)
    if encoding:
        resp.headers["Content-Encoding"] = encoding
    return resp


@bp.route("/wasm", methods=["GET"])
@doc(
    summary="The Pyodide WebAssembly binary",
    public=True,
    errors=(404, 503),
    tags=["bundle"],
    responses={
        200: {
            "description": "wasm",
            "content": {"application/wasm": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def wasm_binary() -> Response:
    """The main WebAssembly binary (Pyodide's interpreter)."""
    manifest = _store().manifest()
    if manifest is None:
        return _unavailable("manifest.json not found")
    entry = manifest["files"].get("pyodide.asm.wasm")
    if entry is None:
        return _unavailable("manifest has no pyodide.asm.wasm")
    return await _send(entry["file"], entry, CACHE_WASM)


@bp.route("/wasm/", methods=["GET"])
@doc(
    summary="The bundle manifest (same as /wasm/manifest.json)",
    public=True,
    errors=(503,),
    tags=["bundle"],
    responses={200: {"type": "object"}},
)
async def wasm_index() -> Response:
    """Same as ``/wasm/manifest.json``."""
    return await wasm_file("manifest.json")


@bp.route("/wasm/<path:name>", methods=["GET"])
@doc(
    summary="A file of the browser bundle (hashed name, or manifest.json / aimixer.js)",
    public=True,
    errors=(404, 503),
    tags=["bundle"],
    responses={
        200: {
            "description": "the file",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def wasm_file(name: str) -> Response:
    """A file of the bundle, by its hashed name (or the stable ``manifest.json`` / ``aimixer.js``)."""
    store = _store()
    manifest = store.manifest()
    if manifest is None:
        return _unavailable("manifest.json not found")
    if name in STABLE_FILES:
        return await _send(name, None, CACHE_REVALIDATE)
    by_file: dict[str, dict[str, Any]] = manifest.get("_by_file") or {}
    if not by_file:
        by_file = {e["file"]: e for e in manifest["files"].values() if isinstance(e, dict) and "file" in e}
        manifest["_by_file"] = by_file
    entry = by_file.get(name)
    if entry is None:
        return _not_found(name)
    return await _send(name, entry, CACHE_HASHED)


WEB_MIXER_DIR = Path(__file__).resolve().parent.parent / "web" / "mixer"
WEB_MIXER_FILES = {
    "index.html": "text/html; charset=utf-8",
    "mixer.js": "text/javascript; charset=utf-8",
    "export.js": "text/javascript; charset=utf-8",
    "mixer.css": "text/css; charset=utf-8",
}


@bp.route("/mixer", methods=["GET"])
@bp.route("/mixer/", methods=["GET"])
@bp.route("/mixer/<name>", methods=["GET"])
async def web_mixer(name: str = "index.html") -> Response:
    """The in-browser mixer page (``web/mixer/``); only its known files are served."""
    ctype = WEB_MIXER_FILES.get(name)
    data = None
    if ctype is not None:
        try:
            data = (WEB_MIXER_DIR / name).read_bytes()
        except OSError:
            data = None
    if data is None:
        return error_response(404, "ENDPOINT_NOT_FOUND", f"No mixer page file {name!r}", {"file": name})
    return Response(data, status=200, content_type=ctype, headers={"Cache-Control": "no-cache"})


def init_app(app: Quart) -> None:
    """Register the ``/wasm`` routes on ``app``."""
    root = app.config.get("AIMIXER_WASM_DIST") or os.environ.get("AIMIXER_WASM_DIST") or DEFAULT_DIST
    app.extensions["wasm_bundle"] = BundleStore(Path(root))
    app.register_blueprint(bp)
