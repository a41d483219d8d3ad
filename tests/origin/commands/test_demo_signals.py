"""``aimixer demo`` (what ``make run`` starts) stops its whole tree on SIGTERM and SIGHUP, as a
process manager or ``docker stop`` sends them: the origin, the sender and the recorder exit, the
recording is finalised, and the demo exits with status 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[3]


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                kids = [int(k) for k in fh.read().split()]
        except OSError:
            continue
        out.update(kids)
        todo.extend(kids)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_demo_stops_its_tree_on_signal(tmp_path, sig) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "wasm"), str(ROOT / "models")])
    env["AIMIXER_STUDIO_SAP"] = "false"
    data = tmp_path / "data"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--program",
            "tone",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        rec = {}
        while time.monotonic() < deadline:
            assert demo.poll() is None, demo.stderr.read().decode()[-2000:]
            try:
                rec = httpx.get(base + "/api/recorders/1", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                rec = {}
            if rec.get("state") == "recording" and rec.get("bytes_written", 0) > 0:
                break
            time.sleep(0.5)
        assert rec.get("state") == "recording", rec
        tree = _descendants(demo.pid)
        assert len(tree) >= 3  # serve, sender and the recorder (a child of serve)
        demo.send_signal(sig)
        assert demo.wait(60) == 0
        still = [p for p in tree if _alive(p)]
        assert not still, f"left running after {sig.name}: {still}"
        files = sorted((data / "archive").rglob("*.wav"))
        assert files, "no recording"
        assert sf.info(str(files[-1])).frames > 0  # a finalised, readable WAV
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
