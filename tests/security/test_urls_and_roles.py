"""Credentials in URLs (only short-lived tokens, only on WebSocket upgrades) and least privilege
for API keys (new keys have no studio rights; old admin keys keep theirs and are pointed out)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from origin.auth.apikeys import create_key, list_keys
from origin.migrations import app_schemas
from origin.storage import open_storage


@pytest.mark.parametrize("path", ["/stats?api_key={k}", "/config?token={k}", "/api/recorders/?token={k}"])
def test_no_credentials_in_http_urls(prod_server, path) -> None:
    r = httpx.get(prod_server.url + path.format(k=prod_server.keys["admin"]))
    assert r.status_code == 401
    body = r.json()
    msg = body["detail"] if path.startswith("/api/") else body["error"]["message"]
    assert "not accepted in the URL" in msg


@pytest.mark.parametrize("path", ["/ws", "/ws/levels"])
def test_no_api_keys_in_websocket_urls(prod_server, path) -> None:
    with pytest.raises(InvalidStatus) as exc:
        connect(f"{prod_server.ws_url}{path}?token={prod_server.keys['admin']}", open_timeout=10)
    assert exc.value.response.status_code == 401
    assert b"API keys are not accepted in the URL" in exc.value.response.body


def test_short_lived_tokens_in_websocket_urls(prod_server) -> None:
    r = httpx.post(
        prod_server.url + "/mobile/session",
        json={"deviceId": "d", "platform": "android", "sdkVersion": "2"},
        headers=prod_server.auth("studio"),
    )
    token = r.json()["token"]
    with connect(f"{prod_server.ws_url}/ws/levels?token={token}", open_timeout=10) as ws:
        assert "levels" in ws.recv(10)
    with connect(f"{prod_server.ws_url}/ws?token={token}", open_timeout=10) as ws:
        assert "connected" in ws.recv(10)
    jwt = prod_server.oidc.mint({"sub": "admin-1", "roles": ["admin"]})
    with connect(f"{prod_server.ws_url}/ws/levels?token={jwt}", open_timeout=10) as ws:
        assert "levels" in ws.recv(10)


def test_default_key_has_no_studio_rights(prod_server) -> None:
    mixer = prod_server.auth("mixer")
    f = prod_server.archive / "roles" / "keep.wav"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"RIFF....")
    for method, path in (("GET", "/api/recorders/"), ("DELETE", "/api/assets/file/roles/keep.wav")):
        r = httpx.request(method, prod_server.url + path, headers=mixer)
        assert r.status_code == 403 and r.json()["detail"] == "No role assigned to this user"
    assert f.exists()
    # the mixer API is all there, server config included
    assert httpx.put(prod_server.url + "/config", json={"dsp": {"gain": 0}}, headers=mixer).status_code == 200
    # an explicit admin key may delete
    r = httpx.delete(prod_server.url + "/api/assets/file/roles/keep.wav", headers=prod_server.auth("admin"))
    assert r.status_code == 200 and not f.exists()


def test_cli_default_role_and_legacy_admin_notice(tmp_path) -> None:
    db = tmp_path / "aimixer.db"
    with open_storage(db, app_schemas()) as st:
        old, _ = create_key(st, "old-default", role="admin")
    # turn the database back into one from before migration 2 (role default 'admin', no flag)
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE api_keys DROP COLUMN legacy_admin")
    conn.execute("UPDATE schema_versions SET version = 1 WHERE name = 'apikeys'")
    conn.commit()
    conn.close()

    def cli(*argv: str) -> str:
        res = subprocess.run(
            [sys.executable, "-m", "origin.cli", "keys", "--data-dir", str(tmp_path), *argv],
            capture_output=True,
            text=True,
            check=True,
        )
        return res.stdout

    new = json.loads(cli("create", "--name", "new", "--json"))
    assert new["role"] == "mixer" and new["legacyAdmin"] is False
    out = cli("list")
    assert "1 key(s) kept role admin from before roles were explicit" in out
    assert f"{old.id:<22}" in out and "admin*" in out
    with open_storage(db, app_schemas()) as st:
        roles = {k.name: (k.role, k.legacy_admin) for k in list_keys(st)}
    assert roles == {"old-default": ("admin", True), "new": ("mixer", False)}


def test_media_links_take_short_lived_tokens_only(prod_server) -> None:
    f = prod_server.archive / "links" / "a.wav"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"RIFF" + bytes(100))
    jwt = prod_server.oidc.mint({"sub": "admin-2", "roles": ["admin"]})
    for route in ("/api/stream/preview/links/a.wav", "/api/assets/download/links/a.wav"):
        # <audio src> and <a download> cannot send headers: a short-lived token may ride along
        assert httpx.get(f"{prod_server.url}{route}?token={jwt}").status_code == 200
        r = httpx.get(f"{prod_server.url}{route}?token={prod_server.keys['admin']}")
        assert r.status_code == 401 and "API keys are not accepted in the URL" in r.json()["detail"]
    # other studio routes take no token from the URL at all
    r = httpx.get(f"{prod_server.url}/api/assets/browse?token={jwt}")
    assert r.status_code == 401 and "not accepted in the URL" in r.json()["detail"]
