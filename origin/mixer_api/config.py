"""``GET /config`` and ``PUT /config``: the server's DSP defaults, persisted in the database.
``GET /config/controls``: every parameter's unit, range and default (``aimixer_dsp.presets.controls``).

``PUT`` takes a partial document ``{"dsp": {...}}`` (:class:`.models.ServerConfigUpdate`; the ``dsp`` object uses the
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

from .common import read_json, service
from .models import FIXED_AUDIO, ServerConfigUpdate, parse_model, prefix_param_error

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


def _document() -> dict[str, Any]:
    from aimixer_dsp import GENRES

    svc = service()
    return {
        "audio": dict(FIXED_AUDIO),
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


@bp.put("/config")
@doc(
    summary="Update the server configuration (deep-merged partial update)",
    request=ServerConfigUpdate,
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
    body = parse_model(ServerConfigUpdate, await read_json())
    if body.dsp is not None:
        try:
            await svc.config.update(body.dsp)
        except DSPError as exc:  # the merge with the stored overrides, checked as a whole
            raise prefix_param_error(exc) from None
    return Response(dumps(_document()), content_type="application/json")
