"""Parity through the edge: the origin API, the SDK in Node (origin path) and the SDK in Chromium
(the bundle loaded from the edge's CDN, and the fallback through the edge) with ``baseUrl``
pointing at the edge (workerd) in front of the parity origin, against CPython."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from types import SimpleNamespace
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.browser]

SECTIONS = ("frames", "streams", "features", "classify")  # as in test_parity.py
RUNTIMES = ("origin_edge", "node_edge", "chromium_edge", "chromium_edge_fallback")


@pytest.fixture(scope="module")
def edgeenv(support: Any) -> Any:
    if shutil.which("node") is None or not (support.ROOT / "node_modules" / "miniflare").is_dir():
        pytest.skip("node or the npm packages (miniflare/workerd) are missing")
    return support.load_module("aimixer_edgeenv", support.ROOT / "tests" / "edge" / "edgeenv.py")


@pytest.fixture(scope="module")
def edge(edgeenv: Any, origin_server) -> Any:
    e = edgeenv.Edge([SimpleNamespace(name="us-west", url=origin_server.url)]).start()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def results_origin_edge(support: Any, parity_vectors: dict, origin_server, edge) -> dict:
    return support.run_origin(parity_vectors, SimpleNamespace(url=edge.url, api_key=origin_server.api_key))


@pytest.fixture(scope="module")
def results_node_edge(support: Any, vectors_file, origin_server, edge, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("node-edge") / "results.json"
    extra = ["--prefer", "origin", "--base-url", edge.url, "--api-key", origin_server.api_key or ""]
    return support.run_node(vectors_file, out, extra=extra)


@pytest.fixture(scope="module")
def chromium_edge_run(support: Any, browser, parity_vectors: dict, origin_server, edge) -> dict:
    page = browser.new_page()
    bundle_responses: list[dict[str, Any]] = []

    def seen(resp: Any) -> None:
        if "/wasm/" in resp.url:
            bundle_responses.append({"url": resp.url, "status": resp.status, "headers": resp.headers})

    page.on("response", seen)
    try:
        out = support.run_chromium(page, edge.url, json.dumps(parity_vectors), api_key=origin_server.api_key)
    finally:
        page.close()
    out["bundleResponses"] = bundle_responses
    return out


@pytest.fixture(scope="module")
def results_chromium_edge(chromium_edge_run: dict) -> dict:
    return chromium_edge_run


@pytest.fixture(scope="module")
def results_chromium_edge_fallback(support: Any, browser, parity_vectors: dict, origin_server, edge) -> dict:
    return support.run_chromium_fallback(browser, edge.url, json.dumps(parity_vectors), origin_server.api_key)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("section", SECTIONS)
def test_through_the_edge_matches_cpython(
    request, support: Any, results_cpython: dict, runtime: str, section: str
) -> None:
    got = request.getfixturevalue(f"results_{runtime}")[section]
    ref = results_cpython[section]
    assert [r["name"] for r in got] == [r["name"] for r in ref]
    problems: list[str] = []
    for a, b in zip(ref, got, strict=True):
        if a.get("ok") != b.get("ok"):
            problems.append(f"{section}/{a['name']}: ok {a.get('ok')} vs {b.get('ok')} {b.get('error')}")
            continue
        if not a.get("ok"):
            if (a.get("error") or {}).get("code") != (b.get("error") or {}).get("code"):
                problems.append(f"{section}/{a['name']}: error code {a['error']} != {b['error']}")
            continue
        key = "results" if section == "streams" else "result"
        support.compare(a[key], b[key], f"{section}/{a['name']}", problems=problems)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_error_codes_through_the_edge(request, parity_vectors: dict, runtime: str) -> None:
    got = {e["name"]: e["code"] for e in request.getfixturevalue(f"results_{runtime}")["errors"]}
    assert got == {e["name"]: e["code"] for e in parity_vectors["errors"]}


def test_chromium_loads_the_bundle_from_the_edge(
    results_chromium_edge: dict, results_chromium_edge_fallback: dict, results_node_edge: dict
) -> None:
    r = results_chromium_edge
    assert r["path"] == "wasm"
    assert r["crossOriginIsolated"] is True  # COOP/COEP survive the edge
    served = r["bundleResponses"]
    assert served, "no bundle request went through the edge"
    assert all(x["headers"].get("x-aimixer-cache") in ("HIT", "MISS", "REVALIDATED") for x in served)
    assert any(x["headers"].get("x-aimixer-cache") == "MISS" for x in served)
    assert all(x["headers"].get("x-aimixer-origin") == "us-west" for x in served)
    fb = results_chromium_edge_fallback
    assert fb["path"] == "origin" and fb["blocked"] and fb["fallbackReason"]
    assert results_node_edge["path"] == "origin"


def test_sdk_api_in_node_through_the_edge(support: Any, origin_server, edge) -> None:
    env = {**os.environ, "AIMIXER_BASE_URL": edge.url, "AIMIXER_API_KEY": origin_server.api_key or ""}
    proc = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(support.ROOT / "tests" / "node" / "sdk_api.mjs")],
        cwd=support.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "skipped 0" in proc.stdout
