"""Shared by the suites that drive Debian's Chromium (``tests/browser``, ``tests/parity``,
``tests/web``): the browser binary, its flags, and the parity support module that owns the one
headless Chromium of a test process. ``tests/`` is on ``sys.path`` (its ``conftest.py`` sits
there): ``from browserenv import ...``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


def parity_support() -> Any:
    """``tests/parity/_support.py``, loaded once per process as ``aimixer_parity_support`` (a unique
    name: no clash with other suites' helpers)."""
    name = "aimixer_parity_support"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent / "parity" / "_support.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]
