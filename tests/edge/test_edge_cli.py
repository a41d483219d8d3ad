"""``aimixer edge``: flag validation, the generated config, and the wrangler deployment bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from edgeenv import ROOT, Edge, Origin, _env, free_port

pytestmark = pytest.mark.node


def _edge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "origin.cli", "edge", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "at least one --origin"),
        (["--origin", "us-west"], "expected NAME=URL"),
        (["--origin", "us west=http://127.0.0.1:1"], "name"),
        (["--origin", "us-west=ftp://127.0.0.1/"], "http(s)"),
        (["--origin", "us-west=http://127.0.0.1:99999"], "bad port"),
        (["--origin", "a@EU_WEST=http://127.0.0.1:1"], "region"),
        (["--origin", "a=http://127.0.0.1:1", "--origin", "a=http://127.0.0.1:2"], "unique"),
        (["--origin", "a=http://127.0.0.1:1", "--home", "eu-west"], "not the region of any"),
        (["--origin", "a=http://127.0.0.1:1", "--port", "0"], "--port"),
        (["--origin", "a=http://127.0.0.1:1", "--probe-interval-ms", "1"], "--probe-interval-ms"),
        (["--origin", "x" * 5000 + "=http://127.0.0.1:1"], "expected NAME=URL"),
        ([arg for i in range(17) for arg in ("--origin", f"o{i}=http://127.0.0.1:{1000 + i}")], "at most 16"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args: list[str], needle: str) -> None:
    p = _edge(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("aimixer edge: error:")
    assert needle in lines[0]
    assert "Traceback" not in p.stderr


def test_print_config_is_the_workers_bindings() -> None:
    p = _edge(
        "--port",
        "8787",
        "--origin",
        "us-west=http://127.0.0.1:8001/",
        "--origin",
        "eu-west-b@eu-west=http://127.0.0.1:8002",
        "--home",
        "eu-west",
        "--print-config",
    )
    assert p.returncode == 0, p.stderr
    cfg = json.loads(p.stdout)
    assert cfg["port"] == 8787 and cfg["host"] == "127.0.0.1"
    b = cfg["bindings"]
    assert b["HOME_REGION"] == "eu-west"
    assert json.loads(b["ORIGINS"]) == [
        {"name": "us-west", "region": "us-west", "url": "http://127.0.0.1:8001"},
        {"name": "eu-west-b", "region": "eu-west", "url": "http://127.0.0.1:8002"},
    ]
    assert int(b["PROBE_INTERVAL_MS"]) > 0


def test_wrangler_dry_run_bundle_runs_in_workerd(tmp_path, bundle) -> None:
    """``wrangler deploy --dry-run`` builds the deployable bundle offline; that bundle, run in
    workerd, is a working edge."""
    out = tmp_path / "dist"
    env = {**_env(), "WRANGLER_SEND_METRICS": "false", "HOME": str(tmp_path)}
    p = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "wrangler"), "deploy", "--dry-run", "--outdir", str(out)],
        cwd=ROOT / "edge",
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "HEALTH: HealthMonitor" in p.stdout
    assert "--dry-run: exiting now." in p.stdout
    script = out / "worker.js"
    assert "HealthMonitor," in script.read_text()  # exported for the Durable Object binding
    origin = Origin("us-west", tmp_path / "us").start()
    edge = Edge([origin], extra=["--script", str(script)]).start()
    try:
        r = httpx.get(edge.url + "/health")
        assert r.status_code == 200 and r.headers["x-aimixer-origin"] == "us-west"
        assert edge.health()["origins"][0]["state"] == "healthy"
    finally:
        edge.stop()
        origin.stop()
    assert not os.path.exists(ROOT / "edge" / "dist")


@pytest.mark.parametrize(
    "origins",
    ["not json", '[{"name": "a b", "url": "ftp://x"}]'],
)
def test_a_misconfigured_worker_answers_in_the_error_shape(origins: str) -> None:
    """The worker validates its bindings itself (a wrangler deployment has no CLI in front)."""
    port = free_port()
    cfg = {"host": "127.0.0.1", "port": port, "bindings": {"ORIGINS": origins}}
    proc = subprocess.Popen(
        ["node", str(ROOT / "edge" / "run.mjs"), json.dumps(cfg)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "ready" in proc.stdout.readline()
        r = httpx.get(f"http://127.0.0.1:{port}/process-audio")
        assert r.status_code == 503
        err = r.json()["error"]
        assert err["code"] == "SERVICE_UNAVAILABLE" and "misconfigured" in err["message"]
        s = httpx.get(f"http://127.0.0.1:{port}/api/studios/")
        assert s.status_code == 503 and "misconfigured" in s.json()["detail"]
    finally:
        proc.terminate()
        proc.wait(15)
