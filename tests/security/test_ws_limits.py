"""Oversize WebSocket frames are refused inside the protocol layer without buffering them
(flat RSS), and /ws/levels refuses a bad query token before the upgrade."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from wsraw import send_oversize

from origin.wslimits import MAX_MESSAGE_BYTES


def _settled_rss(srv) -> int:
    time.sleep(0.5)
    return srv.rss()


def test_oversize_frames_do_not_grow_memory(prod_server) -> None:
    base = _settled_rss(prod_server)
    # the original probe: 60 MB frames to /ws/levels (accepted before auth for first-message auth)
    for _ in range(3):
        assert send_oversize(prod_server.port, "/ws/levels", 60 << 20).startswith(b"HTTP/1.1 101")
    after_big = _settled_rss(prod_server)
    assert after_big - base < 20 << 20, f"RSS grew {(after_big - base) >> 20} MiB over 3 x 60 MB frames"
    # 100 frames just over the limit, on the mixer socket too
    for i in range(100):
        target = "/ws/levels" if i % 2 else "/ws"
        send_oversize(prod_server.port, target, 2 * MAX_MESSAGE_BYTES, prod_server.auth("admin"))
    end = _settled_rss(prod_server)
    assert end - base < 20 << 20, f"RSS grew {(end - base) >> 20} MiB over 100 oversize frames"
    assert prod_server.alive()


def test_compressed_bomb_is_refused(prod_server) -> None:
    # 64 MiB of zeros deflates to ~64 KiB: the server must not inflate it whole
    base = _settled_rss(prod_server)
    with connect(
        f"{prod_server.ws_url}/ws",
        additional_headers=prod_server.auth("admin"),
        compression="deflate",
        max_size=None,
    ) as ws:
        assert "connected" in ws.recv(10)
        ws.send(bytes(64 << 20))
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                ws.recv(10)
        # wsproto fails the parse with 1009; Hypercorn then drops the TCP connection
        assert exc.value.rcvd is None or exc.value.rcvd.code == 1009
    assert _settled_rss(prod_server) - base < 20 << 20


def test_messages_within_the_limit_still_work(prod_server) -> None:
    with connect(f"{prod_server.ws_url}/ws", additional_headers=prod_server.auth("admin")) as ws:
        assert "connected" in ws.recv(10)
        ws.send('{"type": "ping", "id": "' + "x" * (MAX_MESSAGE_BYTES - 100) + '"}')
        assert '"pong"' in ws.recv(10)


def test_levels_query_token_is_checked_before_the_upgrade(prod_server) -> None:
    with pytest.raises(InvalidStatus) as exc:
        connect(f"{prod_server.ws_url}/ws/levels?token=amx_forged", open_timeout=10)
    assert exc.value.response.status_code == 401
    jwt = prod_server.oidc.mint({"sub": "ops", "roles": ["admin"]})
    with connect(f"{prod_server.ws_url}/ws/levels?token={jwt}", open_timeout=10) as ws:
        assert "levels" in ws.recv(10)
