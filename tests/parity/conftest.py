"""Session fixtures of the parity suite: the vectors, the bundle, a real origin, and each runtime's
results (every runtime boots once and runs all vectors in one batch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browserenv import parity_support

S = parity_support()


@pytest.fixture(scope="session")
def support() -> Any:
    return S


@pytest.fixture(scope="session")
def parity_vectors() -> dict:
    return S.vectors_mod.build_vectors()


@pytest.fixture(scope="session")
def vectors_file(parity_vectors: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("parity") / "vectors.json"
    p.write_text(json.dumps(parity_vectors))
    return p


@pytest.fixture(scope="session")
def bundle_manifest() -> dict:
    return S.ensure_bundle()


@pytest.fixture(scope="session")
def origin_server(bundle_manifest: dict, tmp_path_factory: pytest.TempPathFactory):
    server = S.OriginServer(tmp_path_factory.mktemp("origin-data"), dev_mode=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def results_cpython(parity_vectors: dict) -> dict:
    return S.run_cpython(parity_vectors)


@pytest.fixture(scope="session")
def results_origin(parity_vectors: dict, origin_server) -> dict:
    return S.run_origin(parity_vectors, origin_server)


@pytest.fixture(scope="session")
def results_node(vectors_file: Path, bundle_manifest: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("node") / "results.json"
    return S.run_node(vectors_file, out)


@pytest.fixture(scope="session")
def browser():
    return S.shared_browser()


@pytest.fixture(scope="session")
def results_chromium(browser, parity_vectors: dict, origin_server) -> dict:
    page = browser.new_page()
    try:
        return S.run_chromium(
            page, origin_server.url, json.dumps(parity_vectors), api_key=origin_server.api_key
        )
    finally:
        page.close()


@pytest.fixture(scope="session")
def results_chromium_fallback(browser, parity_vectors: dict, origin_server) -> dict:
    """The bundle is blocked (every /wasm/* request aborted): the SDK must fall back to the origin."""
    return S.run_chromium_fallback(
        browser, origin_server.url, json.dumps(parity_vectors), origin_server.api_key
    )
