"""The studio monitor in headless Chromium: live meters move and the recording is listed.

A real origin (dev mode, Hypercorn on a free port) records a real ``aimixer sender`` (music
programme) on a unique multicast group over loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from browserenv import CHROMIUM, parity_support
from liveserver import LiveServer
from netutil import free_udp_port, unique_group

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def _serve(app) -> LiveServer:
    """The origin on Hypercorn in a thread, once the studio API answers."""
    srv = LiveServer(app).start(30)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            if httpx.get(srv.url + "/api/recorders/active-count", timeout=1).status_code == 200:
                return srv
        except httpx.HTTPError:
            time.sleep(0.1)
    srv.stop()
    raise RuntimeError("server did not start")


@pytest.fixture
def recording_server(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    from origin.app import create_app
    from origin.config import load_settings

    settings = load_settings(env={}, data_dir=tmp_path / "data", dev_mode=True)
    srv = _serve(create_app(settings))
    group = unique_group("239.72")
    port = free_udp_port()
    sender = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "sender",
            "--dest",
            f"{group}:{port}",
            "--interface",
            "127.0.0.1",
            "--program",
            "music",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        c = httpx.Client(base_url=srv.url, timeout=20)
        sid = c.post("/api/studios/", json={"name": "Studio A", "color": "#F44336"}).json()["id"]
        c.post(f"/api/studios/{sid}/assign", json={"recorder_id": 1})
        r = c.put(
            "/api/recorders/1/config", json={"multicast_addr": group, "port": port, "interface": "127.0.0.1"}
        )
        assert r.status_code == 200, r.text
        assert c.post("/api/recorders/1/start").status_code == 200
        yield srv
        c.post("/api/recorders/1/stop")
    finally:
        sender.send_signal(signal.SIGTERM)
        sender.wait(10)
        srv.stop()


def _shared_browser():
    """The one headless Chromium of this test process (tests/parity/_support.py).

    Playwright's sync API allows one driver per thread, and the parity and browser suites may
    already have started it in this process, so every browser test shares it.
    """
    return parity_support().shared_browser()


def test_studio_page_shows_live_meters_and_recordings(recording_server):
    url = recording_server.url
    ctx = _shared_browser().new_context()
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.click("#studio-link")
        page.wait_for_url("**/studio/")
        page.wait_for_selector("#ws-status.pill-on", timeout=15000)
        card = page.locator('.rec[data-recorder-id="1"]')
        card.wait_for(timeout=15000)
        assert "Studio A" in card.locator(".rec-name").inner_text()
        page.wait_for_selector('.rec[data-recorder-id="1"][data-state="recording"]', timeout=15000)
        meter = card.locator(".meter").first
        meter.wait_for(timeout=15000)
        seen = set()
        end = time.monotonic() + 15
        while time.monotonic() < end and len(seen) < 4:
            v = meter.get_attribute("data-level-db")
            if v is not None and float(v) > -60:
                seen.add(v)
            page.wait_for_timeout(150)
        assert len(seen) >= 4, f"meter did not move: {seen}"
        row = page.locator('#recordings tr[data-path^="recorder1/"]').first
        row.wait_for(timeout=15000)
        assert (
            row.locator(".act-download").get_attribute("href").startswith("/api/assets/download/recorder1/")
        )
        row.locator(".act-play").click()
        page.wait_for_function(
            "() => { const a = document.getElementById('player');"
            " return a.src.includes('/api/stream/preview/recorder1/') && a.readyState >= 1 && !a.error; }",
            timeout=15000,
        )
        assert not errors, errors
        if os.environ.get("AIMIXER_UI_SCREENSHOT"):
            page.screenshot(path=os.environ["AIMIXER_UI_SCREENSHOT"], full_page=True)
    finally:
        ctx.close()
