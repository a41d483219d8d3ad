"""Scale-out figures: ``/process-audio`` requests per second for today's single process (SQLite,
in-process state), one origin on PostgreSQL + Redis, and two origins on the same PostgreSQL +
Redis (the load split between them); then the session hand-off cost per call.

    python -m bench.bench_scaleout [--seconds 5] [--concurrency 16]

It starts its own PostgreSQL 15 and redis-server (``tests/servers.py``) and ``aimixer serve``
processes (``tests/origins.py``) on free ports, and drives them from a client process with
``--concurrency`` requests in flight (a closed loop, JSON bodies of 960 samples, an enterprise
key so the rate limit never refuses). The hand-off cost is measured two ways: end to end (the
same loop with a ``sessionId``: in-process session vs Redis session, per call), and in process
(``origin.sessionstate`` dump + load of a warmed session, median of 2000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _body(session: str | None) -> bytes:
    import numpy as np

    x = (np.sin(np.arange(960) * 0.05) * 0.3).round(6).tolist()
    doc: dict[str, Any] = {"audioBuffer": x, "config": {"compressor": {"ratio": 3}}}
    if session:
        doc["sessionId"] = session
    return json.dumps(doc).encode()


async def _load(
    urls: list[str], key: str, seconds: float, concurrency: int, sessions: bool
) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    clients = [httpx.AsyncClient(base_url=u, headers=headers, timeout=30) for u in urls]
    counts = {"ok": 0, "err": 0}
    lat: list[float] = []
    end = time.monotonic() + seconds

    async def one(i: int) -> None:
        body = _body(f"bench-{i}" if sessions else None)
        n = 0
        while time.monotonic() < end:
            c = clients[(i + n) % len(clients)]  # a session alternates between the origins
            n += 1
            t0 = time.perf_counter()
            r = await c.post("/process-audio", content=body)
            lat.append(time.perf_counter() - t0)
            counts["ok" if r.status_code == 200 else "err"] += 1

    for c in clients:  # warm-up
        await c.post("/process-audio", content=_body(None))
    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(concurrency)))
    elapsed = time.monotonic() - t0
    for c in clients:
        await c.aclose()
    return {
        "rps": counts["ok"] / elapsed,
        "errors": counts["err"],
        "p50_ms": statistics.median(lat) * 1000 if lat else None,
    }


def _client(urls: list[str], key: str, seconds: float, concurrency: int, sessions: bool) -> dict[str, Any]:
    """Run the load in a separate process (the client must not share the origins' CPU budget)."""
    spec = json.dumps([urls, key, seconds, concurrency, sessions])
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_scaleout", "--client", spec],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _key(env: dict[str, str], data_dir: Path) -> str:
    from origin.auth.apikeys import create_key
    from origin.config import load_settings
    from origin.migrations import open_app_storage

    settings = load_settings(
        env={},
        data_dir=data_dir,
        database_url=env.get("AIMIXER_DATABASE_URL"),
        redis_url=env.get("AIMIXER_REDIS_URL"),
    )
    with open_app_storage(settings) as st:
        return create_key(st, "bench", "enterprise")[1]


def _handoff_in_process() -> dict[str, float]:
    import numpy as np
    from aimixer_dsp.mixer import MixerSession

    from origin.sessionstate import dump_session, load_session

    s = MixerSession()
    x = (np.sin(np.arange(960) * 0.05) * 0.3).astype(np.float32)
    for _ in range(50):
        s.process(x, {"compressor": {"ratio": 3}})
    dump, load, proc = [], [], []
    for _ in range(2000):
        t0 = time.perf_counter()
        blob = dump_session(s)
        t1 = time.perf_counter()
        s, _ = load_session(blob)
        t2 = time.perf_counter()
        s.process(x, {"compressor": {"ratio": 3}})
        t3 = time.perf_counter()
        dump.append(t1 - t0)
        load.append(t2 - t1)
        proc.append(t3 - t2)
    return {
        "dump_ms": statistics.median(dump) * 1000,
        "load_ms": statistics.median(load) * 1000,
        "process_ms": statistics.median(proc) * 1000,
        "bytes": len(blob),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--client", help=argparse.SUPPRESS)  # internal: run one load as JSON args
    args = ap.parse_args(argv)
    if args.client:
        print(json.dumps(asyncio.run(_load(*json.loads(args.client)))))
        return 0

    from origins import Origin
    from servers import PostgresServer, RedisServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    pg, rd = PostgresServer().start(), RedisServer().start()
    origins: list[Origin] = []
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        quiet = {"AIMIXER_LOG_LEVEL": "WARNING", "AIMIXER_STUDIO_SAP": "false"}
        single = Origin(quiet, tmp / "single").start()
        origins.append(single)
        key = _key({}, tmp / "single")
        rows.append(
            (
                "1 process, SQLite + in-process state",
                _client([single.url], key, args.seconds, args.concurrency, False),
            )
        )
        rows.append(
            (
                "  same, with a sessionId per client",
                _client([single.url], key, args.seconds, args.concurrency, True),
            )
        )
        single.stop()

        shared = {
            **quiet,
            "AIMIXER_DATABASE_URL": pg.create_database("bench"),
            "AIMIXER_REDIS_URL": f"{rd.url}/0",
        }
        a = Origin(shared, tmp / "a").start()
        origins.append(a)
        key = _key(shared, tmp / "a")
        rows.append(
            ("1 origin, PostgreSQL + Redis", _client([a.url], key, args.seconds, args.concurrency, False))
        )
        rows.append(
            ("  same, sessions in Redis", _client([a.url], key, args.seconds, args.concurrency, True))
        )
        b = Origin(shared, tmp / "b").start()
        origins.append(b)
        rows.append(
            (
                "2 origins, PostgreSQL + Redis",
                _client([a.url, b.url], key, args.seconds, args.concurrency, False),
            )
        )
        rows.append(
            (
                "  same, sessions alternating origins",
                _client([a.url, b.url], key, args.seconds, args.concurrency, True),
            )
        )
    finally:
        for o in origins:
            o.stop()
        pg.stop()
        rd.stop()
    print(
        f"/process-audio, {args.concurrency} requests in flight, {args.seconds:.0f} s each, {os.cpu_count()} CPU(s)"
    )
    for name, r in rows:
        print(f"  {name:<40} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.1f} ms   errors {r['errors']}")
    h = _handoff_in_process()
    print(
        f"session hand-off in process: dump {h['dump_ms']:.3f} ms + load {h['load_ms']:.3f} ms per call "
        f"({h['bytes']} bytes; the DSP call itself {h['process_ms']:.3f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
