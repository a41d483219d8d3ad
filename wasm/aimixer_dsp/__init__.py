"""aimixer_dsp: the AI Mixer DSP chain, meters and features.

Pure Python with optional NumPy, so the same code runs on CPython (the origin) and in
Pyodide (the browser). It never imports anything from ``origin``.
"""

from __future__ import annotations

__version__ = "0.1.0"

SAMPLE_RATE = 48000
FRAME_SIZE = 960
GENRES = ("speech", "rock", "jazz", "electronic", "classical")
