"""A /ws/levels client that stops reading is closed with 1008 about 10 s after its buffers
fill, while the data queued for it stays bounded (TCP_NOTSENT_LOWAT + the broker's queue)."""

from __future__ import annotations

import subprocess
import threading
import time

from websockets.sync.client import connect
from wsraw import read_all, server_frames, upgrade


def _send_queues(port: int) -> list[int]:
    out = subprocess.run(
        ["ss", "-tn", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True
    ).stdout
    return [int(line.split()[1]) for line in out.splitlines()[1:] if line.strip()]


def test_stalled_level_clients_are_closed_with_1008(prod_server) -> None:
    stalled = []
    for _ in range(3):
        s, head = upgrade(prod_server.port, "/ws/levels", rcvbuf=4096, headers=prod_server.auth("admin"))
        assert head.startswith(b"HTTP/1.1 101")
        stalled.append((s, head.split(b"\r\n\r\n", 1)[1]))
    # a healthy client on the same server keeps getting its levels all along
    received = []
    stop = threading.Event()

    def healthy() -> None:
        with connect(f"{prod_server.ws_url}/ws/levels", additional_headers=prod_server.auth("admin")) as ws:
            while not stop.is_set():
                received.append(ws.recv(5))

    t = threading.Thread(target=healthy, daemon=True)
    t.start()
    time.sleep(16)  # ~3 s to fill the buffers + 10 s without progress + margin
    queues = _send_queues(prod_server.port)
    stop.set()
    t.join(10)
    assert len(received) > 16 * 40  # ~50 messages a second, never stalled by the others
    # what the kernel holds for any one connection stays small (was megabytes, growing)
    assert max(queues) < 64 * 1024, queues
    for s, first in stalled:
        frames = server_frames(first + read_all(s, idle=5.0))
        closes = [p for op, p in frames if op == 0x8]
        assert closes, f"no close frame after {len(frames)} frames"
        assert int.from_bytes(closes[0][:2], "big") == 1008
        assert b"too slow" in closes[0][2:]
        s.close()
