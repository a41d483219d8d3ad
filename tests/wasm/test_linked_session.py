"""The stereo live preview's Python (``aimixer_dsp.jsbridge.LinkedSession`` / ``PlanarFrameIO``): the
pure path, linked as the file render links channels, equals ``MixerSession`` on the NumPy path with
a ``(frames, 2)`` array, frame by frame, through config changes."""

from __future__ import annotations

import math
from array import array

import pytest
from aimixer_dsp.errors import InvalidBufferError, NonFiniteInputError, ParameterError
from aimixer_dsp.jsbridge import LinkedSession, PlanarFrameIO
from aimixer_dsp.mixer import MixerSession

np = pytest.importorskip("numpy")

N = 960
CONFIGS = (
    [{"genre": "rock", "compressor": {"ratio": 6}}] * 6
    + [{"genre": "rock", "eq": {"low": 4, "high": -3}, "limiter": {"lookahead": 3}}] * 6
    + [{"genre": "jazz", "limiter": {"truePeak": True, "ceiling": -2}}] * 6
    + [{"noiseGate": {"threshold": -30}, "eq": {"enabled": False}}] * 6
)


def _frame(k: int) -> tuple[list[float], list[float]]:
    i = range(k * N, (k + 1) * N)
    left = array("f", [0.9 * math.sin(2 * math.pi * 220 * t / 48000) * (0.2 + (k % 4) / 4) for t in i])
    right = array("f", [0.3 * math.sin(2 * math.pi * 330 * t / 48000) + 0.05 * math.sin(t * 1.3) for t in i])
    return list(left), list(right)


def test_linked_session_equals_the_numpy_path() -> None:
    linked, ref = LinkedSession(), MixerSession()
    for k, cfg in enumerate(CONFIGS):
        left, right = _frame(k)
        a = linked.process([left, right], cfg)
        b = ref.process(np.stack([np.array(left), np.array(right)], 1), cfg)
        y = np.array(a["processedBuffer"]).T
        assert y.shape == (N, 2)
        assert float(np.abs(y - b["processedBuffer"]).max()) <= 1e-9, k
        assert a["appliedSettings"] == b["appliedSettings"]
        for key, want in b["metrics"].items():
            got = a["metrics"][key]
            if key == "processingTime":
                continue
            if isinstance(want, float) and not math.isfinite(want):
                assert got == want, key
            elif isinstance(want, float):
                assert got == pytest.approx(want, abs=1e-9), key
            else:
                assert got == want, key
    # linked: the quiet right channel is turned down with the loud left one, not on its own
    assert max(abs(v) for v in a["processedBuffer"][1]) > 0.0


def test_linked_session_reset_starts_over() -> None:
    s = LinkedSession()
    frames = [_frame(k) for k in range(4)]
    first = [s.process(list(f), {"genre": "rock"})["processedBuffer"] for f in frames]
    s.reset()
    again = [s.process(list(f), {"genre": "rock"})["processedBuffer"] for f in frames]
    assert again == first


def test_linked_session_rejects_bad_frames_before_any_change() -> None:
    s = LinkedSession()
    left, right = _frame(0)
    good = s.process([left, right], {"genre": "rock"})
    with pytest.raises(InvalidBufferError):
        s.process([left], None)
    with pytest.raises(InvalidBufferError):
        s.process([left, right[:-1]], None)
    with pytest.raises(NonFiniteInputError):
        s.process([left, [math.nan] * N], None)
    with pytest.raises(ParameterError):
        s.process([left, right], {"gain": 1e9})
    with pytest.raises(ParameterError):
        LinkedSession(channels=1)
    fresh = LinkedSession()
    fresh.process([left, right], {"genre": "rock"})
    assert s.frames == 1
    assert (
        s.process([left, right], {"genre": "rock"})["processedBuffer"]
        == fresh.process([left, right], {"genre": "rock"})["processedBuffer"]
    )
    assert good["metrics"]["latencySamples"] > 0


def test_planar_frame_io_round_trip_equals_the_session() -> None:
    io = PlanarFrameIO(N, 2)
    s, ref = LinkedSession(), LinkedSession()
    for k in range(3):
        left, right = _frame(k)
        io.input[:] = array("f", left + right)
        res = io.decode(io.run(s, '{"genre":"rock"}', True))
        want = ref.process([left, right], {"genre": "rock"})
        out = io.output.tolist()
        expect = [float(v) for v in array("f", want["processedBuffer"][0] + want["processedBuffer"][1])]
        assert out == expect
        assert res["metrics"]["lufs"] == pytest.approx(want["metrics"]["lufs"], nan_ok=True) or (
            res["metrics"]["lufs"] is None and want["metrics"]["lufs"] == -math.inf
        )
    with pytest.raises(ValueError):
        PlanarFrameIO(N, 0)


def test_deferred_metering_gives_the_same_readings() -> None:
    """``defer_metering`` (the browser worker's mode) queues the K-weighting of frames that
    complete no 100 ms block until ``flush_deferred``; every reading stays exactly the same."""
    deferred, direct = LinkedSession(defer_metering=True), LinkedSession()
    queued = 0
    for k in range(23):
        frame = _frame(k)
        a = deferred.process(list(frame), {"genre": "rock"})["metrics"]
        b = direct.process(list(frame), {"genre": "rock"})["metrics"]
        for key in ("lufs", "momentaryLufs", "shortTermLufs", "truePeak", "truePeakMax", "peak", "rms"):
            assert a[key] == b[key], (k, key)
        if k % 7 == 3:
            queued += deferred.flush_deferred()
    assert queued > 0
