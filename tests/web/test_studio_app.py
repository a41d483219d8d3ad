"""The studio app's views in headless Chromium against a real origin recording a real sender:
recorder detail (server validation messages, counters, events), archive (search, multi-select
delete, player with waveform), sources (SAP-announced stream -> one-click source)."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
import soundfile as sf

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_recorder_detail_archive_and_sources(recording_server, shared_browser):
    from origin.recorder.sap import build_sap, make_sdp

    url = recording_server.url
    app = recording_server.app
    root = app.extensions["settings"].archive_root
    for h in (10, 11):  # two finished files of an earlier day in recorder 2's folder
        p = root / "recorder2" / "2026-01-10" / f"2026-01-10-{h}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, np.zeros((4800, 2)), 48000, subtype="PCM_16")
    ctx = shared_browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())

        # recorder detail: the server's validation message is shown; a good value is saved
        page.goto(url + "/studio/#/recorder/2")
        page.wait_for_selector("#cfg-port")
        page.fill("#cfg-port", "70000")
        page.click("text=Save configuration")
        page.wait_for_selector("#cfg-message.error")
        assert "port=70000 is out of range" in page.inner_text("#cfg-message")
        page.fill("#cfg-port", "5010")
        page.select_option("#cfg-format", "flac")
        page.click("text=Save configuration")
        page.wait_for_selector("#cfg-message.ok")
        got = httpx.get(url + "/api/recorders/2", timeout=10).json()["config"]
        assert got["port"] == 5010 and got["format"] == "flac"
        # the recording recorder: counters move, events listed, its form locked while recording
        page.goto(url + "/studio/#/recorder/1")
        page.wait_for_selector("#stream-counters")
        received = page.locator("#stream-counters dd").first.inner_text()
        assert received != "–" and int(received) > 0
        assert page.locator("#events li").count() > 0
        assert page.get_by_role("button", name="Save configuration").is_disabled()
        # the loudness history panel is shown (its readings: test_studio_app_loudness.py)
        assert page.locator("#loudness-panel").is_visible()

        # archive: search, multi-select, delete; the player draws the waveform
        page.click("#tabs a[data-view=archive]")
        page.wait_for_selector("#archive-rows tr")
        page.fill("#f-query", "2026-01-10")
        page.click("#archive-filters button[type=submit]")
        page.wait_for_function("() => document.querySelectorAll('#archive-rows tr').length === 2")
        # the hour timeline: one day, hours 10 and 11 filled; a click plays that hour
        assert page.locator("#archive-timeline .day:not(.scale)").count() == 1
        assert page.locator("#archive-timeline .hour.has").count() == 2
        page.locator("#archive-timeline .hour.has").first.click()
        page.wait_for_selector("#archive-player h3:has-text('2026-01-10-10.wav')")
        page.check("#sel-all")
        assert page.inner_text("#sel-count") == "2 selected"
        page.click("#bulk-delete")
        page.wait_for_function("() => document.querySelectorAll('#archive-rows tr').length === 0")
        assert not (root / "recorder2" / "2026-01-10" / "2026-01-10-10.wav").exists()
        page.fill("#f-query", "")
        page.click("#archive-filters button[type=submit]")
        page.wait_for_selector("#archive-rows tr[data-path^='recorder1/']")
        page.locator("#archive-rows tr[data-path^='recorder1/'] .act-open").first.click()
        page.wait_for_selector("#listen-live")  # the file is being recorded
        page.wait_for_function(
            "() => { const c = document.getElementById('waveform'); if (!c) return false;"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " for (let i = 0; i < d.length; i += 4) if (d[i] === 0x3d && d[i + 1] === 0x6e) return true;"
            " return false; }",
            timeout=20000,
        )
        assert "48000 Hz" in page.inner_text("#player-info")
        page.click("#listen-live")
        page.wait_for_function(
            "() => { const a = document.getElementById('archive-audio');"
            " return !a.paused && a.currentTime > 0.5 && /start=[0-9.]+&follow=true/.test(a.src); }",
            timeout=15000,
        )

        # the server side of "listen live": from a time, then following what the recorder appends
        live = page.locator("#archive-rows tr[data-path^='recorder1/']").first.get_attribute("data-path")
        size0 = (root / live).stat().st_size
        got = 0
        with httpx.stream("GET", f"{url}/api/stream/preview/{live}?start=0.5&follow=true", timeout=20) as r:
            assert r.headers["x-recording"] == "true" and "content-length" not in r.headers
            t_end = time.monotonic() + 3
            for chunk in r.iter_bytes():
                if got == 0:
                    assert chunk[:4] == b"RIFF" and chunk[4:8] == b"\xff\xff\xff\xff"  # length unknown
                got += len(chunk)
                if time.monotonic() > t_end:
                    break
        assert got > size0 - 48000 * 6 // 2 + 100_000  # more than was on disk when it started

        # sources: a stream announced over SAP becomes a source with one click
        svc = app.extensions["studio"]
        if svc.sap is not None:
            sdp = make_sdp(
                session_name="Desk 8ch",
                origin_addr="192.0.2.30",
                dest_addr="239.69.46.1",
                port=5004,
                payload_type=98,
                payload="L24",
                sample_rate=48000,
                channels=8,
            )
            svc.sap.handle(build_sap(sdp, "192.0.2.30"))
            page.click("#tabs a[data-view=sources]")
            row = page.locator("#discovered-table tr", has_text="Desk 8ch")
            row.wait_for()
            assert row.locator(".chip").count() == 8
            row.locator(".act-create").click()
            page.locator("#sources-table tr", has_text="Desk 8ch").wait_for()
        assert not errors, errors
    finally:
        ctx.close()
