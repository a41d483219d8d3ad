from __future__ import annotations

import asyncio

import numpy as np
import pytest
from aimixer_dsp.features import extract_features
from mixer_testutil import frame, tone

from origin.auth.apikeys import create_key, revoke_key

GOOD = {
    "deviceId": "dev-1",
    "platform": "ios",
    "sdkVersion": "1.0.0",
    "capabilities": {"sampleRate": 48000, "channels": 2, "bitDepth": 16},
}


async def test_mobile_session_token_is_a_bearer_for_its_session(make_app):
    async with make_app(dev_mode=False) as app:
        c = app.test_client()
        rec, secret = create_key(app.extensions["storage"], "m", "premium")
        r = await c.post("/mobile/session", json=GOOD, headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200
        body = await r.get_json()
        assert body["sessionId"] and body["token"].startswith("mst_") and body["expiresAt"] > 0
        assert body["config"]["sampleRate"] == 48000 and body["config"]["downmix"] is True
        tok = {"Authorization": f"Bearer {body['token']}"}
        outs = []
        for i in range(2):
            r = await c.post("/process-audio", json={"audioBuffer": frame(i, amp=0.5)}, headers=tok)
            assert r.status_code == 200
            b = await r.get_json()
            assert b["sessionId"] == body["sessionId"]  # the token implies its session
            outs.append(b)
        assert r.headers["X-RateLimit-Limit"] == "10000"  # the owner's tier
        # tampered token
        bad = body["token"][:-2] + ("A" if body["token"][-2] != "A" else "B") + body["token"][-1]
        r = await c.get("/config", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
        # revoking the key kills its tokens
        revoke_key(app.extensions["storage"], rec.id)
        await asyncio.sleep(1.1)
        assert (await c.get("/config", headers=tok)).status_code == 401


async def test_mobile_token_expires(make_app):
    async with make_app(mobile_token_ttl=1) as app:
        c = app.test_client()
        body = await (await c.post("/mobile/session", json=GOOD)).get_json()
        tok = {"Authorization": f"Bearer {body['token']}"}
        assert (await c.get("/config", headers=tok)).status_code == 200
        await asyncio.sleep(2.05)
        assert (await c.get("/config", headers=tok)).status_code == 401


@pytest.mark.parametrize(
    ("patch", "code", "field"),
    [
        ({"capabilities": {"sampleRate": 44100}}, "INVALID_SAMPLE_RATE", "sampleRate"),
        ({"platform": "windows"}, "INVALID_REQUEST", "platform"),
        ({"deviceId": ""}, "INVALID_REQUEST", "deviceId"),
        ({"deviceId": None}, "INVALID_REQUEST", "deviceId"),
        ({"sdkVersion": 3}, "INVALID_REQUEST", "sdkVersion"),
        ({"capabilities": {"channels": 6}}, "INVALID_REQUEST", "channels"),
        ({"capabilities": {"bitDepth": 8}}, "INVALID_REQUEST", "bitDepth"),
        ({"capabilities": "x"}, "INVALID_REQUEST", "capabilities"),
    ],
)
async def test_mobile_validation(client, patch, code, field):
    r = await client.post("/mobile/session", json={**GOOD, **patch})
    assert r.status_code == 400
    err = (await r.get_json())["error"]
    assert err["code"] == code and field in err["message"]


async def test_extract_features_matches_library(client):
    x = tone(0.25).astype(float).tolist()
    r = await client.post(
        "/extract-features",
        json={
            "audioBuffer": x,
            "numCoefficients": 20,
            "fftSize": 1024,
            "hopSize": 256,
            "windowType": "hamming",
        },
    )
    assert r.status_code == 200
    body = await r.get_json()
    want = extract_features(
        np.asarray(x), numCoefficients=20, fftSize=1024, hopSize=256, windowType="hamming"
    )
    assert body["frameCount"] == want["frameCount"] and len(body["features"][0]) == 20
    np.testing.assert_allclose(
        np.asarray(body["features"]), np.asarray(want["features"]), rtol=1e-9, atol=1e-9
    )
    assert body["duration"] == pytest.approx(0.25)
    for k in ("spectralCentroid", "zeroCrossingRate", "spectralRolloff", "spectralFlux"):
        assert k in body


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ({"windowType": "kaiser"}, 400),
        ({"fftSize": 1000}, 400),
        ({"numCoefficients": 0}, 400),
        ({"hopSize": "a"}, 400),
        ({"audioBuffer": []}, 400),
        ({"audioBuffer": None}, 400),
    ],
)
async def test_extract_features_validation(client, patch, status):
    r = await client.post("/extract-features", json={"audioBuffer": frame(0), **patch})
    assert r.status_code == status
    assert "error" in await r.get_json()


