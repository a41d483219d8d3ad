"""Supervisor unit tests with an injected fake worker command (no recorder engine, no RTP).

The fake worker is a short Python script run as the real child process the supervisor expects:
it writes ``aimixer record --levels`` lines (built with :mod:`origin.recorder.protocol`, the
module both sides import), can die, ignore SIGTERM or write garbage.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from origin.studio.supervisor import Supervisor

FAKE_WORKER = r"""
import json, os, signal, sys, time
from origin.recorder import protocol

mode, state_dir = sys.argv[1], sys.argv[2]
runs = os.path.join(state_dir, "runs")
n = int(open(runs).read()) + 1 if os.path.exists(runs) else 1
open(runs, "w").write(str(n))

def emit(msg):
    sys.stdout.write(protocol.dumps(msg) + "\n")
    sys.stdout.flush()

if mode == "crash-once" and n == 1:
    sys.stderr.write("boom: no such interface\n")
    sys.exit(3)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode == "garbage":
    sys.stdout.write("not json\n[1, 2]\n" + "x" * 3_000_000 + "\n{\"type\": \"mystery\"}\n")
    sys.stdout.flush()
path = os.path.join(state_dir, f"take-{n}.wav")
emit(protocol.event("file_open", path=path, append=False))
emit(protocol.levels([{"name": "L", "level_db": -20.0, "level_linear": 0.1, "peak_db": -6.0, "clipping": False}]))
emit(protocol.stats({"bytes_written": 4096 * n, "current_file": path, "errors": []}))
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def fake(tmp_path: Path) -> Any:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    events: list[tuple[int, str, str]] = []
    pids: list[tuple[int, int | None]] = []

    async def on_event(rid: int, kind: str, message: str) -> None:
        events.append((rid, kind, message))

    async def on_pid(rid: int, pid: int | None) -> None:
        pids.append((rid, pid))

    def make(mode: str, **kw: Any) -> Supervisor:
        def build(rid: int, config: dict[str, Any]) -> list[str]:
            return [sys.executable, str(script), mode, str(tmp_path)]

        sup = Supervisor(build, on_event=on_event, on_pid=on_pid, backoff_min=0.05, backoff_max=0.2, **kw)
        sup.events = events  # type: ignore[attr-defined]
        sup.pids = pids  # type: ignore[attr-defined]
        return sup

    return make


async def _until(pred: Any, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached"
        await asyncio.sleep(0.02)


def _kinds(sup: Any) -> list[str]:
    return [k for _, k, _ in sup.events]


async def test_start_reports_levels_file_and_bytes_then_stops_cleanly(fake: Any, tmp_path: Path) -> None:
    sup = fake("ok")
    rt = await sup.start(7, {}, wait=10)
    await _until(lambda: rt.bytes_written == 4096)
    assert rt.state == "recording" and rt.running
    assert rt.current_file == str(tmp_path / "take-1.wav")
    assert [c["name"] for c in rt.live_levels()] == ["L"]
    assert rt.view()["levels"][0]["level_db"] == -20.0
    assert "worker_started" in _kinds(sup) and "engine_file_open" in _kinds(sup)
    pid = rt.pid
    assert (7, pid) in sup.pids
    await sup.stop(7)
    assert rt.state == "stopped" and not rt.running and rt.view()["levels"] == []
    assert sup.events[-1][1:] == ("worker_stopped", "stopped cleanly")
    assert sup.pids[-1] == (7, None)


async def test_a_dead_worker_is_reported_and_restarted(fake: Any, tmp_path: Path) -> None:
    sup = fake("crash-once")
    rt = await sup.start(1, {}, wait=0)
    await _until(lambda: "worker_recovered" in _kinds(sup))
    died = [m for _, k, m in sup.events if k == "worker_died"]
    assert len(died) == 1 and "exited with status 3" in died[0] and "boom: no such interface" in died[0]
    assert any("boom" in e for e in rt.errors)
    assert rt.restarts == 1 and rt.state == "recording"
    await _until(lambda: rt.current_file == str(tmp_path / "take-2.wav"))
    order = _kinds(sup)
    assert order.index("worker_died") < order.index("worker_restart") < order.index("worker_recovered")
    await sup.shutdown()
    assert rt.state == "stopped"


async def test_garbage_lines_are_skipped(fake: Any) -> None:
    sup = fake("garbage")
    rt = await sup.start(2, {}, wait=10)
    await _until(lambda: rt.bytes_written == 4096)
    assert rt.state == "recording" and rt.levels
    assert "engine_mystery" not in _kinds(sup)
    await sup.stop(2)


async def test_a_worker_that_ignores_sigterm_is_killed(fake: Any) -> None:
    sup = fake("ignore-term", stop_timeout=0.5)
    rt = await sup.start(3, {}, wait=10)
    await _until(lambda: rt.reported.is_set())
    await sup.stop(3)
    assert "worker_killed" in _kinds(sup)
    assert rt.state == "stopped" and rt.proc is None


async def test_a_command_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []

    async def on_event(rid: int, kind: str, message: str) -> None:
        events.append((kind, message))

    sup = Supervisor(lambda rid, cfg: [str(tmp_path / "missing")], on_event=on_event, backoff_min=0.05)
    rt = await sup.start(4, {}, wait=1)
    assert rt.state == "error"
    assert events[0][0] == "worker_spawn_failed" and "cannot start worker" in rt.errors[0]
    await sup.stop(4)
    assert rt.state == "stopped"
