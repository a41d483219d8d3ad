"""voiceActivity: on sessions with genre "auto" the origin reports webrtcvad's speech ratio of the
last classified window as an extra metric (not a model input; the browser has no webrtcvad)."""

from __future__ import annotations

import numpy as np

from origin.genre import voice_activity


class FakeModel:
    classes = ["speech", "rock", "jazz", "electronic", "classical"]
    version = "fake-1"

    def predict_proba(self, vector):
        return {"speech": 0.6, "rock": 0.1, "jazz": 0.1, "electronic": 0.1, "classical": 0.1}


def _signal(seconds: float) -> np.ndarray:
    """Silence, then noise bursts with speech-like 4 Hz syllable gating (deterministic)."""
    n = int(seconds * 48000)
    t = np.arange(n) / 48000
    rng = np.random.default_rng(7)
    x = rng.standard_normal(n) * 0.3 * (np.sin(2 * np.pi * 4 * t) > 0)
    x[:48000] = 0.0
    return x.astype(np.float32).astype(np.float64)


async def _run(client, sig: np.ndarray, session: str, config: dict) -> list[dict]:
    out = []
    for i in range(len(sig) // 960):
        r = await client.post(
            "/process-audio",
            json={
                "audioBuffer": sig[i * 960 : (i + 1) * 960].tolist(),
                "sessionId": session,
                "config": config,
            },
        )
        assert r.status_code == 200
        out.append((await r.get_json())["metrics"])
    return out


async def test_voice_activity_reports_the_classified_window(client, app):
    svc = app.extensions["mixer"]
    svc.genre.model, svc.genre.error = FakeModel(), None
    sig = _signal(4.2)
    metrics = await _run(client, sig, "vad-1", {"genre": "auto"})
    values = [m["voiceActivity"] for m in metrics]
    tracker = (await _session(app, "vad-1")).session.genre_tracker
    # The first window is due once its analysis frames are complete (just under 3 s of audio);
    # its verdict and voiceActivity are reported from the next frame on.
    first = next(i for i, v in enumerate(values) if v is not None)
    assert 140 <= first <= 151 and all(v is None for v in values[:first])
    window = int(tracker.window_s * 48000)

    def expected(frame: int) -> float:  # the last window_s of input before that frame
        return round(voice_activity(sig[max(0, frame * 960 - window) : frame * 960]), 4)

    assert values[first] == expected(first)
    assert 0.0 < values[first] < 1.0  # silence + bursts: a real ratio, not a constant
    # the next window comes one hop (1 s = 50 frames) later
    hop = int(round(tracker.hop_s * 50))
    assert values[first + hop - 1] == values[first]
    assert values[first + hop] == expected(first + hop)


async def _session(app, session_id: str):
    svc = app.extensions["mixer"]
    return svc.session("dev-user-001", session_id)


async def test_voice_activity_of_silence_is_zero_and_absent_without_auto(client, app):
    svc = app.extensions["mixer"]
    svc.genre.model, svc.genre.error = FakeModel(), None
    silent = await _run(client, np.zeros(160 * 960), "vad-2", {"genre": "auto"})
    assert silent[-1]["voiceActivity"] == 0.0
    plain = await _run(client, _signal(0.2), "vad-3", {"genre": "rock"})
    assert all("voiceActivity" not in m for m in plain)
