"""Audio processing: ``POST /process-audio``, ``POST /stream-audio`` and ``WS /ws``.

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

``/ws``
    JSON messages ``{"type", "id", "data"}``; replies echo ``id``. See :func:`ws`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from typing import Any

import numpy as np
from quart import Blueprint, Response, g, request, websocket

from origin.auth import authenticate
from origin.errors import APIError, error_body, error_response
from origin.jsonutil import dumps, loads
from origin.openapi import doc, schema
from origin.sessions import SessionEntry, new_session_id

from .common import (
    FRAME_SIZE,
    config_from_headers,
    parse_audio,
    parse_config,
    parse_float32_bytes,
    principal_owner,
    read_json,
    service,
    session_id_from,
)
from .schemas import CONFIG_SCHEMA, PROCESS_RESPONSE

__all__ = ["bp"]

bp = Blueprint("mixer_audio", __name__)
log = logging.getLogger("origin.mixer.audio")

FRAME_BYTES = FRAME_SIZE * 4

PROCESS_REQUEST = schema(
    "ProcessAudioRequest",
    {
        "type": "object",
        "required": ["audioBuffer"],
        "properties": {
            "audioBuffer": {
                "type": "array",
                "items": {"type": "number"},
                "minItems": FRAME_SIZE,
                "maxItems": FRAME_SIZE,
                "description": "960 float32 samples at 48 kHz",
            },
            "config": CONFIG_SCHEMA,
            "sessionId": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{1,128}$"},
        },
    },
)


def _dsp_error_to_api(exc: Exception) -> APIError:
    return APIError(400, getattr(exc, "code", "DSP_ERROR"), str(exc), getattr(exc, "details", {}))


def _json_result(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON answer; -inf/NaN levels become null when serialized (origin.jsonutil.dumps)."""
    return {
        "processedBuffer": np.asarray(result["processedBuffer"], dtype=np.float32),
        "metrics": result["metrics"],
        "appliedSettings": result["appliedSettings"],
    }


