"""API keys: created once, stored hashed, revocable.

A key looks like ``amx_<43 url-safe chars>`` (256 random bits). Only its SHA-256 hex digest is
stored (a high-entropy secret needs no slow hash), plus an 8-character prefix for display.

Table ``api_keys``: ``id`` (``key_<hex>``), ``name``, ``key_hash``, ``prefix``, ``tier``
(standard|premium|enterprise), ``role`` (mixer|admin|studio), ``studio_id``, ``created_at``,
``revoked_at``, ``last_used_at`` (unix seconds), ``legacy_admin`` (1 for a key that got
``admin`` from the old default, before roles were explicit).

Roles (least privilege by default):

* ``mixer`` (the default): the whole mixer API, including ``PUT /config``; no studio rights.
* ``admin`` (``--role admin``): the mixer API and every studio right (delete archive files...).
* ``studio`` (``--role studio --studio-id S``): the mixer API and studio ``S`` only.

Keys created before roles were explicit defaulted to ``admin``; migration 2 keeps their role
and marks them ``legacy_admin`` so ``aimixer keys list`` can point them out.

:func:`make_authenticator` returns the authenticator for the app chain. Lookups are cached for
one second per process, so a revocation takes effect within a second everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from origin.auth import ROLES, TIERS, Principal
from origin.storage import Schema, Storage

__all__ = [
    "ApiKey",
    "KEY_PREFIX",
    "hash_key",
    "create_key",
    "list_keys",
    "revoke_key",
    "lookup_key",
    "make_authenticator",
    "ApiKeyError",
    "MIXER_ROLE",
    "KEY_ROLES",
]

KEY_PREFIX = "amx_"
#: role of a key with mixer API rights and no studio rights (the default)
MIXER_ROLE = "mixer"
#: roles a key may have, the default first
KEY_ROLES = (MIXER_ROLE, *ROLES)

APIKEYS_SCHEMA = Schema(
    "apikeys",
    [
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            tier TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'admin',
            studio_id TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION,
            last_used_at DOUBLE PRECISION
        );
        """,
        # 2: least privilege by default (issue 12): existing admin keys keep their role, marked
        "ALTER TABLE api_keys ADD COLUMN legacy_admin INTEGER NOT NULL DEFAULT 0;"
        "UPDATE api_keys SET legacy_admin = 1 WHERE role = 'admin';",
    ],
)


class ApiKeyError(ValueError):
    """Bad arguments for a key operation (message names the field)."""


@dataclass
class ApiKey:
    """A stored key (never the secret itself)."""

    id: str
    name: str
    prefix: str
    tier: str
    role: str
    studio_id: str | None
    created_at: float
    revoked_at: float | None
    last_used_at: float | None
    legacy_admin: bool = False

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "tier": self.tier,
            "role": self.role,
            "studioId": self.studio_id,
            "createdAt": self.created_at,
            "revokedAt": self.revoked_at,
            "lastUsedAt": self.last_used_at,
            "active": self.active,
            "legacyAdmin": self.legacy_admin,
        }

    def principal(self) -> Principal:
        return Principal(
            kind="apikey",
            id=self.id,
            name=self.name,
            email=None,
            role=self.role,
            roles=[self.role],
            studio_id=self.studio_id,
            tier=self.tier,
        )


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _row_to_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        tier=row["tier"],
        role=row["role"],
        studio_id=row["studio_id"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        legacy_admin=bool(row["legacy_admin"]),
    )


def create_key(
    storage: Storage, name: str, tier: str = "standard", role: str = MIXER_ROLE, studio_id: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key. Returns ``(record, secret)``; the secret is not stored and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("name must not be empty")
    if tier not in TIERS:
        raise ApiKeyError(f"tier={tier!r} is not one of {list(TIERS)}")
    if role not in KEY_ROLES:
        raise ApiKeyError(f"role={role!r} is not one of {list(KEY_ROLES)}")
    if role == "studio" and not studio_id:
        raise ApiKeyError("role 'studio' needs a studio id")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    now = time.time()
    storage.execute(
        "INSERT INTO api_keys(id, name, key_hash, prefix, tier, role, studio_id, created_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
        (key_id, name, hash_key(secret), secret[:8], tier, role, studio_id, now),
    )
    rec = get_key(storage, key_id)
    assert rec is not None
    return rec, secret


def get_key(storage: Storage, key_id: str) -> ApiKey | None:
    """The key with id ``key_id`` (active or revoked)."""
    row = storage.fetchone("SELECT * FROM api_keys WHERE id=?", (key_id,))
    return _row_to_key(row) if row else None


def list_keys(storage: Storage, include_revoked: bool = True) -> list[ApiKey]:
    """All keys, oldest first."""
    sql = "SELECT * FROM api_keys"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    return [_row_to_key(r) for r in storage.fetchall(sql + " ORDER BY created_at, id")]


def revoke_key(storage: Storage, key_id: str) -> bool:
    """Revoke a key; False when no active key has that id (or prefix)."""
    n = storage.execute(
        "UPDATE api_keys SET revoked_at=? WHERE (id=? OR prefix=?) AND revoked_at IS NULL",
        (time.time(), key_id, key_id),
    )
    return n > 0


def lookup_key(storage: Storage, secret: str) -> ApiKey | None:
    """The active key whose secret is ``secret``, else ``None``."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    row = storage.fetchone(
        "SELECT * FROM api_keys WHERE key_hash=? AND revoked_at IS NULL", (hash_key(secret),)
    )
    return _row_to_key(row) if row else None


def make_authenticator(storage: Storage, cache_seconds: float = 1.0):
    """An authenticator (``async (token, request) -> Principal | None``) for API keys."""
    cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def apikey_authenticator(token: str, request: Any) -> Principal | None:
        if not token.startswith(KEY_PREFIX):
            return None
        h = hash_key(token)
        now = time.monotonic()
        hit = cache.get(h)
        if hit is not None and now - hit[0] < cache_seconds:
            rec = hit[1]
        else:
            rec = await storage.run(lookup_key, storage, token)
            if len(cache) > 10000:
                cache.clear()
            cache[h] = (now, rec)
            if rec is not None:
                await storage.aexecute("UPDATE api_keys SET last_used_at=? WHERE id=?", (time.time(), rec.id))
        return rec.principal() if rec is not None else None

    return apikey_authenticator
