from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import websockets
import websockets.exceptions
from aimixer_dsp.mixer import MixerSession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mixer_testutil import frame


async def _recv_json(ws) -> dict:
    while True:
        msg = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(msg, str):
            return json.loads(msg)


async def _connect(server, path="/ws", **kw):
    ws = await websockets.connect(server.ws_url + path, **kw)
    hello = await _recv_json(ws)
    assert hello["type"] == "connected"
    return ws, hello["data"]["sessionId"]


async def test_ws_process_ping_config_with_ids(live_server):
    ws, sid = await _connect(live_server)
    async with ws:
        await ws.send(json.dumps({"type": "ping", "id": "p1"}))
        pong = await _recv_json(ws)
        assert pong["type"] == "pong" and pong["id"] == "p1"
        await ws.send(json.dumps({"type": "config", "id": 7, "data": {"compressor": {"ratio": 8}}}))
        cfg = await _recv_json(ws)
        assert (
            cfg["type"] == "config" and cfg["id"] == 7 and cfg["data"]["config"]["compressor"]["ratio"] == 8
        )
        ref = MixerSession()
        for i in range(3):
            f = frame(i, amp=0.4)
            await ws.send(json.dumps({"type": "process", "id": f"m{i}", "data": {"audioBuffer": f}}))
            out = await _recv_json(ws)
            assert out["type"] == "processed" and out["id"] == f"m{i}"
            assert out["data"]["appliedSettings"]["compressor"]["ratio"] == 8
            want = ref.process(np.asarray(f), {"compressor": {"ratio": 8}})["processedBuffer"]
            np.testing.assert_allclose(np.asarray(out["data"]["processedBuffer"]), want, atol=1e-6)


async def test_ws_binary_stream_and_stop(live_server):
    ws, _ = await _connect(live_server)
    sig = (np.random.default_rng(3).standard_normal(960 * 4) * 0.3).astype("<f4")
    ref = MixerSession()
    async with ws:
        await ws.send(json.dumps({"type": "stream", "id": "s1", "data": {"config": {"genre": "speech"}}}))
        started = await _recv_json(ws)
        assert started["type"] == "stream.started" and started["id"] == "s1"
        # two frames in one binary message, then two single frames
        parts = [sig[: 960 * 2], sig[960 * 2 : 960 * 3], sig[960 * 3 :]]
        got = []
        metrics = []
        for part in parts:
            await ws.send(part.tobytes())
            for _ in range(len(part) // 960):
                while True:
                    m = await asyncio.wait_for(ws.recv(), 20)
                    if isinstance(m, bytes):
                        got.append(np.frombuffer(m, dtype="<f4"))
                        break
                    metrics.append(json.loads(m))
        for i, g in enumerate(got):
            want = ref.process(sig[i * 960 : (i + 1) * 960].astype(np.float64), {"genre": "speech"})[
                "processedBuffer"
            ]
            np.testing.assert_allclose(g, want, atol=1e-6)
        await ws.send(json.dumps({"type": "stop", "id": "s2"}))
        while True:
            m = await _recv_json(ws)
            if m["type"] == "stream.complete":
                break
            metrics.append(m)
        assert m["id"] == "s2" and m["data"]["totalChunks"] == 4
        assert all(x["type"] == "audio" and x["id"] == "s1" for x in metrics)
        assert [x["data"]["seq"] for x in metrics] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("not json", "INVALID_JSON"),
        ("[1,2]", "INVALID_MESSAGE"),
        (json.dumps({"type": "dance", "id": "x"}), "UNKNOWN_MESSAGE_TYPE"),
        (
            json.dumps({"type": "process", "id": "x", "data": {"audioBuffer": [0.0] * 10}}),
            "INVALID_BUFFER_SIZE",
        ),
        (
            json.dumps({"type": "process", "id": "x", "data": {"audioBuffer": [0.0] * 959 + ["a"]}}),
            "INVALID_AUDIO",
        ),
        (json.dumps({"type": "config", "id": "x", "data": {"gain": 100}}), "INVALID_PARAMETER"),
        (json.dumps({"type": "stop", "id": "x"}), "STREAM_NOT_STARTED"),
        (b"\x00" * 3840, "STREAM_NOT_STARTED"),
    ],
)
async def test_ws_malformed_messages_get_errors_and_do_not_disturb_others(live_server, payload, code):
    bad, _ = await _connect(live_server)
    good, _ = await _connect(live_server)
    async with bad, good:
        await bad.send(payload)
        err = await _recv_json(bad)
        assert err["type"] == "error" and err["error"]["code"] == code
        if isinstance(payload, str) and payload.startswith("{"):
            assert err["id"] == "x"
        # the bad connection is still usable, and the other one never noticed
        await bad.send(json.dumps({"type": "ping", "id": "after"}))
        assert (await _recv_json(bad))["id"] == "after"
        await good.send(json.dumps({"type": "process", "id": "g", "data": {"audioBuffer": frame(1)}}))
        assert (await _recv_json(good))["type"] == "processed"


