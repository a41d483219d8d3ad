from __future__ import annotations

import json

import numpy as np
import pyloudnorm
import pytest
from aimixer_dsp.errors import InvalidBufferError, NonFiniteInputError, ParameterError
from aimixer_dsp.mixer import MixerSession, to_json_safe
from aimixer_dsp.presets import DEFAULT_SETTINGS, GENRE_PRESETS, build_chain, resolve_settings

FS = 48000


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
    return x + 0.05 * rng.standard_normal(t.size)


def _frames(x: np.ndarray) -> list:
    return [x[i : i + 960] for i in range(0, len(x) - 959, 960)]


class FakeTracker:
    """Gives a verdict on the ``verdict_at``-th push (counts pushes and samples)."""

    def __init__(self, verdict_at: int, genre: str = "rock", confidence: float = 0.8):
        self.verdict_at, self._verdict, self._conf = verdict_at, genre, confidence
        self.reset()

    def reset(self):
        self.pushes, self.samples, self.genre, self.confidence = 0, 0, None, 0.0

    def push(self, samples):
        self.pushes += 1
        self.samples += len(samples)
        if self.pushes == self.verdict_at:
            self.genre, self.confidence = self._verdict, self._conf
            return True
        return False


@pytest.mark.parametrize("kind", ["list", "ndarray"])
def test_output_equals_chain_and_metrics_measure_it(kind):
    x = _signal(1.0)
    sess = MixerSession()
    chain = build_chain(GENRE_PRESETS["speech"])
    outs = []
    for f in _frames(x):
        blk = f.tolist() if kind == "list" else f
        r = sess.process(blk, {"genre": "speech"})
        y = r["processedBuffer"]
        assert isinstance(y, list if kind == "list" else np.ndarray) and len(y) == 960
        np.testing.assert_allclose(np.asarray(y), chain.process(f), rtol=0, atol=1e-12)
        m = r["metrics"]
        ya = np.asarray(y)
        assert m["peak"] == pytest.approx(20 * np.log10(np.abs(ya).max()), abs=1e-9)
        assert m["rms"] == pytest.approx(10 * np.log10(np.mean(ya**2)), abs=1e-9)
        assert m["genre"] == "speech" and m["confidence"] == 1.0
        assert m["latencySamples"] == 72
        assert isinstance(m["processingTime"], float) and m["processingTime"] >= 0.0
        assert r["appliedSettings"] == GENRE_PRESETS["speech"]
        outs.append(ya)
    out = np.concatenate(outs)
    ref = pyloudnorm.Meter(FS).integrated_loudness(out)
    assert m["lufs"] == pytest.approx(ref, abs=0.1)


def test_no_genre_uses_defaults_and_user_fields_override():
    sess = MixerSession()
    f = _signal(0.02)
    r = sess.process(f.tolist())
    assert r["metrics"]["genre"] is None and r["metrics"]["confidence"] == 0.0
    assert r["appliedSettings"] == DEFAULT_SETTINGS
    r = sess.process(f.tolist(), {"genre": "jazz", "compressor": {"ratio": 7}})
    assert r["appliedSettings"] == resolve_settings({"compressor": {"ratio": 7}}, "jazz")
    assert r["appliedSettings"]["compressor"]["threshold"] == GENRE_PRESETS["jazz"]["compressor"]["threshold"]


def test_base_config_under_call_config():
    sess = MixerSession(base_config={"genre": "rock", "eq": {"low": -5}})
    r = sess.process(_signal(0.02).tolist(), {"eq": {"high": 4}})
    s = r["appliedSettings"]
    assert (
        s["eq"]["low"] == -5 and s["eq"]["high"] == 4 and s["eq"]["mid"] == GENRE_PRESETS["rock"]["eq"]["mid"]
    )
    assert r["metrics"]["genre"] == "rock"


def test_strict_frames():
    sess = MixerSession()
    with pytest.raises(InvalidBufferError, match="must be 960 samples, got 959") as ei:
        sess.process([0.0] * 959)
    assert ei.value.code == "INVALID_BUFFER_SIZE" and ei.value.details == {"expected": 960, "received": 959}
    loose = MixerSession(strict_frames=False)
    assert len(loose.process([0.1] * 37)["processedBuffer"]) == 37


def test_errors_leave_state_untouched():
    x = _signal(0.1, seed=2)
    frames = _frames(x)
    a, b = MixerSession(), MixerSession()
    ra = [a.process(f.tolist())["processedBuffer"] for f in frames[:3]]
    bad = frames[3].copy()
    bad[10] = np.nan
    with pytest.raises(NonFiniteInputError):
        a.process(bad.tolist())
    with pytest.raises(ParameterError, match="compressor.ratio=0 is out of range"):
        a.process(frames[3].tolist(), {"compressor": {"ratio": 0}})
    ra += [a.process(f.tolist())["processedBuffer"] for f in frames[3:]]
    rb = [b.process(f.tolist())["processedBuffer"] for f in frames]
    np.testing.assert_array_equal(np.array(ra), np.array(rb))


