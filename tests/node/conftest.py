"""Shared by the Node tests that run a script of this folder inside Pyodide and read its result."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYODIDE = ROOT / "node_modules" / "pyodide" / "pyodide.mjs"


@pytest.fixture
def node_json() -> Callable[[str], Any]:
    """``node_json("script.mjs")``: run ``tests/node/script.mjs`` from the repository root and
    return the JSON of its last output line (the test fails with the script's stderr tail when it
    exits non-zero). Skips the test when Pyodide is not installed."""
    if not PYODIDE.exists():
        pytest.skip("node_modules/pyodide is not installed (npm install)")

    def run(script: str) -> Any:
        assert shutil.which("node"), "node is required (node_modules/pyodide is installed)"
        cmd = ["node", str(ROOT / "tests" / "node" / script)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run
