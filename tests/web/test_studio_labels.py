"""The studio monitor shows the stream's channel labels (ST 2110-30 channel order / Dante names
carried into ``channel_names``) on its meters instead of positional guesses."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from browserenv import CHROMIUM
from liveserver import LiveServer
from netutil import free_udp_port, unique_group

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

LABELS = ["L", "R", "C", "LFE", "Ls", "Rs"]


def test_meters_carry_the_stream_labels(tmp_path, shared_browser):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed")
    from origin.app import create_app
    from origin.config import load_settings

    srv = LiveServer(create_app(load_settings(env={}, data_dir=tmp_path / "data", dev_mode=True))).start(30)
    group, port = unique_group("239.75"), free_udp_port()
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
            "--channels",
            "6",
            "--channel-names",
            ",".join(LABELS),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ctx = None
    try:
        c = httpx.Client(base_url=srv.url, timeout=20)
        r = c.put(
            "/api/recorders/1/config",
            json={
                "multicast_addr": group,
                "port": port,
                "interface": "127.0.0.1",
                "channels": 6,
                "stream_channels": 6,
                "channel_names": LABELS,
            },
        )
        assert r.status_code == 200, r.text
        assert c.post("/api/recorders/1/start").status_code == 200
        ctx = shared_browser.new_context()
        page = ctx.new_page()
        page.goto(srv.url + "/studio/")
        card = page.locator('.rec[data-recorder-id="1"]')
        card.wait_for(timeout=15000)
        page.wait_for_function(
            "() => document.querySelectorAll('.rec[data-recorder-id=\"1\"] .meter').length === 6",
            timeout=20000,
        )
        names = card.locator(".meter-name").all_inner_texts()
        assert names == LABELS
        c.post("/api/recorders/1/stop")
    finally:
        if ctx is not None:
            ctx.close()
        sender.send_signal(signal.SIGTERM)
        sender.wait(10)
        srv.stop()
