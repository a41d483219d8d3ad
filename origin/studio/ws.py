"""``/ws/levels`` and ``/ws/levels/{recorder_id}``: live levels over WebSocket.

Authentication: the token in the query (``?token=...``; short-lived tokens only, an API key in
the URL is refused) or an ``Authorization`` header is checked before the connection is accepted
(a bad one is refused with HTTP 401/403/404 and a ``{"detail"}`` body). Without a token (and not in dev mode) the socket is accepted and the first
message must be ``{"type": "auth", "token": "..."}`` within 10 s; it is answered with
``{"type": "auth_ok", "user": {...}}`` or the socket is closed with code 4401 (bad token) /
4403 (not allowed).

Messages (server -> client), at ``studio_levels_hz`` (10 Hz) per client:
``{"type": "all_levels", "timestamp", "recorders": [...]}`` (``/ws/levels``; a studio user only
gets its studio's recorders) or ``{"type": "levels", "recorder_id", "state", "channels",
"timestamp"}`` (``/ws/levels/{id}``), plus ``{"type": "keepalive"}`` every 15 s.
Client -> server: ``{"type": "ping"}`` (or the text ``ping``) -> ``{"type": "pong"}``.
A client that cannot keep up skips messages (bounded queue, oldest dropped); one that makes no
progress for 10 s is closed with code 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from quart import Blueprint, current_app, g, websocket

from origin.auth import RECHECK_S, Principal, authenticate, bearer_token, token_alive
from origin.errors import studio_error
from origin.jsonutil import loads
from origin.studio.authz import can_see_recorder, visible_studio_id
from origin.studio.broker import PONG, Subscriber
from origin.studio.common import service
from origin.studio.models import studio_doc

bp = Blueprint("studio_ws", __name__)

#: the WebSocket protocol, for ``/openapi.json`` (this module's docstring)
WS_LEVELS = " ".join((__doc__ or "").split("\n\n", 1)[-1].split())

AUTH_TIMEOUT_S = 10.0


async def _auth_first_message() -> tuple[Principal | None, str | None]:
    """Accept, then wait for ``{"type": "auth", "token": ...}``; returns the principal and token."""
    await websocket.accept()
    try:
        raw = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
        msg = loads(raw)
    except (TimeoutError, ValueError, TypeError):
        return None, None
    if not isinstance(msg, dict) or msg.get("type") != "auth" or not isinstance(msg.get("token"), str):
        return None, None
    token = msg["token"]
    for fn in current_app.extensions.get("authenticators", []):
        try:
            p = await fn(token, websocket)
        except Exception:  # noqa: BLE001 - a broken authenticator must not kill the socket handler
            p = None
        if p is not None:
            return p, token
    return None, None


def _parse_rid(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


async def _serve(recorder_id: str | None) -> Any:
    svc = service()
    rid: int | None = None
    if recorder_id is not None:
        rid = _parse_rid(recorder_id)
        if rid is None:
            return studio_error(400, "recorder_id must be an integer")
        if not 1 <= rid <= svc.max_recorders:
            return studio_error(404, f"Recorder {rid} not found")
    accepted = False
    token = bearer_token(websocket)
    p = await authenticate(websocket)
    if p is None and (bearer_token(websocket) or g.get("token_rejected")):
        # a credential came with the upgrade: refuse before accepting (no frame is read)
        return studio_error(401, g.get("token_error") or "Invalid or expired token")
    if p is None:
        p, token = await _auth_first_message()
        accepted = True
        if p is None:
            await websocket.close(4401, "Not authenticated")
            return None
    if not (p.is_admin or p.role == "studio"):
        if accepted:
            await websocket.close(4403, "No role assigned to this user")
            return None
        return studio_error(403, "No role assigned to this user")
    if rid is not None and not can_see_recorder(p, rid):
        if accepted:
            await websocket.close(4403, "Access denied to this recorder")
            return None
        return studio_error(403, "Access denied to this recorder")
    if not accepted:
        await websocket.accept()
    else:
        from origin.auth.oidc import user_dict

        await websocket.send(json.dumps({"type": "auth_ok", "user": user_dict(p)}))

    sub = svc.broker.subscribe(studio_id=visible_studio_id(p), recorder_id=rid)
    writer = asyncio.ensure_future(_writer(sub))
    reader = asyncio.ensure_future(_reader(sub))
    checker = asyncio.ensure_future(_recheck(sub, token))
    sub.task = writer
    try:
        await asyncio.wait({writer, reader, checker}, return_when=asyncio.FIRST_COMPLETED)
        if sub.close_reason:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(1008, sub.close_reason), 2.0)
    finally:
        svc.broker.unsubscribe(sub)
        for t in (writer, reader, checker):
            t.cancel()
        for t in (writer, reader, checker):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    return None


async def _recheck(sub: Subscriber, token: str | None) -> None:
    """Close the socket (1008) once its credential is revoked, logged out or expired."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    while True:
        await asyncio.sleep(RECHECK_S)
        if not await token_alive(app, token):
            sub.kick("credential revoked or expired")
            return


async def _writer(sub: Subscriber) -> None:
    while True:
        msg = await sub.get()
        if msg is None:
            return
        await websocket.send(msg)
        sub.sent += 1


async def _reader(sub: Subscriber) -> None:
    while True:
        raw = await websocket.receive()
        if isinstance(raw, bytes):
            continue
        text = raw.strip()
        if text == "ping":
            sub.offer(PONG)
            continue
        try:
            msg = loads(text)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("type") == "ping":
            sub.offer(PONG)


@bp.websocket("/ws/levels")
@studio_doc(summary="Levels of every recorder (WebSocket)", description=WS_LEVELS, tags=["levels"])
async def ws_levels() -> Any:
    return await _serve(None)


@bp.websocket("/ws/levels/<recorder_id>")
@studio_doc(summary="Levels of one recorder (WebSocket)", description=WS_LEVELS, tags=["levels"])
async def ws_levels_one(recorder_id: str) -> Any:
    return await _serve(recorder_id)
