"""Raw WebSocket client pieces for probes a well-behaved library will not send."""

from __future__ import annotations

import base64
import os
import socket
import struct


def frame_header(n: int, opcode: int = 2) -> bytes:
    """A masked, final client frame header announcing ``n`` payload bytes (zero mask)."""
    h = bytes([0x80 | opcode])
    if n < 126:
        h += bytes([0x80 | n])
    elif n < 65536:
        h += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        h += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return h + b"\0\0\0\0"


def upgrade(
    port: int,
    target: str,
    *,
    timeout: float = 10.0,
    rcvbuf: int | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[socket.socket, bytes]:
    """Open a WebSocket handshake to ``target``; returns the socket and everything read so far
    (the response head, possibly followed by the first frames).

    ``rcvbuf`` sets ``SO_RCVBUF`` before connecting (a small receive window: a slow client).
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    s.sendall(
        (
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def send_oversize(port: int, target: str, size: int, headers: dict[str, str] | None = None) -> bytes:
    """Upgrade, announce a ``size``-byte frame and stream it; returns the response status line."""
    s, head = upgrade(port, target, headers=headers)
    try:
        s.sendall(frame_header(size))
        zeros = memoryview(bytes(1 << 20))
        sent = 0
        while sent < size:
            sent += s.send(zeros[: min(len(zeros), size - sent)])
    except OSError:
        pass  # the server may close first: that is a refusal too
    finally:
        s.close()
    return head.split(b"\r\n", 1)[0]


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames: ``[(opcode, payload), ...]`` (a partial tail is dropped)."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i + 2 <= len(data):
        opcode = data[i] & 0x0F
        n = data[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            if j + 2 > len(data):
                break
            (n,) = struct.unpack("!H", data[j : j + 2])
            j += 2
        elif n == 127:
            if j + 8 > len(data):
                break
            (n,) = struct.unpack("!Q", data[j : j + 8])
            j += 8
        if j + n > len(data):
            break
        out.append((opcode, data[j : j + n]))
        i = j + n
    return out


def read_all(sock: socket.socket, *, idle: float = 2.0) -> bytes:
    """Everything the peer sends until it closes or stays quiet for ``idle`` seconds."""
    sock.settimeout(idle)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data
