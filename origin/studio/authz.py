"""Role rules of the studio API, enforced on the server.

Callers (``origin.auth`` chain): OIDC users (role from the token), mixer API keys (the key's
``role``/``studio_id``), and in dev mode the dev admin when no token is sent.

* **No credentials** (production) -> 401 ``Not authenticated``; a token that no authenticator
  accepts -> 401 with the reason (``Token expired``...). ``/auth/login`` and ``/auth/callback``
  are the only public studio endpoints.
* **Role ``admin``** may do everything.
* **Role ``studio``** (with a ``studio_id``) sees and acts only within its own studio: its
  studio, the recorder assigned to it (read, levels, WebSocket levels), its recordings, and
  browse/download/preview under that recorder's archive folder. Anything else is 403.
  A studio principal without a studio id sees nothing.
* **No role** (a valid login without an app role) -> 403 ``No role assigned to this user``
  everywhere except ``/auth/me`` and ``/auth/logout``.
* **Admin only** (403 ``Admin access required``): the endpoints the spec marks *Admin only*
  (active-count PUT, recorder config/start/stop/start-all/stop-all, studio create/update/delete/
  assign, source create/delete) plus control config, file deletion, and anything that changes
  paths (recorder/control ``archive_root``).
* The control API (single-capture view) acts on the control recorder: studio users may read and
  start/stop it, and set the active source, only if that recorder is assigned to their studio.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from quart import current_app, g

from origin.auth import Principal, authenticate
from origin.errors import StudioError

__all__ = [
    "get_principal",
    "require_user",
    "require_admin",
    "login_required",
    "admin_required",
    "check_studio",
    "check_recorder",
    "can_see_recorder",
    "visible_studio_id",
    "unauthorized",
]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def unauthorized() -> StudioError:
    """The 401 for the current request: ``Not authenticated`` or the token's refusal reason."""
    if g.get("token_rejected"):
        reason = g.get("token_error") or "Invalid or expired token"
        return StudioError(401, reason, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return StudioError(401, "Not authenticated", {"WWW-Authenticate": "Bearer"})


async def get_principal() -> Principal | None:
    """The caller (or ``None``)."""
    return await authenticate()


async def require_user(*, allow_no_role: bool = False) -> Principal:
    """The caller; 401 without valid credentials, 403 without a studio role."""
    p = await authenticate()
    if p is None:
        raise unauthorized()
    if not allow_no_role and not (p.is_admin or p.role == "studio"):
        raise StudioError(403, "No role assigned to this user")
    g.studio_principal = p
    return p


async def require_admin() -> Principal:
    """The caller if admin; else 401/403 ``Admin access required``."""
    p = await require_user()
    if not p.is_admin:
        raise StudioError(403, "Admin access required")
    return p


def login_required(fn: F) -> F:
    """View decorator: any caller with a role."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        await require_user()
        return await fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_required(fn: F) -> F:
    """View decorator: admins only."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        await require_admin()
        return await fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def principal() -> Principal:
    """The principal checked by the decorators for this request."""
    p = g.get("studio_principal")
    if p is None:  # pragma: no cover - decorators always set it
        raise StudioError(401, "Not authenticated")
    return p


def visible_studio_id(p: Principal) -> str | None:
    """``None`` for admins (everything); the studio id a studio principal is limited to.

    A studio principal without a studio id gets ``""`` (matches nothing).
    """
    if p.is_admin:
        return None
    return p.studio_id or ""


def check_studio(p: Principal, studio_id: str) -> None:
    """403 unless ``p`` may see studio ``studio_id``."""
    if not p.is_admin and (not p.studio_id or p.studio_id != studio_id):
        raise StudioError(403, "Access denied to this studio")


def can_see_recorder(p: Principal, recorder_id: int) -> bool:
    """True for admins, or when the recorder is assigned to the principal's studio."""
    if p.is_admin:
        return True
    store = current_app.extensions["studio"].store
    return bool(p.studio_id) and store.studio_of(recorder_id) == p.studio_id


def check_recorder(p: Principal, recorder_id: int) -> None:
    """403 unless ``p`` may see/act on recorder ``recorder_id``."""
    if not can_see_recorder(p, recorder_id):
        raise StudioError(403, "Access denied to this recorder")
