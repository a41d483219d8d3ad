"""Failover: kill -9 of an origin under load, passive and active health, all origins down."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import httpx
import pytest
import websockets
from edgeenv import HAS_SHARED_STATE, ROOT, Edge, Origin, sine_frame

pytestmark = pytest.mark.node


def test_kill9_during_200_process_audio_requests(pair) -> None:
    e = pair.edge.url
    results: list[tuple[int, str | None]] = []
    killed_at: list[int] = []

    with httpx.Client(timeout=30) as c:
        for i in range(200):
            if i == 60:  # mid-run, the origin that is serving dies without a word
                pair.us.kill9()
                killed_at.append(i)
            r = c.post(e + "/process-audio", json={"audioBuffer": sine_frame(offset=i * 960)})
            results.append((r.status_code, r.headers.get("x-aimixer-origin")))
            assert len(r.json()["processedBuffer"]) == 960
    assert [s for s, _ in results] == [200] * 200
    assert {o for _, o in results[:60]} == {"us-west"}
    assert {o for _, o in results[60:]} == {"eu-west"}
    # passive failure now, and the probes agree
    entry = pair.edge.wait_state("us-west", "unhealthy")
    assert entry["lastError"]
    h = pair.edge.health()
    assert h["status"] == "degraded"


def test_kill9_under_concurrent_load(pair) -> None:
    """Eight clients in parallel while the home origin dies: no request fails."""
    e = pair.edge.url
    statuses: list[int] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        with httpx.Client(timeout=30) as c:
            for i in range(25):
                r = c.post(e + "/process-audio", json={"audioBuffer": sine_frame(offset=(k * 25 + i) * 960)})
                with lock:
                    statuses.append(r.status_code)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    pair.us.kill9()
    for t in threads:
        t.join(60)
    assert len(statuses) == 200
    assert statuses == [200] * 200


def test_active_probes_bring_a_restarted_origin_back(pair) -> None:
    pair.us.stop()
    # no client traffic at all: only the Durable Object's alarm probes can notice
    entry = pair.edge.wait_state("us-west", "unhealthy")
    assert entry["source"] == "probe"
    assert entry["lastError"]
    r = httpx.get(pair.edge.url + "/health")
    assert r.headers["x-aimixer-origin"] == "eu-west"
    pair.us.start()
    pair.edge.wait_state("us-west", "healthy")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(pair.edge.url + "/health").headers["x-aimixer-origin"] == "us-west":
            break
        time.sleep(0.2)
    else:
        pytest.fail("traffic never returned to the home region")


def test_upstream_503_is_retried_on_the_next_origin(tmp_path, bundle) -> None:
    """An origin answering 503 (here: no wasm bundle) is skipped for idempotent requests."""
    broken = Origin("us-west", tmp_path / "us", env={"AIMIXER_WASM_DIST": str(tmp_path / "none")}).start()
    good = Origin("eu-west", tmp_path / "eu").start()
    edge = Edge([broken, good], home="us-west").start()
    try:
        r = httpx.get(edge.url + "/wasm")
        assert r.status_code == 200
        assert r.headers["x-aimixer-origin"] == "eu-west"
        assert r.headers["content-type"] == "application/wasm"
    finally:
        edge.stop()
        broken.stop()
        good.stop()


def test_all_origins_down_error_shapes_and_stale_pages(pair) -> None:
    e = pair.edge.url
    fresh = httpx.get(e + "/wasm/manifest.json")  # a revalidated entry, stored before the outage
    assert fresh.status_code == 200
    pair.us.kill9()
    pair.eu.kill9()
    r = httpx.post(e + "/process-audio", json={"audioBuffer": sine_frame()})
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "SERVICE_UNAVAILABLE"
    assert set(err) == {"code", "message", "details", "timestamp", "requestId"}
    assert err["requestId"] == r.headers["x-request-id"]
    assert {t["origin"] for t in err["details"]["tried"]} == {"us-west", "eu-west"}
    assert r.headers["retry-after"]
    for path in ("/health", "/config", "/wasm/nothing-cached.js"):
        g = httpx.get(e + path)
        assert g.status_code == 503 and g.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    for path in ("/api/studios/", "/auth/me"):
        s = httpx.get(e + path)
        assert s.status_code == 503
        assert set(s.json()) == {"detail"} and isinstance(s.json()["detail"], str)
    st = httpx.post(e + "/stream-audio", content=b"\0" * 3840)
    assert st.status_code == 503 and st.json()["error"]["code"] == "SERVICE_UNAVAILABLE"

    async def ws(path: str) -> tuple[int, bytes]:
        try:
            async with websockets.connect(pair.edge.ws_url + path):
                return 101, b""
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code, exc.response.body

    status, body = asyncio.run(ws("/ws/levels"))
    assert status == 503 and set(json.loads(body)) == {"detail"}
    status, body = asyncio.run(ws("/ws"))
    assert status == 503 and json.loads(body)["error"]["code"] == "SERVICE_UNAVAILABLE"
    h = httpx.get(e + "/edge/health")
    assert h.status_code == 503
    assert h.json()["status"] == "unhealthy"
    # what the CDN holds is still served
    stale = httpx.get(e + "/wasm/manifest.json")
    assert stale.status_code == 200
    assert stale.headers["x-aimixer-cache"] == "STALE"
    assert stale.json() == fresh.json()


def test_auth_and_retry_after_pass_through(tmp_path, bundle) -> None:
    """A production origin (no dev mode): 401 without a key, rate-limit headers and Retry-After;
    keyless callers are counted by the address the edge names (trusted_proxies), not by the
    edge's, and a caller's own X-Forwarded-For does not get past the edge."""
    data = tmp_path / "prod"
    data.mkdir()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "keys",
            "--data-dir",
            str(data),
            "create",
            "--name",
            "t",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(out.stdout)["key"]
    env = {"AIMIXER_RATE_LIMIT_STANDARD": "5", "AIMIXER_TRUSTED_PROXIES": "127.0.0.1"}
    o = Origin("us-west", data, dev=False, env=env).start()
    edge = Edge([o]).start()
    try:
        none = httpx.get(edge.url + "/config")
        assert none.status_code == 401 and none.json()["error"]["code"] == "UNAUTHORIZED"
        hdr = {"Authorization": f"Bearer {key}"}
        codes = []
        last = None
        for _ in range(6):
            last = httpx.get(edge.url + "/config", headers=hdr)
            codes.append(last.status_code)
        assert codes[:5] == [200] * 5
        assert codes[5] == 403
        assert last.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(last.headers["retry-after"]) >= 0
        assert last.headers["x-ratelimit-remaining"] == "0"
        # the edge logged nothing about these requests, least of all the key
        assert key not in "".join(edge.output)
        # keyless callers: one bucket per address the edge names (CF-Connecting-IP)
        guesses = [
            httpx.get(edge.url + "/config", headers={"CF-Connecting-IP": "203.0.113.7"}) for _ in range(6)
        ]
        assert [r.status_code for r in guesses] == [401] * 5 + [403]
        other = httpx.get(edge.url + "/config", headers={"CF-Connecting-IP": "198.51.100.1"})
        assert other.status_code == 401 and other.headers["x-ratelimit-remaining"] == "4"
        # a caller's own X-Forwarded-For is dropped: it is counted as the peer Miniflare saw
        # (127.0.0.1, like the edge's probes), not against the address it claims
        claim = httpx.get(edge.url + "/config", headers={"X-Forwarded-For": "198.51.100.1"})
        assert claim.status_code == 401
        again = httpx.get(edge.url + "/config", headers={"CF-Connecting-IP": "198.51.100.1"})
        assert again.headers["x-ratelimit-remaining"] == "3"
    finally:
        edge.stop()
        o.stop()


@pytest.mark.skipif(
    not HAS_SHARED_STATE,
    reason="needs the origins' shared state (database_url/redis_url, issue 14): runs once that is merged",
)
def test_session_continues_on_the_other_origin(tmp_path, bundle) -> None:
    """A mixer session started on us-west goes on on eu-west after us-west is killed: the
    processed audio is the same as one uninterrupted session's (state in PostgreSQL/Redis)."""
    from servers import PostgresServer, RedisServer  # issue 14's real test servers

    pg = PostgresServer().start()
    rd = RedisServer().start()
    try:
        shared = {"AIMIXER_DATABASE_URL": pg.create_database("edge_sessions"), "AIMIXER_REDIS_URL": rd.url}
        a = Origin("us-west", tmp_path / "us", env=shared).start()
        b = Origin("eu-west", tmp_path / "eu", env=shared).start()
        edge = Edge([a, b], home="us-west").start()
        try:
            from aimixer_dsp.mixer import MixerSession, NullGenreTracker

            ref = MixerSession(genre_tracker=NullGenreTracker())
            sid = "edge-failover-session"
            cfg = {"genre": "rock"}
            with httpx.Client(timeout=30) as c:
                for i in range(20):
                    if i == 10:
                        a.kill9()
                    frame = sine_frame(offset=i * 960)
                    r = c.post(
                        edge.url + "/process-audio",
                        json={"audioBuffer": frame, "config": cfg, "sessionId": sid},
                    )
                    assert r.status_code == 200
                    assert r.headers["x-aimixer-origin"] == ("us-west" if i < 10 else "eu-west")
                    want = ref.process(frame, cfg)["processedBuffer"]
                    got = r.json()["processedBuffer"]
                    assert max(abs(x - y) for x, y in zip(got, want, strict=True)) < 1e-5
        finally:
            edge.stop()
            a.stop()
            b.stop()
    finally:
        rd.stop()
        pg.stop()