@bp.post("/process-audio")
@doc(
    summary="Process one 960-sample frame through the DSP chain",
    request_content={
        "application/json": {"schema": PROCESS_REQUEST},
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
        samples = parse_float32_bytes(await request.get_data(), exact=FRAME_SIZE)
        config = config_from_headers()
        sid = session_id_from(None)
    elif ctype in ("application/json", "") or ctype.endswith("+json"):
        body = await read_json()
        samples = parse_audio(body.get("audioBuffer"), exact=FRAME_SIZE)
        config = parse_config(body.get("config"))
        if config is None:
            config = config_from_headers()
        sid = session_id_from(body)
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
    entry = svc.session(owner, sid) if sid else None
    try:
        result, _ = await svc.process(samples, config, entry=entry, owner=owner)
    except Exception as exc:
        from aimixer_dsp.errors import DSPError

        if isinstance(exc, DSPError):
            svc.emit_error(owner, exc.code, str(exc), sessionId=sid, endpoint="/process-audio")
            raise _dsp_error_to_api(exc) from None
        raise
    out = _json_result(result)
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
        processed = 0
        errors = 0
        latency_sum = 0.0
        from aimixer_dsp.errors import DSPError

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
                        errors += 1
                        code = exc.code
                        err = error_body(code, getattr(exc, "message", str(exc)), getattr(exc, "details", {}))
                        err["error"]["details"]["index"] = index
                        svc.emit_error(owner, code, str(exc), sessionId=entry.id, endpoint="/stream-audio")
                        yield _sse("error", {"index": index, "timestamp": ts, "processed": False, **err})
                        index += 1
                        continue
                    latency_sum += ms
                    processed += 1
                    svc.stats.record_processing(FRAME_SIZE, ms)
                    out = _json_result(result)
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
                errors += 1
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
            errors += 1
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
        tracker = getattr(entry.session, "genre_tracker", None)
        summary = {
            "totalChunks": processed,
            "totalDuration": round(processed * FRAME_SIZE / 48000, 6),
            "averageLatency": round(latency_sum / processed, 4) if processed else 0.0,
            "sessionId": entry.id,
            "errors": errors,
        }
        svc.webhooks.emit(
            owner,
            "processing.complete",
            {
                "sessionId": entry.id,
                "duration": summary["totalDuration"],
                "totalChunks": processed,
                "averageLatency": summary["averageLatency"],
                "genre": getattr(tracker, "genre", None),
                "confidence": round(float(getattr(tracker, "confidence", 0.0) or 0.0), 4),
                "source": "stream-audio",
            },
        )
        yield _sse("complete", summary)

    resp = Response(events(), content_type="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    resp.headers["X-Session-Id"] = entry.id
    resp.timeout = None
    return resp


# ---------------------------------------------------------------------------------------------- WS
class _WSError(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@bp.websocket("/ws")
async def ws() -> Any:
    """Real-time processing over one WebSocket (one connection = one mixer session).

    Client -> server (JSON text): ``{"type": T, "id": ID, "data": {...}}``

    * ``process`` ``{audioBuffer, config?}`` -> ``processed`` ``{processedBuffer, metrics,
      appliedSettings}``
    * ``stream`` ``{config?, metricsEvery?=1}`` -> ``stream.started``; then binary messages of
      float32 LE audio (whole 960-sample frames) are answered, frame by frame, with a binary
      message of the processed frame and (every ``metricsEvery`` frames, 0 = never) an ``audio``
      message ``{seq, timestamp, chunkSize, processed, metrics}``
    * ``stop`` -> ``stream.complete`` ``{totalChunks, totalDuration, averageLatency}``
    * ``config`` ``{...config}`` -> ``config`` ``{config}`` (merged into the connection's config)
    * ``ping`` -> ``pong`` ``{timestamp}``

    Errors come back as ``{"type": "error", "id": ID|null, "error": {code, message, ...}}`` and
    never close the connection. The server greets with ``connected`` ``{sessionId, ...}``.
    Authenticate with ``Authorization: Bearer`` or ``?token=``.
    """
    svc = service()
    principal = await authenticate()
    settings = svc.settings
    if principal is None:
        if g.get("token_rejected"):
            return error_response(401, "UNAUTHORIZED", "Invalid or revoked API key")
        return error_response(
            401, "UNAUTHORIZED", "Missing API key: send 'Authorization: Bearer <key>' or ?token="
        )
    rl = svc.limiter.hit(principal.owner_id or principal.id, settings.rate_limit_for(principal.tier))
    if not rl.allowed:
        return error_response(
            403,
            "RATE_LIMIT_EXCEEDED",
            f"Rate limit of {rl.limit} requests per minute exceeded",
            headers=rl.headers(),
        )
    owner = principal.owner_id or principal.id
    requested = websocket.args.get("sessionId")
    from origin.sessions import SESSION_ID_RE

    if requested and not SESSION_ID_RE.match(requested):
        return error_response(400, "INVALID_REQUEST", "sessionId has invalid characters")
    sid = requested or principal.session_id or new_session_id()
    entry = svc.session(owner, sid)
    await websocket.accept(headers=rl.headers())
    svc.metrics.ws_connections.inc()
    conn_config: dict[str, Any] | None = None
    stream: dict[str, Any] | None = None
    from aimixer_dsp.errors import DSPError
    from aimixer_dsp.presets import merge_config

    async def send_json(obj: dict[str, Any]) -> None:
        await websocket.send(dumps(obj).decode())

    async def send_error(msg_id: Any, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        body = error_body(code, message, details)
        await send_json({"type": "error", "id": msg_id, "error": body["error"]})

    def finish_stream() -> dict[str, Any]:
        assert stream is not None
        n = stream["chunks"]
        tracker = getattr(entry.session, "genre_tracker", None)
        summary = {
            "totalChunks": n,
            "totalDuration": round(n * FRAME_SIZE / 48000, 6),
            "averageLatency": round(stream["latency"] / n, 4) if n else 0.0,
            "sessionId": sid,
        }
        svc.webhooks.emit(
            owner,
            "processing.complete",
            {
                "sessionId": sid,
                "duration": summary["totalDuration"],
                "totalChunks": n,
                "averageLatency": summary["averageLatency"],
                "genre": getattr(tracker, "genre", None),
                "confidence": round(float(getattr(tracker, "confidence", 0.0) or 0.0), 4),
                "source": "ws",
            },
        )
        return summary

    def effective(extra: dict[str, Any] | None) -> dict[str, Any] | None:
        if conn_config and extra:
            return merge_config(conn_config, extra)
        return extra or conn_config

    await send_json(
        {
            "type": "connected",
            "id": None,
            "data": {"sessionId": sid, "sampleRate": 48000, "frameSize": FRAME_SIZE, "format": "float32le"},
        }
    )
    try:
        while True:
            msg = await websocket.receive()
            if isinstance(msg, bytes):
                if stream is None:
                    await send_error(
                        None, "STREAM_NOT_STARTED", "binary audio needs a 'stream' message first"
                    )
                    continue
                if not msg or len(msg) % FRAME_BYTES:
                    await send_error(
                        stream["id"],
                        "INVALID_BUFFER_SIZE",
                        f"binary message is {len(msg)} bytes; send whole 960-sample float32 LE frames "
                        f"({FRAME_BYTES} bytes each)",
                        {"bytes": len(msg), "expected": FRAME_BYTES},
                    )
                    continue
                for off in range(0, len(msg), FRAME_BYTES):
                    try:
                        samples = parse_float32_bytes(msg[off : off + FRAME_BYTES], field="frame")
                        result, ms = await svc.process(samples, stream["config"], entry=entry, owner=owner)
                    except (APIError, DSPError) as exc:
                        svc.emit_error(owner, exc.code, str(exc), sessionId=sid, endpoint="/ws")
                        await send_error(
                            stream["id"], exc.code, getattr(exc, "message", str(exc)), exc.details
                        )
                        continue
                    svc.stats.record_processing(FRAME_SIZE, ms)
                    stream["latency"] += ms
                    seq = stream["chunks"]
                    stream["chunks"] += 1
                    out = np.asarray(result["processedBuffer"], dtype="<f4").tobytes()
                    await websocket.send(out)
                    every = stream["every"]
                    if every and seq % every == 0:
                        await send_json(
                            {
                                "type": "audio",
                                "id": stream["id"],
                                "data": {
                                    "seq": seq,
                                    "timestamp": stream["t0"] + seq * 20,
                                    "chunkSize": FRAME_SIZE,
                                    "processed": True,
                                    "metrics": result["metrics"],
                                },
                            }
                        )
                continue
            msg_id: Any = None
            try:
                try:
                    obj = loads(msg)
                except (ValueError, TypeError):
                    raise _WSError("INVALID_JSON", "message is not valid JSON") from None
                if not isinstance(obj, dict):
                    raise _WSError("INVALID_MESSAGE", "message must be a JSON object {type, id, data}")
                msg_id = obj.get("id")
                if msg_id is not None and (
                    isinstance(msg_id, bool) or not isinstance(msg_id, str | int | float)
                ):
                    msg_id = None
                    raise _WSError("INVALID_MESSAGE", "id must be a string or a number")
                mtype = obj.get("type")
                data = obj.get("data") or {}
                if not isinstance(data, dict):
                    raise _WSError("INVALID_MESSAGE", "data must be an object")
                if mtype == "ping":
                    await send_json(
                        {"type": "pong", "id": msg_id, "data": {"timestamp": int(time.time() * 1000)}}
                    )
                elif mtype == "process":
                    samples = parse_audio(data.get("audioBuffer"), exact=FRAME_SIZE)
                    cfg = parse_config(data.get("config"))
                    result, ms = await svc.process(samples, effective(cfg), entry=entry, owner=owner)
                    svc.stats.record_processing(FRAME_SIZE, ms)
                    out = _json_result(result)
                    await websocket.send(dumps({"type": "processed", "id": msg_id, "data": out}).decode())
                elif mtype == "stream":
                    cfg = parse_config(data.get("config"))
                    every = data.get("metricsEvery", 1)
                    if isinstance(every, bool) or not isinstance(every, int) or not 0 <= every <= 100000:
                        raise _WSError(
                            "INVALID_REQUEST", "metricsEvery must be an integer >= 0 (0 = no metrics)"
                        )
                    if stream is not None:
                        await send_json(
                            {"type": "stream.complete", "id": stream["id"], "data": finish_stream()}
                        )
                    stream = {
                        "id": msg_id,
                        "config": effective(cfg),
                        "every": every,
                        "chunks": 0,
                        "latency": 0.0,
                        "t0": int(time.time() * 1000),
                    }
                    await send_json(
                        {
                            "type": "stream.started",
                            "id": msg_id,
                            "data": {"sessionId": sid, "frameSize": FRAME_SIZE, "format": "float32le"},
                        }
                    )
                elif mtype == "stop":
                    if stream is None:
                        raise _WSError("STREAM_NOT_STARTED", "no stream is running")
                    summary = finish_stream()
                    stream = None
                    await send_json({"type": "stream.complete", "id": msg_id, "data": summary})
                elif mtype == "config":
                    cfg = data.get("config", data) if isinstance(data.get("config"), dict) else data
                    cfg = parse_config(cfg)
                    conn_config = merge_config(conn_config or {}, cfg or {})
                    from aimixer_dsp.presets import validate_config

                    validate_config(conn_config)
                    if stream is not None:
                        stream["config"] = effective(None)
                    await send_json({"type": "config", "id": msg_id, "data": {"config": conn_config}})
                else:
                    raise _WSError(
                        "UNKNOWN_MESSAGE_TYPE",
                        f"type={mtype!r} is not one of ['process', 'stream', 'stop', 'config', 'ping']",
                    )
            except _WSError as exc:
                await send_error(msg_id, exc.code, exc.message, exc.details)
            except APIError as exc:
                await send_error(msg_id, exc.code, exc.message, exc.details)
            except DSPError as exc:
                svc.emit_error(owner, exc.code, str(exc), sessionId=sid, endpoint="/ws")
                await send_error(msg_id, exc.code, str(exc), exc.details)
            except Exception:  # a bug must not end the connection or leak a traceback
                rid = error_body("INTERNAL_ERROR", "")["error"]["requestId"]
                log.exception("ws message failed (session %s, requestId %s)", sid, rid)
                await send_error(msg_id, "INTERNAL_ERROR", f"Internal server error (requestId {rid})")
    finally:
        svc.metrics.ws_connections.dec()
        if stream is not None:
            with contextlib.suppress(Exception):
                finish_stream()
        if not requested and not principal.session_id:
            svc.sessions.remove(owner, sid)
