"""Runs the SDK's Node API tests (``tests/node/sdk_api.mjs``, node:test) against a real origin."""

from __future__ import annotations

import os
import subprocess

import pytest

pytestmark = pytest.mark.node


def test_sdk_api_in_node(support, origin_server) -> None:
    env = {
        **os.environ,
        "AIMIXER_BASE_URL": origin_server.url,
        "AIMIXER_API_KEY": origin_server.api_key or "",
    }
    proc = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(support.ROOT / "tests" / "node" / "sdk_api.mjs")],
        cwd=support.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout or "fail 0" in proc.stdout
    assert "# skipped 0" in proc.stdout or "skipped 0" in proc.stdout
