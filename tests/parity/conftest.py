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
    ctx = browser.new_context()
    page = ctx.new_page()
    blocked: list[str] = []

    def abort(route: Any) -> None:
        blocked.append(route.request.url)
        route.abort()

    page.route(f"{origin_server.url}/wasm/*", abort)
    page.route(f"{origin_server.url}/wasm/**/*", abort)
    # the SDK entry module itself must load: serve it from the unblocked source tree
    js_dir = S.ROOT / "wasm" / "js"

    def serve(body: str) -> Any:
        return lambda route: route.fulfill(status=200, body=body, headers={"Content-Type": "text/javascript"})

    for name in ("aimixer.js", "protocol.js", "files.js"):
        page.route(f"{origin_server.url}/__sdk__/{name}", serve((js_dir / name).read_text()))
    try:
        S.install_runner_route(page, origin_server.url)
        page.goto(origin_server.url + S.PAGE_PATH)
        result = page.evaluate(
            """async ([vectorsJson, apiKey]) => {
                const { AIMixer } = await import("/__sdk__/aimixer.js");
                const { runVectors } = await import("/__parity__/runner.mjs");
                const mixer = await AIMixer.create({ apiKey });
                const out = await runVectors(mixer, JSON.parse(vectorsJson));
                out.fallbackReason = mixer.fallbackReason;
                return JSON.stringify(out);
            }""",
            [json.dumps(parity_vectors), origin_server.api_key],
        )
        out = json.loads(result)
        out["blocked"] = blocked
        return out
    finally:
        ctx.close()
