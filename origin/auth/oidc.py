"""OIDC login (authorization code + PKCE + state) and Bearer JWT verification.

The issuer is Entra ID by default (``https://login.microsoftonline.com/{tenant}/v2.0`` from
``oidc_tenant_id``) or any OIDC provider (``oidc_issuer``); endpoints come from the issuer's
discovery document (``/.well-known/openid-configuration``), keys from its JWKS (cached, refreshed
when an unknown ``kid`` shows up, at most every ``JWKS_MIN_REFRESH`` seconds).

Tokens are verified with PyJWT: signature (asymmetric algorithms only), ``iss``, ``aud``
(the configured audience, the client id or ``api://{client id}``), ``exp``/``nbf``/``iat``
with 60 s leeway. A token revoked by ``/auth/logout`` is refused until it expires.

Roles: the ``roles`` claim (``admin`` / ``studio``, case-insensitive; ``Audyn.Admin`` /
``Audyn.Studio`` app-role values are accepted too). ``oidc_admin_group``, when set, is a value
of the ``roles`` or ``groups`` claim that also means admin. The studio of a studio user is the
``studio_id`` claim, else the first match of the studio mapping (``oidc_studio_map``: JSON
object or ``key=studio,key=studio``; keys are a subject, object id, e-mail/UPN or group id).

Settings used (``AIMIXER_`` env vars or the TOML file; the ones not in
:class:`origin.config.Settings` are read from the environment):

``oidc_issuer``, ``oidc_tenant_id``, ``oidc_client_id``, ``oidc_client_secret``,
``oidc_redirect_uri``, ``oidc_jwks_url``, ``oidc_admin_group``, ``oidc_audience``,
``oidc_scopes`` (default ``openid profile email``), ``oidc_studio_map``.
Entra-style aliases ``ENTRA_TENANT_ID``, ``ENTRA_CLIENT_ID``, ``ENTRA_CLIENT_SECRET``,
``ENTRA_REDIRECT_URI`` are accepted as well.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from origin.auth import Principal
from origin.jsonutil import loads
from origin.storage import Schema, Storage

__all__ = [
    "OIDCConfig",
    "OIDCClient",
    "OIDCError",
    "TokenError",
    "pkce_pair",
    "principal_from_claims",
    "make_authenticator",
    "token_fingerprint",
]

log = logging.getLogger("origin.auth.oidc")

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_S = 60
JWKS_TTL = 3600.0
JWKS_MIN_REFRESH = 10.0
DISCOVERY_TTL = 24 * 3600.0
STATE_TTL = 600.0

ADMIN_ROLE_VALUES = {"admin", "audyn.admin", "administrator"}
STUDIO_ROLE_VALUES = {"studio", "audyn.studio"}

OIDC_SCHEMA = Schema(
    "oidc",
    [
        """
        CREATE TABLE IF NOT EXISTS oidc_pending (
            state TEXT PRIMARY KEY,
            verifier TEXT NOT NULL,
            nonce TEXT NOT NULL,
            return_to TEXT,
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE IF NOT EXISTS oidc_revoked (
            fingerprint TEXT PRIMARY KEY,
            expires_at DOUBLE PRECISION NOT NULL
        );
        """
    ],
)


class OIDCError(Exception):
    """A login-flow failure: ``status`` and a user-facing ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class TokenError(Exception):
    """A Bearer token was refused (message says why: expired, audience, signature...)."""


def _setting(settings: Any, name: str, *aliases: str) -> str | None:
    v = getattr(settings, name, None) if settings is not None else None
    if v not in (None, ""):
        return str(v)
    extra = getattr(settings, "extra", None) or {}
    oidc_tbl = extra.get("oidc") if isinstance(extra, dict) else None
    if isinstance(oidc_tbl, dict) and name.startswith("oidc_") and oidc_tbl.get(name[5:]) not in (None, ""):
        return str(oidc_tbl[name[5:]])
    for env in (f"AIMIXER_{name.upper()}", *aliases):
        if os.environ.get(env):
            return os.environ[env]
    return None


def _parse_map(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            data = loads(raw)
        except ValueError as exc:
            raise ValueError(f"oidc_studio_map is not valid JSON: {exc}") from exc
        return {str(k).lower(): str(v) for k, v in data.items()}
    out: dict[str, str] = {}
    for item in raw.split(","):
        if "=" in item:
            k, _, v = item.partition("=")
            out[k.strip().lower()] = v.strip()
    return out


@dataclass
class OIDCConfig:
    """Resolved OIDC settings (see the module docstring)."""

    issuer: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    audience: str | None = None
    scopes: str = "openid profile email"
    jwks_url: str | None = None
    admin_group: str | None = None
    studio_map: dict[str, str] = field(default_factory=dict)
    extra_issuers: list[str] = field(default_factory=list)
    http_timeout: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.issuer and self.client_id)

    @property
    def audiences(self) -> list[str]:
        out = [a for a in (self.audience, self.client_id) if a]
        if self.client_id:
            out.append(f"api://{self.client_id}")
        return list(dict.fromkeys(out))

    @property
    def issuers(self) -> list[str]:
        out: list[str] = []
        for i in (self.issuer, *self.extra_issuers):
            if i:  # accept the issuer with and without a trailing slash (providers differ)
                out += [i, i.rstrip("/"), i.rstrip("/") + "/"]
        return list(dict.fromkeys(out))

    @classmethod
    def from_settings(cls, settings: Any) -> OIDCConfig:
        tenant = _setting(settings, "oidc_tenant_id", "ENTRA_TENANT_ID", "AZURE_TENANT_ID")
        issuer = _setting(settings, "oidc_issuer", "OIDC_ISSUER")
        extra: list[str] = []
        if not issuer and tenant:
            issuer = f"https://login.microsoftonline.com/{tenant}/v2.0"
        if issuer and tenant and "login.microsoftonline.com" in issuer:
            # Entra v1 access tokens carry the sts.windows.net issuer
            extra.append(f"https://sts.windows.net/{tenant}/")
        return cls(
            issuer=issuer.rstrip("/") if issuer else None,
            client_id=_setting(settings, "oidc_client_id", "ENTRA_CLIENT_ID", "AZURE_CLIENT_ID"),
            client_secret=_setting(
                settings, "oidc_client_secret", "ENTRA_CLIENT_SECRET", "AZURE_CLIENT_SECRET"
            ),
            redirect_uri=_setting(settings, "oidc_redirect_uri", "ENTRA_REDIRECT_URI"),
            audience=_setting(settings, "oidc_audience"),
            scopes=_setting(settings, "oidc_scopes") or "openid profile email",
            jwks_url=_setting(settings, "oidc_jwks_url"),
            admin_group=_setting(settings, "oidc_admin_group"),
            studio_map=_parse_map(_setting(settings, "oidc_studio_map")),
            extra_issuers=extra,
        )


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``(verifier, S256 challenge)`` pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def token_fingerprint(token: str) -> str:
    """SHA-256 hex digest of a token (what the revocation list stores)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _claim_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def principal_from_claims(claims: dict[str, Any], config: OIDCConfig) -> Principal:
    """Map verified token claims to a :class:`Principal` (role ``"none"`` when no role is granted)."""
    raw_roles = _claim_list(claims.get("roles"))
    groups = _claim_list(claims.get("groups"))
    lowered = {r.lower() for r in raw_roles}
    is_admin = bool(lowered & ADMIN_ROLE_VALUES)
    if config.admin_group and (config.admin_group in raw_roles or config.admin_group in groups):
        is_admin = True
    is_studio = bool(lowered & STUDIO_ROLE_VALUES)
    roles: list[str] = []
    if is_admin:
        roles.append("admin")
    if is_studio:
        roles.append("studio")
    role = "admin" if is_admin else ("studio" if is_studio else "none")
    studio_id = claims.get("studio_id") or claims.get("extension_studio_id")
    if not studio_id and config.studio_map:
        keys = [
            claims.get("sub"),
            claims.get("oid"),
            claims.get("email"),
            claims.get("preferred_username"),
            claims.get("upn"),
            *groups,
        ]
        for k in keys:
            if k and str(k).lower() in config.studio_map:
                studio_id = config.studio_map[str(k).lower()]
                break
    uid = str(claims.get("oid") or claims.get("sub") or "")
    email = claims.get("email") or claims.get("preferred_username") or claims.get("upn")
    return Principal(
        kind="user",
        id=uid,
        name=str(claims.get("name") or email or uid),
        email=str(email) if email else None,
        role=role,
        roles=roles or ["none"],
        studio_id=str(studio_id) if studio_id else None,
    )


class OIDCClient:
    """Discovery, JWKS cache, login-state store, code exchange and token verification.

    Parameters
    ----------
    config : OIDCConfig
    storage : Storage, optional
        Where pending logins (state, PKCE verifier, nonce) and revoked tokens live, so any
        worker process can finish a login. Without it they are kept in memory.
    """

    def __init__(self, config: OIDCConfig, storage: Storage | None = None) -> None:
        self.config = config
        self.storage = storage
        self._discovery: dict[str, Any] | None = None
        self._discovery_at = 0.0
        self._jwks: dict[str, jwt.PyJWK] = {}
        self._jwks_at = 0.0
        self._jwks_lock = asyncio.Lock()
        self._mem_pending: dict[str, tuple[str, str, str | None, float]] = {}
        self._mem_revoked: dict[str, float] = {}
        self.jwks_fetches = 0

    # -- HTTP -----------------------------------------------------------------------------------
    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.config.http_timeout) as c:
                r = await c.get(url)
        except httpx.HTTPError as exc:
            raise OIDCError(502, f"Identity provider unreachable: {exc.__class__.__name__}") from exc
        if r.status_code != 200:
            raise OIDCError(502, f"Identity provider answered {r.status_code} for {url}")
        try:
            data = r.json()
        except ValueError as exc:
            raise OIDCError(502, "Identity provider sent invalid JSON") from exc
        if not isinstance(data, dict):
            raise OIDCError(502, "Identity provider sent an unexpected document")
        return data

    async def discovery(self) -> dict[str, Any]:
        """The issuer's discovery document (cached for a day)."""
        if not self.config.configured:
            raise OIDCError(503, "OIDC login is not configured")
        if self._discovery is None or time.monotonic() - self._discovery_at > DISCOVERY_TTL:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"  # type: ignore[union-attr]
            doc = await self._get_json(url)
            issuer = str(doc.get("issuer", "")).rstrip("/")
            if issuer and issuer != self.config.issuer.rstrip("/"):  # type: ignore[union-attr]
                raise OIDCError(502, f"Discovery issuer {issuer!r} does not match the configured issuer")
            self._discovery = doc
            self._discovery_at = time.monotonic()
        return self._discovery

    async def _load_jwks(self) -> None:
        url = self.config.jwks_url or (await self.discovery()).get("jwks_uri")
        if not url:
            raise OIDCError(502, "Identity provider has no jwks_uri")
        doc = await self._get_json(str(url))
        keys: dict[str, jwt.PyJWK] = {}
        for k in doc.get("keys", []):
            if not isinstance(k, dict) or k.get("use", "sig") != "sig":
                continue
            try:
                pk = jwt.PyJWK(k)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue
            keys[str(k.get("kid", ""))] = pk
        self.jwks_fetches += 1
        self._jwks = keys
        self._jwks_at = time.monotonic()

    async def signing_key(self, kid: str) -> jwt.PyJWK:
        """The JWKS key ``kid`` (refetches the JWKS once when it is unknown or stale)."""
        now = time.monotonic()
        if kid in self._jwks and now - self._jwks_at < JWKS_TTL:
            return self._jwks[kid]
        async with self._jwks_lock:
            if kid in self._jwks and time.monotonic() - self._jwks_at < JWKS_TTL:
                return self._jwks[kid]
            if not self._jwks or time.monotonic() - self._jwks_at > JWKS_MIN_REFRESH:
                try:
                    await self._load_jwks()
                except OIDCError as exc:
                    raise TokenError(f"Cannot fetch signing keys: {exc.detail}") from exc
        if kid not in self._jwks:
            if len(self._jwks) == 1 and not kid:
                return next(iter(self._jwks.values()))
            raise TokenError("Token signed with an unknown key")
        return self._jwks[kid]

    # -- verification ---------------------------------------------------------------------------
    async def verify(
        self, token: str, *, audience: list[str] | None = None, nonce: str | None = None
    ) -> dict[str, Any]:
        """Verify a JWT and return its claims.

        Raises
        ------
        TokenError
            With the reason (malformed, unknown key, bad signature, expired, wrong issuer or
            audience, revoked).
        """
        if not self.config.configured:
            raise TokenError("OIDC is not configured")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("Malformed token") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenError(f"Token algorithm {alg!r} is not allowed")
        key = await self.signing_key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=audience or self.config.audiences,
                issuer=self.config.issuers,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("Token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError("Token audience is not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenError("Token issuer is not accepted") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenError("Token signature is invalid") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(f"Token lacks the {exc.claim!r} claim") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"Invalid token: {exc}") from exc
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenError("Token nonce does not match the login")
        if await self.is_revoked(token):
            raise TokenError("Token has been revoked (logged out)")
        return claims

    # -- pending logins -------------------------------------------------------------------------
    async def begin_login(self, return_to: str | None = None) -> str:
        """Create state + PKCE + nonce and return the provider's authorization URL."""
        doc = await self.discovery()
        endpoint = doc.get("authorization_endpoint")
        if not endpoint:
            raise OIDCError(502, "Identity provider has no authorization_endpoint")
        if not self.config.redirect_uri:
            raise OIDCError(503, "OIDC redirect URI is not configured")
        state = secrets.token_urlsafe(24)
        nonce = secrets.token_urlsafe(16)
        verifier, challenge = pkce_pair()
        now = time.time()
        if self.storage is not None:
            await self.storage.aexecute("DELETE FROM oidc_pending WHERE created_at < ?", (now - STATE_TTL,))
            await self.storage.aexecute(
                "INSERT INTO oidc_pending(state, verifier, nonce, return_to, created_at) VALUES(?,?,?,?,?)",
                (state, verifier, nonce, return_to, now),
            )
        else:
            self._mem_pending = {k: v for k, v in self._mem_pending.items() if now - v[3] < STATE_TTL}
            self._mem_pending[state] = (verifier, nonce, return_to, now)
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "response_mode": "query",
        }
        sep = "&" if "?" in str(endpoint) else "?"
        return f"{endpoint}{sep}{urlencode(params)}"

    async def _take_pending(self, state: str) -> tuple[str, str, str | None]:
        now = time.time()
        if self.storage is not None:

            def take(conn: Any) -> Any:
                row = conn.execute(
                    "SELECT verifier, nonce, return_to, created_at FROM oidc_pending WHERE state=?", (state,)
                ).fetchone()
                conn.execute("DELETE FROM oidc_pending WHERE state=?", (state,))
                return row

            row = await self.storage.atransaction(take)
            if row is None or now - row["created_at"] > STATE_TTL:
                raise OIDCError(400, "Invalid or expired login state")
            return row["verifier"], row["nonce"], row["return_to"]
        item = self._mem_pending.pop(state, None)
        if item is None or now - item[3] > STATE_TTL:
            raise OIDCError(400, "Invalid or expired login state")
        return item[0], item[1], item[2]

    async def finish_login(self, code: str, state: str) -> tuple[dict[str, Any], Principal, str | None]:
        """Exchange ``code`` (checking ``state``, PKCE, nonce) and return
        ``(token response, principal, return_to)``; the response is the spec's shape."""
        verifier, nonce, return_to = await self._take_pending(state)
        doc = await self.discovery()
        endpoint = doc.get("token_endpoint")
        if not endpoint:
            raise OIDCError(502, "Identity provider has no token_endpoint")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "client_id": self.config.client_id,
            "code_verifier": verifier,
        }
        if self.config.client_secret:
            form["client_secret"] = self.config.client_secret
        try:
            async with httpx.AsyncClient(timeout=self.config.http_timeout) as c:
                r = await c.post(str(endpoint), data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OIDCError(502, f"Token endpoint unreachable: {exc.__class__.__name__}") from exc
        try:
            tok = r.json()
        except ValueError:
            tok = {}
        if r.status_code != 200 or not isinstance(tok, dict):
            err = tok.get("error_description") or tok.get("error") if isinstance(tok, dict) else None
            raise OIDCError(400, f"Token exchange failed: {err or r.status_code}")
        id_token = tok.get("id_token")
        if not id_token:
            raise OIDCError(400, "Token exchange failed: no id_token in the response")
        try:
            id_claims = await self.verify(id_token, audience=[self.config.client_id or ""], nonce=nonce)
        except TokenError as exc:
            raise OIDCError(400, f"Invalid id_token: {exc}") from exc
        # The provider's access token is returned if it is meant for us (verifiable with our
        # audience); otherwise (e.g. an Entra Graph token) the verified id_token is the Bearer.
        bearer, claims = id_token, id_claims
        access = tok.get("access_token")
        if access:
            try:
                claims = await self.verify(access)
                bearer = access
            except TokenError:
                claims = id_claims
        merged = {**id_claims, **{k: v for k, v in claims.items() if k in ("roles", "groups", "studio_id")}}
        principal = principal_from_claims(merged, self.config)
        expires_in = int(max(0, float(claims.get("exp", time.time())) - time.time()))
        body = {
            "access_token": bearer,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "user": user_dict(principal, include_studio=True),
        }
        return body, principal, return_to

    async def end_session_url(self) -> str | None:
        try:
            doc = await self.discovery()
        except OIDCError:
            return None
        return doc.get("end_session_endpoint")

    # -- revocation -----------------------------------------------------------------------------
    async def revoke(self, token: str, expires_at: float) -> None:
        fp = token_fingerprint(token)
        if self.storage is not None:
            now = time.time()
            await self.storage.aexecute("DELETE FROM oidc_revoked WHERE expires_at < ?", (now - LEEWAY_S,))
            await self.storage.aexecute(
                "INSERT INTO oidc_revoked(fingerprint, expires_at) VALUES(?, ?) "
                "ON CONFLICT(fingerprint) DO UPDATE SET expires_at=excluded.expires_at",
                (fp, expires_at),
            )
        else:
            self._mem_revoked[fp] = expires_at

    async def is_revoked(self, token: str) -> bool:
        return await self.fingerprint_revoked(token_fingerprint(token))

    async def fingerprint_revoked(self, fp: str) -> bool:
        """True when the token with fingerprint ``fp`` was logged out (see :func:`token_fingerprint`)."""
        if self.storage is not None:
            row = await self.storage.afetchone("SELECT 1 FROM oidc_revoked WHERE fingerprint=?", (fp,))
            return row is not None
        return fp in self._mem_revoked


def user_dict(p: Principal, *, include_studio: bool = True) -> dict[str, Any]:
    """The spec's ``User`` object for a principal."""
    roles = [r for r in p.roles if r in ("admin", "studio")]
    out: dict[str, Any] = {
        "id": p.id,
        "email": p.email,
        "name": p.name,
        "role": p.role,
        "roles": roles,
    }
    if include_studio:
        out["studio_id"] = p.studio_id
    return out


def make_authenticator(client: OIDCClient):
    """The authenticator for :func:`origin.auth.add_authenticator`: accepts JWTs only.

    On refusal it records the reason on ``g.token_error`` (shown in the 401 ``detail``).
    """
    from quart import g, has_request_context, has_websocket_context

    async def oidc_authenticator(token: str, request: Any) -> Principal | None:
        if token.count(".") != 2 or not client.config.configured:
            return None
        try:
            claims = await client.verify(token)
        except TokenError as exc:
            if has_request_context() or has_websocket_context():
                g.token_error = str(exc)
            return None
        p = principal_from_claims(claims, client.config)
        if has_request_context() or has_websocket_context():
            g.token_claims = claims
        return p

    return oidc_authenticator
