"""``aimixer demo``: what ``make run`` starts.

It runs the origin (dev mode, SQLite under ``--data-dir`` unless ``--database-url`` is given) and a demo AES67 source (our
real-time RTP sender, announced over SAP), then, through the public studio API, makes sure a
"Studio A" exists with recorder 1 assigned and recording that source. A newcomer opens the
printed URL and sees live meters and a growing recording at once. Ctrl-C, SIGTERM (a process
manager, ``docker stop``) or SIGHUP (the terminal closed) stop everything cleanly: the signal is
forwarded to the children as SIGTERM, ``aimixer demo`` waits for them (the origin stops its
recorders, which finalise their files) and exits with status 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from origin.cli import CLIError
from origin.commands.serve import add_state_options

DEMO_STUDIO = {
    "name": "Studio A",
    "description": "Demo studio fed by the built-in AES67 sender",
    "color": "#F44336",
}


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the origin in dev mode with a demo AES67 source and recorder")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data-dir", default="data", help="database and archive location (default ./data)")
    add_state_options(p)
    p.add_argument(
        "--source",
        default="239.69.1.1:5004",
        help="multicast group:port of the demo sender (recorder 1's Audyn default)",
    )
    p.add_argument("--program", default="music", help="demo sender programme (tone|pink|speech|music|FILE)")
    p.add_argument("--no-sender", action="store_true", help="do not start the demo AES67 sender")
    p.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="stop after this many seconds (0 = run until Ctrl-C); used by tests",
    )
    p.set_defaults(func=run)


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "origin.cli", *args], env=env)


def _wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CLIError(f"the origin exited with status {proc.returncode} during start-up")
        try:
            if httpx.get(f"{base}/health", timeout=1.0).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise CLIError(f"the origin did not answer on {base} within {timeout:.0f} s")


def _provision(base: str, source: str = "239.69.1.1:5004") -> str | None:
    """Ensure Studio A exists with recorder 1 assigned and recording ``source`` (ADDR:PORT).
    Returns a status line."""
    import httpx

    addr, _, port = source.rpartition(":")

    with httpx.Client(base_url=base, timeout=10.0) as c:
        if c.get("/api/studios/").status_code == 404:
            return None  # studio API not in this build
        studios = c.get("/api/studios/").json()
        studio = next((s for s in studios if s.get("name") == DEMO_STUDIO["name"]), None)
        if studio is None:
            studio = c.post("/api/studios/", json=DEMO_STUDIO).json()
        if studio.get("recorder_id") != 1:
            c.post(f"/api/studios/{studio['id']}/assign", json={"recorder_id": 1})
        rec = c.get("/api/recorders/1").json()
        cfg = rec.get("config") or {}
        if (cfg.get("multicast_addr"), cfg.get("port")) != (addr, int(port)):
            if rec.get("state") == "recording":
                c.post("/api/recorders/1/stop")
            r = c.put("/api/recorders/1/config", json={"multicast_addr": addr, "port": int(port)})
            if r.status_code >= 400:
                return f"could not point recorder 1 at {source}: {r.text}"
            rec = c.get("/api/recorders/1").json()
        if rec.get("state") != "recording":
            r = c.post("/api/recorders/1/start")
            if r.status_code >= 400:
                return f"could not start recorder 1: {r.text}"
        return f"{DEMO_STUDIO['name']} ({studio['id']}) records recorder 1"


class _Stop(Exception):
    """SIGTERM or SIGHUP arrived: stop the demo like Ctrl-C does."""


def _stop_on_signal(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def run(args) -> int:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)
    try:
        return _run(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args) -> int:
    env = dict(os.environ)
    env.setdefault("AUDYN_DEV_MODE", "true")
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env.setdefault("AIMIXER_DATA_DIR", str(data_dir))
    env.setdefault("AIMIXER_ARCHIVE_ROOT", str(data_dir / "archive"))
    base = f"http://{args.host}:{args.port}"

    children: list[subprocess.Popen] = []
    try:
        if not args.no_sender:
            children.append(
                _spawn(["sender", "--dest", args.source, "--program", args.program, "--sap"], env)
            )
        serve_args = ["serve", "--host", args.host, "--port", str(args.port), "--data-dir", str(data_dir)]
        for opt, value in (("--database-url", args.database_url), ("--redis-url", args.redis_url)):
            if value:
                serve_args += [opt, value]
        server = _spawn(serve_args, env)
        children.append(server)
        _wait_healthy(base, server)
        status = _provision(base, args.source) if not args.no_sender else None
        print(f"\nAI Mixer is running (dev mode, data in {data_dir})")
        print(f"  web app           {base}/")
        print(f"  in-browser mixer  {base}/mixer/")
        print(f"  API               {base}/health  {base}/openapi.json")
        if status:
            print(f"  demo source       {args.source} ({args.program}); {status}")
        print("Press Ctrl-C to stop.\n", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
        while deadline is None or time.monotonic() < deadline:
            for ch in children:
                if ch.poll() is not None:
                    raise CLIError(
                        f"a demo process exited unexpectedly (status {ch.returncode}): {ch.args!r}"
                    )
            time.sleep(0.5)
        return 0
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        # a second signal while the children finalise must not cut the wait short
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        for ch in reversed(children):
            if ch.poll() is None:
                ch.send_signal(signal.SIGTERM)
        for ch in reversed(children):
            try:
                ch.wait(timeout=15)
            except subprocess.TimeoutExpired:
                ch.kill()
