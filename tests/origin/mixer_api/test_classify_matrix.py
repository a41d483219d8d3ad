"""/classify-genre's spec flow: the /extract-features MFCC matrix in, a verdict of the MFCC model out;
long audio as JSON and as float32 octet-stream, with a 413 in seconds; declared settings."""

from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp import GENRES
from aimixer_dsp.features import extract_features
from aimixer_dsp.genre import matrix_vectors, verdict

from origin.app import create_app


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """A chord with a beat: something with structure to classify."""
    t = np.arange(int(seconds * 48000)) / 48000.0
    rng = np.random.default_rng(seed)
    x = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    beat = (np.sin(2 * np.pi * 2.0 * t) > 0.95) * rng.normal(0, 0.3, t.size)
    return (x + beat).astype(np.float32).astype(np.float64)


@pytest.fixture
async def model_app(app):
    svc = app.extensions["mixer"]
    if not await svc.genre.ensure() or svc.genre.matrix_model is None:
        pytest.skip(f"no genre models: {svc.genre.error or svc.genre.matrix_error}")
    return app


async def test_extract_then_classify_the_matrix(model_app):
    c = model_app.test_client()
    audio = music(4.0)
    r = await c.post("/extract-features", json={"audioBuffer": audio.tolist()})
    assert r.status_code == 200
    feats = (await r.get_json())["features"]
    assert len(feats) == 376 and len(feats[0]) == 13
    r = await c.post("/classify-genre", json={"features": feats, "returnProbabilities": True})
    assert r.status_code == 200, await r.get_data()
    body = await r.get_json()
    model = model_app.extensions["mixer"].genre.matrix_model
    want = verdict(
        model.predict_proba(np.asarray(matrix_vectors(feats))),
        model_version=model.version,
        input_kind="mfccMatrix",
        return_probabilities=True,
    )
    assert body["inputKind"] == "mfccMatrix" and body["modelVersion"] == model.version
    assert body["windows"] == 2  # 376 frames: windows of 282 every 94
    assert body["genre"] == want["genre"] and body["secondaryGenre"] == want["secondaryGenre"]
    for g, p in want["probabilities"].items():
        assert body["probabilities"][g] == pytest.approx(p, abs=1e-6)
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    # more coefficients: the first 13 are the same numbers (DCT-II ortho), so the same verdict
    wide = extract_features(audio, numCoefficients=20)["features"]
    r = await c.post("/classify-genre", json={"features": wide, "returnProbabilities": True})
    assert (await r.get_json())["probabilities"] == pytest.approx(body["probabilities"], abs=1e-5)
    # the 48-value window vectors keep working, reported as such
    from aimixer_dsp.genre import feature_vector

    r = await c.post("/classify-genre", json={"features": [feature_vector(audio[:144000])]})
    b = await r.get_json()
    assert r.status_code == 200 and b["inputKind"] == "windowVectors"
    assert b["modelVersion"] == model_app.extensions["mixer"].genre.version


async def test_declared_settings_the_model_cannot_honour_are_named(model_app):
    c = model_app.test_client()
    feats = extract_features(music(3.0))["features"]
    r = await c.post(
        "/classify-genre", json={"features": feats, "numFilters": 40, "fftSize": 2048, "hopSize": 512}
    )
    assert r.status_code == 200
    r = await c.post(
        "/classify-genre", json={"features": feats, "numFilters": 64, "hopSize": 256, "sampleRate": 44100}
    )
    assert r.status_code == 400
    err = (await r.get_json())["error"]
    assert err["code"] == "UNSUPPORTED_FEATURE_SETTINGS"
    assert err["details"]["fields"] == ["hopSize", "numFilters", "sampleRate"]
    assert "numFilters=64" in err["message"] and "hopSize=256" in err["message"]
    r = await c.post("/classify-genre", json={"features": feats, "fftSize": "big"})
    assert (await r.get_json())["error"]["details"]["fields"] == ["fftSize"]


@pytest.mark.parametrize(
    ("features", "needle"),
    [
        ([[0.0] * 13] * 100, "100 frames"),
        ([[0.0] * 13] * 281 + [[0.0] * 12], "one length"),
        ([[0.0] * 13] * 300 + [[0.0] * 12 + ["x"]], "features[300][12]='x' is not a finite number"),
        ([[0.0] * 12] * 300, "12 values"),
        ([[0.0] * 300] * 300, "at most 256"),
    ],
)
async def test_bad_matrices_are_refused(client, features, needle):
    r = await client.post("/classify-genre", json={"features": features})
    assert r.status_code == 400
    err = (await r.get_json())["error"]
    assert needle in err["message"], err


