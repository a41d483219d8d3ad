"""Studio load: 6 recorders recording + 50 WebSocket level clients for ``--duration`` s (60).

The origin runs as ``aimixer serve --dev`` in its own process (its recorders are its child
processes); a real ``aimixer sender`` feeds one multicast stream on loopback that all six
recorders record. The benchmark process runs the WebSocket clients and samples, every second,
CPU time and RSS of the origin and of the recorder workers from ``/proc``.

Printed: CPU use (origin, workers), origin RSS at start/end and its slope (a flat memory curve is
the target), and the ``all_levels`` message rate of every client against the documented 10 Hz
(ours vs the documented rate, and the ratio; target: every client within +-10 %).

    python -m bench.bench_studio [--duration 60] [--clients 50] [--recorders 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._proc import cpu_seconds, free_port

DOCUMENTED_HZ = 10.0
WARMUP_S = 3.0


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


def _slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


async def _client(url: str, stats: dict, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    times: list[float] = []
    stats["times"] = times
    async with connect(url, open_timeout=30, max_queue=64) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            msg = json.loads(raw)
            if msg.get("type") == "all_levels":
                times.append(time.monotonic())
                stats["recording"] = sum(
                    1 for r in msg["recorders"] if r["state"] == "recording" and r["channels"]
                )


async def _run_clients(ws_url: str, n: int, duration: float, sample) -> list[dict]:
    stop = asyncio.Event()
    stats = [{} for _ in range(n)]
    tasks = [asyncio.create_task(_client(ws_url, s, stop)) for s in stats]
    t0 = time.monotonic()
    while time.monotonic() - t0 < duration:
        await asyncio.sleep(1.0)
        sample(time.monotonic() - t0)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_studio", description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds under load (default 60)")
    ap.add_argument("--clients", type=int, default=50, help="WebSocket level clients (default 50)")
    ap.add_argument("--recorders", type=int, default=6, help="recorders recording (default 6)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    port = free_port()
    group = f"239.73.{random.randint(1, 254)}.{random.randint(1, 254)}"
    rtp_port = free_port(socket.SOCK_DGRAM)
    env = {
        **os.environ,
        "AUDYN_DEV_MODE": "true",
        "AIMIXER_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "AIMIXER_MAX_RECORDERS": str(max(6, args.recorders)),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(tmp),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sender = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "sender",
            "--dest",
            f"{group}:{rtp_port}",
            "--interface",
            "127.0.0.1",
            "--program",
            "music",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    base = f"http://127.0.0.1:{port}"
    try:
        c = httpx.Client(base_url=base, timeout=30)
        for _ in range(300):
            try:
                if c.get("/api/recorders/active-count").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                print("origin failed to start:", server.stderr.read().decode()[-2000:])
                return 1
            time.sleep(0.1)
        c.put(f"/api/recorders/active-count/{args.recorders}").raise_for_status()
        for rid in range(1, args.recorders + 1):
            c.put(
                f"/api/recorders/{rid}/config",
                json={"multicast_addr": group, "port": rtp_port, "interface": "127.0.0.1"},
            ).raise_for_status()
        c.post("/api/recorders/start-all").raise_for_status()
        end = time.monotonic() + 30
        while time.monotonic() < end:
            recs = c.get("/api/recorders/").json()
            if all(r["state"] == "recording" and r["levels"] for r in recs):
                break
            time.sleep(0.2)
        recording = sum(1 for r in c.get("/api/recorders/").json() if r["state"] == "recording")

        samples: list[
            tuple[float, float, float, float, float]
        ] = []  # t, origin cpu, worker cpu, rss, workers rss

        def sample(t: float) -> None:
            ws = _children(server.pid)
            samples.append(
                (
                    t,
                    cpu_seconds(server.pid),
                    sum(cpu_seconds(p) for p in ws),
                    _rss_mb(server.pid),
                    sum(_rss_mb(p) for p in ws),
                )
            )

        sample(0.0)
        stats = asyncio.run(
            _run_clients(f"ws://127.0.0.1:{port}/ws/levels", args.clients, args.duration, sample)
        )
        c.post("/api/recorders/stop-all")
    finally:
        for p in (sender, server):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (sender, server):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    rates = []
    for s in stats:
        ts = [t for t in s.get("times", []) if t - s["times"][0] >= WARMUP_S] if s.get("times") else []
        rates.append((len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 2 else 0.0)
    within = sum(1 for r in rates if abs(r - DOCUMENTED_HZ) <= 0.1 * DOCUMENTED_HZ)
    t_last = samples[-1][0] or 1.0
    origin_cpu = (samples[-1][1] - samples[0][1]) / t_last * 100
    worker_cpu = (samples[-1][2] - samples[0][2]) / t_last * 100
    steady = [s for s in samples if s[0] >= min(10.0, t_last / 3)]
    slope = _slope([s[0] for s in steady], [s[3] for s in steady]) * 60
    print(
        f"studio load: {recording}/{args.recorders} recorders recording, {args.clients} WS clients, "
        f"{args.duration:.0f} s, {os.cpu_count()} CPUs"
    )
    print(
        f"  CPU          origin {origin_cpu:.1f} %  recorder workers {worker_cpu:.1f} % (sum of "
        f"{args.recorders}, {worker_cpu / max(1, args.recorders):.1f} % each)"
    )
    print(
        f"  RSS origin   start {samples[0][3]:.1f} MB  end {samples[-1][3]:.1f} MB  "
        f"slope after warm-up {slope:+.2f} MB/min  (workers total {samples[-1][4]:.0f} MB)"
    )
    print(
        f"  level rate   min {min(rates):.2f}  median {statistics.median(rates):.2f}  max {max(rates):.2f} msg/s "
        f"per client; documented {DOCUMENTED_HZ:.0f} Hz; ratio median/documented "
        f"{statistics.median(rates) / DOCUMENTED_HZ:.3f}"
    )
    print(f"  clients within +-10 % of {DOCUMENTED_HZ:.0f} Hz: {within}/{len(rates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
