"""The studio monitor in headless Chromium: live meters move and the recording is listed.

A real origin (dev mode, Hypercorn on a free port) records a real ``aimixer sender`` (music
programme) on a unique multicast group over loopback.
"""

from __future__ import annotations

import os
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_studio_page_shows_live_meters_and_recordings(recording_server, shared_browser):
    url = recording_server.url
    ctx = shared_browser.new_context()
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
