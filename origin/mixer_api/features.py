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

from .common import SAMPLE_RATE, parse_float32_bytes, parse_json_text, service
from .models import ClassifyGenreRequest, ExtractFeaturesRequest, parse_model
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


async def _read_request(svc: Any) -> dict[str, Any]:
    """The request's fields, for the route's model: a JSON body's object (audio longer than
    ``analysis_max_seconds`` is a 413 that names the limit in seconds), or a float32
    octet-stream body's samples (an ndarray) as ``audioBuffer`` with the other fields from the
    query or ``X-Options``."""
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
        return {**_options_from_query(), "audioBuffer": samples}
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
    if isinstance(value, list) and len(value) > max_samples:
        raise _too_long(seconds, len(value) / SAMPLE_RATE)
    return body


@bp.post("/extract-features")
@doc(
    summary="MFCC and spectral features of an audio buffer",
    request_content={
        "application/json": {"schema": ExtractFeaturesRequest},
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
    req = parse_model(ExtractFeaturesRequest, await _read_request(svc))
    samples, kwargs = req.audioBuffer, req.settings()
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
        "application/json": {"schema": ClassifyGenreRequest},
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "description": "float32 LE samples (>= 3 s)"}
        },
    },
    responses={200: CLASSIFY_RESPONSE},
    tags=["features"],
    errors=(400, 401, 403, 413, 415, 503),
)
async def classify_genre() -> Response:
    from aimixer_dsp.genre import audio_matrix, matrix_vectors, verdict

    svc = service()
    fields = await _read_request(svc)
    features = fields.get("features")
    if isinstance(features, list) and len(features) > 8:  # parse_features off the event loop
        req = await svc.run_blocking(parse_model, ClassifyGenreRequest, fields)
    else:
        req = parse_model(ClassifyGenreRequest, fields)
    kind, vectors = req.features
    if vectors is None:  # audioBuffer: the server extracts the MFCC matrix
        samples = req.audioBuffer

        def vectors_of_audio() -> list[list[float]]:
            return matrix_vectors(audio_matrix(samples))

        vectors = await svc.run_blocking(vectors_of_audio)
    if not await svc.genre.ensure():
        raise _unavailable(svc.genre.error)
    model = svc.genre.model if kind == "windowVectors" else svc.genre.matrix_model
    if model is None:
        raise _unavailable(svc.genre.matrix_error)

    def predict_all() -> list[dict[str, float]]:
        return model.predict_proba(np.asarray(vectors, dtype=np.float64))

    probs = await svc.run_blocking(predict_all) if len(vectors) > 4 else predict_all()
    out = verdict(
        probs, model_version=model.version, input_kind=kind, return_probabilities=req.returnProbabilities
    )
    svc.stats.record_genre(out["genre"])
    return Response(dumps(out), content_type="application/json")
