"""The archive calendar: ``GET /api/assets/calendar`` (days and hours with recordings, one day's
files; scoped by studio; hostile parameters refused) and ``GET /api/assets/disk``, then the
calendar in headless Chromium against a real origin recording a real sender: browse back to an
earlier month, pick a day, narrow to an hour, filter by studio, move with the keyboard."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import numpy as np
import pytest
import soundfile as sf

pytestmark = [pytest.mark.timeout(180)]


def _files(root, rec: str, day: dt.date, hours) -> None:
    for h in hours:
        p = root / rec / day.isoformat() / f"{day.isoformat()}-{h:02d}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, np.zeros((480, 2)), 48000, subtype="PCM_16")


def _setup(recording_server):
    root = recording_server.app.extensions["settings"].archive_root
    day = dt.date.today() - dt.timedelta(days=40)  # an earlier month
    _files(root, "recorder1", day, (8, 9))  # Studio A's recorder
    _files(root, "recorder2", day, (20,))  # a recorder of no studio
    api = httpx.Client(base_url=recording_server.url, timeout=20)
    sid = next(s for s in api.get("/api/studios/").json() if s["name"] == "Studio A")["id"]
    end = time.monotonic() + 30  # the recorder opens today's file with the first packets
    while not any(f["recording"] for f in api.get("/api/assets/search").json()["files"]):
        assert time.monotonic() < end, "the recorder did not open its file"
        time.sleep(0.2)
    return api, day, sid


def test_calendar_api_counts_days_and_hours_by_studio(recording_server):
    api, day, sid = _setup(recording_server)
    month = day.isoformat()[:7]
    got = api.get("/api/assets/calendar", params={"month": month}).json()
    d = got["days"][day.isoformat()]
    assert d["files"] == 3 and d["hours"][8] == 1 and d["hours"][9] == 1 and d["hours"][20] == 1
    assert sum(d["hours"]) == 3 and d["recording"] is False
    only_a = api.get("/api/assets/calendar", params={"month": month, "studio_id": sid}).json()
    assert only_a["days"][day.isoformat()]["files"] == 2
    files = api.get("/api/assets/calendar", params={"date": day.isoformat(), "studio_id": sid}).json()[
        "files"
    ]
    assert [(f["hour"], f["name"]) for f in files] == [
        (8, f"{day.isoformat()}-08.wav"),
        (9, f"{day.isoformat()}-09.wav"),
    ]
    today = dt.date.today()  # the file being recorded now is today's (local clock layout)
    now = api.get("/api/assets/calendar", params={"month": today.isoformat()[:7]}).json()["days"]
    assert now[today.isoformat()]["recording"] is True
    for params, words in (
        ({}, "either month"),
        ({"month": "2026-13"}, "not a month"),
        ({"month": "x" * 5000}, "not a month"),
        ({"month": "2026-01", "date": "2026-01-02"}, "either month"),
        ({"date": "2026-02-30"}, "not a date"),
        ({"month": "2026-01", "studio_id": "nope"}, "not found"),
    ):
        r = api.get("/api/assets/calendar", params=params)
        assert r.status_code in (400, 404), (params, r.text)
        assert words in r.json()["detail"]
    disk = api.get("/api/assets/disk").json()
    assert 0 < disk["free"] <= disk["total"] and disk["used"] <= disk["total"]


@pytest.mark.browser
def test_archive_calendar_in_the_browser(recording_server, shared_browser):
    api, day, sid = _setup(recording_server)
    url = recording_server.url
    today = dt.date.today()
    back = (today.year * 12 + today.month) - (day.year * 12 + day.month)
    ctx = shared_browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/studio/#/archive")
        page.wait_for_selector(f'.cal-day.live[data-date="{today.isoformat()}"]')  # today: recording now
        for _ in range(back):
            title = page.inner_text("#cal-title")
            page.click("#cal-prev")
            page.wait_for_function("t => document.getElementById('cal-title').textContent !== t", arg=title)
        cell = page.locator(f'.cal-day[data-date="{day.isoformat()}"]')
        cell.wait_for()
        page.wait_for_function(
            "d => document.querySelector(`.cal-day[data-date=\"${d}\"]`).classList.contains('has')",
            arg=day.isoformat(),
        )
        assert cell.locator(".cal-count").inner_text() == "3"
        assert cell.locator(".cal-hours i.on").count() == 3
        assert page.locator(".cal-day.has").count() == 1
        cell.click()
        page.wait_for_function("() => document.querySelectorAll('#archive-rows tr').length === 3")
        assert page.locator("#day-hours .hour.has").count() == 3
        assert f"3 files on {day.isoformat()}" in page.inner_text("#archive-status")
        page.click('#day-hours .hour.has[data-hour="20"]')
        page.wait_for_function("() => document.querySelectorAll('#archive-rows tr').length === 1")
        assert page.locator("#archive-rows tr").get_attribute("data-path").startswith("recorder2/")
        # the studio filter narrows the calendar to Studio A's recorder
        page.select_option("#f-studio", sid)
        page.wait_for_function(
            "d => document.querySelector(`.cal-day[data-date=\"${d}\"] .cal-count`)?.textContent === '2'",
            arg=day.isoformat(),
        )
        # keyboard: arrows move between days
        page.locator(f'.cal-day[data-date="{day.isoformat()}"]').focus()
        page.keyboard.press("ArrowDown" if day.day <= 21 else "ArrowUp")
        moved = day + dt.timedelta(days=7 if day.day <= 21 else -7)
        assert page.evaluate("() => document.activeElement.dataset.date") == moved.isoformat()
        page.keyboard.press("Enter")
        page.wait_for_function(
            "d => document.getElementById('archive-status').textContent === `0 files on ${d}`",
            arg=moved.isoformat(),
        )
        assert not errors, errors
    finally:
        ctx.close()


def test_file_slot_reads_the_name_and_falls_back_to_the_modification_time():
    from origin.studio.assets import file_slot

    mod = "2026-05-06T07:08:09Z"
    local = dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC).astimezone()
    fallback = (local.date().isoformat(), local.hour)
    assert file_slot({"name": "2026-12-07-13.wav", "modified": mod}) == ("2026-12-07", 13)
    assert file_slot({"name": "rec_2026-12-07T05-00-00.flac", "modified": mod}) == ("2026-12-07", 5)
    assert file_slot({"name": "2026-12-07.wav", "modified": mod}) == ("2026-12-07", 0)
    assert file_slot({"name": "2026-02-30-10.wav", "modified": mod}) == fallback  # no such day
    assert file_slot({"name": "2026-12-07-99.wav", "modified": mod}) == fallback  # no such hour
    assert file_slot({"name": "take one.wav", "modified": mod}) == fallback
    hierarchy = {"name": "archive.wav", "path": "recorder1/2026/12/07/05/archive.wav", "modified": mod}
    assert file_slot(hierarchy) == ("2026-12-07", 5)
    assert (
        file_slot({"name": "archive.wav", "path": "recorder1/9999/99/99/05/archive.wav", "modified": mod})
        == fallback
    )
