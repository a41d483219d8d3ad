"""Tests of ``origin.wasm_api``: serving the browser bundle (``/wasm``)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from origin.wasm_api import BundleStore, negotiate_encoding

try:
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

WASM = b"\x00asm\x01\x00\x00\x00" + bytes(range(256)) * 64
JS = b"export const x = 1;\n" * 200


def _entry(rel: str, data: bytes, root: Path, *, compress: bool = True) -> dict:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)
    gz = br = None
    if compress:
        g = gzip.compress(data, mtime=0)
        (root / (rel + ".gz")).write_bytes(g)
        gz = len(g)
        if brotli is not None:
            b = brotli.compress(data)
            (root / (rel + ".br")).write_bytes(b)
            br = len(b)
    return {"file": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "gzip": gz, "br": br}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    root.mkdir()
    files = {
        "pyodide.asm.wasm": _entry("pyodide-abc123/pyodide.asm.wasm", WASM, root),
        "aimixer.js": _entry("aimixer.0123456789ab.js", JS, root),
        "python_stdlib.zip": _entry(
            "python_stdlib.feedfacecafe.zip", b"PK\x05\x06" + b"\0" * 18, root, compress=False
        ),
        "genre.onnx": _entry("genre.aaaaaaaaaaaa.onnx", b"\x08\x07" * 100, root),
    }
    (root / "manifest.json").write_text(json.dumps({"version": 1, "files": files}))
    (root / "aimixer.js").write_text('export * from "./aimixer.0123456789ab.js";\n')
    (tmp_path / "secret.txt").write_text("top secret")
    return root


@pytest.fixture
async def wasm_app(settings):
    """The origin app with only the wasm domain registered (independent of the other domains)."""
    from origin.app import create_app

    application = create_app(settings, packages=("origin.wasm_api",))
    async with application.test_app():
        yield application


@pytest.fixture
def wclient(wasm_app, bundle: Path):
    wasm_app.extensions["wasm_bundle"] = BundleStore(bundle)
    return wasm_app.test_client()


async def test_wasm_binary_headers(wclient) -> None:
    r = await wclient.get("/wasm")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/wasm"
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    etag = r.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert await r.get_data() == WASM
    assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"


async def test_wasm_304_on_if_none_match(wclient) -> None:
    r = await wclient.get("/wasm")
    r2 = await wclient.get("/wasm", headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 304
    assert await r2.get_data() == b""
    assert r2.headers["ETag"] == r.headers["ETag"]
    r3 = await wclient.get("/wasm", headers={"If-None-Match": '"something-else"'})
    assert r3.status_code == 200


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", "gzip"),
        ("br, gzip", "br"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("identity", None),
    ],
)
async def test_encoding_negotiation(wclient, accept: str, expected: str | None) -> None:
    if expected == "br" and brotli is None:
        pytest.skip("brotli module not installed")
    r = await wclient.get("/wasm", headers={"Accept-Encoding": accept})
    assert r.status_code == 200
    assert r.headers.get("Content-Encoding") == expected
    assert r.headers["Vary"] == "Accept-Encoding"
    body = await r.get_data()
    if expected == "gzip":
        assert gzip.decompress(body) == WASM
    elif expected == "br":
        assert brotli.decompress(body) == WASM
    else:
        assert body == WASM
    # each representation has its own strong ETag, and it revalidates
    r2 = await wclient.get("/wasm", headers={"Accept-Encoding": accept, "If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 304


async def test_hashed_files_are_immutable_and_typed(wclient) -> None:
    r = await wclient.get("/wasm/aimixer.0123456789ab.js")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert r.headers["Cache-Control"] == "public, max-age=86400, immutable"
    assert await r.get_data() == JS
    z = await wclient.get("/wasm/python_stdlib.feedfacecafe.zip", headers={"Accept-Encoding": "gzip, br"})
    assert z.headers["Content-Type"] == "application/zip"
    assert "Content-Encoding" not in z.headers  # no sibling: identity
    o = await wclient.get("/wasm/genre.aaaaaaaaaaaa.onnx")
    assert o.headers["Content-Type"] == "application/octet-stream"
    w = await wclient.get("/wasm/pyodide-abc123/pyodide.asm.wasm")
    assert w.headers["Content-Type"] == "application/wasm"


async def test_manifest_and_stub_revalidate(wclient, bundle: Path) -> None:
    r = await wclient.get("/wasm/manifest.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "public, no-cache"
    assert json.loads(await r.get_data())["files"]["aimixer.js"]["file"] == "aimixer.0123456789ab.js"
    r2 = await wclient.get("/wasm/manifest.json", headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 304
    s = await wclient.get("/wasm/aimixer.js")
    assert s.headers["Content-Type"].startswith("text/javascript")
    assert b"aimixer.0123456789ab.js" in await s.get_data()


@pytest.mark.parametrize(
    "path",
    [
        "/wasm/../secret.txt",
        "/wasm/%2e%2e/secret.txt",
        "/wasm/..%2fsecret.txt",
        "/wasm/etc/passwd",
        "/wasm/pyodide-abc123/../../secret.txt",
        "/wasm/nope.js",
        "/wasm/aimixer.0123456789ab.js.gz",
    ],
)
async def test_unknown_and_traversal_paths_are_404(wclient, path: str) -> None:
    r = await wclient.get(path)
    assert r.status_code == 404
    body = await r.get_json()
    assert body["error"]["code"] == "ENDPOINT_NOT_FOUND"
    assert b"top secret" not in await r.get_data()


async def test_missing_bundle_is_503(wasm_app, tmp_path: Path) -> None:
    wasm_app.extensions["wasm_bundle"] = BundleStore(tmp_path / "does-not-exist")
    client = wasm_app.test_client()
    for path in ("/wasm", "/wasm/manifest.json", "/wasm/x.js"):
        r = await client.get(path)
        assert r.status_code == 503
        err = (await r.get_json())["error"]
        assert err["code"] == "SERVICE_UNAVAILABLE"
        assert "build_bundle.py" in err["message"]
        assert err["requestId"]


def test_negotiate_encoding_unit() -> None:
    assert negotiate_encoding(None, {"br", "gzip"}) is None
    assert negotiate_encoding("*", {"gzip"}) == "gzip"
    assert negotiate_encoding("br;q=0.2, gzip;q=0.1", {"br", "gzip"}) == "br"
    assert negotiate_encoding("br", {"gzip"}) is None
    assert negotiate_encoding("gzip;q=bogus", {"gzip"}) is None


def test_real_server_serves_wasm_with_compression(serve_app, make_settings, bundle: Path) -> None:
    from origin.app import create_app

    app = create_app(make_settings(), packages=("origin.wasm_api",))
    app.extensions["wasm_bundle"] = BundleStore(bundle)
    server = serve_app(app)
    with httpx.Client(base_url=server.url, timeout=10) as c:
        r = c.get("/wasm", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert r.content == WASM  # httpx decodes
        r2 = c.get("/wasm", headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]})
        assert r2.status_code == 304
        # traversal straight on the wire (no client-side normalisation)
        r3 = c.get("/wasm/..%2F..%2Fsecret.txt")
        assert r3.status_code == 404


async def test_head_and_mixer_page(wclient) -> None:
    h = await wclient.head("/wasm")
    assert h.status_code == 200
    assert h.headers["Content-Type"] == "application/wasm"
    page = await wclient.get("/mixer/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"/wasm/aimixer.js" in await (await wclient.get("/mixer/mixer.js")).get_data()
    assert (await wclient.get("/mixer/../origin/app.py")).status_code == 404
    missing = await wclient.get("/mixer/nope.html")
    assert missing.status_code == 404
    assert (await missing.get_json())["error"]["code"] == "ENDPOINT_NOT_FOUND"
