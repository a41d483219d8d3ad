"""``aimixer serve`` stops on SIGTERM within its grace period even while a client that stopped
reading holds a download open: a rolling restart must not wait on the slowest listener. Busy
connections get the grace period to finish; then they are cut, and the app's own shutdown (studio
engines, job pool, storage) still runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from netutil import free_tcp_port

CLI = [sys.executable, "-m", "origin.cli"]


def _start(data: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
    env["AIMIXER_STUDIO_SAP"] = "false"
    proc = subprocess.Popen(
        [*CLI, "serve", "--dev", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("origin did not start: " + (proc.communicate()[0] or ""))


def _stalled_download(port: int) -> socket.socket:
    """A client that asks for a 64 MB file, reads the first bytes and then never reads again."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(
        f"GET /api/assets/download/recorder1/2026-01-01/2026-01-01-10.wav HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    )
    assert s.recv(64).startswith(b"HTTP/1.1 200")
    return s


def test_sigterm_ends_the_origin_despite_a_stalled_download(tmp_path):
    data = tmp_path / "data"
    f = data / "archive" / "recorder1" / "2026-01-01" / "2026-01-01-10.wav"
    f.parent.mkdir(parents=True)
    f.write_bytes(os.urandom(1 << 20) * 64)
    port = free_tcp_port()
    proc = _start(data, port)
    client = _stalled_download(port)
    try:
        time.sleep(1.0)  # the server's send buffers fill up; its send now waits on the client
        assert proc.poll() is None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise AssertionError("the origin did not stop within 30 s of SIGTERM: " + out[-2000:]) from None
        took = time.monotonic() - t0
        assert proc.returncode == 0, out[-2000:]
        assert took < 15, f"stopped after {took:.1f} s (grace 5 s)"
        assert "studio engines stopped" in out  # the app's own shutdown ran
        assert "cut 1 connection(s) still open 4 s after the signal" in out and "Traceback" not in out, out[
            -3000:
        ]
        # the new origin on the same port starts at once
        proc = _start(data, port)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
