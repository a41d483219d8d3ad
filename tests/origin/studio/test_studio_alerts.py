"""Recorder alerts end to end: a real sender goes loud, clips, goes silent and stops; the studio
raises recorder.* events into the event log, the levels WebSocket and a signed webhook; killing
the worker raises recorder.error and recorder.restarted."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import threading

import httpx
import numpy as np
import pytest
import soundfile as sf
from quart import Quart, request
from studio_testutil import wait_for
from websockets.sync.client import connect

from origin.app import create_app

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

SR = 48000
SECRET = "alert-secret-0123"


def _receiver() -> tuple[Quart, list[dict]]:
    app = Quart("alert-receiver")
    got: list[dict] = []

    @app.post("/hook")
    async def hook():
        got.append({"body": await request.get_data(), "headers": dict(request.headers)})
        return "", 204

    return app, got


def _program(path) -> None:
    """3 s of 1 kHz at -18 dBFS, 1.2 s at full scale (clips), 3 s of digital silence."""
    t = np.arange(int(3 * SR)) / SR
    tone = 10 ** (-18 / 20) * np.sin(2 * np.pi * 1000 * t)
    full = np.sign(np.sin(2 * np.pi * 500 * np.arange(int(1.2 * SR)) / SR)) * (1 - 2**-23)
    x = np.concatenate([tone, full, np.zeros(3 * SR)])
    sf.write(str(path), np.stack([x, x], axis=1), SR, subtype="PCM_24")


def _events_seen(got: list[dict]) -> list[str]:
    return [json.loads(g["body"])["event"] for g in got]


def test_alerts_reach_log_websocket_and_signed_webhook(
    settings, serve_app, stream_addr, start_sender, tmp_path
):
    group, port = stream_addr
    rapp, got = _receiver()
    rsrv = serve_app(rapp)
    srv = serve_app(create_app(settings))
    c = httpx.Client(base_url=srv.url, timeout=20)
    events = [
        "recorder.silence", "recorder.silence_cleared", "recorder.loudness", "recorder.clipping",
        "recorder.stream_lost", "recorder.stream_restored", "recorder.error", "recorder.restarted",
    ]  # fmt: skip
    r = c.post("/webhooks", json={"url": f"{rsrv.url}/hook", "events": events, "secret": SECRET})
    assert r.status_code == 201, r.text
    r = c.put(
        "/api/recorders/1/config",
        json={
            "multicast_addr": group, "port": port, "interface": "127.0.0.1",
            "silence_seconds": 1.0, "silence_threshold_db": -50, "loudness_limit_lufs": -30,
            "loudness_seconds": 2, "stream_lost_seconds": 1.0,
        },
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["recorder"]["config"]["loudness_limit_lufs"] == -30
    assert c.put("/api/recorders/1/config", json={"loudness_limit_lufs": 12}).status_code == 400
    assert c.put("/api/recorders/1/config", json={"silence_vad": "yes"}).status_code == 400

    ws_events: list[dict] = []
    stop = threading.Event()

    def listen() -> None:
        with connect(f"{srv.ws_url}/ws/levels/1", open_timeout=10) as ws:
            while not stop.is_set():
                try:
                    msg = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                if msg.get("type") == "event":
                    ws_events.append(msg)

    th = threading.Thread(target=listen, daemon=True)
    th.start()
    prog = tmp_path / "program.wav"
    _program(prog)
    assert c.post("/api/recorders/1/start").status_code == 200
    start_sender(group, port, str(prog))
    want = {"recorder.loudness", "recorder.clipping", "recorder.silence", "recorder.stream_lost"}
    assert wait_for(lambda: want <= set(_events_seen(got)), 40), _events_seen(got)

    # the stream comes back with sound: restored, and the silence clears
    start_sender(group, port, "tone")
    want2 = {"recorder.stream_restored", "recorder.silence_cleared"}
    assert wait_for(lambda: want2 <= set(_events_seen(got)), 20), _events_seen(got)

    # a worker that dies: error, then restarted
    log = c.get("/api/recorders/1/events").json()["events"]
    pid = next(
        int(re.search(r"pid (\d+)", e["message"]).group(1)) for e in log if e["kind"] == "worker_started"
    )
    os.kill(pid, signal.SIGKILL)
    want3 = {"recorder.error", "recorder.restarted"}
    assert wait_for(lambda: want3 <= set(_events_seen(got)), 30), _events_seen(got)

    for g in got:  # every delivery is signed with the webhook's secret
        sig = "sha256=" + hmac.new(SECRET.encode(), g["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(g["headers"]["X-Aimixer-Signature"], sig)
        body = json.loads(g["body"])
        assert body["data"]["recorder_id"] == 1 and isinstance(body["timestamp"], int)
    loud = next(json.loads(g["body"]) for g in got if json.loads(g["body"])["event"] == "recorder.loudness")
    assert loud["data"]["limit_lufs"] == -30 and loud["data"]["short_term_lufs"] > -30

    kinds = {e["kind"] for e in c.get("/api/recorders/1/events", params={"limit": 500}).json()["events"]}
    assert want | want2 | want3 <= kinds
    stop.set()
    th.join(5)
    assert {"recorder.silence", "recorder.loudness", "recorder.stream_lost"} <= {
        m["event"] for m in ws_events
    }
    assert all(m["recorder_id"] == 1 for m in ws_events)
    c.post("/api/recorders/1/stop")
