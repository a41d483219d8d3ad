"""origin/mixer_api/models.py: a frame request is one declaration, the schema /openapi.json shows
and the check /process-audio and /ws's ``process`` run."""

from __future__ import annotations

import json
import re

import pytest
from mixer_testutil import frame


async def _documented(client) -> dict:
    doc = await (await client.get("/openapi.json")).get_json()
    body = doc["paths"]["/process-audio"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]


async def _ws_error(client, data: dict) -> dict:
    async with client.websocket("/ws") as ws:
        await ws.receive()  # connected
        await ws.send(json.dumps({"type": "process", "id": "p", "data": data}))
        return json.loads(await ws.receive())


async def test_the_documented_frame_is_the_checked_frame(client):
    schema = await _documented(client)
    assert schema["required"] == ["audioBuffer"]
    n = schema["properties"]["audioBuffer"]["maxItems"]
    assert schema["properties"]["audioBuffer"]["minItems"] == n == 960
    assert schema["properties"]["config"]["properties"]["compressor"]["type"] == "object"
    for bad, code in (
        ({}, "INVALID_REQUEST"),
        ({"audioBuffer": [0.0] * (n - 1)}, "INVALID_BUFFER_SIZE"),
        ({"audioBuffer": [0.0] * (n - 1) + ["x"]}, "INVALID_AUDIO"),
        ({"audioBuffer": frame(0), "config": {"compressor": {"ratio": 99}}}, "INVALID_PARAMETER"),
        ({"audioBuffer": frame(0), "config": []}, "INVALID_REQUEST"),
    ):
        r = await client.post("/process-audio", json=bad)
        http = (await r.get_json())["error"]
        ws = (await _ws_error(client, bad))["error"]
        assert r.status_code == 400 and http["code"] == ws["code"] == code
        assert http["message"] == ws["message"] and http["details"] == ws["details"]
    r = await client.post("/process-audio", json={"audioBuffer": frame(0), "unknown": 1})
    assert r.status_code == 200  # other fields are ignored, as documented (no additionalProperties)
    assert "additionalProperties" not in schema


@pytest.mark.parametrize("sid", ["ok-1.a:b_c", "x" * 128, "x" * 129, "bad id", "é"])
async def test_the_documented_session_id_is_the_checked_one(client, sid):
    pattern = (await _documented(client))["properties"]["sessionId"]["pattern"]
    r = await client.post("/process-audio", json={"audioBuffer": frame(0), "sessionId": sid})
    if re.fullmatch(pattern, sid):
        assert r.status_code == 200 and (await r.get_json())["sessionId"] == sid
    else:
        err = (await r.get_json())["error"]
        assert r.status_code == 400 and err["code"] == "INVALID_REQUEST"
        assert err["details"]["field"] == "sessionId"


async def test_session_id_from_body_then_header(client):
    body = {"audioBuffer": frame(0)}
    r = await client.post("/process-audio", json={**body, "sessionId": 5})
    assert (await r.get_json())["error"]["message"] == "sessionId must be a string"
    r = await client.post("/process-audio", json={**body, "sessionId": ""}, headers={"X-Session-Id": "h-1"})
    assert (await r.get_json())["sessionId"] == "h-1"
    r = await client.post(
        "/process-audio", json={**body, "sessionId": "b-1"}, headers={"X-Session-Id": "h-1"}
    )
    assert (await r.get_json())["sessionId"] == "b-1"
    r = await client.post("/process-audio", json=body, headers={"X-Session-Id": "bad id"})
    assert r.status_code == 400 and (await r.get_json())["error"]["details"]["field"] == "sessionId"


@pytest.mark.parametrize("every", [-1, 100001, 1.5, True, None, "2"])
async def test_ws_stream_message_checks_metrics_every(client, every):
    async with client.websocket("/ws") as ws:
        await ws.receive()  # connected
        await ws.send(json.dumps({"type": "stream", "id": "s", "data": {"metricsEvery": every}}))
        err = json.loads(await ws.receive())
        assert err["type"] == "error" and err["id"] == "s"
        assert err["error"]["code"] == "INVALID_REQUEST"
        assert err["error"]["message"] == "metricsEvery must be an integer >= 0 (0 = no metrics)"
        # the connection stays usable and a valid stream message starts the stream
        await ws.send(json.dumps({"type": "stream", "id": "t", "data": {"metricsEvery": 100000}}))
        assert json.loads(await ws.receive())["type"] == "stream.started"
