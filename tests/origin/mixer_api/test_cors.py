"""Cross-origin use of the API (``cors_origins``): off by default; preflights answered before
authentication; answers to an allowed origin name it and expose what a client reads; nothing for
any other origin; bearer tokens only (no credentials header)."""

from __future__ import annotations

import httpx
import pytest
from mixer_testutil import frame

from origin.auth.apikeys import create_key
from origin.config import ConfigError

APP = "https://app.example"


def _serve(make_settings, serve_app, **fields):
    from origin.app import create_app

    app = create_app(make_settings(dev_mode=False, **fields))
    _, secret = create_key(app.extensions["storage"], "web", "standard")
    return serve_app(app), {"Authorization": f"Bearer {secret}"}


def _preflight(
    url: str, path: str, origin: str, headers: str = "authorization, content-type"
) -> httpx.Response:
    return httpx.options(
        url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def test_preflight_and_answers_for_an_allowed_origin(make_settings, serve_app):
    srv, auth = _serve(make_settings, serve_app, cors_origins=f"{APP}, http://localhost:5173")
    pre = _preflight(srv.url, "/process-audio", APP, "authorization, content-type, x-evil")
    assert pre.status_code == 204  # no key on a preflight, and no 401 either
    assert pre.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in pre.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "content-type"}  # not x-evil
    assert int(pre.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in pre.headers
    r = httpx.post(
        srv.url + "/process-audio", json={"audioBuffer": frame(0)}, headers={**auth, "Origin": APP}
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == APP and "Origin" in r.headers["Vary"]
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"X-Request-Id", "X-RateLimit-Remaining", "Retry-After"} <= exposed
    # errors carry it too, so the page can read the API's error shape
    bad = httpx.post(srv.url + "/process-audio", json={"audioBuffer": frame(0)}, headers={"Origin": APP})
    assert bad.status_code == 401 and bad.headers["Access-Control-Allow-Origin"] == APP
    assert bad.json()["error"]["code"] == "UNAUTHORIZED"
    # the studio API and the bundle (an SDK loaded from the API's host) as well
    studio = httpx.get(srv.url + "/api/studios/", headers={**auth, "Origin": "http://localhost:5173"})
    assert studio.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


def test_other_origins_get_nothing(make_settings, serve_app):
    srv, auth = _serve(make_settings, serve_app, cors_origins=APP)
    pre = _preflight(srv.url, "/process-audio", "https://evil.example")
    assert pre.status_code == 204 and "Access-Control-Allow-Origin" not in pre.headers
    r = httpx.post(
        srv.url + "/process-audio",
        json={"audioBuffer": frame(0)},
        headers={**auth, "Origin": "https://evil.example"},
    )
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_off_by_default(make_settings, serve_app):
    srv, auth = _serve(make_settings, serve_app)
    r = httpx.post(
        srv.url + "/process-audio", json={"audioBuffer": frame(0)}, headers={**auth, "Origin": APP}
    )
    assert r.status_code == 200
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
    pre = _preflight(srv.url, "/process-audio", APP)
    assert "Access-Control-Allow-Origin" not in pre.headers


def test_wildcard(make_settings, serve_app):
    srv, auth = _serve(make_settings, serve_app, cors_origins="*")
    pre = _preflight(srv.url, "/extract-features", "https://anyone.example")
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == "*"
    r = httpx.get(srv.url + "/health", headers={"Origin": "https://anyone.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("https://app.example/", "not an origin"),
        ("app.example", "not an origin"),
        ("https://app.example/path", "not an origin"),
        ("*, https://app.example", "stands alone"),
        ("javascript:alert(1)", "not an origin"),
    ],
)
def test_bad_values_are_config_errors(make_settings, value, needle):
    with pytest.raises(ConfigError, match=needle):
        make_settings(cors_origins=value)
