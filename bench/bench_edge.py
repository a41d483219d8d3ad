"""Edge benchmark: the cost of the edge hop, its CDN, and the failover gap.

Run: ``python -m bench.bench_edge [--requests N] [--quick]``

It starts two ``aimixer serve`` origins (us-west, eu-west; dev mode with the rate limit off) and
``aimixer edge`` (workerd) in front of them on loopback, with the edge suite's process helpers
(``tests/edge/edgeenv.py``), and measures in one run:

1. ``POST /process-audio`` (JSON, 960 samples), one keep-alive client, requests to the origin
   directly and through the edge interleaved one for one: p50/p99 of each and the added latency
   of the edge hop, once with ``Accept-Encoding: identity`` (the hop alone) and once with
   ``gzip`` (the edge, like Cloudflare's front end, then compresses the JSON answer);
2. the ``/wasm`` bundle: ``pyodide.asm.wasm`` and the Pyodide snapshot (the largest file),
   brotli, from the edge's cache (a hit) against straight from the origin: median time and MB/s;
3. the failover gap: four clients send ``/process-audio`` through the edge back to back; us-west
   gets ``kill -9``; the gap is the longest time any request failed or waited (its latency)
   around the kill, next to the normal p99, plus the count of failed requests.

Everything shares the machine's two cores, so the figures include the client's own CPU time.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _edgeenv() -> Any:
    name = "aimixer_edgeenv"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "edge" / "edgeenv.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def latency(direct: str, edge: str, n: int, accept_encoding: str) -> dict[str, float]:
    import httpx

    env = _edgeenv()
    body = {"audioBuffer": env.sine_frame()}
    out: dict[str, list[float]] = {"direct": [], "edge": []}
    with httpx.Client(timeout=30, headers={"Accept-Encoding": accept_encoding}) as c:
        for _ in range(min(200, n // 5)):  # warm-up: connections, JIT, caches
            c.post(direct + "/process-audio", json=body)
            c.post(edge + "/process-audio", json=body)
        for i in range(n):
            order = (
                (("direct", direct), ("edge", edge)) if i % 2 == 0 else (("edge", edge), ("direct", direct))
            )
            for label, base in order:
                t0 = time.perf_counter()
                r = c.post(base + "/process-audio", json=body)
                dt = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    raise RuntimeError(f"{label}: HTTP {r.status_code} {r.text[:200]}")
                out[label].append(dt)
    return {
        "direct_p50": _pct(out["direct"], 0.5),
        "direct_p99": _pct(out["direct"], 0.99),
        "edge_p50": _pct(out["edge"], 0.5),
        "edge_p99": _pct(out["edge"], 0.99),
    }


def transfer(direct: str, edge: str, path: str, runs: int) -> dict[str, float]:
    import httpx

    hdr = {"Accept-Encoding": "br"}
    res: dict[str, Any] = {}
    with httpx.Client(timeout=120) as c:
        t0 = time.perf_counter()
        with c.stream("GET", edge + path, headers=hdr) as r:
            size = sum(len(b) for b in r.iter_raw())
            res["miss_cache"] = r.headers.get("x-aimixer-cache")
        res["edge_miss_ms"] = (time.perf_counter() - t0) * 1000
        for label, base in (("edge", edge), ("direct", direct)):
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                with c.stream("GET", base + path, headers=hdr) as r:
                    got = sum(len(b) for b in r.iter_raw())
                    if label == "edge":
                        assert r.headers.get("x-aimixer-cache") == "HIT", r.headers
                times.append((time.perf_counter() - t0) * 1000)
                assert got == size
            res[f"{label}_ms"] = statistics.median(times)
    res["bytes"] = size
    return res


def failover(pair: Any, clients: int = 4, before_s: float = 2.0, after_s: float = 3.0) -> dict[str, Any]:
    import httpx

    env = _edgeenv()
    body = {"audioBuffer": env.sine_frame()}
    records: list[tuple[float, float, int, str]] = []  # start, end, status, origin
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=60) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    r = c.post(pair.edge.url + "/process-audio", json=body)
                    status, origin = r.status_code, r.headers.get("x-aimixer-origin", "")
                except httpx.HTTPError as exc:
                    status, origin = 0, type(exc).__name__
                with lock:
                    records.append((t0, time.perf_counter(), status, origin))

    with httpx.Client(timeout=30) as c:  # the standby origin is warm, as it would be in service
        for _ in range(100):
            c.post(pair.eu.url + "/process-audio", json=body)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(before_s)
    t_kill = time.perf_counter()
    pair.us.kill9()
    time.sleep(after_s)
    stop.set()
    for t in threads:
        t.join(60)
    normal = [(e - s) * 1000 for s, e, st, _ in records if e < t_kill and st == 200]
    around = [(s, e, st) for s, e, st, _ in records if e >= t_kill and s <= t_kill + 1.0]
    failed = [r for r in records if r[2] != 200]
    gap = max([(e - s) * 1000 for s, e, _ in around] or [0.0])
    first_eu = min((e for s, e, st, o in records if o == "eu-west" and st == 200), default=float("nan"))
    return {
        "requests": len(records),
        "failed": len(failed),
        "normal_p99": _pct(normal, 0.99) if normal else float("nan"),
        "gap_ms": gap,
        "first_eu_after_kill_ms": (first_eu - t_kill) * 1000,
        "failures": sorted({f"{st} {o}".strip() for _, _, st, o in failed}),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="/process-audio requests per path")
    ap.add_argument("--runs", type=int, default=10, help="downloads per file and path")
    ap.add_argument("--quick", action="store_true", help="fewer requests and downloads")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.runs = 300, 3
    env = _edgeenv()
    if str(ROOT / "tests") not in sys.path:  # the parity helpers import their siblings by name
        sys.path.insert(0, str(ROOT / "tests"))
    from browserenv import parity_support

    manifest = parity_support().ensure_bundle()
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        limits = {"AIMIXER_RATE_LIMIT_STANDARD": "0"}
        us = env.Origin("us-west", Path(tmp) / "us", env=limits).start()
        eu = env.Origin("eu-west", Path(tmp) / "eu", env=limits).start()
        edge = env.Edge([us, eu], home="us-west").start()
        pair = type("Pair", (), {"us": us, "eu": eu, "edge": edge})
        try:
            lats = {ae: latency(us.url, edge.url, args.requests, ae) for ae in ("identity", "gzip")}
            files = {
                "pyodide.asm.wasm": "/wasm",
                "pyodide.snapshot": "/wasm/" + manifest["files"]["pyodide.snapshot"]["file"],
            }
            moved = {name: transfer(us.url, edge.url, path, args.runs) for name, path in files.items()}
            fo = failover(pair)
        finally:
            edge.stop()
            us.stop()
            eu.stop()
    for ae, lat in lats.items():
        print(
            f"/process-audio, {args.requests} requests each, interleaved, one keep-alive client, "
            f"Accept-Encoding: {ae}:"
        )
        print(f"  direct  p50 {lat['direct_p50']:.2f} ms  p99 {lat['direct_p99']:.2f} ms")
        print(f"  edge    p50 {lat['edge_p50']:.2f} ms  p99 {lat['edge_p99']:.2f} ms")
        print(
            f"  added by the edge hop: p50 +{lat['edge_p50'] - lat['direct_p50']:.2f} ms, "
            f"p99 +{lat['edge_p99'] - lat['direct_p99']:.2f} ms"
        )
    for name, m in moved.items():
        mb = m["bytes"] / 1e6
        print(
            f"{name} (brotli, {mb:.2f} MB), median of {args.runs}: edge cache hit {m['edge_ms']:.1f} ms "
            f"({mb / m['edge_ms'] * 1000:.0f} MB/s), origin {m['direct_ms']:.1f} ms "
            f"({mb / m['direct_ms'] * 1000:.0f} MB/s), ratio {m['direct_ms'] / m['edge_ms']:.2f}x; "
            f"first fetch through the edge (miss) {m['edge_miss_ms']:.1f} ms"
        )
    print(
        f"failover (kill -9 of us-west under 4 clients, {fo['requests']} requests): {fo['failed']} failed; "
        f"gap (longest request around the kill) {fo['gap_ms']:.1f} ms vs normal p99 {fo['normal_p99']:.2f} ms; "
        f"first eu-west answer {fo['first_eu_after_kill_ms']:.1f} ms after the kill"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
