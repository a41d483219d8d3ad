"""Fixtures of the browser tests: the bundle, a real origin (COOP/COEP) and headless Chromium."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest


def _load_support() -> Any:
    name = "aimixer_parity_support"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "parity" / "_support.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


S = _load_support()


@pytest.fixture(scope="session")
def support() -> Any:
    return S


@pytest.fixture(scope="session")
def wasm_origin(tmp_path_factory: pytest.TempPathFactory):
    S.ensure_bundle()
    server = S.OriginServer(tmp_path_factory.mktemp("browser-origin"), dev_mode=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    return S.shared_browser()


@pytest.fixture
def mixer_page(chromium, wasm_origin):
    ctx = chromium.new_context()
    pg = ctx.new_page()
    pg.goto(wasm_origin.url + S.PAGE_PATH)
    yield pg
    ctx.close()
