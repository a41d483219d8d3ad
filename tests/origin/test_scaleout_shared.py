"""Two origin apps on one PostgreSQL database and one Redis: exact rate limits, sessions that
continue on either app, config propagation and /stats totals (in-process apps; the subprocess
two-origin tests are in tests/origin/test_two_origins.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aimixer_dsp.mixer import MixerSession
from quart import Quart

from origin.app import create_app
from origin.auth.apikeys import create_key
from origin.shared import PREFIX


@contextlib.asynccontextmanager
async def _apps(
    make_settings, pg_url: str, redis_url: str, n: int = 2, **fields
) -> AsyncIterator[list[Quart]]:
    apps = [
        create_app(
            make_settings(database_url=pg_url, redis_url=redis_url, **fields), packages=("origin.mixer_api",)
        )
        for _ in range(n)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for a in apps:
            await stack.enter_async_context(a.test_app())
        yield apps


async def test_rate_limit_is_exact_across_origins(make_settings, pg_url, redis_url):
    async with _apps(make_settings, pg_url, redis_url, dev_mode=False, rate_limit_standard=7) as (a, b):
        _, key = create_key(a.extensions["storage"], "shared", "standard")
        h = {"Authorization": f"Bearer {key}"}
        ca, cb = a.test_client(), b.test_client()
        codes, remaining = [], []
        for i in range(12):
            r = await (ca if i % 2 else cb).get("/config", headers=h)
            codes.append(r.status_code)
            remaining.append(r.headers["X-RateLimit-Remaining"])
        assert codes == [200] * 7 + [403] * 5
        assert remaining[:7] == [str(7 - i) for i in range(1, 8)]
        err = (await (await ca.get("/config", headers=h)).get_json())["error"]
        assert err["code"] == "RATE_LIMIT_EXCEEDED" and err["details"]["limit"] == 7


async def test_session_continues_across_origins(make_settings, pg_url, redis_url):
    rng = np.random.default_rng(7)
    frames = [(rng.standard_normal(960) * 0.3).astype(np.float32) for _ in range(40)]
    cfg = {"compressor": {"ratio": 4, "threshold": -24}, "eq": {"low": 3}, "genre": "rock"}
    ref = MixerSession()
    async with _apps(make_settings, pg_url, redis_url) as (a, b):
        clients = (a.test_client(), b.test_client())
        for i, f in enumerate(frames):
            body = {"audioBuffer": f.tolist(), "config": cfg, "sessionId": "alt-1"}
            r = await clients[i % 2].post("/process-audio", json=body)
            assert r.status_code == 200, await r.get_data()
            got = await r.get_json()
            want = ref.process(f, cfg)
            np.testing.assert_allclose(got["processedBuffer"], want["processedBuffer"], atol=1e-6)
            assert got["metrics"]["lufs"] == pytest.approx(want["metrics"]["lufs"], abs=1e-6) or (
                got["metrics"]["lufs"] is None and want["metrics"]["lufs"] == float("-inf")
            )
        # the state lives in Redis, not in either process
        assert len(a.extensions["mixer"].sessions) == 0 and len(b.extensions["mixer"].sessions) == 0
        assert a.extensions["shared"].sessions.calls + b.extensions["shared"].sessions.calls == 40


async def test_corrupt_session_state_starts_fresh(make_settings, pg_url, redis_url):
    async with _apps(make_settings, pg_url, redis_url, n=1) as (a,):
        shared = a.extensions["shared"]
        await shared.client.set(
            f"{PREFIX}session:dev-user-001:bad",
            b'{"format":"aimixer.session","version":1,"root":{"o":"os.system"}}',
        )
        f = np.zeros(960).tolist()
        r = await a.test_client().post("/process-audio", json={"audioBuffer": f, "sessionId": "bad"})
        assert r.status_code == 200
        await shared.client.set(f"{PREFIX}session:dev-user-001:bad", b"\x00" * 100)
        r = await a.test_client().post("/process-audio", json={"audioBuffer": f, "sessionId": "bad"})
        assert r.status_code == 200


async def test_config_and_stats_are_shared(make_settings, pg_url, redis_url):
    async with _apps(make_settings, pg_url, redis_url) as (a, b):
        ca, cb = a.test_client(), b.test_client()
        assert (await ca.put("/config", json={"dsp": {"compressor": {"ratio": 5}}})).status_code == 200
        deadline = time.monotonic() + 10
        while True:  # published on Redis; b re-reads on the message (and every second anyway)
            seen = (await (await cb.get("/config")).get_json())["dsp"]["compressor"]["ratio"]
            if seen == 5 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert seen == 5
        f = np.zeros(960).tolist()
        for c in (ca, cb, cb):
            assert (await c.post("/process-audio", json={"audioBuffer": f})).status_code == 200
        for app in (a, b):
            await app.extensions["mixer"].stats.aflush()
        stats = await (await ca.get("/stats")).get_json()
        assert stats["processing"]["totalSamples"] == 3 * 960  # both origins' work


async def test_unreachable_redis_is_a_503_not_a_500(make_settings):
    from servers import free_tcp_port

    dead = f"redis://127.0.0.1:{free_tcp_port()}/0"
    app = create_app(make_settings(redis_url=dead), packages=("origin.mixer_api",))
    async with app.test_app():
        c = app.test_client()
        r = await c.get("/config")
        err = (await r.get_json())["error"]
        assert r.status_code == 503 and err["code"] == "SERVICE_UNAVAILABLE" and "Redis" in err["message"]
        h = await (await c.get("/health")).get_json()
        assert h["status"] == "unhealthy" and h["components"]["sharedState"] == "unhealthy"
        assert "Redis" in h["problems"]["sharedState"]
