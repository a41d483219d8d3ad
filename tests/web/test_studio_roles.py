"""Roles and login in the studio app: the production OIDC flow against the local provider, a
studio user seeing only its studio with admin controls hidden, and an expired session asking to
sign in again (no silent failure)."""

from __future__ import annotations

import httpx
import pytest
from liveserver import LiveServer
from oidc_provider import LocalOIDCProvider

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_studio_user_sees_own_studio_and_expired_session_is_handled(tmp_path, shared_browser):
    from origin.app import create_app
    from origin.config import load_settings

    with LocalOIDCProvider() as provider:
        provider.add_user("admin", {"name": "Admin", "roles": ["admin"]})
        settings = load_settings(
            env={},
            data_dir=tmp_path / "data",
            dev_mode=False,
            oidc_issuer=provider.issuer,
            oidc_client_id=provider.client_id,
            oidc_client_secret=provider.client_secret,
            oidc_redirect_uri="http://127.0.0.1:1/auth/callback",  # fixed below, once the port is known
        )
        app = create_app(settings)
        srv = LiveServer(app).start(30)
        try:
            app.extensions["oidc"].config.redirect_uri = f"{srv.url}/auth/callback"
            admin = httpx.Client(
                base_url=srv.url,
                timeout=20,
                headers={"Authorization": f"Bearer {provider.mint({'sub': 'admin', 'roles': ['admin']})}"},
            )
            a = admin.post("/api/studios/", json={"name": "Studio A"}).json()["id"]
            admin.post("/api/studios/", json={"name": "Studio B"})
            admin.post(f"/api/studios/{a}/assign", json={"recorder_id": 2})
            provider.add_user(
                "anna", {"name": "Anna", "roles": ["studio"], "studio_id": a, "email": "anna@x"}, default=True
            )
            ctx = shared_browser.new_context()
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: d.accept())
            page.goto(srv.url + "/studio/")
            page.wait_for_selector("#login:not(.hidden)")
            page.click("#sso")  # the production flow: our /auth/login -> provider -> /auth/callback
            page.wait_for_selector("#app:not(.hidden)", timeout=20000)
            assert "studio" in page.inner_text("#user")
            page.wait_for_selector('.rec[data-recorder-id="2"]')
            assert page.locator(".rec").count() == 1  # only its studio's recorder
            assert page.locator("#studios .chip").all_inner_texts() != []
            assert "Studio B" not in page.inner_text("#studios")
            # it lands in its own studio: the selector shows it (nothing else to pick), and the
            # selection is kept for it on the server
            assert page.input_value("#studio-select") == a and page.locator("#studio-select").is_disabled()
            assert "Studio B" not in page.inner_text("#studio-select")
            page.wait_for_function(
                "async (sid) => { const t = localStorage.getItem('aimixer.studio.token');"
                " const r = await fetch('/api/studios/current-selection', {headers: {Authorization: 'Bearer ' + t}});"
                " return (await r.json()).studio_id === sid; }",
                arg=a,
            )
            assert page.locator("#tabs a[data-view=studios]").is_hidden()
            assert page.inner_text("#error") == ""  # nothing it may not see was asked for
            # the calendar shows it its studio's files only, and refuses another studio
            root = app.extensions["settings"].archive_root
            for rec in ("recorder1", "recorder2"):
                f = root / rec / "2026-03-04" / "2026-03-04-10.wav"
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(b"RIFF")
            anna = {
                "Authorization": f"Bearer {provider.mint({'sub': 'anna', 'roles': ['studio'], 'studio_id': a})}"
            }
            cal = httpx.get(
                f"{srv.url}/api/assets/calendar", params={"month": "2026-03"}, headers=anna, timeout=10
            )
            assert cal.json()["days"]["2026-03-04"]["files"] == 1  # recorder 2's, not recorder 1's
            b = next(s["id"] for s in admin.get("/api/studios/").json() if s["name"] == "Studio B")
            other = httpx.get(
                f"{srv.url}/api/assets/calendar",
                params={"month": "2026-03", "studio_id": b},
                headers=anna,
                timeout=10,
            )
            assert other.status_code == 403 and "detail" in other.json()
            assert page.locator("#start-all").is_hidden() and page.locator("#new-studio").is_hidden()
            assert page.locator('.rec[data-recorder-id="2"] .act-start').is_hidden()
            page.goto(srv.url + "/studio/#/recorder/2")
            page.wait_for_selector("#cfg-port")
            assert page.locator("#cfg-port").is_disabled()
            assert page.get_by_role("button", name="Save configuration").is_disabled()
            page.click("#tabs a[data-view=archive]")
            page.wait_for_selector("#archive-filters")
            assert page.locator("#bulk-delete").count() == 0
            page.click("#tabs a[data-view=sources]")
            page.wait_for_selector("text=Announced on the network")
            assert page.locator(".act-create").count() == 0
            # the session ends (token expired beyond the leeway): the app says so and offers login
            expired = provider.mint({"sub": "anna", "roles": ["studio"], "studio_id": a}, exp_in=-300)
            page.evaluate("t => localStorage.setItem('aimixer.studio.token', t)", expired)
            page.click("#tabs a[data-view=monitor]")
            page.wait_for_selector("#session-banner:not(.hidden)", timeout=10000)
            assert "session has ended" in page.inner_text("#session-banner")
            assert "expired" in page.inner_text("#session-banner").lower()
            page.reload()
            page.wait_for_selector("#login:not(.hidden)")
            assert "session has ended" in page.inner_text("#login-error")
            assert not errors, errors
            ctx.close()
        finally:
            srv.stop()
