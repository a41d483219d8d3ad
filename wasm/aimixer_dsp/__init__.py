"""aimixer_dsp: the AI Mixer DSP chain, meters and features.

Pure Python with optional NumPy, so the same code runs on CPython (the origin) and in
Pyodide (the browser). It never imports anything from ``origin``.
"""

from __future__ import annotations

__version__ = "0.1.0"

SAMPLE_RATE = 48000
FRAME_SIZE = 960
GENRES = ("speech", "rock", "jazz", "electronic", "classical")

# Re-exports of the DSP chain API (after the constants: submodules import them).
from .backend import get_backend, set_backend  # noqa: E402, F401
from .errors import DSPError, InvalidBufferError, InvalidSampleRateError, NonFiniteInputError, ParameterError  # noqa: E402, F401, I001
from .processors import Chain, Compressor, Equalizer, Gain, Limiter, NoiseGate  # noqa: E402, F401

# isort: split
# Re-exports of the meters and features API (builder H2).
from .features import extract_features, frame_features, mfcc  # noqa: E402, F401
from .meters import LoudnessMeter, peak_db, rms_db  # noqa: E402, F401
