"""End to end on a real Hypercorn server, dev mode, with a real ``aimixer sender`` on loopback:
studio -> assign -> configure -> start -> live levels on the WebSocket -> recordings -> download ->
preview (Range 206 and following the file being written) -> kill -9 the worker (error, then
recording again, archive intact) -> origin restart resumes the recorder -> clean stop.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
import soundfile as sf
from studio_testutil import wait_for
from websockets.sync.client import connect

from origin.app import create_app

pytestmark = pytest.mark.timeout(120)


def _ws_until(url: str, pred, timeout: float = 10.0, send: str | None = None) -> dict:
    """Read messages from ``url`` until ``pred(msg)``; returns that message."""
    with connect(url, open_timeout=10) as ws:
        if send is not None:
            ws.send(send)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = json.loads(ws.recv(timeout=max(0.1, end - time.monotonic())))
            if pred(msg):
                return msg
    raise AssertionError(f"no matching message on {url} within {timeout} s")


def _worker_pid(c: httpx.Client, rid: int) -> int:
    events = c.get(f"/api/recorders/{rid}/events").json()["events"]
    for e in events:  # newest first
        if e["kind"] == "worker_started":
            return int(re.search(r"pid (\d+)", e["message"]).group(1))
    raise AssertionError("no worker_started event")


def _data_offset(path: str) -> int:
    """Offset of the WAV ``data`` chunk's samples (header bytes are rewritten on append)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if cid == b"data":
            return pos + 8
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def _digest(path: str, n: int) -> str:
    """SHA-256 of the audio bytes up to file offset ``n`` (whole 24-bit stereo frames)."""
    off = _data_offset(path)
    n = off + (n - off) // 6 * 6
    with open(path, "rb") as fh:
        fh.seek(off)
        return hashlib.sha256(fh.read(n - off)).hexdigest()


