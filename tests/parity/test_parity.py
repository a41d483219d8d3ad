"""Parity: CPython, the origin's HTTP API, the SDK in Node and the SDK in Chromium agree.

Audio, metrics (except ``processingTime``) and features within 1e-5; genre labels, error codes
and every string exactly. The reference is CPython (the DSP package called directly).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.node, pytest.mark.browser]

SECTIONS = ("frames", "streams", "features", "classify")
RUNTIMES = ("origin", "node", "chromium", "chromium_fallback")
MODEL = Path(__file__).resolve().parents[2] / "models" / "genre.onnx"


def _runtime(request: pytest.FixtureRequest, name: str) -> dict:
    return request.getfixturevalue(f"results_{name}")


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("section", SECTIONS)
def test_runtime_matches_cpython(
    request, support: Any, results_cpython: dict, runtime: str, section: str
) -> None:
    other = _runtime(request, runtime)
    ref = results_cpython[section]
    got = other[section]
    assert [r["name"] for r in got] == [r["name"] for r in ref]
    problems: list[str] = []
    for a, b in zip(ref, got, strict=True):
        if a.get("ok") != b.get("ok"):
            problems.append(
                f"{section}/{a['name']}: cpython ok={a.get('ok')} {a.get('error')} vs "
                f"{runtime} ok={b.get('ok')} {b.get('error')}"
            )
            continue
        if not a.get("ok"):
            if (a.get("error") or {}).get("code") != (b.get("error") or {}).get("code"):
                problems.append(f"{section}/{a['name']}: error code {a['error']} != {b['error']}")
            continue
        key = "results" if section == "streams" else "result"
        support.compare(a[key], b[key], f"{section}/{a['name']}", problems=problems)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("runtime", ("cpython", *RUNTIMES))
def test_error_codes(request, parity_vectors: dict, runtime: str) -> None:
    got = {e["name"]: e["code"] for e in _runtime(request, runtime)["errors"]}
    want = {e["name"]: e["code"] for e in parity_vectors["errors"]}
    assert got == want


def test_paths_reported(
    bundle_manifest: dict, results_node: dict, results_chromium: dict, results_chromium_fallback: dict
) -> None:
    assert results_node["path"] == "wasm"
    if bundle_manifest.get("snapshot"):  # both booted from the build-time interpreter snapshot
        assert results_node["info"]["snapshot"] is True, results_node["info"]
        assert results_chromium["info"]["snapshot"] is True, results_chromium["info"]
    assert results_chromium["path"] == "wasm"
    assert results_chromium["crossOriginIsolated"] is True
    assert [p["phase"] for p in results_chromium["phases"] if p["state"] == "done"] == [
        "runtime",
        "package",
        "model",
    ]
    assert results_chromium_fallback["path"] == "origin"
    assert results_chromium_fallback["blocked"], "the bundle was never requested"
    assert results_chromium_fallback["fallbackReason"]


def test_vectors_cover_every_stage_and_the_stream(parity_vectors: dict, results_cpython: dict) -> None:
    """The vectors are not vacuous: each stage is seen on and off, and the 5 s stream is stateful."""
    applied = [f["result"]["appliedSettings"] for f in results_cpython["frames"] if f["ok"]]
    for stage in ("noiseGate", "compressor", "eq", "limiter"):
        states = {a[stage]["enabled"] for a in applied}
        assert states == {True, False}, stage
    assert {a["bypass"] for a in applied} == {True, False}
    stream = results_cpython["streams"][0]["results"]
    assert len(stream) == 250
    # stateful: the integrated loudness becomes defined and keeps evolving over the stream
    lufs = [r["metrics"]["lufs"] for r in stream]
    assert lufs[0] is None and lufs[-1] is not None
    if MODEL.is_file():
        auto = next(s for s in results_cpython["streams"] if s["name"] == "auto-noise-4s")["results"]
        genres = [r["metrics"]["genre"] for r in auto]
        assert genres[0] is None and genres[-1] is not None, "genre 'auto' never produced a verdict"
