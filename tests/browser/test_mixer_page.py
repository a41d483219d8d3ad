"""The in-browser mixer page (``/mixer/``): shows where the DSP runs, falls back when the bundle
is blocked, and keeps the page cross-origin isolated."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_page_runs_on_wasm(chromium, wasm_origin) -> None:
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        resp = page.goto(wasm_origin.url + "/mixer/")
        assert resp is not None and resp.status == 200
        assert resp.headers["cross-origin-embedder-policy"] == "require-corp"
        page.wait_for_function("document.getElementById('path').textContent === 'wasm'", timeout=90_000)
        assert page.evaluate("self.crossOriginIsolated") is True
        done = page.eval_on_selector_all("#phases li.done", "els => els.map(e => e.dataset.phase)")
        assert done[:2] == ["runtime", "package"]
        assert not page.is_disabled("#mic")
    finally:
        ctx.close()


def test_page_falls_back_to_origin_when_bundle_blocked(chromium, wasm_origin, support) -> None:
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        blocked: list[str] = []
        sdk = support.ROOT / "wasm" / "js"

        def route(r):  # the SDK entry itself is served from source; the bundle (manifest etc.) is blocked
            url = r.request.url
            if url.endswith("/wasm/aimixer.js"):
                body = (sdk / "aimixer.js").read_text().replace('"./', '"/__sdk__/')
                return r.fulfill(status=200, body=body, headers={"Content-Type": "text/javascript"})
            blocked.append(url)
            return r.abort()

        page.route(f"{wasm_origin.url}/wasm/**", route)
        page.route(  # the SDK's own modules (protocol.js, files.js), from source
            f"{wasm_origin.url}/__sdk__/*.js",
            lambda r: r.fulfill(
                status=200,
                body=(sdk / r.request.url.rsplit("/", 1)[-1]).read_text(),
                headers={"Content-Type": "text/javascript"},
            ),
        )
        page.goto(wasm_origin.url + "/mixer/")
        page.wait_for_function("document.getElementById('path').textContent === 'origin'", timeout=60_000)
        assert any("manifest.json" in u for u in blocked)
        assert "origin" in page.text_content("#status")
        assert page.is_disabled("#mic")
        # the page's mixer still works, through the origin
        out = page.evaluate(
            "async () => { const r = await window.aimixer.processFrame(new Float32Array(960).fill(0.1), {genre: 'jazz'});"
            " return [r.processedBuffer.length, r.metrics.genre, window.aimixer.path]; }"
        )
        assert out == [960, "jazz", "origin"]
    finally:
        ctx.close()
