from __future__ import annotations

import httpx
import numpy as np
from aimixer_dsp.mixer import MixerSession
from mixer_testutil import frame

from origin.app import create_app


async def test_put_config_deep_merges_validates_and_applies(client):
    before = await (await client.get("/config")).get_json()
    assert before["audio"] == {"sampleRate": 48000, "frameSize": 960, "bitDepth": 32}
    assert set(before["ai"]["genres"]) == {"speech", "rock", "jazz", "electronic", "classical"}
    r = await client.put("/config", json={"dsp": {"compressor": {"ratio": 6, "threshold": -18}}})
    assert r.status_code == 200
    after = await r.get_json()
    assert after["dsp"]["compressor"]["ratio"] == 6 and after["dsp"]["compressor"]["threshold"] == -18
    # other fields untouched
    assert after["dsp"]["compressor"]["attack"] == before["dsp"]["compressor"]["attack"]
    assert after["dsp"]["eq"] == before["dsp"]["eq"]
    r = await client.put("/config", json={"dsp": {"eq": {"low": 3}}})
    after2 = await r.get_json()
    assert after2["dsp"]["compressor"]["ratio"] == 6 and after2["dsp"]["eq"]["low"] == 3
    # processing uses the server config under the request's own
    f = frame(5, amp=0.5)
    body = await (await client.post("/process-audio", json={"audioBuffer": f})).get_json()
    want = MixerSession().process(
        np.asarray(f), {"compressor": {"ratio": 6, "threshold": -18}, "eq": {"low": 3}}
    )
    np.testing.assert_allclose(np.asarray(body["processedBuffer"]), want["processedBuffer"], atol=1e-6)
    body = await (
        await client.post("/process-audio", json={"audioBuffer": f, "config": {"compressor": {"ratio": 2}}})
    ).get_json()
    assert body["appliedSettings"]["compressor"]["ratio"] == 2
    assert body["appliedSettings"]["compressor"]["threshold"] == -18


async def test_put_config_errors_name_the_field(client):
    r = await client.put("/config", json={"dsp": {"compressor": {"ratio": 50}}})
    err = (await r.get_json())["error"]
    assert (
        r.status_code == 400
        and err["code"] == "INVALID_PARAMETER"
        and "dsp.compressor.ratio" in err["message"]
    )
    r = await client.put("/config", json={"audio": {"sampleRate": 44100}})
    assert r.status_code == 400 and (await r.get_json())["error"]["code"] == "INVALID_SAMPLE_RATE"
    r = await client.put("/config", json={"bogus": 1})
    assert r.status_code == 400 and "bogus" in (await r.get_json())["error"]["message"]
    r = await client.put("/config", json={"dsp": 5})
    assert r.status_code == 400
    # nothing was stored by the failed updates
    assert (await (await client.get("/config")).get_json())["dsp"]["compressor"]["ratio"] != 50


async def test_config_stats_and_keys_survive_restart(make_settings, serve_app, storage_target):
    from origin.auth.apikeys import create_key

    url = storage_target if storage_target.startswith("postgresql://") else None
    settings = make_settings(dev_mode=False, database_url=url)
    app1 = create_app(settings, packages=("origin.mixer_api",))
    _, secret = create_key(app1.extensions["storage"], "persist", "premium")
    h = {"Authorization": f"Bearer {secret}"}
    srv = serve_app(app1)
    async with httpx.AsyncClient(base_url=srv.url, headers=h, timeout=30) as c:
        assert (await c.put("/config", json={"dsp": {"gain": 4.5}})).status_code == 200
        for i in range(3):
            assert (await c.post("/process-audio", json={"audioBuffer": frame(i)})).status_code == 200
        assert (await c.post("/process-audio", json={"audioBuffer": [1.0]})).status_code == 400
        stats1 = (await c.get("/stats")).json()
    srv.stop()  # graceful shutdown flushes the counters

    app2 = create_app(settings, packages=("origin.mixer_api",))
    srv2 = serve_app(app2)
    async with httpx.AsyncClient(base_url=srv2.url, headers=h, timeout=30) as c:
        cfg = (await c.get("/config")).json()  # the key still works after the restart
        assert cfg["dsp"]["gain"] == 4.5
        stats2 = (await c.get("/stats")).json()
    # stats1 was taken by the 6th request (counted after it answered): 5 counted then
    assert stats1["requests"]["total"] == 5 and stats1["requests"]["errors"] == 1
    assert stats2["requests"]["total"] == 6 + 1  # + the /config GET of the second run
    assert stats2["requests"]["errors"] == 1
    assert stats2["processing"]["totalSamples"] == 3 * 960
    assert stats2["processing"]["averageLatency"] > 0
    assert stats2["processing"]["p99Latency"] >= stats2["processing"]["p95Latency"] > 0
    assert stats2["requests"]["today"] == stats2["requests"]["total"]