def test_dev_mode_happy_path_supervision_and_resume(settings, serve_app, stream_addr, start_sender):
    group, port = stream_addr
    srv = serve_app(create_app(settings))
    c = httpx.Client(base_url=srv.url, timeout=20)

    # a studio with recorder 2, pointed at a real sender on a unique group/port
    r = c.post("/api/studios/", json={"name": "Studio E2E", "description": "e2e booth", "color": "#2196F3"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = c.post(f"/api/studios/{sid}/assign", json={"recorder_id": 2})
    assert r.status_code == 200 and r.json()["recorder_id"] == 2
    r = c.put(
        "/api/recorders/2/config", json={"multicast_addr": group, "port": port, "interface": "127.0.0.1"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["recorder"]["config"]["multicast_addr"] == group
    start_sender(group, port, "tone")

    r = c.post("/api/recorders/2/start")
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Recording started"
    assert r.json()["recorder"]["state"] == "recording"
    assert r.json()["recorder"]["studio_id"] == sid

    r = c.put("/api/recorders/2/config", json={"port": port})
    assert r.status_code == 400
    assert r.json() == {"detail": "Cannot update config while recording"}

    # live levels over the WebSocket (all recorders and one recorder), ping/pong
    def loud(msg: dict) -> bool:
        if msg.get("type") != "all_levels":
            return False
        rec = next((x for x in msg["recorders"] if x["recorder_id"] == 2), None)
        return bool(
            rec
            and rec["state"] == "recording"
            and rec["channels"]
            and max(ch["level_db"] for ch in rec["channels"]) > -40
        )

    msg = _ws_until(f"{srv.ws_url}/ws/levels", loud, timeout=15)
    rec2 = next(x for x in msg["recorders"] if x["recorder_id"] == 2)
    assert rec2["studio_id"] == sid and rec2["recorder_name"] == "Recorder 2"
    assert {"name", "level_db", "level_linear", "peak_db", "clipping"} <= set(rec2["channels"][0])
    _ws_until(f"{srv.ws_url}/ws/levels", lambda m: m.get("type") == "pong", send=json.dumps({"type": "ping"}))
    one = _ws_until(f"{srv.ws_url}/ws/levels/2", lambda m: m.get("type") == "levels" and m["channels"])
    assert one["recorder_id"] == 2 and one["state"] == "recording"

    # the recording shows up, newest first, under the recorder's archive folder
    recs = wait_for(lambda: c.get(f"/api/studios/{sid}/recordings").json()["recordings"], timeout=10)
    assert recs, "no recording listed"
    f = recs[0]
    assert f["path"].startswith("recorder2/") and f["format"] == "wav" and f["recording"] is True
    real = Path(settings.archive_root).resolve() / f["path"]
    assert real.is_file()

    dl = c.get(f"/api/assets/download/{f['path']}")
    assert dl.status_code == 200
    assert dl.content[:4] == b"RIFF" and dl.content[8:12] == b"WAVE"
    assert "attachment" in dl.headers["content-disposition"]
    assert int(dl.headers["content-length"]) == len(dl.content)

    pv = c.get(f"/api/stream/preview/{f['path']}", headers={"Range": "bytes=0-99"})
    assert pv.status_code == 206
    assert pv.headers["content-type"].startswith("audio/wav")
    assert re.fullmatch(r"bytes 0-99/\d+", pv.headers["content-range"])
    assert pv.content == dl.content[:100]
    pv = c.get(f"/api/stream/preview/{f['path']}", headers={"Range": "bytes=10000000000-"})
    assert pv.status_code == 416 and "detail" in pv.json()

    # following the file that is being written: more bytes arrive than existed at the start
    size0 = real.stat().st_size
    got = 0
    with c.stream("GET", f"/api/stream/preview/{f['path']}") as resp:
        assert resp.status_code == 200 and resp.headers.get("x-recording") == "true"
        assert "content-length" not in resp.headers
        end = time.monotonic() + 8
        for chunk in resp.iter_bytes():
            got += len(chunk)
            if got > size0 + 100_000 or time.monotonic() > end:
                break
    assert got > size0 + 100_000

    # supervision: kill -9 the worker -> error with the reason -> recording again, archive intact
    pid = _worker_pid(c, 2)
    first_file = str(real)
    time.sleep(0.5)
    size_before = os.path.getsize(first_file)
    prefix = _digest(first_file, size_before)
    os.kill(pid, signal.SIGKILL)
    err = wait_for(
        lambda: (lambda j: j if j["state"] == "error" else None)(c.get("/api/recorders/2").json()),
        timeout=10,
        step=0.02,
    )
    assert err, "state never became error after kill -9"
    assert any("SIGKILL" in e for e in err["errors"])
    ok = wait_for(lambda: c.get("/api/recorders/2").json()["state"] == "recording", timeout=15)
    assert ok, "recorder did not come back"
    kinds = [e["kind"] for e in c.get("/api/recorders/2/events").json()["events"]]
    assert "worker_died" in kinds and "worker_restart" in kinds and "worker_recovered" in kinds
    assert _worker_pid(c, 2) != pid
    time.sleep(1.0)
    assert os.path.getsize(first_file) >= size_before
    assert _digest(first_file, size_before) == prefix, "archive bytes were overwritten"

    # origin restart: the recorder was recording, so it resumes
    srv.stop()
    srv2 = serve_app(create_app(settings))
    c2 = httpx.Client(base_url=srv2.url, timeout=20)
    assert wait_for(lambda: c2.get("/api/recorders/2").json()["state"] == "recording", timeout=15)
    msg = _ws_until(f"{srv2.ws_url}/ws/levels", loud, timeout=15)
    assert any(e["kind"] == "resume" for e in c2.get("/api/recorders/2/events").json()["events"])
    assert c2.get(f"/api/studios/{sid}").json()["recorder_id"] == 2  # state survived the restart

    # clean stop: every file is a valid, finalised WAV and the first one kept its bytes
    r = c2.post("/api/recorders/2/stop")
    assert r.status_code == 200 and r.json()["recorder"]["state"] == "stopped"
    assert _digest(first_file, size_before) == prefix
    files = sorted(Path(settings.archive_root, "recorder2").rglob("*.wav"))
    assert len(files) >= 1  # the engine continues the period's WAV after a crash or restart
    for p in files:
        info = sf.info(str(p))
        assert info.samplerate == 48000 and info.channels == 2 and info.frames > 0
    listed = {x["path"] for x in c2.get(f"/api/studios/{sid}/recordings").json()["recordings"]}
    assert {str(p.relative_to(Path(settings.archive_root).resolve())) for p in files} <= listed
