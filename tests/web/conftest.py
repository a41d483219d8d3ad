"""Fixtures of the web app tests: a real origin recording a real sender, the shared Chromium."""

from __future__ import annotations

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
    app = create_app(settings)
    srv = _serve(app)
    srv.app = app
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


@pytest.fixture
def shared_browser():
    """The one headless Chromium of this test process (tests/parity/_support.py).

    Playwright's sync API allows one driver per thread, and the parity and browser suites may
    already have started it in this process, so every browser test shares it.
    """
    return parity_support().shared_browser()
