"""The loudness log does not depend on how the audio arrives: 1 ms packets (the engine's case,
kept for the second's meter without metering), odd block sizes and whole seconds give the same
log, and its readings are the meters' own on each whole second (the true peak is metered in
pieces, which must not change it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.truepeak import TruePeakMeter

from origin.recorder.loudness_log import LoudnessLogger, read_log

SR = 48000


def _audio(seconds: int, channels: int) -> np.ndarray:
    """Music-like L24 (left-justified int32): a decaying kick, a tone, noise under a swell,
    inter-sample peaks near full scale in the fourth second."""
    rng = np.random.default_rng(11)
    t = np.arange(seconds * SR) / SR
    x = 0.5 * np.sin(2 * np.pi * 55 * t) * np.exp(-(t % 0.5) / 0.08)
    x = x + 0.1 * rng.standard_normal(t.size) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
    cols = [x + 0.05 * c * np.sin(2 * np.pi * 330 * (c + 1) * t) for c in range(channels)]
    y = np.stack(cols, axis=1)
    burst = (t >= 3.0) & (t < 3.2)
    y[burst] = 0.97 * np.sin(2 * np.pi * 11025 * t[burst] + np.pi / 4)[:, None]
    return np.round(np.clip(y, -1.0, 1.0) * 8388607).astype(np.int32) << 8


def _log(tmp_path, name: str, x: np.ndarray, sizes: list[int]) -> list[dict]:
    logger = LoudnessLogger(x.shape[1], SR)
    logger.file_opened(str(tmp_path / f"{name}.wav"), 0, 1_800_000_000.0)
    pos = k = 0
    while pos < x.shape[0]:
        block = x[pos : pos + sizes[k % len(sizes)]]
        logger.push(block, pos)
        pos += block.shape[0]
        k += 1
    logger.close()
    header, *records = read_log(str(tmp_path / f"{name}.loudness.jsonl"))
    assert header["type"] == "header" and header["audio"] == f"{name}.wav"
    return records


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_the_log_is_the_same_however_the_audio_arrives(tmp_path, channels):
    x = _audio(6, channels)
    packets = _log(tmp_path, "packets", x, [48])
    assert len(packets) == 6
    assert _log(tmp_path, "odd", x, [48, 7, 960, 13001, 48, 1]) == packets
    assert _log(tmp_path, "seconds", x, [SR]) == packets
    assert _log(tmp_path, "whole", x, [x.shape[0]]) == packets


def _db(v: float) -> float | None:
    return round(20 * math.log10(v), 2) if v > 0 else None


def test_readings_are_the_meters_on_each_whole_second(tmp_path):
    x = _audio(6, 2)
    recs = _log(tmp_path, "packets", x, [48])
    meter, tp = LoudnessMeter(SR, 2), TruePeakMeter(SR, 2)
    tp_max = pk_max = 0.0
    for s, rec in enumerate(recs):
        f = x[s * SR : (s + 1) * SR].astype(np.float64) / 2**31
        meter.push(f)
        tp.push(f)
        pk = float(np.abs(f).max())
        tp_max, pk_max = max(tp_max, tp.last_block, pk), max(pk_max, pk)
        assert rec["I"] == (round(meter.integrated, 2) if math.isfinite(meter.integrated) else None)
        assert rec["M"] == round(meter.momentary, 2)
        assert rec["TP"] == _db(max(tp.last_block, pk))
        assert (rec["TPmax"], rec["SP"], rec["SPmax"]) == (_db(tp_max), _db(pk), _db(pk_max))
    # the burst's inter-sample peaks read above its sample peak (the over-sampler ran)
    assert recs[3]["TP"] > recs[3]["SP"]
