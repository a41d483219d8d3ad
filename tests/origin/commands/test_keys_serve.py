from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from netutil import free_tcp_port

from origin.cli import main


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keys_create_list_revoke(tmp_path, capsys):
    d = str(tmp_path / "data")
    code, out, _ = _cli(
        capsys,
        "keys",
        "--data-dir",
        d,
        "create",
        "--name",
        "ci",
        "--tier",
        "premium",
        "--role",
        "studio",
        "--studio-id",
        "st-1",
        "--json",
    )
    assert code == 0
    rec = json.loads(out)
    assert rec["key"].startswith("amx_") and rec["tier"] == "premium" and rec["studioId"] == "st-1"
    # stored hashed: the secret is nowhere in the database file
    raw = (tmp_path / "data" / "aimixer.db").read_bytes()
    wal = tmp_path / "data" / "aimixer.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert rec["key"].encode() not in raw
    code, out, _ = _cli(capsys, "keys", "--data-dir", d, "list")
    assert code == 0 and rec["id"] in out and "active" in out and rec["key"] not in out
    code, out, _ = _cli(capsys, "keys", "--data-dir", d, "revoke", rec["id"])
    assert code == 0
    code, out, _ = _cli(capsys, "keys", "--data-dir", d, "list", "--json")
    assert json.loads(out)[0]["active"] is False
    code, _, err = _cli(capsys, "keys", "--data-dir", d, "revoke", rec["id"])
    assert code != 0 and "no active key" in err
    code, _, err = _cli(capsys, "keys", "--data-dir", d, "create", "--name", "x", "--role", "studio")
    assert code != 0 and "studio id" in err


def test_keys_bad_tier_is_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["keys", "--data-dir", str(tmp_path), "create", "--name", "x", "--tier", "gold"])
    assert exc.value.code == 2


# `python -m origin.cli` would run cli.py as __main__ (a second CLIError class); use the entry function
CLI = [sys.executable, "-c", "import sys; from origin.cli import main; sys.exit(main())"]


def test_serve_command_runs_hypercorn_with_key_auth(tmp_path):
    d = str(tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
    key = json.loads(
        subprocess.run(
            [*CLI, "keys", "--data-dir", d, "create", "--name", "srv", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    )["key"]
    port = free_tcp_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", d],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(200):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["devMode"] is False
        assert httpx.get(f"http://127.0.0.1:{port}/v1/config").status_code == 401
        r = httpx.get(f"http://127.0.0.1:{port}/v1/config", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_bad_config_file_is_one_line_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = 'abc'\n")
    r = subprocess.run([*CLI, "serve", "--config", str(cfg)], capture_output=True, text=True)
    assert r.returncode != 0 and "port" in r.stderr and "Traceback" not in r.stderr