async def test_ws_binary_wrong_size_in_stream(live_server):
    ws, _ = await _connect(live_server)
    async with ws:
        await ws.send(json.dumps({"type": "stream", "id": "s"}))
        await _recv_json(ws)
        await ws.send(b"\x00" * 1000)
        err = await _recv_json(ws)
        assert err["error"]["code"] == "INVALID_BUFFER_SIZE" and err["id"] == "s"


async def test_ws_requires_key_when_not_dev(make_settings, serve_app):
    from origin.app import create_app
    from origin.auth.apikeys import create_key

    app = create_app(make_settings(dev_mode=False), packages=("origin.mixer_api",))
    _, secret = create_key(app.extensions["storage"], "ws", "standard")
    srv = serve_app(app)
    with pytest.raises(websockets.exceptions.InvalidStatus, match="401"):
        await websockets.connect(srv.ws_url + "/ws")
    # a long-lived API key never travels in a URL (issue 12): header only ...
    with pytest.raises(websockets.exceptions.InvalidStatus, match="401"):
        await websockets.connect(srv.ws_url + f"/ws?token={secret}")
    ws, _ = await _connect(srv, additional_headers={"Authorization": f"Bearer {secret}"})
    await ws.close()
    # ... while a short-lived session token may (browsers cannot set WebSocket headers)
    import httpx

    async with httpx.AsyncClient(base_url=srv.url) as c:
        r = await c.post(
            "/mobile/session",
            json={"deviceId": "d", "platform": "ios", "sdkVersion": "1"},
            headers={"Authorization": f"Bearer {secret}"},
        )
    ws, _ = await _connect(srv, f"/ws?token={r.json()['token']}")
    await ws.close()


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.floats(allow_nan=False, width=32)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_messages = st.one_of(
    st.binary(max_size=4000),
    st.text(max_size=40),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["process", "stream", "stop", "config", "ping", "x"]), "id": _json_values},
        optional={"data": _json_values},
    ).map(json.dumps),
)


def test_ws_fuzzed_messages_never_close_the_connection(live_server):
    """Random text/binary/typed messages: each gets at most a reply, the connection stays usable."""
    import websockets.sync.client as wsc

    with wsc.connect(live_server.ws_url + "/ws") as ws:
        ws.recv(timeout=10)  # connected

        @given(msgs=st.lists(_messages, min_size=1, max_size=5))
        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(msgs):
            for m in msgs:
                ws.send(m)
            ws.send(json.dumps({"type": "ping", "id": "sync"}))
            while True:  # drain until our ping's pong: every reply before it is well-formed
                reply = ws.recv(timeout=10)
                if isinstance(reply, bytes):
                    continue
                obj = json.loads(reply)
                assert obj["type"] in {
                    "pong",
                    "error",
                    "processed",
                    "stream.started",
                    "stream.complete",
                    "config",
                    "audio",
                }
                if obj["type"] == "error":
                    assert set(obj["error"]) == {"code", "message", "details", "timestamp", "requestId"}
                if obj["type"] == "pong" and obj["id"] == "sync":
                    break

        run()


async def test_ws_through_the_quart_test_client_and_v1(client):
    """The lean ASGI path also serves the in-process test client, at /ws and /v1/ws."""
    ref = MixerSession()
    sig = (np.random.default_rng(9).standard_normal(960 * 2) * 0.2).astype("<f4")
    for path in ("/ws", "/v1/ws"):
        async with client.websocket(path) as ws:
            hello = json.loads(await ws.receive())
            assert hello["type"] == "connected" and hello["data"]["frameSize"] == 960
            await ws.send(json.dumps({"type": "stream", "id": 1, "data": {"metricsEvery": 0}}))
            assert json.loads(await ws.receive())["type"] == "stream.started"
            await ws.send(sig[:960].tobytes())
            out = await ws.receive()
            assert isinstance(out, bytes) and len(out) == 3840
            if path == "/ws":
                want = ref.process(sig[:960].astype(np.float64))["processedBuffer"]
                np.testing.assert_allclose(np.frombuffer(out, "<f4"), want, atol=1e-6)
            await ws.send(json.dumps({"type": "stop", "id": 2}))
            done = json.loads(await ws.receive())
            assert done["type"] == "stream.complete" and done["data"]["totalChunks"] == 1


async def test_ws_rejected_config_leaves_the_connection_config_alone(live_server):
    ws, _ = await _connect(live_server)
    async with ws:
        await ws.send(json.dumps({"type": "config", "id": "a", "data": {"compressor": {"ratio": 6}}}))
        assert (await _recv_json(ws))["data"]["config"]["compressor"]["ratio"] == 6
        await ws.send(json.dumps({"type": "config", "id": "b", "data": {"compressor": {"ratio": 99}}}))
        err = await _recv_json(ws)
        assert err["type"] == "error" and err["id"] == "b" and "ratio" in err["error"]["message"]
        await ws.send(json.dumps({"type": "process", "id": "c", "data": {"audioBuffer": frame(2)}}))
        out = await _recv_json(ws)
        assert out["type"] == "processed" and out["data"]["appliedSettings"]["compressor"]["ratio"] == 6


