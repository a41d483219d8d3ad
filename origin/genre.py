"""The genre model on the origin: :mod:`aimixer_train.inference` (the layer below) re-exported.

Training, evaluation and the origin run the same inference code; it lives in ``aimixer_train``
so that the dependencies point one way (``aimixer_dsp`` <- ``aimixer_train`` <- ``origin``).
"""

from __future__ import annotations

from aimixer_train.inference import (
    DEFAULT_MATRIX_MODEL_PATH,
    DEFAULT_MODEL_PATH,
    GenreModel,
    ModelError,
    StreamingGenreClassifier,
    classify_signal,
    load_audio,
    load_default_model,
    load_model,
    model_path,
    resample_to_48k,
    voice_activity,
)

__all__ = [
    "DEFAULT_MATRIX_MODEL_PATH",
    "DEFAULT_MODEL_PATH",
    "ModelError",
    "GenreModel",
    "model_path",
    "load_model",
    "load_default_model",
    "voice_activity",
    "resample_to_48k",
    "load_audio",
    "classify_signal",
    "StreamingGenreClassifier",
]