async def test_sixty_seconds_as_json_and_as_float32(model_app):
    c = model_app.test_client()
    audio = music(60.0, seed=3).astype(np.float32)
    r = await c.post("/extract-features", json={"audioBuffer": audio.astype(float).tolist()})
    assert r.status_code == 200, (await r.get_data())[:300]
    j = await r.get_json()
    assert j["duration"] == pytest.approx(60.0) and j["frameCount"] == 1 + 60 * 48000 // 512
    r = await c.post(
        "/extract-features",
        data=audio.astype("<f4").tobytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200
    b = await r.get_json()
    assert b["frameCount"] == j["frameCount"] and np.allclose(b["features"], j["features"], atol=1e-9)
    # fields of an octet-stream request: query or X-Options
    r = await c.post(
        "/extract-features?numCoefficients=20&hopSize=1024",
        data=audio[:48000].tobytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    q = await r.get_json()
    assert len(q["features"][0]) == 20 and q["frameCount"] == 1 + 48000 // 1024
    r = await c.post(
        "/classify-genre",
        data=audio.tobytes(),
        headers={"Content-Type": "application/octet-stream", "X-Options": '{"returnProbabilities": true}'},
    )
    assert r.status_code == 200
    cls = await r.get_json()
    assert cls["inputKind"] == "audioBuffer" and cls["windows"] == 57 and "probabilities" in cls
    r = await c.post("/classify-genre", json={"features": j["features"]})
    assert (await r.get_json())["genre"] == cls["genre"]


async def test_too_long_audio_is_413_in_seconds(make_app):
    async with make_app(analysis_max_seconds=5) as app:
        c = app.test_client()
        six = np.zeros(6 * 48000, dtype="<f4")
        r = await c.post(
            "/extract-features", data=six.tobytes(), headers={"Content-Type": "application/octet-stream"}
        )
        assert r.status_code == 413
        err = (await r.get_json())["error"]
        assert err["code"] == "PAYLOAD_TOO_LARGE" and "5 s" in err["message"] and "6.00 s" in err["message"]
        r = await c.post("/classify-genre", json={"audioBuffer": six.astype(float).tolist()})
        assert r.status_code == 413 and "at most 5 s" in (await r.get_json())["error"]["message"]
        # a body beyond the route's byte limit is refused before it is read, in the same words
        huge = b'{"audioBuffer": [' + b"0.123456789012345678," * (5 * 48000 * 2) + b"0]}"
        r = await c.post("/extract-features", data=huge, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "at most 5 s" in (await r.get_json())["error"]["message"]
        r = await c.post(
            "/extract-features", data=b"\x00\x00\x80", headers={"Content-Type": "application/octet-stream"}
        )
        assert r.status_code == 400
        r = await c.post(
            "/extract-features?hopSize=" + "9" * 100,
            data=six[:4800].tobytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 400


def test_spec_python_example_extract_then_classify(make_settings, serve_app):
    """The spec's Python client example, extended to extract and then classify, on a real server."""
    import requests

    from origin.auth.apikeys import create_key

    app = create_app(make_settings(dev_mode=False))
    _, secret = create_key(app.extensions["storage"], "spec-example", "standard")
    server = serve_app(app)
    API_URL, API_KEY = server.url, secret  # noqa: N806 - the spec's names
    audio_buffer = music(5.0, seed=7).astype(np.float32)
    response = requests.post(
        f"{API_URL}/extract-features",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"audioBuffer": audio_buffer.tolist()},
        timeout=60,
    )
    assert response.status_code == 200
    features = response.json()["features"]
    response = requests.post(
        f"{API_URL}/classify-genre",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"features": features, "returnProbabilities": True},
        timeout=60,
    )
    if response.status_code == 503:
        pytest.skip("no genre model")
    result = response.json()
    assert response.status_code == 200, result
    assert result["genre"] in GENRES and set(result["probabilities"]) == set(GENRES)
    assert result["inputKind"] == "mfccMatrix" and result["modelVersion"]
    assert 0.0 < result["confidence"] <= 1.0 and result["secondaryGenre"] != result["genre"]


async def test_hostile_options_header_and_types(client):
    body = np.zeros(48000, dtype="<f4").tobytes()
    for header in ("[1, 2]", "{" * 5000, '{"numCoefficients": "x"}', "not json"):
        r = await client.post(
            "/extract-features",
            data=body,
            headers={"Content-Type": "application/octet-stream", "X-Options": header},
        )
        assert r.status_code == 400, header[:20]
        assert "error" in await r.get_json()
    r = await client.post("/extract-features", data=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    for huge in ([[1e308] * 13] * 300, [[1e300] * 48]):  # finite, but no feature is near that
        r = await client.post("/classify-genre", json={"features": huge})
        assert r.status_code == 400 and "out of range" in (await r.get_json())["error"]["message"]
    r = await client.post("/classify-genre", json={"features": [[True] * 13] * 300})
    assert r.status_code == 400 and (await r.get_json())["error"]["code"] == "MISSING_FEATURES"


@pytest.mark.parametrize("value", ["0", "-5", "1e9", "nan"])
def test_analysis_limit_setting_is_bounded(value):
    from origin.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="analysis_max_seconds"):
        load_settings(env={"AIMIXER_ANALYSIS_MAX_SECONDS": value})
