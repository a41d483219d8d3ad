from __future__ import annotations

import os
import time

import numpy as np
import pytest
import soundfile as sf
from netutil import free_udp_port, unique_group


@pytest.fixture
def group_port():
    """A unique multicast group and a free port (tests run in parallel)."""
    return unique_group("239.69"), free_udp_port()


@pytest.fixture
def source24(tmp_path):
    """A 24-bit stereo WAV of known random samples (1 s) and the samples (left-justified int32)."""
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    x = (rng.integers(-(2**23), 2**23, size=(48000, 2)).astype(np.int32)) << 8
    path = tmp_path / "src24.wav"
    sf.write(path, x, 48000, subtype="PCM_24")
    return str(path), x


def wait_for(pred, timeout: float = 5.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def align(recorded: np.ndarray, source: np.ndarray) -> int:
    """Offset of ``recorded[0]`` inside ``source`` (random samples make it unique)."""
    first = recorded[0]
    hits = np.nonzero((source[:, 0] == first[0]) & (source[:, 1] == first[1]))[0]
    assert len(hits) >= 1, "recorded audio does not start with any source frame"
    return int(hits[0])
