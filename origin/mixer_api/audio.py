"""Audio processing: ``POST /process-audio`` and ``POST /stream-audio``.

``/process-audio``
    JSON ``{"audioBuffer": [960 numbers], "config": {...}, "sessionId": "..."}`` or an
    ``application/octet-stream`` body of 960 little-endian float32 samples (3840 bytes) with the
    config as JSON in ``X-Config`` or ``?config=``. ``sessionId`` (body, ``X-Session-Id`` or
    ``?sessionId=``) keeps DSP, loudness and genre state across calls; without one the chain is
    fresh. ``Accept: application/octet-stream`` returns the processed frame as float32 LE bytes
    with the rest of the answer as JSON in the ``X-Metrics`` header.

``/stream-audio``
    A (chunked) octet-stream upload of float32 LE samples, any chunking. Each complete
    960-sample frame is processed as it arrives and answered with an SSE ``audio`` event
    ``{index, timestamp, chunkSize, processed, metrics, audio}`` where ``audio`` is the processed
    frame as base64 float32 LE and ``timestamp`` is the stream start (ms) + 20 ms per frame. A
    non-finite frame gives an ``error`` event (the stream goes on); a final partial frame gives
    an ``error`` event ``INVALID_BUFFER_SIZE``; the stream ends with ``complete``
    ``{totalChunks, totalDuration, averageLatency, sessionId, errors}``.

``/ws`` is served by :mod:`origin.mixer_api.ws` (a lean ASGI path in front of Quart).
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import numpy as np
from quart import Blueprint, Response, g, request

from origin.errors import APIError, error_body
from origin.jsonutil import dumps
from origin.openapi import doc
from origin.sessions import SessionEntry, new_session_id

from .common import (
    FRAME_BYTES,
    FRAME_SIZE,
    DSPError,
    config_from_headers,
    parse_float32_bytes,
    principal_owner,
    read_json,
    service,
    session_id_from,
)
from .models import ProcessAudioRequest, parse_model
from .schemas import PROCESS_RESPONSE
from .streaming import StreamTally

__all__ = ["bp"]

bp = Blueprint("mixer_audio", __name__)
log = logging.getLogger("origin.mixer.audio")


def _dsp_error_to_api(exc: Exception) -> APIError:
    return APIError(400, getattr(exc, "code", "DSP_ERROR"), str(exc), getattr(exc, "details", {}))


def json_result(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON answer to a processed frame (``/process-audio`` and ``/ws``); -inf/NaN levels become null when serialized (origin.jsonutil.dumps)."""
    return {
        "processedBuffer": np.asarray(result["processedBuffer"], dtype=np.float32),
        "metrics": result["metrics"],
        "appliedSettings": result["appliedSettings"],
    }


@bp.post("/process-audio")
@doc(
    summary="Process one 960-sample frame through the DSP chain",
    request_content={
        "application/json": {"schema": ProcessAudioRequest},
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "description": "960 float32 LE samples"}
        },
    },
    parameters=[
        {"name": "X-Session-Id", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "X-Config", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
    responses={200: PROCESS_RESPONSE},
    tags=["audio"],
)
async def process_audio() -> Response:
    svc = service()
    ctype = (request.mimetype or "").lower()
    owner = principal_owner()
    if ctype == "application/octet-stream":
        raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
        samples = parse_float32_bytes(raw, exact=FRAME_SIZE)
        config = config_from_headers()
        sid = session_id_from(None)
    elif ctype in ("application/json", "") or ctype.endswith("+json"):
        body = parse_model(ProcessAudioRequest, await read_json())
        samples = body.audioBuffer
        config = body.config
        if config is None:
            config = config_from_headers()
        sid = session_id_from(body.sessionId)
    else:
        raise APIError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Type {request.mimetype!r} is not supported; use application/json or "
            "application/octet-stream (960 float32 LE samples)",
        )
    p = g.get("principal")
    if sid is None and p is not None and p.session_id:
        sid = p.session_id  # a mobile session token implies its session
    try:
        if sid and svc.shared is not None:  # the session's state lives in Redis: any origin
            async with svc.shared.sessions.checkout(owner, sid, lambda: svc.new_mixer(False)) as entry:
                result, _ = await svc.process(samples, config, entry=entry, owner=owner)
        else:
            entry = svc.session(owner, sid) if sid else None
            result, _ = await svc.process(samples, config, entry=entry, owner=owner)
    except TimeoutError:
        raise APIError(
            409, "SESSION_BUSY", f"session {sid} is busy with another call; retry", {"sessionId": sid}
        ) from None
    except Exception as exc:
        if isinstance(exc, DSPError):
            svc.emit_error(owner, exc.code, str(exc), sessionId=sid, endpoint="/process-audio")
            raise _dsp_error_to_api(exc) from None
        if type(exc).__module__.startswith("redis"):
            raise APIError(
                503, "SERVICE_UNAVAILABLE", "shared session state (Redis) is unreachable"
            ) from None
        raise
    out = json_result(result)
    if sid:
        out["sessionId"] = sid
    svc.stats.record_processing(FRAME_SIZE, (time.perf_counter() - g.t0) * 1000.0)
    accept = request.headers.get("Accept", "")
    if "application/octet-stream" in accept and "json" not in accept:
        audio = out.pop("processedBuffer").astype("<f4").tobytes()
        resp = Response(audio, content_type="application/octet-stream")
        resp.headers["X-Metrics"] = dumps(out).decode()
        return resp
    return Response(dumps(out), content_type="application/json")


