"""The credential chain: every derived token names its root credential and dies with it.

Root credentials are the ones a person or an operator holds:

* an **API key** (``apikey``; revoked with ``aimixer keys revoke``);
* an **OIDC JWT** (``oidc``; dies at its own ``exp`` or at ``POST /auth/logout``);
* the **dev principal** (``dev``; only while the origin runs in dev mode).

A derived token (today: the mobile session token ``mst_``, see
:mod:`origin.mixer_api.mobile`) carries ``rk`` (root kind) and ``rid`` (root id: the key id, or
the SHA-256 fingerprint of the JWT). Every use checks that the root is still alive
(:meth:`RootChecker.alive`), so revoking a key or logging out a JWT kills every token made from
it within a second. A derived token can never mint another token, never outlives its root
(its ``exp`` is capped at the JWT's), and never carries more rights than the root:
:func:`derived_role` maps the root's studio role to what a mobile token may hold (a studio
principal keeps its one studio; admin rights are never passed on).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from origin.auth import Principal, bearer_token

__all__ = ["Root", "root_of", "derived_role", "RootChecker", "ChainError"]

#: seconds a root's "alive" answer is cached per process (revocation takes effect within this)
CACHE_S = 1.0


class ChainError(Exception):
    """The caller's credential cannot be the root of a derived token (message says why)."""


@dataclass(frozen=True)
class Root:
    """A root credential: ``kind`` (``apikey``/``oidc``/``dev``), ``id`` and its expiry (or None)."""

    kind: str
    id: str
    expires_at: float | None = None


def root_of(p: Principal, req: Any = None, claims: dict[str, Any] | None = None) -> Root:
    """The root credential of the caller ``p`` of request ``req``.

    Raises
    ------
    ChainError
        When ``p`` is itself a derived token (a mobile token cannot mint tokens).
    """
    if p.kind == "apikey":
        return Root("apikey", p.id)
    if p.kind == "dev":
        return Root("dev", p.id)
    if p.kind == "user":
        from origin.auth.oidc import token_fingerprint

        token = bearer_token(req)
        if not token:
            raise ChainError("an OIDC caller without a bearer token cannot mint tokens")
        exp = (claims or {}).get("exp")
        return Root("oidc", token_fingerprint(token), float(exp) if isinstance(exp, int | float) else None)
    raise ChainError(f"a {p.kind} token cannot be used to create further tokens")


def derived_role(p: Principal) -> tuple[str, str | None]:
    """``(role, studio_id)`` a token derived from ``p`` may carry: never ``admin``.

    A studio principal keeps its studio (it could read it with its own credential anyway);
    anything else gets ``"none"`` (no studio API rights).
    """
    if p.role == "studio" and p.studio_id and not p.is_admin:
        return "studio", p.studio_id
    return "none", None


class RootChecker:
    """Is a root credential still alive? (cached for :data:`CACHE_S` per root)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    async def alive(self, kind: str, rid: str) -> bool:
        key = (kind, rid)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        ok = await self._check(kind, rid)
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[key] = (now, ok)
        return ok

    async def _check(self, kind: str, rid: str) -> bool:
        ext = self.app.extensions
        if kind == "apikey":
            row = await ext["storage"].afetchone("SELECT revoked_at FROM api_keys WHERE id=?", (rid,))
            return row is not None and row["revoked_at"] is None
        if kind == "oidc":
            oidc = ext.get("oidc")
            return oidc is not None and not await oidc.fingerprint_revoked(rid)
        if kind == "dev":
            settings = ext.get("settings")
            return bool(settings is not None and settings.dev_mode)
        return False
