"""The SDK's origin twin of ``processFile`` (Node) against ``aimixer serve``: a stereo file,
genre ``rock`` + the ``streaming`` target, over file jobs (``POST /jobs``: upload, poll, download)
and over ``/stream-audio`` (the path for origins without ``/jobs``). Wall time and the real-time
factor of each, client and server on this machine.

Run: ``python -m bench.bench_origin_twin [--seconds S]`` (default 60).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._proc import free_port

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the file (s)")
    args = ap.parse_args(argv)

    import httpx

    from origin.auth.apikeys import create_key
    from origin.migrations import app_schemas
    from origin.storage import open_storage

    tmp = Path(tempfile.mkdtemp(prefix="bench-twin-"))
    with open_storage(tmp / "aimixer.db", app_schemas()) as st:
        _, key = create_key(st, "bench", "enterprise")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
    env["AIMIXER_LOG_LEVEL"] = "WARNING"
    cmd = [sys.executable, "-c", "import sys; from origin.cli import main; sys.exit(main())", "serve",
           "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp)]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        res = subprocess.run(
            ["node", str(ROOT / "bench" / "origin_twin.mjs"), f"http://127.0.0.1:{port}", key, str(args.seconds)],
            capture_output=True, text=True, timeout=900, cwd=ROOT,
        )  # fmt: skip
        if res.returncode != 0:
            print(res.stderr[-3000:], file=sys.stderr)
            return 1
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"origin twin of processFile: {args.seconds:g} s stereo, genre rock + streaming target")
    for line in res.stdout.strip().splitlines():
        r = json.loads(line)
        print(
            f"  {r['path']:<13} {r['seconds']:6.2f} s  = {r['realtime']:5.1f}x real time"
            f"  output {r['outputLufs']:.2f} LUFS"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
