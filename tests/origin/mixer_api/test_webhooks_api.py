from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx
import numpy as np
import pytest
from quart import Quart, request


def receiver(fail_first: int = 0) -> tuple[Quart, list[dict]]:
    app = Quart("receiver")
    got: list[dict] = []
    state = {"n": 0}

    @app.post("/hook")
    async def hook():
        state["n"] += 1
        body = await request.get_data()
        if state["n"] <= fail_first:
            return "nope", 503
        got.append({"body": body, "headers": dict(request.headers)})
        return "", 204

    return app, got


async def _wait(pred, timeout=15.0):
    for _ in range(int(timeout / 0.05)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_webhook_crud_and_validation(client):
    r = await client.post("/webhooks", json={"url": "ftp://x", "events": ["processing.complete"]})
    assert r.status_code == 400 and (await r.get_json())["error"]["details"]["field"] == "url"
    r = await client.post("/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["nope"]})
    assert r.status_code == 400 and "nope" in (await r.get_json())["error"]["message"]
    r = await client.post("/webhooks", json={"url": "http://127.0.0.1:9/h", "secret": "short"})
    assert r.status_code == 400
    r = await client.post("/webhooks", json={"url": "http://127.0.0.1:9/h"})
    assert r.status_code == 201
    hook = await r.get_json()
    assert hook["secret"] and set(hook["events"]) == {
        "processing.complete",
        "genre.detected",
        "error.occurred",
        "job.complete",
        "job.failed",
    }
    listed = (await (await client.get("/webhooks")).get_json())["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert (await client.delete(f"/webhooks/{hook['id']}")).status_code == 204
    r = await client.delete(f"/webhooks/{hook['id']}")
    assert r.status_code == 404 and (await r.get_json())["error"]["code"] == "WEBHOOK_NOT_FOUND"


@pytest.mark.parametrize("fail_first", [0, 2])
async def test_webhook_delivered_signed_and_retried(make_settings, serve_app, fail_first):
    from origin.app import create_app

    rapp, got = receiver(fail_first)
    rsrv = serve_app(rapp)
    app = create_app(make_settings(webhook_backoff=0.05), packages=("origin.mixer_api",))
    srv = serve_app(app)
    secret = "s3cret-value-123"
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        r = await c.post(
            "/webhooks",
            json={
                "url": f"{rsrv.url}/hook",
                "events": ["processing.complete", "error.occurred"],
                "secret": secret,
            },
        )
        hook_id = r.json()["id"]
        sig = (np.random.default_rng(0).standard_normal(960 * 2) * 0.1).astype("<f4")
        r = await c.post(
            "/stream-audio",
            content=sig.tobytes() + b"\x00\x00",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert "event: complete" in r.text
        await _wait(lambda: len(got) >= 2)
        events = {}
        for item in got:
            body = item["body"]
            want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert item["headers"]["X-Aimixer-Signature"] == want
            payload = json.loads(body)
            assert set(payload) == {"event", "timestamp", "data"}
            assert item["headers"]["X-Aimixer-Event"] == payload["event"]
            events[payload["event"]] = payload["data"]
        assert events["processing.complete"]["totalChunks"] == 2
        assert events["processing.complete"]["duration"] == pytest.approx(0.04)
        assert events["error.occurred"]["code"] == "INVALID_BUFFER_SIZE"
        # delivery log
        await _wait(lambda: True)
        log = (await c.get(f"/webhooks/{hook_id}/deliveries")).json()["deliveries"]
        assert len(log) == 2 and all(d["status"] == "delivered" for d in log)
        assert max(d["attempts"] for d in log) >= (2 if fail_first else 1)


async def test_unreachable_webhook_never_blocks_audio(make_settings, serve_app):
    from origin.app import create_app

    app = create_app(
        make_settings(webhook_backoff=0.05, webhook_max_attempts=2), packages=("origin.mixer_api",)
    )
    srv = serve_app(app)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        # a port nobody listens on
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()
        hook = (await c.post("/webhooks", json={"url": f"http://127.0.0.1:{dead}/x"})).json()
        r = await c.post(
            "/stream-audio", content=b"\x00" * 3840, headers={"Content-Type": "application/octet-stream"}
        )
        assert "event: complete" in r.text
        for _ in range(200):
            log = (await c.get(f"/webhooks/{hook['id']}/deliveries")).json()["deliveries"]
            if log and log[0]["status"] == "failed":
                break
            await asyncio.sleep(0.05)
        assert log[0]["status"] == "failed" and log[0]["attempts"] == 2 and "Connect" in log[0]["error"]


async def test_ws_and_stream_audio_end_with_the_same_summary_and_webhook(make_settings, serve_app):
    import websockets

    from origin.app import create_app

    rapp, got = receiver()
    rsrv = serve_app(rapp)
    app = create_app(make_settings(), packages=("origin.mixer_api",))
    srv = serve_app(app)
    sig = (np.random.default_rng(5).standard_normal(960 * 3) * 0.1).astype("<f4")
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        await c.post("/webhooks", json={"url": f"{rsrv.url}/hook", "events": ["processing.complete"]})
        r = await c.post(
            "/stream-audio",
            content=sig.tobytes(),
            headers={"Content-Type": "application/octet-stream", "X-Session-Id": "sse-1"},
        )
        sse = json.loads(r.text.split("event: complete\ndata: ")[1].split("\n")[0])
    async with websockets.connect(srv.ws_url + "/ws?sessionId=ws-1") as ws:
        await ws.send(json.dumps({"type": "stream", "id": "s", "data": {"metricsEvery": 0}}))
        await ws.send(sig.tobytes())
        await ws.send(json.dumps({"type": "stop", "id": "e"}))
        while True:
            m = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(m, str) and json.loads(m)["type"] == "stream.complete":
                wsd = json.loads(m)["data"]
                break
    for summary, sid in ((sse, "sse-1"), (wsd, "ws-1")):
        assert set(summary) == {"totalChunks", "totalDuration", "averageLatency", "sessionId", "errors"}
        assert summary["totalChunks"] == 3 and summary["errors"] == 0 and summary["sessionId"] == sid
        assert summary["totalDuration"] == pytest.approx(0.06)
    await _wait(lambda: len(got) >= 2)
    hooks = {p["data"]["source"]: p["data"] for p in (json.loads(i["body"]) for i in got)}
    assert set(hooks) == {"stream-audio", "ws"}
    for source, summary in (("stream-audio", sse), ("ws", wsd)):
        data = hooks[source]
        assert set(data) == {
            "sessionId",
            "duration",
            "totalChunks",
            "averageLatency",
            "genre",
            "confidence",
            "source",
        }
        assert data["sessionId"] == summary["sessionId"] and data["totalChunks"] == 3
        assert data["duration"] == summary["totalDuration"]
        assert data["averageLatency"] == summary["averageLatency"]
