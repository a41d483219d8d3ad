"""Who is calling: :class:`Principal` and the app's authenticator chain.

An *authenticator* is ``async def auth(token: str, request) -> Principal | None``. The chain
lives on ``app.extensions["authenticators"]`` (add with :func:`add_authenticator`); the first one
that returns a principal wins. The mixer API registers API keys (``origin.auth.apikeys``) and
mobile session tokens; the studio registers OIDC JWTs.

:func:`authenticate` reads ``Authorization: Bearer <token>`` (or, for WebSockets that cannot set
headers, a short-lived token in the ``token`` / ``api_key`` query parameter), runs the chain and caches the result on
``g``. With no token and dev mode on, the caller is the dev admin (:func:`dev_principal`). A token
that no authenticator accepts is *not* downgraded to the dev principal: it is rejected, and so
is a credential in the URL of a plain HTTP request or an API key in the URL of a WebSocket
(:func:`url_credential_refusal`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from quart import Quart, current_app, g, has_request_context, has_websocket_context, request, websocket

__all__ = [
    "Principal",
    "Authenticator",
    "dev_principal",
    "add_authenticator",
    "authenticate",
    "current_principal",
    "token_alive",
    "RECHECK_S",
    "bearer_token",
    "url_credential_refusal",
    "allow_url_token",
    "TIERS",
    "ROLES",
]

log = logging.getLogger("origin.auth")

TIERS = ("standard", "premium", "enterprise")
ROLES = ("admin", "studio")

_UNSET = object()


@dataclass
class Principal:
    """An authenticated caller.

    Attributes
    ----------
    kind : str
        ``"dev"`` (dev mode, no token), ``"apikey"``, ``"session"`` (mobile session token) or
        ``"user"`` (OIDC login).
    id : str
        Stable id: the API key id, the user's subject, ``"dev-user-001"``. Rate limits, sessions
        and webhooks are scoped by :attr:`owner_id`.
    name, email : str
        Display data.
    role : str
        ``"admin"`` or ``"studio"`` (studio API scoping).
    roles : list of str
    studio_id : str or None
        The studio a ``"studio"`` principal is limited to.
    tier : str
        Rate-limit tier: ``standard``, ``premium``, ``enterprise``.
    owner_id : str or None
        For mobile session tokens: the id of the key that created the session (limits and
        webhooks are shared with it). Defaults to :attr:`id`.
    session_id : str or None
        For mobile session tokens: the mixer session the token belongs to.
    """

    kind: str
    id: str
    name: str = ""
    email: str | None = None
    role: str = "admin"
    roles: list[str] = field(default_factory=list)
    studio_id: str | None = None
    tier: str = "standard"
    owner_id: str | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        if not self.roles:
            self.roles = [self.role]
        if self.owner_id is None:
            self.owner_id = self.id

    @property
    def owner(self) -> str:
        """Whose limits, sessions and webhooks these are: :attr:`owner_id`, else :attr:`id`."""
        return self.owner_id or self.id

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" or "admin" in self.roles

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Authenticator = Callable[[str, Any], Awaitable[Principal | None]]


def dev_principal() -> Principal:
    """The dev-mode admin of the studio spec (standard tier)."""
    return Principal(
        kind="dev",
        id="dev-user-001",
        name="Admin User",
        email="admin@audyn.local",
        role="admin",
        roles=["admin"],
        tier="standard",
    )


def add_authenticator(app: Quart, fn: Authenticator, *, first: bool = False) -> None:
    """Append (or prepend) ``fn`` to the app's authenticator chain."""
    chain = app.extensions.setdefault("authenticators", [])
    if fn in chain:
        return
    if first:
        chain.insert(0, fn)
    else:
        chain.append(fn)


#: query parameters that may carry a credential (WebSocket upgrades only, short-lived only)
QUERY_TOKEN_NAMES = ("token", "api_key")
#: prefix of long-lived API keys (:mod:`origin.auth.apikeys`), never accepted in a URL
LONG_LIVED_PREFIX = "amx_"


def _is_websocket(req: Any) -> bool:
    from quart.wrappers import Websocket

    return isinstance(req, Websocket)