@pytest.mark.parametrize(
    "features",
    [None, [], [[]], "x", [[0.1] * 13], [[0.1] * 48, [0.2] * 47], [[float(i) for i in range(47)] + ["a"]]],
)
async def test_classify_missing_or_wrong_shape(client, features):
    body = {} if features is None else {"features": features}
    r = await client.post("/classify-genre", json=body)
    assert r.status_code == 400
    err = (await r.get_json())["error"]
    assert err["code"] == "MISSING_FEATURES"
    assert "48" in err["message"] or "[47]" in err["message"]


async def test_classify_genre_with_model_or_503(client, app):
    from aimixer_dsp.genre import feature_vector

    vec = feature_vector(tone(3.0, 220.0))
    r = await client.post("/classify-genre", json={"features": [vec, vec], "returnProbabilities": True})
    svc = app.extensions["mixer"]
    if not svc.genre.available:
        assert r.status_code == 503
        assert (await r.get_json())["error"]["code"] == "SERVICE_UNAVAILABLE"
        health = await (await client.get("/health")).get_json()
        assert health["components"]["ai"] == "unhealthy" and health["status"] == "degraded"
        return
    assert r.status_code == 200
    body = await r.get_json()
    probs = svc.genre.predict(vec)
    top = max(probs, key=probs.get)
    assert body["genre"] == top and body["confidence"] == pytest.approx(probs[top], abs=1e-5)
    assert set(body["probabilities"]) == set(probs) and body["secondaryGenre"] != top
    assert body["modelVersion"] == svc.genre.version
    r = await client.post("/classify-genre", json={"features": [vec]})
    assert "probabilities" not in await r.get_json()
    # raw audio takes the spec's flow: its MFCC matrix, classified by the MFCC model
    audio = tone(3.0, 220.0).astype(float)
    r = await client.post(
        "/classify-genre", json={"audioBuffer": audio.tolist(), "returnProbabilities": True}
    )
    by_audio = await r.get_json()
    r = await client.post(
        "/classify-genre", json={"features": extract_features(audio)["features"], "returnProbabilities": True}
    )
    by_matrix = await r.get_json()
    assert by_audio["inputKind"] == "audioBuffer" and by_matrix["inputKind"] == "mfccMatrix"
    assert by_audio["genre"] == by_matrix["genre"]
    assert by_audio["probabilities"] == pytest.approx(by_matrix["probabilities"], abs=1e-6)


async def test_health_real_checks(client, app):
    body = await (await client.get("/health")).get_json()
    assert body["components"]["audio"] == "healthy" and body["components"]["database"] == "healthy"
    assert body["region"] == "local" and body["version"] and body["uptime"] >= 0
    # break the database: the check must notice
    app.extensions["storage"].close()
    body = await (await client.get("/health")).get_json()
    assert body["components"]["database"] == "unhealthy" and body["status"] == "unhealthy"
    app.extensions["storage"].open()


async def test_metrics_exposition(client):
    await client.post("/process-audio", json={"audioBuffer": frame(0)})
    await client.post("/process-audio", json={"audioBuffer": [0.0]})
    text = (await (await client.get("/metrics")).get_data()).decode()
    assert 'ai_mixer_requests_total{endpoint="/process-audio",method="POST",status="200"} 1.0' in text
    assert 'ai_mixer_requests_total{endpoint="/process-audio",method="POST",status="400"} 1.0' in text
    assert 'ai_mixer_processing_duration_seconds_bucket{le="0.01"}' in text
    assert "ai_mixer_processing_duration_seconds_count 1.0" in text
