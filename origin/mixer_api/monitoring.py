"""``GET /health`` (public), ``GET /metrics``, ``GET /stats`` and ``GET /openapi.json`` (public).

``/health`` runs real checks: ``audio`` processes one silent frame through a fresh chain,
``ai`` is the genre model being loaded, ``database`` is a ``SELECT 1``. ``status`` is
``unhealthy`` when audio or the database fail, ``degraded`` when only the model is missing,
else ``healthy``; the HTTP status is 200 in every case (read ``status``). In dev mode the body
says so (``devMode: true`` and a ``warning``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from quart import Blueprint, Response, current_app

from origin import __version__
from origin.jsonutil import dumps
from origin.metrics import CONTENT_TYPE_LATEST
from origin.openapi import doc, generate, schema

from .common import FRAME_SIZE, public, service

__all__ = ["bp"]

bp = Blueprint("mixer_monitoring", __name__)

HEALTH = schema(
    "Health",
    {
        "type": "object",
        "required": ["status", "uptime", "version", "region", "components", "timestamp"],
        "properties": {
            "status": {"enum": ["healthy", "degraded", "unhealthy"]},
            "uptime": {"type": "number"},
            "version": {"type": "string"},
            "region": {"type": "string"},
            "components": {
                "type": "object",
                "additionalProperties": {"enum": ["healthy", "degraded", "unhealthy"]},
            },
            "timestamp": {"type": "integer"},
            "devMode": {"type": "boolean"},
        },
    },
)
STATS = schema(
    "Stats",
    {
        "type": "object",
        "required": ["requests", "processing", "genres"],
        "properties": {
            "requests": {"type": "object"},
            "processing": {"type": "object"},
            "genres": {"type": "object"},
        },
    },
)


async def _check_audio(svc: Any) -> tuple[str, str | None]:
    try:
        mixer = svc.new_mixer(False)
        out = mixer.process(np.zeros(FRAME_SIZE), None)
        buf = np.asarray(out["processedBuffer"], dtype=np.float64)
        if buf.shape != (FRAME_SIZE,) or not np.isfinite(buf).all():
            return "unhealthy", "DSP chain returned a malformed frame"
        return "healthy", None
    except Exception as exc:
        return "unhealthy", f"DSP chain failed: {exc}"


async def _check_db(svc: Any) -> tuple[str, str | None]:
    try:
        return ("healthy", None) if await svc.storage.ping() else ("unhealthy", "database did not answer")
    except Exception as exc:
        return "unhealthy", f"database error: {exc}"


@bp.get("/health")
@public
@doc(
    summary="Health with real component checks",
    responses={200: HEALTH},
    tags=["monitoring"],
    public=True,
    errors=(403,),
)
async def health() -> Response:
    svc = service()
    audio, audio_err = await _check_audio(svc)
    db, db_err = await _check_db(svc)
    shared, shared_err = "healthy", None
    if svc.shared is not None and not await svc.shared.ping():
        shared, shared_err = "unhealthy", "Redis (shared state) did not answer"
    await svc.genre.ensure()
    ai = "healthy" if svc.genre.available else "unhealthy"
    if audio != "healthy" or db != "healthy" or shared != "healthy":
        status = "unhealthy"
    elif ai != "healthy":
        status = "degraded"
    else:
        status = "healthy"
    started = current_app.extensions.get("started_at", time.time())
    body: dict[str, Any] = {
        "status": status,
        "uptime": round(time.time() - started, 3),
        "version": __version__,
        "region": svc.settings.region,
        "components": {"audio": audio, "ai": ai, "database": db},
        "timestamp": int(time.time() * 1000),
        "devMode": bool(svc.settings.dev_mode),
    }
    if svc.shared is not None:  # several origins: Redis is a component too
        body["components"]["sharedState"] = shared
    problems = {
        k: v
        for k, v in (
            ("audio", audio_err),
            ("ai", None if svc.genre.available else svc.genre.error),
            ("database", db_err),
            ("sharedState", shared_err),
        )
        if v
    }
    if problems:
        body["problems"] = problems
    if svc.settings.dev_mode:
        body["warning"] = (
            "dev mode: requests without an API key are accepted as the dev admin (standard tier)"
        )
    return Response(dumps(body), content_type="application/json")


@bp.get("/metrics")
@doc(
    summary="Prometheus metrics",
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    tags=["monitoring"],
)
async def metrics() -> Response:
    return Response(service().metrics.render(), content_type=CONTENT_TYPE_LATEST)


@bp.get("/stats")
@doc(summary="Persisted usage statistics", responses={200: STATS}, tags=["monitoring"])
async def stats() -> Response:
    from aimixer_dsp import GENRES

    return Response(dumps(await service().stats.snapshot(tuple(GENRES))), content_type="application/json")


@bp.get("/openapi.json")
@public
@doc(
    summary="This OpenAPI document (both APIs)",
    public=True,
    errors=(),
    responses={200: {"type": "object"}},
    tags=["monitoring"],
)
async def openapi() -> Response:
    doc_ = generate(current_app, title="AI Mixer API", version=__version__)
    doc_["info"]["description"] = (
        "Every path also answers under /v1. Auth: Authorization: Bearer <API key or mobile session token>; "
        "/health and /openapi.json are public. WebSocket /ws (not expressible in OpenAPI): JSON messages "
        "{type, id, data} with type process|stream|stop|config|ping, replies echo id; after 'stream', binary "
        "messages of 960-sample float32 LE frames are answered with processed frames."
    )
    return Response(dumps(doc_), content_type="application/json")
