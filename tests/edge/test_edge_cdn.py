"""The edge as a CDN: the Workers Cache API in workerd in front of real origins."""

from __future__ import annotations

import brotli
import httpx
import pytest
from edgeenv import ROOT

pytestmark = pytest.mark.node

ISOLATION = {
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin",
}


def _hashed_file(bundle: dict, logical: str) -> str:
    return bundle["files"][logical]["file"]


def _hits(pair, endpoint: str) -> float:
    return pair.us.counter(endpoint) + pair.eu.counter(endpoint)


def test_second_fetch_of_a_hashed_file_reaches_no_origin(edge_pair, bundle) -> None:
    name = _hashed_file(bundle, "engine.js")
    url = f"{edge_pair.edge.url}/wasm/{name}"
    before = _hits(edge_pair, "/wasm/<path:name>")
    first = httpx.get(url, headers={"Accept-Encoding": "br"})
    after_first = _hits(edge_pair, "/wasm/<path:name>")
    second = httpx.get(url, headers={"Accept-Encoding": "br"})
    third = httpx.get(url, headers={"Accept-Encoding": "br"})
    after = _hits(edge_pair, "/wasm/<path:name>")
    assert first.status_code == second.status_code == third.status_code == 200
    assert after_first - before == 1  # the miss went to an origin
    assert after == after_first  # the hits did not
    assert first.headers["x-aimixer-cache"] == "MISS"
    assert second.headers["x-aimixer-cache"] == "HIT"
    assert first.headers["cache-control"] == second.headers["cache-control"]
    assert "immutable" in second.headers["cache-control"]
    assert second.headers["x-aimixer-origin"] == "us-west"
    assert second.content == first.content  # httpx decoded the brotli body of both


@pytest.mark.parametrize("encoding", ["br", "gzip", "identity"])
def test_encodings_are_the_origins_precompressed_bytes(edge_pair, bundle, encoding: str) -> None:
    name = _hashed_file(bundle, "protocol.js")
    dist = ROOT / "wasm" / "dist"
    raw = (dist / name).read_bytes()
    suffix = {"br": ".br", "gzip": ".gz", "identity": ""}[encoding]
    expected = (dist / (name + suffix)).read_bytes()
    for _ in range(2):  # miss, then hit
        with httpx.stream(
            "GET", f"{edge_pair.edge.url}/wasm/{name}", headers={"Accept-Encoding": encoding}
        ) as r:
            body = b"".join(r.iter_raw())
            assert r.status_code == 200
            assert r.headers.get("content-encoding", "identity") == encoding
            assert "accept-encoding" in r.headers.get("vary", "").lower()
        assert body == expected
    if encoding == "br":
        assert brotli.decompress(body) == raw


def test_etag_304_end_to_end(edge_pair) -> None:
    url = f"{edge_pair.edge.url}/wasm"
    r = httpx.get(url, headers={"Accept-Encoding": "br"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/wasm"
    etag = r.headers["etag"]
    again = httpx.get(url, headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = httpx.get(url, headers={"Accept-Encoding": "br", "If-None-Match": '"not-it"'})
    assert other.status_code == 200 and other.content == r.content


def test_revalidated_files_ask_the_origin_with_if_none_match(edge_pair) -> None:
    url = f"{edge_pair.edge.url}/wasm/manifest.json"
    first = httpx.get(url)
    assert first.status_code == 200 and "files" in first.json()
    before304 = edge_pair.us.counter("/wasm/<path:name>")
    second = httpx.get(url)
    assert second.headers["x-aimixer-cache"] == "REVALIDATED"
    assert second.json() == first.json()
    assert second.headers["cache-control"] == "public, no-cache"
    # the origin answered a conditional request (one request, a 304 without body)
    assert edge_pair.us.counter("/wasm/<path:name>") == before304 + 1
    metrics = httpx.get(edge_pair.us.url + "/metrics").text
    assert 'endpoint="/wasm/<path:name>",method="GET",status="304"' in metrics
    assert httpx.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/", "/mixer/", "/studio/"])
def test_pages_get_an_etag_and_304(edge_pair, path: str) -> None:
    r = httpx.get(edge_pair.edge.url + path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-aimixer-origin"] == "us-west"
    for k, v in ISOLATION.items():
        assert r.headers[k] == v
    etag = r.headers["etag"]
    assert httpx.get(edge_pair.edge.url + path).headers["etag"] == etag
    r304 = httpx.get(edge_pair.edge.url + path, headers={"If-None-Match": etag})
    assert r304.status_code == 304


def test_isolation_headers_on_cached_hits(edge_pair, bundle) -> None:
    name = _hashed_file(bundle, "worker.js")
    for _ in range(2):
        r = httpx.get(f"{edge_pair.edge.url}/wasm/{name}")
        assert r.status_code == 200
        for k, v in ISOLATION.items():
            assert r.headers[k] == v


def test_head_and_unknown_bundle_files(edge_pair, bundle) -> None:
    name = _hashed_file(bundle, "genre.json")
    h = httpx.head(f"{edge_pair.edge.url}/wasm/{name}")
    assert h.status_code == 200 and h.content == b""
    missing = httpx.get(f"{edge_pair.edge.url}/wasm/nope.0000.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ENDPOINT_NOT_FOUND"
    assert missing.headers["x-aimixer-cache"] == "BYPASS"  # errors are never stored
    assert httpx.get(f"{edge_pair.edge.url}/wasm/nope.0000.js").headers["x-aimixer-cache"] == "BYPASS"


def test_credentialed_requests_are_not_cached(edge_pair) -> None:
    url = f"{edge_pair.edge.url}/studio/"
    before = edge_pair.us.counter("/studio/") + edge_pair.eu.counter("/studio/")
    for _ in range(2):
        r = httpx.get(url, headers={"Authorization": "Bearer secret-token-value"})
        assert r.status_code == 200
        assert r.headers["x-aimixer-cache"] == "BYPASS"
    after = edge_pair.us.counter("/studio/") + edge_pair.eu.counter("/studio/")
    assert after - before == 2


def test_other_sites_get_their_own_cors_answer_past_the_cache(tmp_path, bundle) -> None:
    """With ``cors_origins``, a page of an allowed site loads the SDK through the edge with the
    origin's answer for that site, never a stored copy made for the edge's own pages (which
    names no site) or for another site; same-site loads are cached as before."""
    from edgeenv import Edge, Origin

    site = "https://app.example"
    o = Origin("us-west", tmp_path / "us", env={"AIMIXER_CORS_ORIGINS": site}).start()
    edge = Edge([o]).start()
    try:
        url = f"{edge.url}/wasm/{_hashed_file(bundle, 'engine.js')}"
        own = [httpx.get(url, headers={"Origin": edge.url}) for _ in range(2)]
        assert [r.headers["x-aimixer-cache"] for r in own] == ["MISS", "HIT"]
        assert "access-control-allow-origin" not in own[1].headers
        for _ in range(2):
            r = httpx.get(url, headers={"Origin": site})
            assert r.status_code == 200 and r.headers["x-aimixer-cache"] == "BYPASS"
            assert r.headers["access-control-allow-origin"] == site
            assert r.content == own[0].content
        other = httpx.get(url, headers={"Origin": "https://evil.example"})
        assert other.headers["x-aimixer-cache"] == "BYPASS"
        assert "access-control-allow-origin" not in other.headers
        assert httpx.get(url).headers["x-aimixer-cache"] == "HIT"  # the stored copy is untouched
    finally:
        edge.stop()
        o.stop()
