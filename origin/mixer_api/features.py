"""``POST /extract-features`` and ``POST /classify-genre``.

``/classify-genre`` input rule: ``features`` is a non-empty list of rows, each row one genre-model
feature vector (``aimixer_dsp.genre.feature_vector`` of a window of audio, 48 numbers in
``FEATURE_SPEC["names"]`` order). Several rows (windows) are classified one by one and their
probabilities averaged. An MFCC matrix from ``/extract-features`` (13-coefficient rows) does not
carry the spectral statistics the model needs, so it is refused with ``400 MISSING_FEATURES``
that explains the expected shape. As an extension, ``audioBuffer`` (>= 0.12 s of 48 kHz audio;
3 s windows are what the model is trained on) may be sent instead of ``features``: the server
computes the vector itself. Without the model: ``503 SERVICE_UNAVAILABLE``.
"""

from __future__ import annotations

import math
from typing import Any

from quart import Blueprint, Response

from origin.errors import APIError
from origin.jsonutil import dumps
from origin.openapi import doc, schema

from .common import SAMPLE_RATE, parse_audio, read_json, require, service
from .schemas import GENRE_ENUM

__all__ = ["bp", "feature_size"]

bp = Blueprint("mixer_features", __name__)

MAX_FEATURE_SAMPLES = SAMPLE_RATE * 60  # one minute per request
MAX_ROWS = 1000
OFFLOAD_SAMPLES = 8192  # longer buffers are analysed in the worker pool

EXTRACT_REQUEST = schema(
    "ExtractFeaturesRequest",
    {
        "type": "object",
        "required": ["audioBuffer"],
        "properties": {
            "audioBuffer": {
                "type": "array",
                "items": {"type": "number"},
                "minItems": 1,
                "maxItems": MAX_FEATURE_SAMPLES,
            },
            "numCoefficients": {"type": "integer", "minimum": 1, "maximum": 256, "default": 13},
            "numFilters": {"type": "integer", "minimum": 1, "maximum": 256, "default": 40},
            "fftSize": {
                "type": "integer",
                "enum": [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
                "default": 2048,
            },
            "hopSize": {"type": "integer", "minimum": 1, "maximum": 65536, "default": 512},
            "windowType": {"type": "string", "enum": ["hann", "hamming", "blackman"], "default": "hann"},
        },
    },
)

EXTRACT_RESPONSE = schema(
    "ExtractFeaturesResponse",
    {
        "type": "object",
        "required": ["features", "frameCount", "duration"],
        "properties": {
            "features": {"type": "array", "items": {"type": "array", "items": {"type": ["number", "null"]}}},
            "spectralCentroid": {"type": ["number", "null"]},
            "zeroCrossingRate": {"type": ["number", "null"]},
            "spectralRolloff": {"type": ["number", "null"]},
            "spectralFlux": {"type": ["number", "null"]},
            "frameCount": {"type": "integer"},
            "duration": {"type": "number"},
            "truePeak": {
                "type": ["number", "null"],
                "description": "dBTP of the buffer (ITU-R BS.1770-4 Annex 2); null for silence; extension",
            },
        },
    },
)

CLASSIFY_REQUEST = schema(
    "ClassifyGenreRequest",
    {
        "type": "object",
        "properties": {
            "features": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "items": {"type": "number"}},
                "description": "rows of genre-model feature vectors (aimixer_dsp.genre.feature_vector)",
            },
            "audioBuffer": {
                "type": "array",
                "items": {"type": "number"},
                "description": "extension: raw 48 kHz audio instead of features",
            },
            "returnProbabilities": {"type": "boolean", "default": False},
        },
    },
)

CLASSIFY_RESPONSE = schema(
    "ClassifyGenreResponse",
    {
        "type": "object",
        "required": ["genre", "confidence", "modelVersion"],
        "properties": {
            "genre": {"type": "string", "enum": GENRE_ENUM},
            "confidence": {"type": "number"},
            "probabilities": {"type": "object", "additionalProperties": {"type": "number"}},
            "secondaryGenre": {"type": ["string", "null"]},
            "modelVersion": {"type": "string"},
            "windows": {"type": "integer"},
        },
    },
)

_EXTRACT_PARAMS = ("numCoefficients", "numFilters", "fftSize", "hopSize", "windowType")


