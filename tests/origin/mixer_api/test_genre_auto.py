"""genre "auto" on sessions: the service runs the model off the event loop for each due window,
feeds the verdict back (it affects the *next* frame) and emits genre.detected. A stand-in model
keeps this independent of the trained ONNX file."""

from __future__ import annotations

import numpy as np
from aimixer_dsp.genre import StreamingGenreClassifier
from aimixer_dsp.mixer import MixerSession


class FakeModel:
    classes = ["speech", "rock", "jazz", "electronic", "classical"]
    version = "fake-1"

    def __init__(self) -> None:
        self.calls = 0

    def predict_proba(self, vector):
        self.calls += 1
        assert len(vector) == 48
        return {"speech": 0.05, "rock": 0.8, "jazz": 0.05, "electronic": 0.05, "classical": 0.05}


async def test_auto_genre_session_flow(client, app):
    svc = app.extensions["mixer"]
    model = FakeModel()
    svc.genre.model, svc.genre.error = model, None
    emitted = []
    svc.webhooks.emit = lambda owner, event, data: emitted.append((owner, event, data)) or 1
    sig = (np.random.default_rng(0).standard_normal(960 * 160) * 0.2).astype(np.float32).astype(np.float64)
    genres = []
    for i in range(160):
        r = await client.post(
            "/process-audio",
            json={
                "audioBuffer": sig[i * 960 : (i + 1) * 960].tolist(),
                "sessionId": "auto-1",
                "config": {"genre": "auto"},
            },
        )
        body = await r.get_json()
        genres.append(body["metrics"]["genre"])
    first = genres.index("rock")
    assert all(g is None for g in genres[:first]) and all(g == "rock" for g in genres[first:])
    # reference: the same library classes with the same stand-in model
    ref_model = FakeModel()
    ref = MixerSession(genre_tracker=StreamingGenreClassifier(predict=ref_model.predict_proba))
    ref_genres = [
        ref.process(sig[i * 960 : (i + 1) * 960], {"genre": "auto"})["metrics"]["genre"] for i in range(160)
    ]
    assert genres == ref_genres
    assert model.calls == ref_model.calls >= 1
    detected = [e for e in emitted if e[1] == "genre.detected"]
    assert len(detected) == 1
    owner, _, data = detected[0]
    assert owner == "dev-user-001" and data["sessionId"] == "auto-1" and data["genre"] == "rock"
    assert data["confidence"] == 0.8
    stats = await (await client.get("/stats")).get_json()
    assert stats["genres"]["rock"] == 1


async def test_auto_without_model_degrades_to_defaults(client, app):
    svc = app.extensions["mixer"]
    svc.genre.model, svc.genre.error = None, "no model in this test"
    svc.genre._last_attempt = 1e18  # do not retry loading
    r = await client.post(
        "/process-audio", json={"audioBuffer": [0.1] * 960, "sessionId": "n1", "config": {"genre": "auto"}}
    )
    body = await r.get_json()
    assert r.status_code == 200 and body["metrics"]["genre"] is None
    default = MixerSession().process(np.full(960, 0.1))
    assert body["appliedSettings"] == default["appliedSettings"]
