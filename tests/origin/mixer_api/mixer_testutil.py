"""Helpers for the mixer API tests (imported by module name; pytest puts this dir on sys.path)."""

from __future__ import annotations

import numpy as np


def frame(seed: int = 0, n: int = 960, amp: float = 0.1) -> list[float]:
    """A deterministic noise frame (float32-exact values) as a JSON list."""
    return (np.random.default_rng(seed).standard_normal(n) * amp).astype(np.float32).astype(float).tolist()


def tone(seconds: float, freq: float = 440.0, amp: float = 0.3, sr: int = 48000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
