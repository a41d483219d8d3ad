"""The studio app through a network break: the origin goes away and comes back on the same
address; the levels indicator shows the outage with its retry delay and goes live again by
itself (reconnect with backoff), and the failed refreshes show a message."""

from __future__ import annotations

from pathlib import Path

import pytest
from browserenv import CHROMIUM
from liveserver import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_levels_socket_reconnects_after_the_origin_returns(tmp_path, shared_browser):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    from origin.app import create_app
    from origin.config import load_settings

    settings = load_settings(env={}, data_dir=tmp_path / "data", dev_mode=True)
    srv = LiveServer(create_app(settings)).start(30)
    port = srv.port
    ctx = shared_browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(srv.url + "/studio/")
        page.wait_for_selector("#ws-status.pill-on", timeout=15000)
        srv.stop()  # the break: the socket closes, requests fail
        page.wait_for_function(
            "() => /offline · retry in \\d+ s/.test(document.getElementById('ws-status').textContent)",
            timeout=15000,
        )
        page.wait_for_selector("#error:not(:empty)", timeout=10000)  # a failed refresh is reported
        srv = LiveServer(create_app(settings), port=port).start(30)  # back at the same address
        page.wait_for_selector("#ws-status.pill-on", timeout=30000)
        assert page.inner_text("#ws-status") == "live"
    finally:
        ctx.close()
        srv.stop()
