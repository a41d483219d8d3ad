"""The worker's modules (``engine.js`` and what it imports: ``startup.js``, ``frames.js``,
``pycall.js``, ``model.js``, ``live.js``, ``stats.js``, ...) ship in the bundle under hashed names
with their imports rewritten, and the edge (through to an origin) serves each of them, byte for
byte, so the worker loads in a browser behind the CDN."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(\s*)["']\./([^"']+\.m?js)["']""")


def _closure(bundle: dict, entry: str) -> set[str]:
    """The hashed files reachable from ``entry`` (a logical name) through relative imports."""
    dist = ROOT / "wasm" / "dist"
    todo = [bundle["files"][entry]["file"]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_IMPORT.findall((dist / name).read_text()))
    return seen


def test_every_worker_module_is_shipped_and_served(edge_pair, bundle) -> None:
    files = {e["file"] for e in bundle["files"].values()}
    sources = {p.name for p in (ROOT / "wasm" / "js").glob("*.js")}
    assert sources <= set(bundle["files"]), sources - set(bundle["files"])
    reach = _closure(bundle, "worker.js")
    for logical in ("engine.js", "startup.js", "frames.js", "pycall.js", "model.js", "live.js", "stats.js"):
        assert bundle["files"][logical]["file"] in reach, logical
    assert reach <= files, reach - files  # every import points at a shipped, hashed file
    dist = ROOT / "wasm" / "dist"
    for name in sorted(reach):
        r = httpx.get(f"{edge_pair.edge.url}/wasm/{name}", headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200, name
        assert r.content == (dist / name).read_bytes(), name
        assert "javascript" in r.headers["content-type"], name