def allow_url_token(fn: Any) -> Any:
    """Mark an HTTP view whose URL may carry a short-lived token (``?token=``): media links
    (``<audio src>``, ``<a href download>``) cannot send headers. API keys stay refused."""
    fn.__url_token__ = True
    return fn


def _url_token_view(req: Any) -> bool:
    if _is_websocket(req):
        return True
    if not has_request_context():
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "__url_token__", False))


def _query_token(req: Any) -> str | None:
    if not req.query_string:
        return None
    for name in QUERY_TOKEN_NAMES:
        v = req.args.get(name)
        if v:
            return v
    return None


def bearer_token(req: Any = None) -> str | None:
    """The bearer token of ``req``: the ``Authorization`` header, else (WebSocket upgrades only)
    a short-lived token in the ``token``/``api_key`` query parameter, else ``None``.

    Credentials in URLs end up in proxy and access logs, so an API key there is never used
    (see :func:`url_credential_refusal`); browsers cannot set headers on a WebSocket or on a
    media link, so a short-lived token (mobile session token, OIDC JWT) may travel in the URL of
    a WebSocket upgrade or of a view marked with :func:`allow_url_token`."""
    if req is None:
        req = request if has_request_context() else websocket
    header = req.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return header.strip() if scheme.lower() != "bearer" else None
    v = _query_token(req)
    if v and not v.startswith(LONG_LIVED_PREFIX) and _url_token_view(req):
        return v
    return None


def url_credential_refusal(req: Any = None) -> str | None:
    """Why a credential in the URL of ``req`` is refused (``None`` when there is none, or it is
    an allowed short-lived token on a WebSocket upgrade)."""
    if req is None:
        req = request if has_request_context() else websocket
    if req.headers.get("Authorization"):
        return None
    v = _query_token(req)
    if not v:
        return None
    if not _url_token_view(req):
        return "Credentials are not accepted in the URL; send 'Authorization: Bearer <token>'"
    if v.startswith(LONG_LIVED_PREFIX):
        return (
            "API keys are not accepted in the URL; send 'Authorization: Bearer <key>' "
            "or use a short-lived session token in ?token="
        )
    return None


async def authenticate(req: Any = None, app: Quart | None = None) -> Principal | None:
    """Resolve the caller of the current request/websocket (cached on ``g``).

    Returns
    -------
    Principal or None
        ``None`` when no token was given (and dev mode is off) or no authenticator accepts it.
    """
    cached = g.get("principal", _UNSET) if (has_request_context() or has_websocket_context()) else _UNSET
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    if req is None:
        req = request if has_request_context() else websocket
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    token = bearer_token(req)
    principal: Principal | None = None
    refusal = None if token else url_credential_refusal(req)
    if refusal:
        g.token_rejected = True
        g.token_error = refusal
    elif token:
        for fn in app.extensions.get("authenticators", []):
            try:
                principal = await fn(token, req)
            except Exception:  # an authenticator bug must not turn into a 500 for others
                log.exception("authenticator %r failed", fn)
                principal = None
            if principal is not None:
                break
        g.token_rejected = principal is None
    else:
        settings = app.extensions.get("settings")
        if settings is not None and settings.dev_mode:
            principal = dev_principal()
    if has_request_context() or has_websocket_context():
        g.principal = principal
    return principal


#: seconds between re-checks of the credential of an open WebSocket (revocation, logout, expiry)
RECHECK_S = 5.0


async def token_alive(app: Quart, token: str | None) -> bool:
    """Would ``token`` still be accepted now? (``None``, the dev principal's "no token", is.)

    Open WebSockets call this every :data:`RECHECK_S` seconds, so a revoked key, a logged-out
    JWT or a token whose root died stops working on connections made before, too.
    """
    if not token:
        return True
    for fn in app.extensions.get("authenticators", []):
        try:
            if await fn(token, None) is not None:
                return True
        except Exception:  # noqa: BLE001 - a broken authenticator is a refusal here
            log.exception("authenticator %r failed", fn)
    return False


def current_principal() -> Principal | None:
    """The principal resolved for this request by :func:`authenticate` (``None`` if not yet)."""
    p = g.get("principal", None)
    return p if isinstance(p, Principal) else None
