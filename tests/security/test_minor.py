"""Minor input rules: 415 for a studio body that is not JSON, unknown /extract-features fields."""

from __future__ import annotations

import httpx


def test_recorder_config_text_plain_is_415(prod_server) -> None:
    r = httpx.put(
        prod_server.url + "/api/recorders/1/config",
        content=b'{"port": 5004}',
        headers={**prod_server.auth("admin"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = httpx.put(
        prod_server.url + "/api/recorders/1/config", json={"port": 5004}, headers=prod_server.auth("admin")
    )
    assert r.status_code == 200


def test_extract_features_rejects_unknown_fields(prod_server) -> None:
    body = {"audioBuffer": [0.0] * 4800, "sampleRate": 44100}
    r = httpx.post(prod_server.url + "/extract-features", json=body, headers=prod_server.auth("mixer"))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "INVALID_REQUEST" and err["details"]["field"] == "sampleRate"
    del body["sampleRate"]
    assert (
        httpx.post(
            prod_server.url + "/extract-features", json=body, headers=prod_server.auth("mixer")
        ).status_code
        == 200
    )