@bp.post("/extract-features")
@doc(
    summary="MFCC and spectral features of an audio buffer",
    request=EXTRACT_REQUEST,
    responses={200: EXTRACT_RESPONSE},
    tags=["features"],
)
async def extract_features() -> Response:
    from aimixer_dsp.features import extract_features as _extract

    svc = service()
    body = await read_json()
    unknown = sorted(set(body) - {"audioBuffer", *_EXTRACT_PARAMS})
    if unknown:  # e.g. sampleRate: silently ignoring it would hide a client's wrong assumption
        raise APIError(
            400,
            "INVALID_REQUEST",
            f"{unknown[0]} is not a field of /extract-features (audio is 48 kHz mono; fields: "
            f"audioBuffer, {', '.join(_EXTRACT_PARAMS)})",
            {"field": unknown[0]},
        )
    samples = parse_audio(body.get("audioBuffer"), exact=None, max_len=MAX_FEATURE_SAMPLES)
    if samples.shape[0] == 0:
        raise APIError(400, "INVALID_BUFFER_SIZE", "audioBuffer is empty", {"field": "audioBuffer"})
    kwargs: dict[str, Any] = {}
    for name in _EXTRACT_PARAMS:
        if body.get(name) is not None:
            kwargs[name] = require(body, name, str if name == "windowType" else int)
    if samples.shape[0] > OFFLOAD_SAMPLES:
        result = await svc.run_blocking(_extract, samples, **kwargs)
    else:
        result = _extract(samples, **kwargs)
    return Response(dumps(result), content_type="application/json")


def feature_size() -> int:
    """Length of one genre-model feature vector."""
    from aimixer_dsp.genre import FEATURE_SPEC

    return int(FEATURE_SPEC["size"])


def _rows(value: Any) -> list[list[float]]:
    size = feature_size()
    hint = (
        f"features must be a non-empty array of feature vectors, each {size} numbers "
        "(aimixer_dsp.genre.feature_vector of an audio window), or send audioBuffer instead"
    )
    if value is None:
        raise APIError(
            400,
            "MISSING_FEATURES",
            "Features required for classification: " + hint,
            {"field": "features", "expectedRowLength": size},
        )
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        raise APIError(400, "MISSING_FEATURES", hint, {"field": "features", "expectedRowLength": size})
    if len(value) > MAX_ROWS:
        raise APIError(
            400, "MISSING_FEATURES", f"at most {MAX_ROWS} feature rows per request", {"field": "features"}
        )
    for i, row in enumerate(value):
        if len(row) != size:
            extra = ""
            if len(row) in (13, 20, 40):
                extra = (
                    " (this looks like an MFCC frame from /extract-features; the model needs window vectors)"
                )
            raise APIError(
                400,
                "MISSING_FEATURES",
                f"features[{i}] has {len(row)} values; expected {size}{extra}. " + hint,
                {"field": "features", "row": i, "expectedRowLength": size, "received": len(row)},
            )
        for j, v in enumerate(row):
            if type(v) not in (int, float) or not math.isfinite(v):
                raise APIError(
                    400,
                    "MISSING_FEATURES",
                    f"features[{i}][{j}]={v!r:.40} is not a finite number",
                    {"field": "features", "row": i, "column": j},
                )
    return [[float(v) for v in r] for r in value]


@bp.post("/classify-genre")
@doc(
    summary="Classify genre from feature vectors (or raw audio)",
    request=CLASSIFY_REQUEST,
    responses={200: CLASSIFY_RESPONSE},
    tags=["features"],
    errors=(400, 401, 403, 503),
)
async def classify_genre() -> Response:
    svc = service()
    body = await read_json()
    want_probs = require(body, "returnProbabilities", bool, optional=True) or False
    if body.get("features") is None and body.get("audioBuffer") is not None:
        from aimixer_dsp.genre import FEATURE_SPEC, feature_vector

        samples = parse_audio(body.get("audioBuffer"), exact=None, max_len=MAX_FEATURE_SAMPLES)
        need = int(FEATURE_SPEC["minSamples"])
        if samples.shape[0] < need:
            raise APIError(
                400,
                "INVALID_BUFFER_SIZE",
                f"audioBuffer has {samples.shape[0]} samples; classification needs at least {need}",
                {"field": "audioBuffer", "min": need},
            )
        rows = [await svc.run_blocking(feature_vector, samples)]
    else:
        rows = _rows(body.get("features"))
    if not await svc.genre.ensure():
        raise APIError(
            503,
            "SERVICE_UNAVAILABLE",
            f"Genre classification is unavailable: {svc.genre.error}",
            {"component": "ai"},
        )

    def predict_all() -> dict[str, float]:
        acc: dict[str, float] = {}
        for r in rows:
            for k, v in svc.genre.predict(r).items():
                acc[k] = acc.get(k, 0.0) + v
        return {k: v / len(rows) for k, v in acc.items()}

    probs = await svc.run_blocking(predict_all) if len(rows) > 4 else predict_all()
    ranked = sorted(probs, key=lambda k: (-probs[k], k))
    genre = ranked[0]
    svc.stats.record_genre(genre)
    out: dict[str, Any] = {
        "genre": genre,
        "confidence": round(probs[genre], 6),
        "secondaryGenre": ranked[1] if len(ranked) > 1 else None,
        "modelVersion": svc.genre.version,
        "windows": len(rows),
    }
    if want_probs:
        out["probabilities"] = {k: round(probs[k], 6) for k in ranked}
    return Response(dumps(out), content_type="application/json")
