"""Deeply nested JSON and over-long numbers on every JSON entry point: a 400 in the API's error
shape, and the process stays up (orjson used to crash it at about 70,000 levels)."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect

from origin.jsonutil import MAX_DEPTH, JSONLimitError, check_structure, loads

DEEP_OBJ = b'{"config": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b', "audioBuffer": []}'
DEEP_ARR = b"[" * 1_000_000 + b"]" * 1_000_000
HUGE_NUMBER = b'{"port": ' + b"9" * 5000 + b"}"


def test_check_structure_limits() -> None:
    check_structure(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    with pytest.raises(JSONLimitError, match="deeper than 64"):
        check_structure(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(JSONLimitError, match="more than 100 digits"):
        loads(HUGE_NUMBER)
    # brackets and digits inside strings are text, not structure
    assert loads(json.dumps({"s": "[" * 500 + "9" * 500 + '\\"{'})) == {"s": "[" * 500 + "9" * 500 + '\\"{'}
    assert loads(b'{"x": 1.5e-7, "y": [[1], [2]]}') == {"x": 1.5e-7, "y": [[1], [2]]}


@pytest.mark.parametrize("body", [DEEP_OBJ, DEEP_ARR, HUGE_NUMBER], ids=["object", "array", "digits"])
@pytest.mark.parametrize("path", ["/process-audio", "/v1/mobile/session", "/config"])
def test_mixer_http_bodies(prod_server, path, body) -> None:
    method = "PUT" if path == "/config" else "POST"
    r = httpx.request(
        method,
        prod_server.url + path,
        content=body,
        headers={**prod_server.auth("admin"), "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "INVALID_JSON" and "refused" in err["message"]
    assert prod_server.alive()


def test_x_config_header(prod_server) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    r = httpx.post(
        prod_server.url + "/process-audio",
        content=b"\0" * 3840,
        headers={
            **prod_server.auth("admin"),
            "Content-Type": "application/octet-stream",
            "X-Config": deep[:60_000],  # Hypercorn caps the header block; still far past the limit
        },
        timeout=30,
    )
    assert r.status_code in (400, 431), r.text
    if r.status_code == 400:
        assert r.json()["error"]["code"] == "INVALID_REQUEST"
    assert prod_server.alive()


@pytest.mark.parametrize("body", [DEEP_OBJ, HUGE_NUMBER, b"[" * 1000 + b"]" * 1000])
@pytest.mark.parametrize("path", ["/api/studios/", "/api/recorders/1/config"])
def test_studio_bodies(prod_server, path, body) -> None:
    method = "PUT" if path.endswith("config") else "POST"
    r = httpx.request(
        method,
        prod_server.url + path,
        content=body,
        headers={**prod_server.auth("admin"), "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert "detail" in r.json() and "Invalid JSON body" in r.json()["detail"]
    assert prod_server.alive()


def test_ws_text_message(prod_server) -> None:
    with connect(
        f"{prod_server.ws_url}/ws",
        additional_headers=prod_server.auth("admin"),
        max_size=None,
        open_timeout=10,
    ) as ws:
        assert json.loads(ws.recv(10))["type"] == "connected"
        ws.send(DEEP_ARR[:200_000].decode() + DEEP_ARR[-200_000:].decode())
        reply = json.loads(ws.recv(10))
        assert reply["type"] == "error" and reply["error"]["code"] == "INVALID_JSON"
        ws.send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(ws.recv(10))["type"] == "pong"
    assert prod_server.alive()


def test_config_file(tmp_path) -> None:
    from origin.config import ConfigError, load_settings

    f = tmp_path / "deep.toml"
    f.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match="nests too deep"):
        load_settings(f, env={})
