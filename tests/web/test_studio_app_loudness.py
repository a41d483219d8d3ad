"""The studio app's loudness panels and alerts against a real origin recording a real sender:
the recorder's loudness history chart and readouts, the short-term / true-peak readouts on the
overview, the loudness curve over the player's waveform and the per-file EBU R 128 report (JSON
and the printable page) — each compared with what the real endpoints answer — and alerts (a
loudness excursion and a lost stream from a real sender) on the card, the summary strip and the
live events log."""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys

import httpx
import pytest
from netutil import free_udp_port, unique_group

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

#: JS: does the canvas `id` hold a pixel of colour (r, g, b) (within 8 per channel)?
HAS_COLOUR = """([id, r, g, b]) => { const c = document.getElementById(id); if (!c || !c.width) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4)
    if (Math.abs(d[i] - r) < 8 && Math.abs(d[i + 1] - g) < 8 && Math.abs(d[i + 2] - b) < 8) return true;
  return false; }"""
GREEN = (0x4C, 0xAF, 0x50)  # the short-term line
AMBER = (0xFF, 0xB3, 0x00)  # the target line


def _lufs(text: str) -> float:
    m = re.search(r"(-?\d+\.\d) (?:LUFS|dBTP)", text)
    assert m, text
    return float(m.group(1))


