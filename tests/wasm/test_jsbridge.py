"""``aimixer_dsp.jsbridge``: the engine's one-call frame path must give exactly what
``MixerSession.process`` + ``to_json_safe`` give, and the deferred genre tracker exactly what a
tracker fed inside ``process`` gives (same verdicts on the same frames)."""

from __future__ import annotations

import json
import math
import random
from array import array

import pytest
from aimixer_dsp import GENRES
from aimixer_dsp.genre import StreamingGenreClassifier
from aimixer_dsp.jsbridge import DeferredTracker, FrameIO, NullTracker, dumps
from aimixer_dsp.mixer import MixerSession, to_json_safe

N = 960


def _f32(values: list[float]) -> list[float]:
    return array("f", values).tolist()


def _stream(seconds: float, seed: int = 3) -> list[list[float]]:
    """Float32 frames: a tone, then noise bursts, then a chord (the genre verdict moves)."""
    rnd = random.Random(seed)
    out = []
    total = int(seconds * 48000) // N
    for k in range(total):
        part = 3 * k // total
        frame = []
        for i in range(N):
            t = (k * N + i) / 48000
            if part == 0:
                v = 0.4 * math.sin(2 * math.pi * 220 * t)
            elif part == 1:
                v = (0.6 if (k // 5) % 2 else 0.05) * (rnd.random() - 0.5)
            else:
                v = 0.2 * sum(math.sin(2 * math.pi * f * t) for f in (261.6, 329.6, 392.0))
            frame.append(v)
        out.append(_f32(frame))
    return out


def _predict(features: list[float]) -> dict[str, float]:
    """A deterministic stand-in for the ONNX model: softmax of fixed projections of the vector."""
    rnd = random.Random(11)
    weights = [[rnd.uniform(-1, 1) for _ in features] for _ in GENRES]
    scores = [sum(w * f for w, f in zip(ws, features, strict=True)) / len(features) for ws in weights]
    m = max(scores)
    exps = [math.exp(8 * (s - m)) for s in scores]
    z = sum(exps)
    return {g: e / z for g, e in zip(GENRES, exps, strict=True)}


def _without_time(result: dict) -> dict:
    out = json.loads(json.dumps(result))
    out["metrics"].pop("processingTime")
    return out


@pytest.mark.parametrize(
    "config",
    [
        None,
        {"genre": "rock", "compressor": {"ratio": 6}},
        {"genre": "speech", "gain": 4.0, "limiter": {"enabled": False}},
        {"noiseGate": {"enabled": True, "threshold": -30}, "eq": {"low": 6, "high": -3}},
    ],
)
def test_frameio_matches_mixer_session(config: dict | None) -> None:
    frames = [[0.0] * N] + _stream(1.0)[:30]  # silence first: -inf metrics -> null
    direct, bridged, io = MixerSession(), MixerSession(), FrameIO(N)
    cfg_json = None if config is None else json.dumps(config)
    for frame in frames:
        want = direct.process(list(frame), config)
        want_audio = _f32(want.pop("processedBuffer"))
        io.input[:] = array("f", frame)
        text = io.process(bridged, cfg_json)
        assert io.output.tolist() == want_audio
        assert _without_time(json.loads(text)) == _without_time(to_json_safe(want))
    assert io.frames == len(frames)
    assert json.loads(io.stats())["frames"] == len(frames)


def test_frameio_text_is_dumps_of_the_result_as_the_config_changes() -> None:
    """The settings JSON is reused while the applied settings are exactly the same (also
    ``0.0`` vs ``-0.0`` and ``0`` vs ``0.0`` count as changes): every text equals ``dumps`` of
    the session's result, byte for byte."""
    configs = [
        '{"genre":"rock"}',
        '{"genre":"rock"}',
        None,
        '{"genre":"jazz","gain":3}',
        '{"gain":-0.0}',
        '{"gain":0.0}',
        '{"gain":0}',
        '{"eq":{"low":-0.0}}',
        '{"eq":{"low":0.0}}',
        '{"genre":"rock"}',
    ]
    frames = [[0.0] * N] + _stream(1.0)[: 2 * len(configs)]
    direct, bridged, io = MixerSession(), MixerSession(), FrameIO(N)
    for i, frame in enumerate(frames):
        cfg = configs[i % len(configs)]
        want = direct.process(list(frame), None if cfg is None else json.loads(cfg))
        want.pop("processedBuffer")
        io.input[:] = array("f", frame)
        text = io.process(bridged, cfg)
        want["metrics"]["processingTime"] = json.loads(text)["metrics"]["processingTime"]
        assert text == dumps(want)


@pytest.mark.parametrize(
    "config",
    [None, {"genre": "rock"}, {"genre": "speech", "gain": 4.0, "limiter": {"enabled": False}}],
)
def test_frameio_run_passes_the_same_result_with_numbers_in_values(config: dict | None) -> None:
    """``run`` (the engine's call) + ``decode`` give exactly the result of ``process``: same
    samples, same metrics (-inf -> null on silence) and settings; the numbers travel in
    ``values`` and the text carries only the genre and the settings."""
    frames = [[0.0] * N] + _stream(1.0)[:20]
    a, b = MixerSession(), MixerSession()
    io_text, io_run = FrameIO(N), FrameIO(N)
    cfg_json = None if config is None else json.dumps(config)
    for frame in frames:
        io_text.input[:] = array("f", frame)
        io_run.input[:] = array("f", frame)
        want = json.loads(io_text.process(a, cfg_json))
        text = io_run.run(b, cfg_json)
        assert io_run.values[0] == 1.0
        assert set(json.loads(text)) == {"genre", "appliedSettings"}
        got = io_run.decode(text)
        assert io_run.output.tolist() == io_text.output.tolist()
        assert _without_time(got) == _without_time(want)
        assert list(got["metrics"]) == list(want["metrics"])
        assert got["metrics"]["processingTime"] == io_run.values[1 + FrameIO.NUMERIC.index("processingTime")]
    assert want["metrics"]["lufs"] is not None
    assert io_run.run(b, cfg_json, False) is None


def test_frameio_run_falls_back_to_the_whole_json_for_other_metrics() -> None:
    class Odd:
        def process(self, samples: list, config: object = None) -> dict:
            return {"processedBuffer": samples, "metrics": {"peak": 1.0}, "appliedSettings": {}}

    io = FrameIO(4)
    io.values[0] = 1.0
    text = io.run(Odd())
    assert io.values[0] == 0.0
    assert json.loads(text) == {"metrics": {"peak": 1.0}, "appliedSettings": {}}
    assert io.decode(text) == json.loads(text)


def test_frameio_without_result_still_processes() -> None:
    a, b, io = MixerSession(), MixerSession(), FrameIO(N)
    frame = _stream(0.1)[0]
    io.input[:] = array("f", frame)
    assert io.process(a, None, False) is None
    assert io.output.tolist() == _f32(b.process(list(frame))["processedBuffer"])


def test_frameio_errors_come_from_the_session() -> None:
    from aimixer_dsp.errors import NonFiniteInputError, ParameterError

    io = FrameIO(N)
    io.input[5] = float("nan")
    with pytest.raises(NonFiniteInputError):
        io.process(MixerSession(), None)
    io.input[5] = 0.0
    with pytest.raises(ParameterError, match="ratio"):
        io.process(MixerSession(), json.dumps({"compressor": {"ratio": 25}}))
    with pytest.raises(ValueError, match="positive int"):
        FrameIO(0)


def test_write_output_beyond_float32_range_matches_array_cast() -> None:
    io = FrameIO(4)
    values = [1e39, -1e39, 0.5, 3.4e38]
    io.write_output(values)
    assert io.output.tolist() == array("f", values).tolist()
    assert io.output[0] == math.inf and io.output[1] == -math.inf
    with pytest.raises(ValueError, match="expected 4"):
        io.write_output([0.0] * 3)


@pytest.mark.parametrize(
    "obj",
    [
        {"metrics": {"peak": -math.inf, "rms": 1.5, "genre": None}, "appliedSettings": {"gain": 0.0}},
        {"metrics": {"lufs": math.nan}, "deep": {"x": {"y": [1.0, math.inf, (2, 3)]}}},
        {"a": "NaN and Infinity inside a string", "b": (1.0, 2.5), "c": {"d": True, "e": 3}},
        [1.0, -math.inf, {"k": math.nan}],
        {"plain": {"x": 0.1, "y": -0.0, "z": 1e-300}},
    ],
)
def test_dumps_is_the_json_of_to_json_safe(obj: object) -> None:
    assert json.loads(dumps(obj)) == to_json_safe(obj)
    assert dumps(obj) == json.dumps(to_json_safe(obj), separators=(",", ":"))


def _settle(tracker: DeferredTracker) -> int:
    windows = 0
    while tracker.flush():
        tracker.apply(_predict(tracker.pending_features))
        windows += 1
    return windows


def test_deferred_tracker_gives_the_same_verdicts_on_the_same_frames() -> None:
    frames = _stream(9.0)
    inline = MixerSession(genre_tracker=StreamingGenreClassifier(predict=_predict))
    deferred = DeferredTracker(StreamingGenreClassifier())
    bridged, io = MixerSession(genre_tracker=deferred), FrameIO(N)
    genres, windows = [], 0
    for frame in frames:
        want = inline.process(list(frame), {"genre": "auto"})
        io.input[:] = array("f", frame)
        got = json.loads(io.process(bridged, json.dumps({"genre": "auto"})))
        assert deferred.queued == 1  # this frame's analysis is still to come...
        windows += _settle(deferred)
        assert deferred.queued == 0  # ...and done before the next frame: same verdict as inline
        assert deferred.genre == inline.genre_tracker.genre
        assert io.output.tolist() == _f32(want.pop("processedBuffer"))
        assert _without_time(got) == _without_time(to_json_safe(want))
        genres.append(got["metrics"]["genre"])
    assert windows == inline.genre_tracker.windows > 3
    assert genres[0] is None and any(g is not None for g in genres)
    assert deferred.probabilities == inline.genre_tracker.probabilities


def test_flush_stops_at_each_due_window() -> None:
    frames = _stream(6.0)
    ref = StreamingGenreClassifier()
    due = []  # the pending vectors a frame-by-frame consumer sees
    for frame in frames:
        ref.push(frame)
        if ref.pending_features is not None:
            due.append(ref.pending_features)
            ref.apply(_predict(ref.pending_features))
    assert len(due) >= 3
    deferred = DeferredTracker(StreamingGenreClassifier())
    for frame in frames:  # everything queued, nothing flushed yet
        deferred.push(frame)
    seen = []
    while deferred.flush():
        seen.append(deferred.pending_features)
        assert deferred.flush() is True  # not pushed past an unclassified window
        deferred.apply(_predict(deferred.pending_features))
    assert seen == due
    assert deferred.queued == 0 and deferred.genre == ref.genre


def test_reset_drops_the_queue_and_the_verdict() -> None:
    deferred = DeferredTracker(StreamingGenreClassifier())
    for frame in _stream(4.0):
        deferred.push(frame)
    _settle(deferred)
    assert deferred.genre is not None
    deferred.push(_stream(0.1)[0])
    deferred.reset()
    assert deferred.queued == 0 and deferred.genre is None and deferred.flush() is False


def test_null_tracker_runs_auto_on_the_defaults() -> None:
    frame = _stream(0.1)[0]
    with_null = MixerSession(genre_tracker=NullTracker()).process(list(frame), {"genre": "auto"})
    plain = MixerSession().process(list(frame))
    assert with_null["metrics"]["genre"] is None and with_null["metrics"]["confidence"] == 0.0
    assert with_null["processedBuffer"] == plain["processedBuffer"]
    assert with_null["appliedSettings"] == plain["appliedSettings"]
