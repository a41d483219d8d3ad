"""``WS /ws``: real-time processing over one WebSocket (one connection = one mixer session).

Client -> server (JSON text): ``{"type": T, "id": ID, "data": {...}}``

* ``process`` ``{audioBuffer, config?}`` -> ``processed`` ``{processedBuffer, metrics,
  appliedSettings}``
* ``stream`` ``{config?, metricsEvery?=1}`` -> ``stream.started``; then binary messages of
  float32 LE audio (whole 960-sample frames) are answered, frame by frame, with a binary
  message of the processed frame and (every ``metricsEvery`` frames, 0 = never) an ``audio``
  message ``{seq, timestamp, chunkSize, processed, metrics}``
* ``stop`` -> ``stream.complete`` ``{totalChunks, totalDuration, averageLatency, sessionId,
  errors}`` (:class:`.streaming.StreamTally`, as ``/stream-audio``'s ``complete``)
* ``config`` ``{...config}`` -> ``config`` ``{config}`` (merged into the connection's config)
* ``ping`` -> ``pong`` ``{timestamp}``

Errors come back as ``{"type": "error", "id": ID|null, "error": {code, message, ...}}`` and
never close the connection. The server greets with ``connected`` ``{sessionId, ...}``.
Authenticate with ``Authorization: Bearer`` or ``?token=``; a refused handshake gets the HTTP
error (401/403/400 in the mixer error shape) instead of the upgrade.

Why this is not a Quart route
-----------------------------
A real-time stream is one small message in and one out every 20 ms per connection, so the
per-message cost decides how many streams a core carries. Quart's websocket wrapper adds, per
message, a hop through a queue between two tasks, an ``asyncio.sleep(0)`` before every send
and two signal dispatches. :func:`install` therefore answers ``/ws`` and ``/v1/ws`` at the ASGI
level, in front of Quart's own dispatch (still served by Hypercorn): the handshake runs inside
a Quart websocket context, so authentication, rate limits, request ids and the error shape are
the same code as on every other route, and after the upgrade the message loop talks to the
ASGI ``receive``/``send`` directly. Other websocket paths (the studio's ``/ws/levels``) go
through Quart as before.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart import Quart, Response, g, websocket
from werkzeug.datastructures import Headers

from origin.auth import RECHECK_S, bearer_token, token_alive
from origin.errors import APIError, error_body, error_response
from origin.jsonutil import JSONLimitError, dumps, loads
from origin.sessions import SESSION_ID_RE, new_session_id

from .admission import admit
from .audio import json_result
from .common import FRAME_BYTES, FRAME_SIZE, DSPError
from .models import ConfigMessage, FrameRequest, StreamRequest, parse_model
from .streaming import StreamTally

if TYPE_CHECKING:
    from hypercorn.typing import WebsocketScope

__all__ = ["WS_PATHS", "install"]

log = logging.getLogger("origin.mixer.ws")

WS_PATHS = frozenset({"/ws", "/v1/ws"})
MESSAGE_TYPES = ["process", "stream", "stop", "config", "ping"]


def install(app: Quart) -> None:
    """Serve ``/ws`` and ``/v1/ws`` on ``app`` through :func:`serve_ws` (an ``asgi_app`` wrapper)."""
    inner = app.asgi_app

    async def asgi_app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] == "websocket" and scope["path"] in WS_PATHS:
            # the message loop speaks plain ASGI dicts (the per-message path stays lean)
            await serve_ws(app, cast(dict, scope), receive, send)
        else:
            await inner(scope, receive, send)

    app.asgi_app = asgi_app  # type: ignore[method-assign]


async def serve_ws(app: Quart, scope: dict, receive: Any, send: Any) -> None:
    """One ``/ws`` connection, from the handshake to the disconnect.

    The ASGI ``websocket.connect`` event is not awaited before the handshake (Quart's test client
    never sends one); the message loop skips it.
    """
    conn = _Connection(app, scope, receive, send)
    async with app.websocket_context(conn.quart_websocket()):
        refusal = await conn.handshake()
        if refusal is not None:
            await conn.refuse(refusal)
            return
        await conn.run()


def _header_list(headers: Any) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]


class _Stream:
    """The running ``stream`` of a connection: its message id, config, metrics period, start."""

    __slots__ = ("id", "config", "every", "t0", "tally")

    def __init__(self, msg_id: Any, config: dict[str, Any] | None, every: int, t0: int) -> None:
        self.id = msg_id
        self.config = config
        self.every = every
        self.t0 = t0
        self.tally = StreamTally()


class _Connection:
    def __init__(self, app: Quart, scope: dict, receive: Any, send: Any) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.raw_send = send
        self.svc = app.extensions["mixer"]
        self.accepted = False
        self.closed = False
        self.conn_config: dict[str, Any] | None = None
        self.stream: _Stream | None = None

    # -- Quart context ------------------------------------------------------------------------
    def quart_websocket(self) -> Any:
        """A Quart ``Websocket`` for the handshake's context (headers, args, ``g``)."""
        scope = self.scope
        headers = Headers()
        headers["Remote-Addr"] = (scope.get("client") or ["<local>"])[0]
        for name, value in scope["headers"]:
            headers.add(name.decode("latin1").title(), value.decode("latin1"))
        return self.app.websocket_class(
            scope["path"],
            scope["query_string"],
            scope.get("scheme", "ws"),
            headers,
            scope.get("root_path", ""),
            scope.get("http_version", "1.1"),
            list(scope.get("subprotocols", [])),
            self._receive_data,
            self._send_data,
            self._accept,
            self._close,
            scope=cast("WebsocketScope", scope),
        )

    async def _receive_data(self) -> str | bytes:
        while True:
            ev = await self.receive()
            if ev["type"] == "websocket.receive":
                b = ev.get("bytes")
                return b if b is not None else (ev.get("text") or "")
            if ev["type"] == "websocket.disconnect":
                raise ConnectionError("websocket disconnected")

    async def _send_data(self, data: str | bytes) -> None:
        if isinstance(data, str):
            await self.raw_send({"type": "websocket.send", "text": data})
        else:
            await self.raw_send({"type": "websocket.send", "bytes": data})

    async def _accept(self, headers: Any, subprotocol: str | None) -> None:
        if not self.accepted:
            self.accepted = True
            await self.raw_send(
                {"type": "websocket.accept", "subprotocol": subprotocol, "headers": _header_list(headers)}
            )

    async def _close(self, code: int, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            await self.raw_send({"type": "websocket.close", "code": code, "reason": reason})

    # -- handshake ----------------------------------------------------------------------------
    async def handshake(self) -> Response | None:
        """Admit the caller (:func:`.admission.admit`, as every HTTP route) and pick the session;
        returns the refusal in the mixer error shape, or ``None``."""
        try:
            admission = await admit(self.svc)
            requested = websocket.args.get("sessionId")
            if requested and not SESSION_ID_RE.match(requested):
                raise APIError(400, "INVALID_REQUEST", "sessionId has invalid characters")
        except APIError as exc:  # with the X-RateLimit-* an HTTP refusal carries (after_request there)
            rl = g.get("rl")
            headers = {**(rl.headers() if rl is not None else {}), **exc.headers}
            return error_response(exc.status, exc.code, exc.message, exc.details, headers)
        principal = admission.principal
        assert principal is not None  # admit() refuses a non-public caller without one
        self.principal = principal
        self.token = bearer_token()
        self.recheck_at = time.monotonic() + RECHECK_S
        self.owner = principal.owner
        self.requested = requested
        self.sid = requested or principal.session_id or new_session_id()
        self.entry = self.svc.session(self.owner, self.sid)
        self.accept_headers = admission.headers
        return None

    async def credential_alive(self) -> bool:
        """Re-check the handshake's credential (every ``RECHECK_S`` s of traffic)."""
        self.recheck_at = time.monotonic() + RECHECK_S
        return await token_alive(self.app, self.token)

    async def refuse(self, resp: Any) -> None:
        """Answer a refused handshake with the HTTP error (or a close where that is unsupported)."""
        if "websocket.http.response" in (self.scope.get("extensions") or {}):
            await self.raw_send(
                {
                    "type": "websocket.http.response.start",
                    "status": resp.status_code,
                    # Hypercorn closes the connection after a refused upgrade: say so, so that a
                    # client does not send its next request on it
                    "headers": [*_header_list(resp.headers), (b"connection", b"close")],
                }
            )
            body = await resp.get_data()
            await self.raw_send({"type": "websocket.http.response.body", "body": body, "more_body": False})
        else:
            await self.raw_send({"type": "websocket.close", "code": 1008})

    # -- messages -----------------------------------------------------------------------------
    async def send_json(self, obj: dict[str, Any]) -> None:
        await self.raw_send({"type": "websocket.send", "text": dumps(obj).decode()})

    async def send_error(
        self, msg_id: Any, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        body = error_body(code, message, details)
        await self.send_json({"type": "error", "id": msg_id, "error": body["error"]})

    def effective(self, extra: dict[str, Any] | None) -> dict[str, Any] | None:
        from aimixer_dsp.presets import merge_config

        if self.conn_config and extra:
            return merge_config(self.conn_config, extra)
        return extra or self.conn_config

    def finish_stream(self) -> dict[str, Any]:
        """End the running stream: its summary, and the ``processing.complete`` webhook."""
        stream = self.stream
        assert stream is not None
        self.stream = None
        return stream.tally.complete(self.svc, self.owner, self.entry, "ws")

    async def run(self) -> None:
        svc = self.svc
        await self._accept(Headers(self.accept_headers), None)
        svc.metrics.ws_connections.inc()
        try:
            await self.send_json(
                {
                    "type": "connected",
                    "id": None,
                    "data": {
                        "sessionId": self.sid,
                        "sampleRate": 48000,
                        "frameSize": FRAME_SIZE,
                        "format": "float32le",
                    },
                }
            )
            receive = self.receive
            on_binary, on_text = self.on_binary, self.on_text
            while True:
                ev = await receive()
                kind = ev["type"]
                if kind == "websocket.receive":
                    if time.monotonic() >= self.recheck_at and not await self.credential_alive():
                        await self._close(1008, "credential revoked or expired")
                        break
                    data = ev.get("bytes")
                    if data is not None:
                        await on_binary(data)
                    else:
                        await on_text(ev.get("text") or "")
                elif kind == "websocket.disconnect":
                    break
        finally:
            svc.metrics.ws_connections.dec()
            if self.stream is not None:
                with contextlib.suppress(Exception):
                    self.finish_stream()
            if not self.requested and not self.principal.session_id:
                svc.sessions.remove(self.owner, self.sid)

    async def on_binary(self, msg: bytes) -> None:
        """Audio of a running ``stream``: whole frames, each answered with its processed frame."""
        stream = self.stream
        if stream is None:
            await self.send_error(None, "STREAM_NOT_STARTED", "binary audio needs a 'stream' message first")
            return
        if not msg or len(msg) % FRAME_BYTES:
            stream.tally.errors += 1
            await self.send_error(
                stream.id,
                "INVALID_BUFFER_SIZE",
                f"binary message is {len(msg)} bytes; send whole 960-sample float32 LE frames "
                f"({FRAME_BYTES} bytes each)",
                {"bytes": len(msg), "expected": FRAME_BYTES},
            )
            return
        svc, send = self.svc, self.raw_send
        frombuffer, f64 = np.frombuffer, np.float64
        every, config, tally = stream.every, stream.config, stream.tally
        for off in range(0, len(msg), FRAME_BYTES):
            seq = tally.frames
            report = bool(every) and seq % every == 0  # this frame's metrics are sent
            try:
                # whole float32 frames (checked above); the session's own validation is the
                # finiteness check (NaN/Inf -> INVALID_AUDIO with the sample index)
                samples = frombuffer(msg, "<f4", FRAME_SIZE, off).astype(f64)
                result, ms = await svc.process(
                    samples, config, entry=self.entry, owner=self.owner, metrics=report
                )
            except (APIError, DSPError) as exc:
                tally.errors += 1
                svc.emit_error(self.owner, exc.code, str(exc), sessionId=self.sid, endpoint="/ws")
                await self.send_error(stream.id, exc.code, getattr(exc, "message", str(exc)), exc.details)
                continue
            except Exception:  # a bug must not end the connection or leak a traceback
                tally.errors += 1
                await self._internal_error(stream.id)
                continue
            svc.stats.record_processing(FRAME_SIZE, ms)
            tally.processed(ms)
            out = np.asarray(result["processedBuffer"], dtype="<f4").tobytes()
            await send({"type": "websocket.send", "bytes": out})
            if report:
                await self.send_json(
                    {
                        "type": "audio",
                        "id": stream.id,
                        "data": {
                            "seq": seq,
                            "timestamp": stream.t0 + seq * 20,
                            "chunkSize": FRAME_SIZE,
                            "processed": True,
                            "metrics": result["metrics"],
                        },
                    }
                )

    async def _internal_error(self, msg_id: Any) -> None:
        rid = error_body("INTERNAL_ERROR", "")["error"]["requestId"]
        log.exception("ws message failed (session %s, requestId %s)", self.sid, rid)
        await self.send_error(msg_id, "INTERNAL_ERROR", f"Internal server error (requestId {rid})")

    async def on_text(self, msg: str) -> None:
        """One JSON control message."""
        msg_id: Any = None
        try:
            try:
                obj = loads(msg)
            except JSONLimitError as exc:
                raise APIError(400, "INVALID_JSON", f"message is refused: {exc}") from None
            except (ValueError, TypeError):
                raise APIError(400, "INVALID_JSON", "message is not valid JSON") from None
            if not isinstance(obj, dict):
                raise APIError(400, "INVALID_MESSAGE", "message must be a JSON object {type, id, data}")
            msg_id = obj.get("id")
            if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, str | int | float)):
                msg_id = None
                raise APIError(400, "INVALID_MESSAGE", "id must be a string or a number")
            mtype = obj.get("type")
            data = obj.get("data") or {}
            if not isinstance(data, dict):
                raise APIError(400, "INVALID_MESSAGE", "data must be an object")
            handler = _HANDLERS.get(mtype) if isinstance(mtype, str) else None
            if handler is None:
                raise APIError(400, "UNKNOWN_MESSAGE_TYPE", f"type={mtype!r} is not one of {MESSAGE_TYPES}")
            await handler(self, msg_id, data)
        except APIError as exc:
            await self.send_error(msg_id, exc.code, exc.message, exc.details)
        except DSPError as exc:
            self.svc.emit_error(self.owner, exc.code, str(exc), sessionId=self.sid, endpoint="/ws")
            await self.send_error(msg_id, exc.code, str(exc), exc.details)
        except Exception:  # a bug must not end the connection or leak a traceback
            await self._internal_error(msg_id)

    async def do_ping(self, msg_id: Any, data: dict[str, Any]) -> None:
        await self.send_json({"type": "pong", "id": msg_id, "data": {"timestamp": int(time.time() * 1000)}})

    async def do_process(self, msg_id: Any, data: dict[str, Any]) -> None:
        frame = parse_model(FrameRequest, data)
        svc = self.svc
        result, ms = await svc.process(
            frame.audioBuffer, self.effective(frame.config), entry=self.entry, owner=self.owner
        )
        svc.stats.record_processing(FRAME_SIZE, ms)
        await self.send_json({"type": "processed", "id": msg_id, "data": json_result(result)})

    async def do_stream(self, msg_id: Any, data: dict[str, Any]) -> None:
        req = parse_model(StreamRequest, data)
        every: int = req.metricsEvery
        config = self.effective(req.config)
        # the session's one-time set-up now, not on the first (real-time) frame
        await self.svc.prepare(self.entry, config)
        if self.stream is not None:
            previous = self.stream.id
            await self.send_json({"type": "stream.complete", "id": previous, "data": self.finish_stream()})
        self.stream = _Stream(msg_id, config, every, int(time.time() * 1000))
        await self.send_json(
            {
                "type": "stream.started",
                "id": msg_id,
                "data": {"sessionId": self.sid, "frameSize": FRAME_SIZE, "format": "float32le"},
            }
        )

    async def do_stop(self, msg_id: Any, data: dict[str, Any]) -> None:
        if self.stream is None:
            raise APIError(400, "STREAM_NOT_STARTED", "no stream is running")
        summary = self.finish_stream()
        await self.send_json({"type": "stream.complete", "id": msg_id, "data": summary})

    async def do_config(self, msg_id: Any, data: dict[str, Any]) -> None:
        from aimixer_dsp.presets import merge_config, validate_config

        cfg = parse_model(ConfigMessage, data).config
        conn_config = merge_config(self.conn_config or {}, cfg or {})
        validate_config(conn_config)
        self.conn_config = conn_config
        if self.stream is not None:
            self.stream.config = self.effective(None)
        await self.send_json({"type": "config", "id": msg_id, "data": {"config": conn_config}})


_HANDLERS = {
    "ping": _Connection.do_ping,
    "process": _Connection.do_process,
    "stream": _Connection.do_stream,
    "stop": _Connection.do_stop,
    "config": _Connection.do_config,
}
