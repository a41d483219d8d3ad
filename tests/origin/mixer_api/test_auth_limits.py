from __future__ import annotations

import pytest
from mixer_testutil import frame

from origin.auth.apikeys import create_key, revoke_key


def _key(app, tier="standard", **kw):
    rec, secret = create_key(app.extensions["storage"], kw.pop("name", f"k-{tier}"), tier, **kw)
    return rec, {"Authorization": f"Bearer {secret}"}


async def test_no_key_is_401_when_not_dev(make_app):
    async with make_app(dev_mode=False) as app:
        c = app.test_client()
        r = await c.post("/process-audio", json={"audioBuffer": frame(0)})
        assert r.status_code == 401
        err = (await r.get_json())["error"]
        assert err["code"] == "UNAUTHORIZED" and "Missing API key" in err["message"]
        assert r.headers["X-Request-Id"] == err["requestId"]
        for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert h in r.headers
        r = await c.get("/config", headers={"Authorization": "Bearer amx_not-a-real-key"})
        assert r.status_code == 401 and "Invalid" in (await r.get_json())["error"]["message"]
        r = await c.get("/health")  # public
        assert r.status_code == 200 and (await r.get_json())["devMode"] is False
        r = await c.get("/openapi.json")
        assert r.status_code == 200


async def test_valid_key_works_and_revoked_key_fails(make_app):
    async with make_app(dev_mode=False) as app:
        c = app.test_client()
        rec, h = _key(app, "premium")
        r = await c.get("/config", headers=h)
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "10000"
        assert revoke_key(app.extensions["storage"], rec.id)
        import asyncio

        await asyncio.sleep(1.1)  # the per-process key cache lives one second
        r = await c.get("/config", headers=h)
        assert r.status_code == 401


async def test_dev_mode_keyless_is_standard_dev_principal(client):
    r = await client.get("/health")
    body = await r.get_json()
    assert body["devMode"] is True and "dev mode" in body["warning"]
    r = await client.get("/config")
    assert r.status_code == 200 and r.headers["X-RateLimit-Limit"] == "1000"


async def test_dev_mode_rejects_bad_token(client):
    r = await client.get("/config", headers={"Authorization": "Bearer amx_wrong"})
    assert r.status_code == 401


@pytest.mark.parametrize("tier", ["standard", "premium"])
async def test_rate_limit_is_exact(make_app, tier):
    limit = {"standard": 1000, "premium": 10000}[tier]
    # the real standard limit (1000/min); premium scaled down through the setting to keep the test short
    fields = {"dev_mode": False}
    if tier == "premium":
        limit = 37
        fields["rate_limit_premium"] = limit
    async with make_app(**fields) as app:
        svc = app.extensions["mixer"]
        # pin the clock to the middle of a minute so the window cannot roll over mid-test
        minute_start = 60 * 28_333_334
        t = [minute_start + 30.0]
        svc.limiter._clock = lambda: t[0]
        c = app.test_client()
        _, h = _key(app, tier)
        remaining = []
        for _ in range(limit):
            r = await c.get("/stats", headers=h)
            assert r.status_code == 200
            remaining.append(int(r.headers["X-RateLimit-Remaining"]))
        assert remaining == list(range(limit - 1, -1, -1))
        r = await c.get("/stats", headers=h)
        assert r.status_code == 403
        err = (await r.get_json())["error"]
        assert err["code"] == "RATE_LIMIT_EXCEEDED"
        assert r.headers["Retry-After"] == "30"
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert int(r.headers["X-RateLimit-Reset"]) == minute_start + 60
        # other keys are not affected
        _, h2 = _key(app, tier, name="other")
        assert (await c.get("/stats", headers=h2)).status_code == 200
        # the next minute starts a new window
        t[0] += 31
        r = await c.get("/stats", headers=h)
        assert r.status_code == 200 and int(r.headers["X-RateLimit-Remaining"]) == limit - 1


async def test_enterprise_is_unlimited(make_app):
    async with make_app(dev_mode=False, rate_limit_standard=3) as app:
        c = app.test_client()
        _, h = _key(app, "enterprise")
        for _ in range(10):
            r = await c.get("/stats", headers=h)
            assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "unlimited"


async def test_every_response_has_ratelimit_and_isolation_headers(client):
    for method, path in [("GET", "/health"), ("GET", "/nope"), ("DELETE", "/config"), ("GET", "/v1/stats")]:
        r = await client.open(path, method=method)
        for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Request-Id"):
            assert h in r.headers, (path, h)
        assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert r.headers["Cross-Origin-Resource-Policy"] == "same-origin"


async def test_studio_role_key_cannot_change_config(make_app):
    async with make_app(dev_mode=False) as app:
        c = app.test_client()
        _, h = _key(app, "standard", role="studio", studio_id="st1")
        r = await c.put("/config", json={"dsp": {"gain": 1}}, headers=h)
        assert r.status_code == 403 and (await r.get_json())["error"]["code"] == "FORBIDDEN"


def test_a_refused_request_with_a_body_closes_its_connection(make_settings, serve_app):
    """A refusal can go out before the request's body has all arrived, and Hypercorn does not
    keep such a connection: the answer says so, and the client opens a new one for its next
    request instead of sending it down a closed connection (seen in the soak as 'Server
    disconnected without sending a response' after a rate-limited POST)."""
    import httpx

    from origin.app import create_app

    app = create_app(make_settings(dev_mode=False, rate_limit_standard=1))
    _, h = _key(app)
    srv = serve_app(app)
    body = {"audioBuffer": frame(0)}
    with httpx.Client(base_url=srv.url, timeout=20) as c:
        refused = c.post("/process-audio", json=body)
        assert refused.status_code == 401 and refused.headers["Connection"] == "close"
        ok = c.post("/process-audio", json=body, headers=h)
        assert ok.status_code == 200 and "Connection" not in ok.headers
        limited = c.post("/process-audio", json=body, headers=h)
        assert limited.status_code == 403 and limited.headers["Connection"] == "close"
        bodiless = c.get("/config", headers=h)  # nothing left unread: the connection is kept
        assert bodiless.status_code == 403 and "Connection" not in bodiless.headers
