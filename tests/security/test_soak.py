"""Soak: mixed valid and hostile traffic against a production-mode origin with a recorder
recording. Afterwards: no 5xx, no request left without an answer (a client thread records it
rather than dying on it), every client thread still running at the end, RSS within 10 % of its
level after warm-up, the recorder still writing. ``AIMIXER_SOAK_SECONDS`` sets the length (default 60 s, as in CI)."""

from __future__ import annotations

import json
import os
import random
import threading
import time

import httpx
import pytest
from netutil import free_udp_port, unique_group
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from wsraw import send_oversize

pytestmark = pytest.mark.slow

SOAK_S = float(os.environ.get("AIMIXER_SOAK_SECONDS", "60"))
WARMUP_S = 5.0


KINDS = ["process", "process", "deep", "digits", "badkey", "querykey", "range", "studio", "features"]


def _frame(i: int) -> list[float]:
    return [0.3 * ((k * (i + 1)) % 97 / 97.0 - 0.5) for k in range(960)]


def test_soak_mixed_traffic(tmp_path, server_tools) -> None:
    start_server, make_keys = server_tools.start_server, server_tools.make_keys
    data = tmp_path / "data"
    data.mkdir()
    keys, _ = make_keys(data)
    group, port = unique_group("239.72"), free_udp_port()
    sender = server_tools.start_sender(group, port, "pink")
    srv = start_server(data)
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    statuses: dict[int, int] = {}
    fivexx: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def note(kind: str, status: int, text: str = "") -> None:
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 500:
                fivexx.append(f"{kind}: {status} {text[:200]}")

    failures: list[str] = []  # what a client of a sound server never meets

    def fail(what: str) -> None:
        with lock:
            failures.append(what)

    def http_worker(seed: int) -> None:
        rnd = random.Random(seed)
        deep = "[" * 80_000 + "]" * 80_000
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            i = 0
            last = ""
            while not stop.is_set():
                i += 1
                kind = rnd.choice(KINDS)
                try:
                    st, tx = http_request(c, kind, rnd, i, deep)
                    note(kind, st, tx)
                    last = f"{kind} {st} {tx[:80]}"
                except httpx.HTTPError as exc:  # no answer at all: never right, hostile input or not
                    fail(f"http {kind}: {exc!r} after {last}")

    def http_request(c: httpx.Client, kind: str, rnd: random.Random, i: int, deep: str) -> tuple[int, str]:
        if kind == "process":
            r = c.post("/process-audio", json={"audioBuffer": _frame(i)}, headers=admin)
        elif kind == "deep":
            r = c.post(
                "/process-audio",
                content=b'{"config":' + deep.encode() + b', "audioBuffer": []}',
                headers={**admin, "Content-Type": "application/json"},
            )
        elif kind == "digits":
            r = c.put(
                "/api/recorders/2/config",
                content=b'{"port": ' + b"7" * 5000 + b"}",
                headers={**admin, "Content-Type": "application/json"},
            )
        elif kind == "badkey":
            r = c.get("/stats", headers={"Authorization": "Bearer amx_" + "x" * 43})
        elif kind == "querykey":
            r = c.get(f"/api/recorders/?token={keys['admin']}")
        elif kind == "range":
            r = c.get("/api/assets/browse", headers=admin)
            files = [f["path"] for f in r.json().get("files", [])] if r.status_code == 200 else []
            note(kind, r.status_code, r.text)
            r = c.get(
                "/api/stream/preview/" + (files[0] if files else "nope.wav"),
                headers={**admin, "Range": "bytes=" + "9" * rnd.choice([3, 5000]) + "-"},
            )
        elif kind == "studio":
            r = c.post("/api/studios/", content=b"[" * 5000 + b"]" * 5000, headers=admin)
        else:
            r = c.post(
                "/extract-features",
                json={"audioBuffer": _frame(i) * 5, "sampleRate": rnd.choice([None, 44100])},
                headers=admin,
            )
        return r.status_code, r.text

    def ws_worker(seed: int) -> None:
        rnd = random.Random(seed)
        while not stop.is_set():
            try:
                if rnd.random() < 0.3:
                    send_oversize(srv.port, "/ws/levels", 3 << 20)
                    continue
                with connect(f"{srv.ws_url}/ws", additional_headers=admin, open_timeout=10) as ws:
                    ws.recv(10)
                    for j in range(20):
                        ws.send(json.dumps({"type": "process", "id": j, "data": {"audioBuffer": _frame(j)}}))
                        msg = json.loads(ws.recv(10))
                        if msg["type"] == "error" and msg["error"]["code"] == "INTERNAL_ERROR":
                            note("ws", 500, str(msg))
                    ws.send("[" * 100_000 + "]" * 100_000)
                    msg = json.loads(ws.recv(10))
                    if msg["type"] != "error":
                        fail(f"ws: deep nesting answered with {msg}")
                with connect(f"{srv.ws_url}/ws/levels", additional_headers=admin, open_timeout=10) as ws:
                    for _ in range(5):
                        ws.recv(10)
            except InvalidStatus as exc:  # a refused handshake (the key's rate limit) is an answer
                note("ws", exc.response.status_code, exc.response.body.decode(errors="replace"))
            except (OSError, TimeoutError, ConnectionClosed) as exc:  # a refused or closed socket is fine,
                if not srv.alive():  # a dead server is not
                    note("ws", 599, repr(exc))
                    return

    try:
        with httpx.Client(base_url=srv.url, headers=admin, timeout=10) as c:
            cfg = {"multicast_addr": group, "port": port, "interface": "127.0.0.1"}
            assert c.put("/api/recorders/1/config", json=cfg).status_code == 200
            assert c.post("/api/recorders/1/start").status_code == 200
        threads = [threading.Thread(target=http_worker, args=(s,), daemon=True) for s in range(3)]
        threads += [threading.Thread(target=ws_worker, args=(10 + s,), daemon=True) for s in range(2)]
        for t in threads:
            t.start()
        time.sleep(WARMUP_S)
        rss0 = srv.rss()
        with httpx.Client(base_url=srv.url, headers=admin, timeout=10) as c:
            b0 = c.get("/api/recorders/1").json()["bytes_written"]
            time.sleep(max(1.0, SOAK_S - WARMUP_S))
            alive = [t.is_alive() for t in threads]
            stop.set()
            for t in threads:
                t.join(60)
            rss1 = srv.rss()
            rec = c.get("/api/recorders/1").json()
        assert srv.alive()
        assert not fivexx, fivexx[:5]
        assert not failures, "\n".join(failures)
        assert all(alive), f"client threads ended early: {alive}"
        assert sum(statuses.values()) > 100, statuses
        assert rec["state"] == "recording" and rec["bytes_written"] > b0, rec
        size = os.path.getsize(rec["current_file"])
        time.sleep(1.5)
        assert os.path.getsize(rec["current_file"]) > size  # still writing
        print(
            f"soak {SOAK_S:.0f} s: {sum(statuses.values())} requests {statuses}; RSS {rss0 >> 20} -> {rss1 >> 20} MiB"
        )
        assert abs(rss1 - rss0) <= 0.10 * rss0, f"RSS {rss0 >> 20} -> {rss1 >> 20} MiB"
    finally:
        stop.set()
        srv.stop()
        sender.kill()
        sender.wait(10)
