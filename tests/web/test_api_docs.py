"""``/docs`` in headless Chromium: Swagger UI, loaded from the origin's own assets, lists the
operations of both APIs, and no request leaves 127.0.0.1 (no CDN, no validator badge)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from browserenv import CHROMIUM, parity_support
from liveserver import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture
def docs_server(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    from origin.apidocs import SWAGGER_DIR
    from origin.app import create_app
    from origin.config import load_settings

    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        pytest.fail("node_modules/swagger-ui-dist missing: run npm install")
    srv = LiveServer(create_app(load_settings(env={}, data_dir=tmp_path / "data", dev_mode=True))).start(30)
    yield srv
    srv.stop()


def test_docs_page_lists_operations_from_local_assets(docs_server):
    ctx = parity_support().shared_browser().new_context()
    requested: list[str] = []
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(docs_server.url + "/docs")
        page.wait_for_selector(".opblock", timeout=30000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        ids = set(page.evaluate("() => [...document.querySelectorAll('.opblock')].map(e => e.id)"))
    finally:
        ctx.close()
    flat = {p.replace("\u200b", "").strip() for p in paths}
    for needle in (
        "/process-audio",
        "/api/studios/",
        "/api/recorders/{recorder_id}/start",
        "/ws/levels",
        "/auth/me",
    ):
        assert needle in flat, (needle, sorted(flat)[:20])
    doc = httpx.get(docs_server.url + "/openapi.json").json()
    assert len(ids) == sum(len(ops) for ops in doc["paths"].values())  # every operation is listed
    assert not errors, errors
    hosts = {urlsplit(u).hostname for u in requested if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(set(requested))
    assert any(u.endswith("/openapi.json") for u in requested)
