"""``POST /mobile/session``: a mixer session and a signed, expiring token for a mobile SDK.

Request: ``deviceId`` (1-128 chars), ``platform`` (``ios``|``android``), ``sdkVersion``
(1-32 chars, e.g. ``1.2.0``), optional ``capabilities`` ``{sampleRate, channels, bitDepth}``.
The API runs at 48 kHz only: a ``sampleRate`` other than 48000 is ``400 INVALID_SAMPLE_RATE``
(the device resamples; both iOS and Android can open a 48 kHz stream). ``channels`` must be
1 or 2 (stereo is downmixed by the SDK: the answer's config says so); ``bitDepth`` 16, 24 or 32.

The token (``mst_<payload>.<signature>``, HMAC-SHA256 with the server secret) is a Bearer
credential until ``expiresAt`` (ms): requests made with it act for the credential that created
the session (same tier, same rate-limit bucket, same webhooks) and default to its ``sessionId``.
It chains to its root credential (:mod:`origin.auth.chain`): revoking the API key, or logging
out the OIDC JWT, that created it invalidates it; it never outlives a JWT root; it cannot
create further sessions (403); and it carries no studio admin rights (a studio-role root passes
on its one studio, any other root passes on none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from quart import Blueprint, Quart, Response, g, request

from origin.auth import Principal
from origin.auth.chain import ChainError, RootChecker, derived_role, root_of
from origin.errors import APIError
from origin.jsonutil import dumps
from origin.openapi import doc, schema
from origin.sessions import new_session_id

from .common import FRAME_SIZE, SAMPLE_RATE, read_json, service
from .models import MobileCapabilities, MobileSessionRequest, parse_model

__all__ = ["bp", "make_token", "verify_token", "make_token_authenticator", "TOKEN_PREFIX"]

bp = Blueprint("mixer_mobile", __name__)

TOKEN_PREFIX = "mst_"
#: claim ``v`` of tokens that name their root credential (``rk``/``rid``)
TOKEN_VERSION = 2

SESSION_RESPONSE = schema(
    "MobileSessionResponse",
    {
        "type": "object",
        "required": ["sessionId", "token", "expiresAt", "config"],
        "properties": {
            "sessionId": {"type": "string"},
            "token": {"type": "string"},
            "expiresAt": {"type": "integer"},
            "config": {"type": "object"},
        },
    },
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, claims: dict[str, Any]) -> str:
    """Sign ``claims`` (must include ``exp`` in unix seconds)."""
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    sig = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"{TOKEN_PREFIX}{payload}.{sig}"


def verify_token(secret: str, token: str, now: float | None = None) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token, else ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 4096:
        return None
    payload, _, sig = token[len(TOKEN_PREFIX) :].partition(".")
    if not payload or not sig:
        return None
    want = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(want, sig):
        return None
    try:
        claims = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
        return None
    if (now if now is not None else time.time()) >= claims["exp"]:
        return None
    return claims


def make_token_authenticator(app: Quart):
    """Authenticator for ``mst_`` tokens: signature, expiry, and a live root credential
    (:mod:`origin.auth.chain`). Tokens without a root (made before the chain existed) are refused."""
    secret = app.extensions["secret_key"]
    roots = RootChecker(app)

    async def token_authenticator(token: str, request: Any) -> Principal | None:
        claims = verify_token(secret, token)
        if claims is None or claims.get("v") != TOKEN_VERSION:
            return None
        rk, rid = claims.get("rk"), claims.get("rid")
        if not isinstance(rk, str) or not isinstance(rid, str) or not await roots.alive(rk, rid):
            return None
        role = "studio" if claims.get("rol") == "studio" and claims.get("std") else "none"
        return Principal(
            kind="session",
            id=f"session:{claims['sid']}",
            name=f"mobile {claims.get('plt', '')} device",
            role=role,
            roles=[role],
            studio_id=claims.get("std") if role == "studio" else None,
            tier=claims.get("tir", "standard"),
            owner_id=claims["own"],
            session_id=claims["sid"],
        )

    return token_authenticator


@bp.post("/mobile/session")
@doc(
    summary="Start a mobile SDK session",
    request=MobileSessionRequest,
    responses={200: SESSION_RESPONSE},
    tags=["mobile"],
)
async def create_session() -> Response:
    svc = service()
    req = parse_model(MobileSessionRequest, await read_json())
    device, platform, sdk = req.deviceId, req.platform, req.sdkVersion
    caps = req.capabilities or MobileCapabilities.model_validate({})
    channels, bits = caps.channels, caps.bitDepth
    p: Principal = g.principal
    try:
        root = root_of(p, request, g.get("token_claims"))
    except ChainError as exc:
        raise APIError(403, "FORBIDDEN", f"Cannot create a session: {exc}") from None
    role, studio_id = derived_role(p)
    sid = new_session_id()
    svc.session(p.owner, sid)
    exp = int(time.time()) + int(svc.settings.mobile_token_ttl)
    if root.expires_at is not None:
        exp = min(exp, int(root.expires_at))  # never outlive the root credential
    token = make_token(
        svc.app_secret,
        {
            "v": TOKEN_VERSION,
            "sid": sid,
            "own": p.owner,
            "rk": root.kind,
            "rid": root.id,
            "tir": p.tier,
            "rol": role,
            "std": studio_id,
            "plt": platform,
            "dev": device[:64],
            "exp": exp,
        },
    )
    config = {
        "sampleRate": SAMPLE_RATE,
        "frameSize": FRAME_SIZE,
        "channels": 1,
        "inputChannels": channels,
        "downmix": channels == 2,
        "format": "float32le",
        "inputBitDepth": bits,
        "convertToFloat32": bits != 32,
        "framesPerRequest": 1,
        "transport": "websocket" if platform in ("ios", "android") else "http",
        "endpoints": {
            "processAudio": "/v1/process-audio",
            "websocket": "/v1/ws",
            "stream": "/v1/stream-audio",
        },
        "dsp": svc.config.full(),
        "platform": platform,
        "sdkVersion": sdk,
    }
    return Response(
        dumps({"sessionId": sid, "token": token, "expiresAt": exp * 1000, "config": config}),
        content_type="application/json",
    )
