"""Region routing, X-AIMixer-Origin, pass-through of headers, /edge/health and hostile input."""

from __future__ import annotations

import httpx
import pytest
from edgeenv import sine_frame

pytestmark = pytest.mark.node


def test_home_region_by_default_and_client_preference(edge_pair) -> None:
    e = edge_pair.edge.url
    assert httpx.get(e + "/health").headers["x-aimixer-origin"] == "us-west"
    assert httpx.get(e + "/health").json()["region"] == "us-west"
    r = httpx.get(e + "/health", headers={"X-AIMixer-Region": "eu-west"})
    assert r.headers["x-aimixer-origin"] == "eu-west"
    assert r.json()["region"] == "eu-west"
    assert httpx.get(e + "/health?region=eu-west").headers["x-aimixer-origin"] == "eu-west"
    # a region with no origin: the home region serves it
    assert httpx.get(e + "/health?region=ap").headers["x-aimixer-origin"] == "us-west"
    body = {"audioBuffer": sine_frame()}
    p = httpx.post(e + "/process-audio?region=eu-west", json=body)
    assert p.status_code == 200 and p.headers["x-aimixer-origin"] == "eu-west"
    assert len(p.json()["processedBuffer"]) == 960


def test_request_id_and_rate_limit_headers_pass_through(edge_pair) -> None:
    r = httpx.get(edge_pair.edge.url + "/config", headers={"X-Request-Id": "client-id-123"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "client-id-123"
    assert int(r.headers["x-ratelimit-limit"]) > 0
    assert "x-ratelimit-remaining" in r.headers and "x-ratelimit-reset" in r.headers
    bad = httpx.post(edge_pair.edge.url + "/process-audio", json={"audioBuffer": [0.0] * 10})
    assert bad.status_code == 400
    err = bad.json()["error"]
    assert err["code"] == "INVALID_BUFFER_SIZE"
    assert err["requestId"] == bad.headers["x-request-id"]
    assert bad.headers["x-aimixer-origin"] == "us-west"


def test_edge_health_reports_each_origin(edge_pair) -> None:
    h = edge_pair.edge.health()
    assert h["status"] == "healthy"
    assert h["home"] == "us-west"
    names = {o["name"]: o for o in h["origins"]}
    assert set(names) == {"us-west", "eu-west"}
    for o in names.values():
        assert o["state"] == "healthy"
        assert o["source"] == "probe"
        assert isinstance(o["latencyMs"], int | float) and o["latencyMs"] >= 0
        assert o["lastError"] is None
        assert o["lastCheck"] > 0


@pytest.mark.parametrize("value", ["EU WEST", "x" * 500, "../../etc", "eu_west"])
def test_hostile_region_values_get_the_error_shape(edge_pair, value: str) -> None:
    r = httpx.get(edge_pair.edge.url + "/health", headers={"X-AIMixer-Region": value})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "INVALID_PARAMETER"
    assert "region" in err["message"]
    assert len(err["message"]) < 200
    s = httpx.get(edge_pair.edge.url + "/api/studios/", headers={"X-AIMixer-Region": value})
    assert s.status_code == 400 and "region" in s.json()["detail"]


def test_oversized_buffered_body_is_refused_at_the_edge(edge_pair) -> None:
    before = edge_pair.us.counter("/process-audio", "POST")
    big = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    r = httpx.post(
        edge_pair.edge.url + "/process-audio", content=big, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert edge_pair.us.counter("/process-audio", "POST") == before


def test_api_answers_are_never_cached(edge_pair) -> None:
    before = edge_pair.us.counter("/config")
    for _ in range(3):
        r = httpx.get(edge_pair.edge.url + "/config", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401  # dev mode still checks a key that is sent
        assert "x-aimixer-cache" not in r.headers
    assert edge_pair.us.counter("/config") == before + 3


def test_edge_health_method_and_unknown_paths(edge_pair) -> None:
    r = httpx.post(edge_pair.edge.url + "/edge/health")
    assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    nf = httpx.get(edge_pair.edge.url + "/no/such/route")
    assert nf.status_code == 404 and nf.json()["error"]["code"] == "ENDPOINT_NOT_FOUND"
    assert nf.headers["x-aimixer-origin"] == "us-west"