# ---------------------------------------------------------------------------------------------- SSE
def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def _temp_entry(svc: Any, owner: str) -> SessionEntry:
    now = time.monotonic()
    return SessionEntry(new_session_id(), owner, svc.new_mixer(tracked=False), now, now)


@bp.post("/stream-audio")
@doc(
    summary="Stream float32 audio in (chunked upload), get SSE events per 960-sample frame",
    request_content={
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
    parameters=[
        {"name": "X-Session-Id", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "X-Config", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
    responses={
        200: {
            "description": "text/event-stream of audio/error/complete events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
    tags=["audio"],
)
async def stream_audio() -> Response:
    svc = service()
    ctype = (request.mimetype or "").lower()
    if ctype not in ("application/octet-stream", ""):
        raise APIError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Type {request.mimetype!r} is not supported; stream application/octet-stream "
            "(float32 LE samples)",
        )
    config = config_from_headers()
    sid = session_id_from(None)
    owner = principal_owner()
    p = g.get("principal")
    if sid is None and p is not None and p.session_id:
        sid = p.session_id
    entry = svc.session(owner, sid) if sid else _temp_entry(svc, owner)
    max_bytes = int(svc.settings.stream_max_seconds * 48000 * 4)
    body = request.body  # its size limit is set per path at request creation (see init_app)
    if request.content_length is not None and request.content_length > max_bytes:
        raise APIError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"stream longer than {svc.settings.stream_max_seconds:g} s of audio ({max_bytes} bytes)",
        )
    started_ms = int(time.time() * 1000)

    async def events():
        buf = bytearray()
        index = 0
        tally = StreamTally()
        try:
            async for chunk in body:
                buf += chunk
                while len(buf) >= FRAME_BYTES:
                    frame = bytes(buf[:FRAME_BYTES])
                    del buf[:FRAME_BYTES]
                    ts = started_ms + index * 20
                    try:
                        samples = parse_float32_bytes(frame, field=f"chunk {index}")
                        result, ms = await svc.process(samples, config, entry=entry, owner=owner)
                    except (APIError, DSPError) as exc:
                        tally.errors += 1
                        code = exc.code
                        err = error_body(code, getattr(exc, "message", str(exc)), getattr(exc, "details", {}))
                        err["error"]["details"]["index"] = index
                        svc.emit_error(owner, code, str(exc), sessionId=entry.id, endpoint="/stream-audio")
                        yield _sse("error", {"index": index, "timestamp": ts, "processed": False, **err})
                        index += 1
                        continue
                    tally.processed(ms)
                    svc.stats.record_processing(FRAME_SIZE, ms)
                    out = json_result(result)
                    audio = base64.b64encode(out["processedBuffer"].astype("<f4").tobytes()).decode()
                    yield _sse(
                        "audio",
                        {
                            "index": index,
                            "timestamp": ts,
                            "chunkSize": FRAME_SIZE,
                            "processed": True,
                            "metrics": out["metrics"],
                            "audio": audio,
                        },
                    )
                    index += 1
        except Exception as exc:  # e.g. body too large or client gone
            from werkzeug.exceptions import RequestEntityTooLarge

            if isinstance(exc, RequestEntityTooLarge):
                tally.errors += 1
                yield _sse(
                    "error",
                    error_body(
                        "PAYLOAD_TOO_LARGE",
                        f"stream longer than {svc.settings.stream_max_seconds:g} s of audio",
                    ),
                )
            else:
                raise
        if buf:
            tally.errors += 1
            n = len(buf)
            msg = (
                f"final chunk has {n} bytes ({n / 4:g} samples); streams must be whole 960-sample "
                f"frames ({FRAME_BYTES} bytes of float32 LE)"
            )
            svc.emit_error(owner, "INVALID_BUFFER_SIZE", msg, sessionId=entry.id, endpoint="/stream-audio")
            yield _sse(
                "error",
                error_body("INVALID_BUFFER_SIZE", msg, {"bytes": n, "expected": FRAME_BYTES, "index": index}),
            )
        summary = tally.complete(svc, owner, entry, "stream-audio")
        yield _sse("complete", summary)

    resp = Response(events(), content_type="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    resp.headers["X-Session-Id"] = entry.id
    resp.timeout = None
    return resp
