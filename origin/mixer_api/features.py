"""``POST /extract-features`` and ``POST /classify-genre``.

Audio input (both routes): JSON ``audioBuffer`` or an ``application/octet-stream`` body of
little-endian float32 samples with the other fields in the query string (``?numCoefficients=20``)
or as a JSON object in the ``X-Options`` header. At most ``analysis_max_seconds`` (default 120 s)
of 48 kHz audio per request; more is ``413 PAYLOAD_TOO_LARGE`` with the limit in seconds.

``/classify-genre`` input (validated by :func:`aimixer_dsp.genre.parse_features`, the same Python
the browser SDK runs): ``features`` is either the spec's MFCC matrix from ``/extract-features``
(``[frames][coefficients]``, default settings, >= 3 s) -- classified by the MFCC-statistics model
``models/genre_mfcc.onnx`` -- or rows of 48-value window vectors for ``models/genre.onnx``.
Declared ``numFilters``/``fftSize``/``hopSize``/``sampleRate``/``windowType`` other than the
defaults are ``400 UNSUPPORTED_FEATURE_SETTINGS``. As an extension, ``audioBuffer`` may be sent
instead: the server extracts the spec's MFCC matrix itself. The answer names ``modelVersion``
and ``inputKind``. Without the model: ``503 SERVICE_UNAVAILABLE``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from quart import Blueprint, Response, request

from origin.errors import APIError
from origin.jsonutil import dumps
from origin.openapi import doc, schema

from .common import SAMPLE_RATE, parse_audio, parse_float32_bytes, parse_json_text, require, service
from .schemas import GENRE_ENUM

__all__ = ["bp", "feature_size", "analysis_body_limit", "JSON_BYTES_PER_SAMPLE"]

bp = Blueprint("mixer_features", __name__)

OFFLOAD_SAMPLES = 8192  # longer buffers are analysed in the worker pool
# The longest JSON number a client sends for a float32 sample ("-1.2345678901234567e-05,") is
# 24 bytes; the body limit of the two routes allows 26 per sample of analysis_max_seconds.
JSON_BYTES_PER_SAMPLE = 26
_BODY_SLACK = 1 << 20  # the other fields (an MFCC matrix of 10 min is ~1.7 MB of JSON)


def analysis_body_limit(max_seconds: float) -> int:
    """Body size limit (bytes) of ``/extract-features`` and ``/classify-genre``."""
    return int(max_seconds * SAMPLE_RATE) * JSON_BYTES_PER_SAMPLE + 3 * _BODY_SLACK


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
                "description": "mono 48 kHz samples; at most analysis_max_seconds (default 120 s)",
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
                "description": "the MFCC matrix of /extract-features ([frames][coefficients], default "
                "settings, >= 282 frames = 3 s), or rows of 48-value window vectors "
                "(aimixer_dsp.genre.feature_vector)",
            },
            "audioBuffer": {
                "type": "array",
                "items": {"type": "number"},
                "description": "extension: raw 48 kHz audio (>= 3 s) instead of features",
            },
            "numFilters": {"type": "integer", "description": "declared MFCC setting; only 40 is supported"},
            "fftSize": {"type": "integer", "description": "declared MFCC setting; only 2048 is supported"},
            "hopSize": {"type": "integer", "description": "declared MFCC setting; only 512 is supported"},
            "sampleRate": {
                "type": "integer",
                "description": "declared MFCC setting; only 48000 is supported",
            },
            "windowType": {"type": "string", "description": "declared MFCC setting; only hann is supported"},
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
            "inputKind": {"type": "string", "enum": ["mfccMatrix", "windowVectors", "audioBuffer"]},
            "windows": {"type": "integer"},
        },
    },
)

_EXTRACT_PARAMS = ("numCoefficients", "numFilters", "fftSize", "hopSize", "windowType")
_SETTING_PARAMS = ("numFilters", "fftSize", "hopSize", "sampleRate", "windowType")
_INT_PARAMS = frozenset(("numCoefficients", "numFilters", "fftSize", "hopSize", "sampleRate"))
_MAX_QUERY_VALUE = 64


def _max_samples(svc: Any) -> tuple[int, float]:
    seconds = float(svc.settings.analysis_max_seconds)
    return int(seconds * SAMPLE_RATE), seconds


def _too_long(seconds: float, received: float | None = None) -> APIError:
    got = f"; got {received:.2f} s" if received is not None else ""
    return APIError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"at most {seconds:g} s of 48 kHz audio per request{got} (setting analysis_max_seconds)",
        {"maxSeconds": seconds, **({"receivedSeconds": round(received, 3)} if received is not None else {})},
    )


def _options_from_query() -> dict[str, Any]:
    """The other fields of an octet-stream request: the ``X-Options`` JSON header, else the query."""
    text = request.headers.get("X-Options")
    if text:
        opts = parse_json_text(text, what="X-Options header")
        if not isinstance(opts, dict):
            raise APIError(400, "INVALID_REQUEST", "X-Options must be a JSON object", {"field": "X-Options"})
        return opts
    out: dict[str, Any] = {}
    for key, raw in request.args.items():
        if len(raw) > _MAX_QUERY_VALUE:
            raise APIError(400, "INVALID_REQUEST", f"query parameter {key} is too long", {"field": key})
        if key in _INT_PARAMS:
            try:
                out[key] = int(raw)
            except ValueError:
                raise APIError(
                    400, "INVALID_REQUEST", f"{key} must be an integer, got {raw!r}", {"field": key}
                ) from None
        elif key == "returnProbabilities":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise APIError(400, "INVALID_REQUEST", f"{key} must be true or false", {"field": key})
            out[key] = raw.lower() in ("true", "1")
        else:
            out[key] = raw
    return out


async def _read_request(svc: Any, *, audio_required: bool) -> tuple[dict[str, Any], np.ndarray | None]:
    """The request's fields and its audio (``None`` when a JSON body has no ``audioBuffer``).

    JSON bodies and float32 octet-stream bodies; audio longer than ``analysis_max_seconds`` is a
    413 that names the limit in seconds.
    """
    from werkzeug.exceptions import RequestEntityTooLarge

    max_samples, seconds = _max_samples(svc)
    ctype = (request.mimetype or "").lower()
    try:
        raw = await request.get_data()
    except RequestEntityTooLarge:
        raise _too_long(seconds) from None
    if ctype == "application/octet-stream":
        if len(raw) > 4 * max_samples:
            raise _too_long(seconds, len(raw) / 4 / SAMPLE_RATE)
        samples = parse_float32_bytes(
            raw if isinstance(raw, bytes) else raw.encode(), field="body", exact=None
        )
        return _options_from_query(), samples
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise APIError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Type {request.mimetype!r} is not supported; use application/json or "
            "application/octet-stream (float32 LE samples, other fields in the query or X-Options)",
        )
    body = parse_json_text(raw)
    if not isinstance(body, dict):
        raise APIError(400, "INVALID_JSON", f"request body must be a JSON object, got {type(body).__name__}")
    value = body.get("audioBuffer")
    if value is None and not audio_required:
        return body, None
    if isinstance(value, list) and len(value) > max_samples:
        raise _too_long(seconds, len(value) / SAMPLE_RATE)
    return body, parse_audio(value, exact=None)


@bp.post("/extract-features")
@doc(
    summary="MFCC and spectral features of an audio buffer",
    request_content={
        "application/json": {"schema": EXTRACT_REQUEST},
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "description": "float32 LE samples"}
        },
    },
    responses={200: EXTRACT_RESPONSE},
    tags=["features"],
    errors=(400, 401, 403, 413, 415),
)
async def extract_features() -> Response:
    from aimixer_dsp.features import extract_features as _extract

    svc = service()
    body, samples = await _read_request(svc, audio_required=True)
    assert samples is not None
    unknown = sorted(set(body) - {"audioBuffer", *_EXTRACT_PARAMS})
    if unknown:  # e.g. sampleRate: silently ignoring it would hide a client's wrong assumption
        raise APIError(
            400,
            "INVALID_REQUEST",
            f"{unknown[0]} is not a field of /extract-features (audio is 48 kHz mono; fields: "
            f"audioBuffer, {', '.join(_EXTRACT_PARAMS)})",
            {"field": unknown[0]},
        )
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
    """Length of one genre-model window vector."""
    from aimixer_dsp.genre import FEATURE_SPEC

    return int(FEATURE_SPEC["size"])


def _unavailable(error: str | None) -> APIError:
    return APIError(
        503,
        "SERVICE_UNAVAILABLE",
        f"Genre classification is unavailable: {error}",
        {"component": "ai"},
    )


@bp.post("/classify-genre")
@doc(
    summary="Classify genre from the MFCC matrix of /extract-features (or window vectors, or raw audio)",
    request_content={
        "application/json": {"schema": CLASSIFY_REQUEST},
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "description": "float32 LE samples (>= 3 s)"}
        },
    },
    responses={200: CLASSIFY_RESPONSE},
    tags=["features"],
    errors=(400, 401, 403, 413, 415, 503),
)
async def classify_genre() -> Response:
    from aimixer_dsp.genre import MFCC_SPEC, audio_matrix, matrix_vectors, parse_features, verdict

    svc = service()
    body, samples = await _read_request(svc, audio_required=False)
    want_probs = require(body, "returnProbabilities", bool, optional=True) or False
    settings = {k: body.get(k) for k in _SETTING_PARAMS if body.get(k) is not None}
    if body.get("features") is None and samples is not None:
        kind = "audioBuffer"
        need = (int(MFCC_SPEC["minFrames"]) - 1) * int(MFCC_SPEC["hopSize"])
        if samples.shape[0] < need:
            raise APIError(
                400,
                "INVALID_BUFFER_SIZE",
                f"audioBuffer has {samples.shape[0]} samples ({samples.shape[0] / SAMPLE_RATE:.3f} s); "
                f"classification needs at least {need} ({need / SAMPLE_RATE:g} s)",
                {"field": "audioBuffer", "min": need},
            )
        if settings.get("sampleRate") not in (None, SAMPLE_RATE):
            from aimixer_dsp.genre import check_feature_settings

            check_feature_settings({"sampleRate": settings["sampleRate"]})

        def vectors_of_audio() -> list[list[float]]:
            return matrix_vectors(audio_matrix(samples))

        vectors = await svc.run_blocking(vectors_of_audio)
    else:
        features = body.get("features")
        if isinstance(features, list) and len(features) > 8:
            kind, vectors = await svc.run_blocking(parse_features, features, settings)
        else:
            kind, vectors = parse_features(features, settings)
    if not await svc.genre.ensure():
        raise _unavailable(svc.genre.error)
    model = svc.genre.model if kind == "windowVectors" else svc.genre.matrix_model
    if model is None:
        raise _unavailable(svc.genre.matrix_error)

    def predict_all() -> list[dict[str, float]]:
        return model.predict_proba(np.asarray(vectors, dtype=np.float64))

    probs = await svc.run_blocking(predict_all) if len(vectors) > 4 else predict_all()
    out = verdict(probs, model_version=model.version, input_kind=kind, return_probabilities=want_probs)
    svc.stats.record_genre(out["genre"])
    return Response(dumps(out), content_type="application/json")
