"""Fixtures of the browser tests: the bundle, a real origin (COOP/COEP) and headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from browserenv import parity_support

S = parity_support()


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