def _sender(group: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "sender",
            "--dest",
            f"{group}:{port}",
            "--interface",
            "127.0.0.1",
        ]
        + ["--program", "music"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_loudness_panels_show_the_recorders_real_log(recording_server, shared_browser):
    url = recording_server.url
    api = httpx.Client(base_url=url, timeout=20)
    ctx = shared_browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # overview: short-term LUFS of the programme and true peak per channel
        page.goto(url + "/studio/")
        card = page.locator('.rec[data-recorder-id="1"]')
        page.wait_for_function(
            "() => { const e = document.querySelector('.rec[data-recorder-id=\"1\"] .rec-loud');"
            " return e && e.dataset.shortTerm; }",
            timeout=20000,
        )
        now = dt.datetime.now(dt.UTC)
        series = api.get(
            "/api/recorders/1/loudness", params={"from": (now - dt.timedelta(seconds=30)).isoformat()}
        ).json()["series"]
        s_api = [r["S"] for r in series if r["S"] is not None][-1]
        shown = float(card.locator(".rec-loud").get_attribute("data-short-term"))
        assert abs(shown - s_api) < 1.0  # the steady music programme: same reading within 1 LU
        assert "LUFS" in card.locator(".loud-st").inner_text()
        meter = card.locator(".meter").first
        page.wait_for_function(
            "() => document.querySelector('.rec[data-recorder-id=\"1\"] .meter[data-true-peak-db]')"
        )
        levels = api.get("/api/recorders/1/levels").json()["levels"]
        tp_shown = float(meter.get_attribute("data-true-peak-db"))
        assert abs(tp_shown - levels[0]["true_peak_db"]) < 3.0
        assert re.fullmatch(r"-?\d+\.\d / -?\d+\.\d", meter.locator(".meter-tp").inner_text())

        # recorder detail: the history chart draws the log's series, readouts match the API
        page.goto(url + "/studio/#/recorder/1")
        page.wait_for_function(
            "() => Number(document.getElementById('loudness-chart')?.dataset.points || 0) > 0", timeout=20000
        )
        page.wait_for_function(HAS_COLOUR, arg=["loudness-chart", *GREEN], timeout=15000)  # short-term
        assert page.evaluate(HAS_COLOUR, ["loudness-chart", *AMBER])  # -23 LUFS target line
        now = dt.datetime.now(dt.UTC)
        hist = api.get(
            "/api/recorders/1/loudness",
            params={"from": (now - dt.timedelta(hours=3)).isoformat(), "to": now.isoformat(), "step": 10},
        ).json()["series"]
        tp_max = max(r["TP"] for r in hist if r["TP"] is not None)
        shown_tp = _lufs(page.inner_text('#loudness-now [data-key="tp"]'))
        assert abs(shown_tp - tp_max) < 1.0
        assert abs(_lufs(page.inner_text('#loudness-now [data-key="st"]')) - s_api) < 1.0
        page.select_option("#loudness-range", "60")  # another range redraws from the endpoint
        page.wait_for_function("() => Number(document.getElementById('loudness-chart').dataset.points) > 0")

        # player: the file's short-term curve over its waveform, and its R 128 report
        page.click("#tabs a[data-view=archive]")
        row = page.locator("#archive-rows tr[data-path^='recorder1/']").first
        row.wait_for()
        path = row.get_attribute("data-path")
        row.locator(".act-open").click()
        page.wait_for_selector("#r128-verdict", timeout=20000)
        page.wait_for_function(
            "() => Number(document.getElementById('waveform')?.dataset.curvePoints || 0) > 0", timeout=20000
        )
        page.wait_for_function(HAS_COLOUR, arg=["waveform", *GREEN])
        rep = api.get(f"/api/assets/report/{path}", params={"target": "ebu-r128"}).json()
        assert page.inner_text("#r128-verdict") == ("compliant" if rep["compliant"] else "not compliant")
        integ = page.inner_text('#r128-report tr[data-check="integrated"]')
        assert abs(_lufs(integ) - rep["measured"]["integrated"]) < 0.5
        assert ("pass" if rep["checks"][0]["pass"] else "FAIL") in integ
        with ctx.expect_page() as popup:
            page.click("#r128-print")
        printable = popup.value
        printable.wait_for_load_state()
        assert "Loudness compliance report" in printable.inner_text("body")
        assert path in printable.inner_text("body")
        printable.close()
        assert not errors, errors
    finally:
        ctx.close()


def test_alerts_reach_the_card_summary_and_events_log(recording_server, shared_browser):
    """Recorder 2 records its own sender with a loudness alarm at -20 LUFS (the music is about
    -14): the loudness alert shows; then the sender stops: stream lost shows, and clears when
    the sender is back."""
    url = recording_server.url
    api = httpx.Client(base_url=url, timeout=20)
    group, port = unique_group("239.73"), free_udp_port()
    r = api.put(
        "/api/recorders/2/config",
        json={
            "multicast_addr": group,
            "port": port,
            "interface": "127.0.0.1",
            "loudness_limit_lufs": -20,
            "loudness_seconds": 1,
            "stream_lost_seconds": 1,
        },
    )
    assert r.status_code == 200, r.text
    sender = _sender(group, port)
    ctx = shared_browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        assert api.post("/api/recorders/2/start").status_code == 200
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/studio/")
        card = page.locator('.rec[data-recorder-id="2"]')
        card.locator('.rec-alerts li[data-kind="recorder.loudness"]').wait_for(timeout=30000)
        assert "alerting" in card.get_attribute("class")
        assert int(page.inner_text("#sum-alerting")) >= 1
        # the detail view: the alarm limit line in the legend, events arrive live on the socket
        page.goto(url + "/studio/#/recorder/2")
        page.wait_for_selector('#events li[data-kind="recorder.loudness"]')
        assert "alarm -20 LUFS" in page.inner_text("#loudness-panel .legend")
        sender.send_signal(signal.SIGTERM)
        sender.wait(10)
        page.wait_for_selector('#events li.new[data-kind="recorder.stream_lost"]', timeout=20000)
        page.goto(url + "/studio/")
        card.locator('.rec-alerts li[data-kind="recorder.stream_lost"]').wait_for(timeout=15000)
        # recorder 2's stream is not healthy any more (recorder 1's may be)
        page.wait_for_function(
            "() => ['0/2', '1/2'].includes(document.getElementById('sum-streams').textContent)"
        )
        sender = _sender(group, port)
        card.locator('.rec-alerts li[data-kind="recorder.stream_lost"]').wait_for(
            state="detached", timeout=20000
        )
        assert not errors, errors
    finally:
        api.post("/api/recorders/2/stop")
        sender.send_signal(signal.SIGTERM)
        sender.wait(10)
        ctx.close()
