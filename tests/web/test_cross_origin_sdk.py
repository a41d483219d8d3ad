"""A page of another site uses the API from Chromium (``cors_origins``): it loads the JS SDK from
the API's host, processes a frame on the origin path with its key and reads the rate-limit
headers; a page of an origin that is not allowed is stopped by the browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from browserenv import CHROMIUM
from liveserver import LiveServer
from netutil import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

USE_API = """async ([api, key]) => {
  const { AIMixer } = await import(api + "/wasm/aimixer.js");
  const mixer = await AIMixer.create({ baseUrl: api, apiKey: key, prefer: "origin" });
  const out = await mixer.processFrame(new Float32Array(960).fill(0.1), { genre: "rock" });
  const r = await fetch(api + "/stats", { headers: { Authorization: "Bearer " + key } });
  return {
    path: mixer.path,
    samples: out.processedBuffer.length,
    genre: out.metrics.genre,
    remaining: r.headers.get("X-RateLimit-Remaining"),
    requestId: r.headers.get("X-Request-Id"),
    pageOrigin: location.origin,
  };
}"""

BLOCKED = """async ([api, key]) => {
  try {
    await fetch(api + "/process-audio", {
      method: "POST",
      headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
      body: JSON.stringify({ audioBuffer: new Array(960).fill(0) }),
    });
    return "answered";
  } catch (e) {
    return "blocked: " + e.name;
  }
}"""


def test_an_allowed_site_uses_the_sdk_and_another_is_blocked(tmp_path, shared_browser):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    from origin.app import create_app
    from origin.auth.apikeys import create_key
    from origin.config import load_settings

    port = free_tcp_port()
    site = f"http://localhost:{port}"  # another origin than http://127.0.0.1:{port}: another host
    settings = load_settings(env={}, data_dir=tmp_path / "data", dev_mode=False, cors_origins=site)
    app = create_app(settings)
    _, key = create_key(app.extensions["storage"], "site", "standard")
    srv = LiveServer(app, port=port).start(30)
    ctx = shared_browser.new_context()
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site + "/health")
        got = page.evaluate(USE_API, [srv.url, key])
        assert got["pageOrigin"] == site and got["path"] == "origin"
        assert got["samples"] == 960 and got["genre"] == "rock"
        assert got["remaining"] is not None and int(got["remaining"]) >= 0
        assert got["requestId"]
        # the API's own host is not in the list: as a page, it may not call localhost's API
        page.goto(srv.url + "/health")
        assert page.evaluate(BLOCKED, [site, key]) == "blocked: TypeError"
        assert not errors, errors
    finally:
        ctx.close()
        srv.stop()
