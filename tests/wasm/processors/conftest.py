"""Shared helpers for the processor tests: both backends, factories, test signals."""

from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.presets import build_chain
from aimixer_dsp.processors import Compressor, Equalizer, Gain, Limiter, NoiseGate

FS = 48000

#: name -> factory(sample_rate) of a processor with parameters that make it act on SIGNAL
FACTORIES = {
    "gain": lambda fs=FS: Gain(6.0, sample_rate=fs),
    "gate": lambda fs=FS: NoiseGate(
        -30.0, attack_ms=0.5, hold_ms=2.0, release_ms=5.0, range_db=-40.0, sample_rate=fs
    ),
    "compressor": lambda fs=FS: Compressor(-24.0, 4.0, attack_ms=1.0, release_ms=20.0, sample_rate=fs),
    "compressor_knee": lambda fs=FS: Compressor(
        -20.0, 8.0, attack_ms=0.1, release_ms=10.0, knee_db=12.0, makeup_db=3.0, sample_rate=fs
    ),
    "eq": lambda fs=FS: Equalizer(6.0, -4.0, 5.0, sample_rate=fs),
    "limiter": lambda fs=FS: Limiter(-3.0, lookahead_ms=1.0, release_ms=5.0, sample_rate=fs),
    "limiter_nolook": lambda fs=FS: Limiter(-1.0, lookahead_ms=0.0, release_ms=2.0, sample_rate=fs),
    "chain": lambda fs=FS: build_chain(
        {
            "gain": 12.0,
            "noiseGate": {"threshold": -35.0, "hold": 2.0, "release": 5.0},
            "compressor": {"threshold": -20.0, "ratio": 6.0, "attack": 1.0, "release": 20.0, "knee": 6.0},
            "eq": {"low": 4.0, "mid": -3.0, "high": 6.0},
            "limiter": {"ceiling": -1.0, "lookahead": 1.0, "release": 10.0},
        },
        sample_rate=fs,
    ),
}


def make_signal(n: int = 3000, seed: int = 0) -> np.ndarray:
    """Noise and tones in segments of very different levels (gate opens/closes, compressor
    and limiter act), deterministic per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    x = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * rng.standard_normal(n)
    env = np.ones(n)
    seg = max(n // 6, 1)
    levels = [1.0, 0.003, 2.5, 0.0005, 0.3, 1.2]
    for i, lv in enumerate(levels):
        env[i * seg : (i + 1) * seg] = lv
    return x * env


def run(proc, x: np.ndarray, backend: str) -> np.ndarray:
    """Process with the given path and return a float64 ndarray."""
    if backend == "pure":
        y = proc.process([float(v) for v in x])
        assert isinstance(y, list)
        return np.asarray(y, dtype=np.float64)
    y = proc.process(np.asarray(x, dtype=np.float64))
    assert isinstance(y, np.ndarray)
    return y


@pytest.fixture(params=["pure", "numpy"])
def backend(request) -> str:
    return request.param


@pytest.fixture(params=sorted(FACTORIES))
def factory_name(request) -> str:
    return request.param