def test_auto_genre_timing_rule():
    """A verdict produced while processing frame N affects frames N+1 and later."""
    x = _signal(0.12, seed=4)
    frames = _frames(x)
    tracker = FakeTracker(verdict_at=3)
    sess = MixerSession(genre_tracker=tracker)
    results = [sess.process(f.tolist(), {"genre": "auto"}) for f in frames]
    genres = [r["metrics"]["genre"] for r in results]
    assert genres[:3] == [None, None, None] and set(genres[3:]) == {"rock"}
    assert results[2]["appliedSettings"] == DEFAULT_SETTINGS
    assert results[3]["appliedSettings"] == GENRE_PRESETS["rock"]
    assert results[3]["metrics"]["confidence"] == 0.8
    assert tracker.samples == 960 * len(frames)  # fed the input audio, every frame
    # outputs equal a chain switched to the rock preset before frame index 3 (state kept)
    chain = build_chain(DEFAULT_SETTINGS)
    from aimixer_dsp.presets import apply_settings

    for i, f in enumerate(frames):
        if i == 3:
            apply_settings(chain, GENRE_PRESETS["rock"])
        np.testing.assert_allclose(results[i]["processedBuffer"], chain.process(f.tolist()), atol=1e-12)


def test_auto_without_tracker_is_a_clear_error():
    with pytest.raises(ParameterError, match="genre='auto' needs a genre classifier"):
        MixerSession().process([0.0] * 960, {"genre": "auto"})


def test_reset_restarts_everything():
    frames = _frames(_signal(0.1, seed=5))
    tracker = FakeTracker(verdict_at=2)
    sess = MixerSession(genre_tracker=tracker)
    first = [sess.process(f, {"genre": "auto"})["processedBuffer"] for f in frames]
    sess.reset()
    assert tracker.pushes == 0
    again = [sess.process(f, {"genre": "auto"})["processedBuffer"] for f in frames]
    np.testing.assert_array_equal(np.array(first), np.array(again))


def test_both_backends_agree():
    frames = _frames(_signal(0.2, seed=6))
    a, b = MixerSession(), MixerSession()
    for f in frames:
        ra = a.process(f.tolist(), {"genre": "electronic"})
        rb = b.process(f, {"genre": "electronic"})
        np.testing.assert_allclose(ra["processedBuffer"], rb["processedBuffer"], rtol=0, atol=1e-5)
        for k in ("peak", "rms"):
            assert ra["metrics"][k] == pytest.approx(rb["metrics"][k], abs=1e-5)


def test_stereo_ndarray_session():
    x = _signal(0.1)
    st = np.stack([x, 0.5 * x], axis=1)
    sess = MixerSession(strict_frames=False)
    r = sess.process(st)
    assert r["processedBuffer"].shape == st.shape
    with pytest.raises(InvalidBufferError, match="channel"):
        sess.process(x)


def test_to_json_safe():
    obj = {
        "a": float("-inf"),
        "b": [1.0, float("nan"), 2.0],
        "c": np.array([0.5, np.inf]),
        "d": (np.float32(1.5), np.int64(3)),
        "e": {"f": None, "g": "x", "h": True},
    }
    out = to_json_safe(obj)
    assert out == {
        "a": None,
        "b": [1.0, None, 2.0],
        "c": [0.5, None],
        "d": [1.5, 3],
        "e": {"f": None, "g": "x", "h": True},
    }
    json.dumps(out, allow_nan=False)
    r = MixerSession().process(np.zeros(960))
    safe = to_json_safe(r)
    assert safe["metrics"]["peak"] is None and safe["metrics"]["lufs"] is None
    assert isinstance(safe["processedBuffer"], list)
    json.dumps(safe, allow_nan=False)


def _strip_time(res: dict) -> dict:
    out = dict(res)
    out["metrics"] = {k: v for k, v in res["metrics"].items() if k != "processingTime"}
    return out