async def test_ws_refused_handshake_answers_in_the_error_shape(make_settings, serve_app):
    import httpx

    from origin.app import create_app

    app = create_app(make_settings(dev_mode=False), packages=("origin.mixer_api",))
    srv = serve_app(app)
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    async with httpx.AsyncClient(base_url=srv.url) as c:
        r = await c.get("/ws", headers={**headers, "Authorization": "Bearer amx_not_a_key"})
        assert r.status_code == 401
        body = r.json()
        assert body["error"]["code"] == "UNAUTHORIZED" and "Invalid" in body["error"]["message"]
        assert r.headers["x-request-id"] == body["error"]["requestId"]
        r = await c.get("/v1/ws?sessionId=bad%20id&token=x", headers=headers)
        assert r.status_code == 401


async def test_ws_stream_non_finite_frame_is_refused_and_the_stream_goes_on(live_server):
    ws, _ = await _connect(live_server)
    sig = (np.random.default_rng(4).standard_normal(960 * 3) * 0.2).astype("<f4")
    sig[960 + 17] = np.nan
    ref = MixerSession()
    async with ws:
        await ws.send(json.dumps({"type": "stream", "id": "s", "data": {"metricsEvery": 0}}))
        await _recv_json(ws)
        await ws.send(sig.tobytes())  # three frames in one message, the middle one has a NaN
        got = []
        err = None
        while len(got) < 2 or err is None:
            m = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(m, bytes):
                got.append(np.frombuffer(m, "<f4"))
            else:
                err = json.loads(m)
        assert err["type"] == "error" and err["id"] == "s"
        assert err["error"]["code"] == "INVALID_AUDIO" and err["error"]["details"]["index"] == 17
        # the bad frame changed no state: frames 1 and 3 are processed as if it never came
        for g, k in zip(got, (0, 2), strict=True):
            want = ref.process(sig[k * 960 : (k + 1) * 960].astype(np.float64))["processedBuffer"]
            np.testing.assert_allclose(g, want, atol=1e-6)
        # the summary counts it, as /stream-audio's complete event does
        await ws.send(json.dumps({"type": "stop", "id": "end"}))
        done = await _recv_json(ws)
        assert done["type"] == "stream.complete"
        assert done["data"]["totalChunks"] == 2 and done["data"]["errors"] == 1


async def test_ws_handshake_and_http_routes_share_one_admission(make_settings, serve_app):
    """One admission step: the /ws handshake counts against the same per-key and per-IP minute
    as every HTTP route, and refuses with the same error (code, message, details, headers)."""
    import httpx

    from origin.app import create_app
    from origin.auth.apikeys import create_key

    app = create_app(make_settings(dev_mode=False, rate_limit_standard=3), packages=("origin.mixer_api",))
    _, secret = create_key(app.extensions["storage"], "ws", "standard")
    srv = serve_app(app)
    auth = {"Authorization": f"Bearer {secret}"}
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    async with httpx.AsyncClient(base_url=srv.url) as c:
        assert (await c.get("/stats", headers=auth)).status_code == 200  # 1 of 3
        ws, _ = await _connect(srv, additional_headers={**auth, "X-Request-Id": "client-req.1"})  # 2 of 3
        # the accepted upgrade carries the request id and the limit like an HTTP answer
        assert ws.response.headers["X-Request-Id"] == "client-req.1"
        assert ws.response.headers["X-RateLimit-Remaining"] == "1"
        await ws.close()
        assert (await c.get("/v1/stats", headers=auth)).status_code == 200  # 3 of 3
        refused_ws = await c.get("/ws", headers={**upgrade, **auth})
        refused_http = await c.get("/stats", headers=auth)
        for r in (refused_ws, refused_http):
            assert r.status_code == 403
            err = r.json()["error"]
            assert err["code"] == "RATE_LIMIT_EXCEEDED"
            assert err["message"].startswith("Rate limit of 3 requests per minute exceeded; retry in ")
            assert err["details"]["limit"] == 3 and err["details"]["retryAfter"] >= 1
            assert r.headers["X-RateLimit-Remaining"] == "0" and "Retry-After" in r.headers
            assert r.headers["X-Request-Id"] == err["requestId"]
        # a caller without a key is counted against its address, on either path, before the 401
        for _ in range(2):
            r = await c.get("/ws", headers=upgrade)
            assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
            assert "or ?token=" in r.json()["error"]["message"]
            assert r.headers["X-RateLimit-Limit"] == "3"
        r = await c.get("/stats")
        assert r.status_code == 401 and "or ?token=" not in r.json()["error"]["message"]
        for r in (await c.get("/ws", headers=upgrade), await c.get("/stats")):
            assert r.status_code == 403
            assert r.json()["error"]["message"].startswith("Too many requests: 3 per minute; retry in ")
