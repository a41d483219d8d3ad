"""``GET /config`` and ``PUT /config``: the server's DSP defaults, persisted in the database.
``GET /config/controls``: every parameter's unit, range and default (``aimixer_dsp.presets.controls``).

``PUT`` takes a partial document ``{"dsp": {...}}`` (the ``dsp`` object uses the
``/process-audio`` config fields: ``gain``, ``noiseGate``, ``compressor``, ``eq``, ``limiter``,
``bypass``, ``genre``). It is deep-merged into the stored overrides and validated as a whole; an
out-of-range value gets ``400 INVALID_PARAMETER`` naming the field (``dsp.compressor.ratio``).
``audio`` and ``ai`` are read-only (``audio.sampleRate`` other than 48000 is
``400 INVALID_SAMPLE_RATE``). Changing the config needs the ``admin`` role.
The stored overrides apply to every later ``/process-audio``, stream and WS frame, under the
request's own config.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, g

from origin.auth.apikeys import MIXER_ROLE
from origin.errors import APIError
from origin.jsonutil import dumps
from origin.openapi import doc, schema

from .common import FRAME_SIZE, SAMPLE_RATE, read_json, service
from .schemas import CONFIG_SCHEMA

__all__ = ["bp"]

bp = Blueprint("mixer_config", __name__)

CONFIG_DOC = schema(
    "ServerConfig",
    {
        "type": "object",
        "properties": {
            "audio": {"type": "object"},
            "dsp": {"type": "object"},
            "ai": {"type": "object"},
        },
    },
)
CONFIG_UPDATE = schema(
    "ServerConfigUpdate",
    {
        "type": "object",
        "properties": {
            "dsp": CONFIG_SCHEMA,
            "audio": {
                "type": "object",
                "properties": {
                    "sampleRate": {"const": SAMPLE_RATE},
                    "frameSize": {"const": FRAME_SIZE},
                    "bitDepth": {"const": 32},
                },
            },
        },
    },
)


def _document() -> dict[str, Any]:
    from aimixer_dsp import GENRES

    svc = service()
    return {
        "audio": {"sampleRate": SAMPLE_RATE, "frameSize": FRAME_SIZE, "bitDepth": 32},
        "dsp": svc.config.full(),
        "ai": {
            "modelVersion": svc.genre.version,
            "modelAvailable": svc.genre.available,
            "mfccCoefficients": 13,
            "genres": list(GENRES),
        },
    }


@bp.get("/config")
@doc(summary="Current server configuration", responses={200: CONFIG_DOC}, tags=["config"])
async def get_config() -> Response:
    return Response(dumps(_document()), content_type="application/json")


@bp.get("/config/controls")
@doc(
    summary="Every DSP parameter with unit, range and default, the genre presets and the loudness targets",
    responses={200: {"description": "aimixer_dsp.presets.controls()"}},
    tags=["config"],
)
async def get_controls() -> Response:
    """What a UI builds its controls from (the browser engine returns the same object)."""
    from aimixer_dsp.presets import controls

    return Response(dumps(controls()), content_type="application/json")


def _prefix_param_error(exc: Exception) -> APIError:
    name = getattr(exc, "name", None)
    msg = str(exc)
    details = dict(getattr(exc, "details", {}) or {})
    if name:
        details["parameter"] = f"dsp.{name}"
        msg = msg.replace(name, f"dsp.{name}", 1) if not msg.startswith("dsp.") else msg
    return APIError(400, getattr(exc, "code", "INVALID_PARAMETER"), msg, details)


@bp.put("/config")
@doc(
    summary="Update the server configuration (deep-merged partial update)",
    request=CONFIG_UPDATE,
    responses={200: CONFIG_DOC},
    tags=["config"],
)
async def put_config() -> Response:
    from aimixer_dsp.errors import DSPError

    svc = service()
    p = g.get("principal")
    if p is not None and not (p.is_admin or p.role == MIXER_ROLE):
        raise APIError(
            403,
            "FORBIDDEN",
            "changing the server configuration needs a mixer or admin key (not a session token)",
        )
    body = await read_json()
    unknown = sorted(set(body) - {"dsp", "audio", "ai"})
    if unknown:
        raise APIError(
            400,
            "INVALID_PARAMETER",
            f"{unknown[0]} is not a configuration section (use dsp; audio and ai are read-only)",
            {"parameter": unknown[0]},
        )
    audio = body.get("audio")
    if audio is not None:
        if not isinstance(audio, dict):
            raise APIError(400, "INVALID_PARAMETER", "audio must be an object", {"parameter": "audio"})
        fixed = {"sampleRate": SAMPLE_RATE, "frameSize": FRAME_SIZE, "bitDepth": 32}
        for k, v in audio.items():
            if k not in fixed:
                raise APIError(
                    400, "INVALID_PARAMETER", f"audio.{k} is not a setting", {"parameter": f"audio.{k}"}
                )
            if v != fixed[k] or isinstance(v, bool):
                code = "INVALID_SAMPLE_RATE" if k == "sampleRate" else "INVALID_PARAMETER"
                raise APIError(
                    400,
                    code,
                    f"audio.{k}={v!r} is fixed at {fixed[k]}",
                    {"parameter": f"audio.{k}", "value": v if isinstance(v, int | float | str) else None},
                )
    ai = body.get("ai")
    if ai is not None and ai != {}:
        raise APIError(400, "INVALID_PARAMETER", "ai settings are read-only", {"parameter": "ai"})
    dsp = body.get("dsp")
    if dsp is not None:
        if not isinstance(dsp, dict):
            raise APIError(400, "INVALID_PARAMETER", "dsp must be an object", {"parameter": "dsp"})
        try:
            await svc.config.update(dsp)
        except DSPError as exc:
            raise _prefix_param_error(exc) from None
    return Response(dumps(_document()), content_type="application/json")