@pytest.mark.parametrize("genre", ["rock", "speech", "jazz", None])
def test_deferred_metering_gives_identical_results(genre):
    """``defer_metering`` only moves the meter's work on frames that complete no 100 ms block
    (to ``flush_deferred`` or the next completing frame): every result stays bit-identical."""
    x = _signal(4.0, seed=3)
    x[FS : FS + FS // 2] *= 0.01  # a quiet stretch (quiet compressor / limiter paths)
    plain, deferred = MixerSession(), MixerSession(defer_metering=True)
    cfg = None if genre is None else {"genre": genre}
    for i, f in enumerate(_frames(x)):
        a = plain.process(f.tolist(), cfg)
        b = deferred.process(f.tolist(), cfg)
        assert _strip_time(a) == _strip_time(b)
        if i % 3 == 1:  # flush now and then (the worker does it after every frame)
            deferred.flush_deferred()
        assert deferred._meter.samples_seen == plain._meter.samples_seen
    deferred.flush_deferred()
    assert deferred._meter._states == plain._meter._states
    assert not deferred.flush_deferred()


def test_deferred_metering_survives_reset_and_errors():
    x = _signal(1.0, seed=4)
    plain, deferred = MixerSession(), MixerSession(defer_metering=True)
    frames = _frames(x)
    for f in frames[:3]:
        plain.process(f.tolist())
        deferred.process(f.tolist())
    bad = frames[3].tolist()
    bad[5] = float("nan")
    for s in (plain, deferred):
        with pytest.raises(NonFiniteInputError):
            s.process(bad)
    for f in frames[3:]:
        assert _strip_time(plain.process(f.tolist())) == _strip_time(deferred.process(f.tolist()))
    deferred.reset()
    plain.reset()
    for f in frames[:7]:
        assert _strip_time(plain.process(f.tolist())) == _strip_time(deferred.process(f.tolist()))


@pytest.mark.parametrize(
    "config",
    [
        {"genre": "rock"},
        {"limiter": {"enabled": False}},
        {"limiter": {"lookahead": 0.0}},
        {"limiter": {"lookahead": 20.0}, "gain": 12.0},
        {"bypass": True},
    ],
)
def test_pure_levels_equal_peak_db_and_rms_db(config):
    """The session's pure-path peak/rms (one sum of squares; the peak from the limiter's
    pass-through check when it has one) equal ``peak_db``/``rms_db`` of the output exactly."""
    from aimixer_dsp.meters import peak_db, rms_db

    x = _signal(1.0, seed=5)
    x[: FS // 4] *= 3.0  # loud start: the limiter works, then passes through
    sess = MixerSession(strict_frames=False)
    for f in _frames(x) + [x[:100], x[:50]]:
        r = sess.process(f.tolist(), config)
        y = r["processedBuffer"]
        assert r["metrics"]["peak"] == peak_db(y)
        assert r["metrics"]["rms"] == rms_db(y)


@pytest.mark.parametrize("config", [{"genre": "rock"}, {"limiter": {"enabled": False}}, {"bypass": True}])
def test_numpy_levels_equal_peak_db_and_rms_db(config):
    """The NumPy path's peak/rms (one dot product that doubles as the finiteness check) equal
    ``peak_db``/``rms_db`` of the output exactly, for mono frames, odd blocks and stereo."""
    from aimixer_dsp.meters import peak_db, rms_db

    x = _signal(1.0, seed=6)
    x[: FS // 4] *= 3.0
    mono = MixerSession(strict_frames=False)
    stereo = MixerSession(strict_frames=False)
    for f in _frames(x) + [x[:100], x[:50]]:
        r = mono.process(f, config)
        y = r["processedBuffer"]
        assert r["metrics"]["peak"] == peak_db(y)
        assert r["metrics"]["rms"] == rms_db(y)
        r2 = stereo.process(np.stack([f, -0.5 * f], axis=1), config)
        assert r2["metrics"]["peak"] == peak_db(r2["processedBuffer"])
        assert r2["metrics"]["rms"] == rms_db(r2["processedBuffer"])


@pytest.mark.parametrize("pure", [False, True])
def test_frames_without_metrics_still_feed_the_meter(pure):
    """``metrics=False`` skips the readings of that frame only: audio and every later reading
    are those of a session that reported every frame."""
    x = _signal(2.0, seed=8)
    every = MixerSession()
    sparse = MixerSession()
    for k, f in enumerate(_frames(x)):
        blk = f.tolist() if pure else f
        a = every.process(blk, {"genre": "rock"})
        b = sparse.process(blk, {"genre": "rock"}, metrics=k % 7 == 0)
        np.testing.assert_array_equal(np.asarray(a["processedBuffer"]), np.asarray(b["processedBuffer"]))
        if k % 7:
            assert b["metrics"] is None and b["appliedSettings"] is None
        else:
            assert _strip_time(a)["metrics"] == _strip_time(b)["metrics"]
            assert a["appliedSettings"] == b["appliedSettings"]


@pytest.mark.parametrize("config", [None, {"genre": "rock"}, {"genre": "jazz", "gain": -3.0}])
def test_prepare_changes_no_result(config):
    """``prepare`` does the first frame's set-up ahead (settings, meter): every result after it
    is the same as without it; a bad config or channel count raises before anything changes."""
    x = _signal(1.0, seed=9)
    plain, prepared = MixerSession(), MixerSession()
    prepared.prepare(config)
    for f in _frames(x):
        a, b = plain.process(f, config), prepared.process(f, config)
        np.testing.assert_array_equal(a["processedBuffer"], b["processedBuffer"])
        assert _strip_time(a)["metrics"] == _strip_time(b)["metrics"]
        assert a["appliedSettings"] == b["appliedSettings"]
    fresh = MixerSession()
    with pytest.raises(ParameterError, match="compressor.ratio"):
        fresh.prepare({"compressor": {"ratio": 50}})
    with pytest.raises(ParameterError, match="channels"):
        fresh.prepare(None, channels=0)
    frame = x[:960]
    np.testing.assert_array_equal(
        fresh.process(frame)["processedBuffer"], MixerSession().process(frame)["processedBuffer"]
    )
