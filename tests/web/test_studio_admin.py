"""The studio selector and the admin studio management view in headless Chromium against a real
origin recording a real sender: selecting a studio narrows the app and is kept per user on the
server (and restored on the next visit); an admin creates, renames, assigns, unassigns and
deletes studios, and sees the server's validation messages as they come."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_studio_selector_is_kept_per_user_and_narrows_the_view(recording_server, shared_browser):
    url = recording_server.url
    api = httpx.Client(base_url=url, timeout=20)
    a = next(s for s in api.get("/api/studios/").json() if s["name"] == "Studio A")
    ctx = shared_browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/studio/")
        page.wait_for_selector('.rec[data-recorder-id="2"]')
        assert page.input_value("#studio-select") == ""  # an admin starts with all studios
        page.select_option("#studio-select", a["id"])
        page.wait_for_function("() => document.querySelectorAll('.rec').length === 1")
        assert page.locator('.rec[data-recorder-id="1"]').count() == 1
        page.wait_for_function(
            "async (sid) => (await (await fetch('/api/studios/current-selection')).json()).studio_id === sid",
            arg=a["id"],
        )
        page.reload()  # the next visit lands in the selected studio
        page.wait_for_selector('.rec[data-recorder-id="1"]')
        assert page.input_value("#studio-select") == a["id"]
        assert page.locator(".rec").count() == 1
        assert page.input_value("#rec-studio") == a["id"]
        page.select_option("#studio-select", "")
        page.wait_for_selector('.rec[data-recorder-id="3"]')
        page.wait_for_function(
            "async () => (await (await fetch('/api/studios/current-selection')).json()).studio_id === null"
        )
        assert not errors, errors
    finally:
        ctx.close()


def test_admin_manages_studios_with_server_validation(recording_server, shared_browser):
    url = recording_server.url
    api = httpx.Client(base_url=url, timeout=20)
    ctx = shared_browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())
        page.goto(url + "/studio/#/studios")
        page.wait_for_selector("#studio-create")
        # a bad id: the server's own message is shown, nothing is created
        bad = api.post("/api/studios/", json={"name": "Studio B", "id": "bad id!", "color": "#2196F3"})
        assert bad.status_code == 400
        page.fill("#sc-name", "Studio B")
        page.fill("#sc-id", "bad id!")
        page.click("#studio-create button[type=submit]")
        page.wait_for_selector("#studios-message.error")
        assert bad.json()["detail"] in page.inner_text("#studios-message")
        assert len(api.get("/api/studios/").json()) == 1
        # created
        page.fill("#sc-id", "studio-b")
        page.click("#studio-create button[type=submit]")
        row = page.locator('#studios-table tr[data-studio-id="studio-b"]')
        row.wait_for()
        assert "created" in page.inner_text("#studios-message")
        assert api.get("/api/studios/studio-b").json()["name"] == "Studio B"
        # the new studio is offered by the selector at once
        assert "Studio B" in page.inner_text("#studio-select")
        # renamed; an empty name is refused by the server with its message
        row.locator(".st-name").fill("")
        row.locator(".act-save").click()
        page.wait_for_selector("#studios-message.error")
        assert "Not saved:" in page.inner_text("#studios-message")
        assert api.get("/api/studios/studio-b").json()["name"] == "Studio B"
        row.locator(".st-name").fill("Studio Bravo")
        row.locator(".act-save").click()
        page.wait_for_function(
            "() => /Studio Bravo saved/.test(document.getElementById('studios-message').textContent)"
        )
        assert api.get("/api/studios/studio-b").json()["name"] == "Studio Bravo"
        # assign recorder 3, then unassign it
        row.locator(".st-recorder").select_option("3")
        page.wait_for_function(
            "() => /Recorder 3 assigned/.test(document.getElementById('studios-message').textContent)"
        )
        assert api.get("/api/studios/studio-b").json()["recorder_id"] == 3
        row.locator(".st-recorder").select_option("")
        page.wait_for_function(
            "() => /has no recorder now/.test(document.getElementById('studios-message').textContent)"
        )
        assert api.get("/api/studios/studio-b").json()["recorder_id"] is None
        # deleted
        row.locator(".act-delete").click()
        row.wait_for(state="detached")
        assert api.get("/api/studios/studio-b").status_code == 404
        assert not errors, errors
    finally:
        ctx.close()
