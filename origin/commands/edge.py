"""``aimixer edge``: run the edge worker (``edge/``) in workerd in front of one or more origins.

``aimixer edge --port 8787 --origin us-west=http://127.0.0.1:8001 --origin eu-west=http://127.0.0.1:8002
[--home us-west]`` validates the origins, generates the worker's configuration (the Miniflare
options ``edge/run.mjs`` hands to the workerd binary: the bindings ``ORIGINS``, ``HOME_REGION``
and the probe and timeout settings) and replaces itself with ``node edge/run.mjs``, so signals
reach the edge directly. ``--print-config`` prints the generated configuration instead.

An origin is ``NAME=URL`` (its region is its name) or ``NAME@REGION=URL`` (several origins in one
region). Names are 1-64 of ``[A-Za-z0-9._-]``; regions 1-32 of ``[a-z0-9-]``; URLs http(s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from origin.cli import CLIError

__all__ = ["register", "run", "parse_origin", "edge_config", "EDGE_DIR"]

EDGE_DIR = Path(__file__).resolve().parents[2] / "edge"
MAX_ORIGINS = 16
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def register(sub: Any) -> None:
    p = sub.add_parser("edge", help="run the edge worker (CDN, region routing, failover) in workerd")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8787, help="TCP port (default 8787)")
    p.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="NAME[@REGION]=URL",
        help="an origin (repeat for each; at least one)",
    )
    p.add_argument("--home", help="region used when a client names none (default: the first origin's)")
    p.add_argument("--probe-interval-ms", type=int, default=2000, help="active /health probe period")
    p.add_argument("--probe-timeout-ms", type=int, default=2000, help="one probe's time limit")
    p.add_argument(
        "--upstream-timeout-ms",
        type=int,
        default=15000,
        help="time limit for an origin's answer to a retryable request before trying the next",
    )
    p.add_argument(
        "--script",
        help="run this build of the worker instead of edge/src/worker.js (e.g. wrangler's bundle)",
    )
    p.add_argument("--print-config", action="store_true", help="print the generated config and exit")
    p.set_defaults(func=run)


def parse_origin(spec: str) -> dict[str, str]:
    """``NAME[@REGION]=URL`` -> ``{"name", "region", "url"}`` (raises :class:`CLIError`)."""
    if len(spec) > 2048 or "=" not in spec:
        raise CLIError(f"--origin {spec[:60]!r}: expected NAME=URL or NAME@REGION=URL")
    left, url = spec.split("=", 1)
    name, _, region = left.partition("@")
    region = (region or name).lower()
    if not _NAME_RE.match(name):
        raise CLIError(f"--origin {spec[:60]!r}: name {name[:70]!r} must be 1-64 of A-Z a-z 0-9 . _ -")
    if not _REGION_RE.match(region):
        raise CLIError(f"--origin {spec[:60]!r}: region {region[:40]!r} must be 1-32 of a-z 0-9 -")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CLIError(f"--origin {spec[:60]!r}: {url[:80]!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise CLIError(f"--origin {spec[:60]!r}: the URL may not have a query or fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise CLIError(f"--origin {spec[:60]!r}: bad port") from None
    return {"name": name, "region": region, "url": url.rstrip("/")}


def edge_config(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration ``edge/run.mjs`` runs: bind address and the worker's bindings."""
    if not args.origin:
        raise CLIError("at least one --origin NAME=URL is required")
    if len(args.origin) > MAX_ORIGINS:
        raise CLIError(f"at most {MAX_ORIGINS} origins")
    origins = [parse_origin(s) for s in args.origin]
    names = [o["name"] for o in origins]
    if len(set(names)) != len(names):
        raise CLIError("origin names must be unique")
    home = (args.home or origins[0]["region"]).lower()
    if not _REGION_RE.match(home):
        raise CLIError(f"--home {home[:40]!r} must be 1-32 of a-z 0-9 -")
    if home not in {o["region"] for o in origins}:
        raise CLIError(f"--home {home!r} is not the region of any --origin")
    if not 0 < args.port < 65536:
        raise CLIError(f"--port {args.port} is out of range")
    for flag, value, lo, hi in (
        ("--probe-interval-ms", args.probe_interval_ms, 100, 3_600_000),
        ("--probe-timeout-ms", args.probe_timeout_ms, 50, 60_000),
        ("--upstream-timeout-ms", args.upstream_timeout_ms, 100, 600_000),
    ):
        if not lo <= value <= hi:
            raise CLIError(f"{flag} {value} is out of range [{lo}, {hi}]")
    cfg: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "bindings": {
            "ORIGINS": json.dumps(origins),
            "HOME_REGION": home,
            "PROBE_INTERVAL_MS": str(args.probe_interval_ms),
            "PROBE_TIMEOUT_MS": str(args.probe_timeout_ms),
            "UPSTREAM_TIMEOUT_MS": str(args.upstream_timeout_ms),
        },
    }
    if args.script:
        script = Path(args.script).resolve()
        if not script.is_file():
            raise CLIError(f"--script {args.script!r} is not a file")
        cfg["script"] = str(script)
    return cfg


def run(args: argparse.Namespace) -> int:
    cfg = edge_config(args)
    if args.print_config:
        print(json.dumps(cfg, indent=2))
        return 0
    node = shutil.which("node")
    if node is None:
        raise CLIError("node is not installed (the edge runs workerd through Node's miniflare package)")
    root = EDGE_DIR.parent
    if not (root / "node_modules" / "miniflare").is_dir():
        raise CLIError(f"miniflare is not installed: run `npm ci` in {root}")
    print(
        f"aimixer edge on http://{cfg['host']}:{cfg['port']} (home {cfg['bindings']['HOME_REGION']}, "
        f"origins {', '.join(args.origin)})",
        file=sys.stderr,
        flush=True,
    )
    os.chdir(root)
    os.execv(node, [node, str(EDGE_DIR / "run.mjs"), json.dumps(cfg)])
    return 0  # pragma: no cover - execv does not return
