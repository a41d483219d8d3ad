"""Recording does not stop because the HTTP process died: ``kill -9`` of the origin leaves the
recorder worker writing, and the next origin adopts it (same pid, same file, levels again)."""

from __future__ import annotations

import os
import re
import signal
import time

import httpx
import pytest
import soundfile as sf
from netutil import free_udp_port, unique_group

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(pred, timeout: float = 30.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _events(c: httpx.Client) -> list[dict]:
    return c.get("/api/recorders/1/events").json()["events"]


def test_kill_9_of_the_origin_keeps_recording(tmp_path, server_tools) -> None:
    start_server, make_keys = server_tools.start_server, server_tools.make_keys
    data = tmp_path / "data"
    data.mkdir()
    keys, _ = make_keys(data)
    group, port = unique_group("239.71"), free_udp_port()
    sender = server_tools.start_sender(group, port, "tone")
    srv = start_server(data)
    srv2 = None
    worker = None
    h = {"Authorization": f"Bearer {keys['admin']}"}
    try:
        with httpx.Client(base_url=srv.url, headers=h, timeout=10) as c:
            cfg = {"multicast_addr": group, "port": port, "interface": "127.0.0.1"}
            assert c.put("/api/recorders/1/config", json=cfg).status_code == 200
            assert c.post("/api/recorders/1/start").status_code == 200
            rec = _wait(
                lambda: (
                    (r := c.get("/api/recorders/1").json())["bytes_written"] > 0 and r["current_file"] and r
                ),
                what="recording",
            )
            started = next(e for e in _events(c) if e["kind"] == "worker_started")
            worker = int(re.search(r"pid (\d+)", started["message"]).group(1))
        path = rec["current_file"]
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        # the worker keeps writing with no origin at all
        size0 = os.path.getsize(path)
        time.sleep(3)
        assert _alive(worker), "the recorder died with the origin"
        assert os.path.getsize(path) > size0 + 48000  # >0.1 s of 24-bit stereo in 3 s
        # the next origin adopts it: no restart, same file, live state again
        srv2 = start_server(data)
        with httpx.Client(base_url=srv2.url, headers=h, timeout=10) as c:
            adopted = _wait(
                lambda: next((e for e in _events(c) if e["kind"] == "worker_adopted"), None), what="adoption"
            )
            assert f"pid {worker}" in adopted["message"]
            r1 = _wait(
                lambda: (
                    (r := c.get("/api/recorders/1").json())["state"] == "recording"
                    and r["levels"]
                    and r["current_file"]
                    and r
                ),
                what="levels and stats from the adopted worker",
            )
            assert r1["current_file"] == path and _alive(worker)
            b1 = r1["bytes_written"]
            _wait(lambda: c.get("/api/recorders/1").json()["bytes_written"] > b1, what="stats")
            assert c.post("/api/recorders/1/stop").status_code == 200
        _wait(lambda: not _alive(worker), timeout=15, what="the adopted worker to stop")
        assert sf.info(path).frames > 48000 * 3  # one finalised file across the origin crash
    finally:
        for p in (srv2, srv):
            if p is not None:
                p.stop()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)
        sender.kill()
        sender.wait(10)
