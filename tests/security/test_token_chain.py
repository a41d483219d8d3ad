"""Every token chains to its root credential and dies with it; tokens never carry more rights
than their root; a mobile token cannot mint tokens."""

from __future__ import annotations

import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

SESSION = {"deviceId": "probe", "platform": "ios", "sdkVersion": "1.0.0"}


def _mint(srv, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(srv.url + "/mobile/session", json=SESSION, headers=headers, timeout=10)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _wait_refused(srv, headers: dict[str, str], path: str = "/config") -> int:
    deadline = time.monotonic() + 5
    while True:
        status = httpx.get(srv.url + path, headers=headers, timeout=10).status_code
        if status == 401 or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_mobile_token_cannot_mint_tokens(prod_server) -> None:
    r = _mint(prod_server, prod_server.auth("admin"))
    assert r.status_code == 200
    t1 = r.json()["token"]
    r = _mint(prod_server, _bearer(t1))
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert "cannot be used to create further tokens" in r.json()["error"]["message"]


def test_revoking_the_key_kills_every_descendant(prod_server) -> None:
    t1 = _mint(prod_server, prod_server.auth("victim")).json()["token"]
    assert httpx.get(prod_server.url + "/config", headers=_bearer(t1), timeout=10).status_code == 200
    with connect(f"{prod_server.ws_url}/ws?token={t1}", open_timeout=10) as ws:
        assert "connected" in ws.recv(10)
    res = prod_server.cli("keys", "revoke", prod_server.key_ids["victim"])
    assert res.returncode == 0, res.stderr
    assert _wait_refused(prod_server, _bearer(t1)) == 401
    with pytest.raises(InvalidStatus) as exc:
        connect(f"{prod_server.ws_url}/ws?token={t1}", open_timeout=10)
    assert exc.value.response.status_code == 401


def test_mobile_tokens_carry_no_studio_admin_rights(prod_server) -> None:
    t_admin = _mint(prod_server, prod_server.auth("admin")).json()["token"]
    # the admin key itself may list recorders and delete files; its mobile token may not
    assert (
        httpx.get(prod_server.url + "/api/recorders/", headers=prod_server.auth("admin")).status_code == 200
    )
    for method, path in (
        ("GET", "/api/recorders/"),
        ("DELETE", "/api/assets/file/recorder1/x.wav"),
        ("PUT", "/api/recorders/active-count/1"),
        ("POST", "/api/recorders/1/start"),
    ):
        r = httpx.request(method, prod_server.url + path, headers=_bearer(t_admin), json={"count": 1})
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["detail"] == "No role assigned to this user"
    # a studio key's token keeps exactly its one studio, no more
    t_studio = _mint(prod_server, prod_server.auth("studio")).json()["token"]
    me = httpx.get(prod_server.url + "/auth/me", headers=_bearer(t_studio)).json()
    assert me["role"] == "studio" and me.get("studio_id") == "st-sec"
    r = httpx.delete(prod_server.url + "/api/assets/file/recorder1/x.wav", headers=_bearer(t_studio))
    assert r.status_code == 403 and r.json()["detail"] == "Admin access required"


def test_logout_of_the_jwt_kills_its_tokens(prod_server) -> None:
    jwt = prod_server.oidc.mint({"sub": "user-1", "email": "u@example.org", "roles": ["admin"]}, exp_in=600)
    r = _mint(prod_server, _bearer(jwt))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expiresAt"] <= (int(time.time()) + 600) * 1000  # never outlives the JWT
    tok = _bearer(body["token"])
    assert httpx.get(prod_server.url + "/config", headers=tok).status_code == 200
    # the token of an admin user has no studio rights either
    assert httpx.get(prod_server.url + "/api/recorders/", headers=tok).status_code == 403
    assert httpx.post(prod_server.url + "/auth/logout", headers=_bearer(jwt)).status_code == 200
    assert _wait_refused(prod_server, tok) == 401
    assert httpx.get(prod_server.url + "/config", headers=_bearer(jwt)).status_code == 401


def test_open_websockets_close_when_the_root_is_revoked(prod_server) -> None:
    import json

    from websockets.exceptions import ConnectionClosed

    res = prod_server.cli(
        "keys", "create", "--name", "ws-root", "--role", "studio", "--studio-id", "st-sec", "--json"
    )
    assert res.returncode == 0, res.stderr
    key = json.loads(res.stdout)
    token = _mint(prod_server, _bearer(key["key"])).json()["token"]
    with (
        connect(f"{prod_server.ws_url}/ws?token={token}", open_timeout=10) as mixer,
        connect(f"{prod_server.ws_url}/ws/levels?token={token}", open_timeout=10) as levels,
    ):
        assert "connected" in mixer.recv(10) and "levels" in levels.recv(10)
        assert prod_server.cli("keys", "revoke", key["id"]).returncode == 0
        time.sleep(6.5)  # the credential is re-checked every 5 s
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                levels.recv(10)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 1008
        mixer.send(json.dumps({"type": "ping", "id": 1}))
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                mixer.recv(10)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 1008
