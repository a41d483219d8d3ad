"""``/auth/login``, ``/auth/callback``, ``/auth/me``, ``/auth/logout``.

Dev mode answers exactly the spec's dev-mode examples. In production:

* ``GET /auth/login`` redirects (302) to the issuer's authorization endpoint with
  ``response_type=code``, ``state``, ``nonce`` and a PKCE ``S256`` challenge. Optional
  ``?return_to=/studio/`` (a local path) makes the callback redirect there with the token in the
  URL fragment (``#access_token=...&expires_in=...``) instead of answering JSON; the web app uses
  that. 503 when OIDC is not configured.
* ``GET /auth/callback?code&state`` checks the state (single use, 10 min), exchanges the code
  with the PKCE verifier, verifies the ID token (signature, issuer, audience, nonce) and answers
  the spec's token response.
* ``GET /auth/me`` -> the caller (401 without valid credentials).
* ``POST /auth/logout`` -> revokes the presented token (refused until it expires) and returns
  ``{"message": "Logged out", "logout_url": <end_session_endpoint or null>}``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, current_app, g, redirect, request

from origin.auth import bearer_token
from origin.auth.oidc import OIDCClient, OIDCError, user_dict
from origin.errors import StudioError
from origin.studio.authz import require_user
from origin.studio.models import studio_doc

bp = Blueprint("studio_auth", __name__, url_prefix="/auth")

DEV_USER = {
    "id": "dev-user-001",
    "email": "admin@audyn.local",
    "name": "Admin User",
    "role": "admin",
    "roles": ["admin"],
}


def _dev() -> bool:
    return bool(current_app.extensions["settings"].dev_mode)


def _oidc() -> OIDCClient:
    return current_app.extensions["oidc"]


def _safe_return_to(value: str | None) -> str | None:
    if not value:
        return None
    # only local absolute paths: no scheme, no host, no protocol-relative //host
    if not value.startswith("/") or value.startswith("//") or "\\" in value or "\x00" in value:
        raise StudioError(400, "return_to must be a local path like /studio/")
    return value


@bp.get("/login")
@studio_doc(
    summary="Start the OIDC login (redirect)",
    public=True,
    responses={302: {"description": "redirect to the identity provider"}},
    tags=["auth"],
)
async def login() -> Any:
    if _dev():
        return {"dev_mode": True, "message": "Development mode - no login required", "user": dict(DEV_USER)}
    return_to = _safe_return_to(request.args.get("return_to"))
    try:
        url = await _oidc().begin_login(return_to)
    except OIDCError as exc:
        raise StudioError(exc.status, exc.detail) from None
    return redirect(url, 302)


@bp.get("/callback")
@studio_doc(
    summary="OIDC login callback (redirect)",
    public=True,
    responses={302: {"description": "redirect to the web app"}},
    tags=["auth"],
)
async def callback() -> Any:
    if _dev():
        raise StudioError(400, "Development mode - no login callback")
    if request.args.get("error"):
        desc = request.args.get("error_description") or ""
        raise StudioError(400, f"Login failed: {request.args['error']} {desc}".strip())
    code = request.args.get("code")
    state = request.args.get("state")
    if not code:
        raise StudioError(400, "Missing authorization code")
    if not state:
        raise StudioError(400, "Missing state")
    try:
        body, _principal, return_to = await _oidc().finish_login(code, state)
    except OIDCError as exc:
        raise StudioError(exc.status, exc.detail) from None
    if return_to:
        frag = urlencode(
            {"access_token": body["access_token"], "token_type": "Bearer", "expires_in": body["expires_in"]}
        )
        resp = redirect(f"{return_to}#{frag}", 302)
        resp.headers["Cache-Control"] = "no-store"
        return resp
    return body, 200, {"Cache-Control": "no-store"}


@bp.get("/me")
@studio_doc(summary="The signed-in user", tags=["auth"])
async def me() -> Any:
    p = await require_user(allow_no_role=True)
    return user_dict(p)


@bp.post("/logout")
@studio_doc(summary="Sign out", tags=["auth"])
async def logout() -> Any:
    if _dev() and not bearer_token(request):
        return {"message": "Logged out (dev mode)"}
    p = await require_user(allow_no_role=True)
    token = bearer_token(request)
    logout_url = None
    if p.kind == "user" and token:
        claims = g.get("token_claims") or {}
        await _oidc().revoke(token, float(claims.get("exp", time.time() + 86400)))
        logout_url = await _oidc().end_session_url()
    if p.kind == "dev":
        return {"message": "Logged out (dev mode)"}
    return {"message": "Logged out", "logout_url": logout_url}


@bp.get("/config")
@studio_doc(summary="Login settings (admin)", tags=["auth"])
async def auth_config() -> Any:
    """Read-only login settings for Audyn's settings page (admin only; never the client secret).

    ``{"dev_mode", "configured", "issuer", "entra_tenant_id", "entra_client_id",
    "entra_redirect_uri", "scopes", "admin_group", "client_secret_set"}``. The values come from
    the server configuration; ``POST /auth/config`` answers 501.
    """
    from origin.studio.authz import require_admin

    await require_admin()
    cfg = _oidc().config
    tenant = None
    if cfg.issuer and "login.microsoftonline.com/" in cfg.issuer:
        tenant = cfg.issuer.split("login.microsoftonline.com/", 1)[1].split("/", 1)[0] or None
    return {
        "dev_mode": _dev(),
        "configured": cfg.configured,
        "issuer": cfg.issuer,
        "entra_tenant_id": tenant,
        "entra_client_id": cfg.client_id,
        "entra_redirect_uri": cfg.redirect_uri,
        "scopes": cfg.scopes,
        "admin_group": cfg.admin_group,
        "client_secret_set": bool(cfg.client_secret),
    }


@bp.post("/config")
@studio_doc(summary="Change login settings (501: not implemented)", errors=(401, 403, 501), tags=["auth"])
async def set_auth_config() -> Any:
    from origin.studio.system import not_implemented

    return await not_implemented("Login settings")
