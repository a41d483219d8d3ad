"""Admission to the mixer API: one step for every HTTP route and the ``/ws`` handshake.

:func:`admit` runs in a Quart request or websocket context and either lets the caller in or
raises :class:`origin.errors.APIError` in the mixer shape:

1. **Request id**: the client's sane ``X-Request-Id`` or a fresh one (``g.request_id``), so
   the refusal and every later error of the request or connection carry the same id.
2. **Authentication**: ``Authorization: Bearer`` (on ``/ws`` also ``?token=``) with an API
   key or a mobile session token; dev mode admits keyless callers as the dev principal.
3. **Rate limit**: ``rate_limit_<tier>`` calls per UTC minute per owner (a mobile token counts
   against the key that created it). A caller without a credential is counted against its IP
   (standard tier) before it is refused, so guessing keys is limited too. Behind the edge (a
   ``trusted_proxies`` address) the IP is the one X-Forwarded-For names (:func:`client_address`).

Outcomes: ``401 UNAUTHORIZED`` (no or a bad credential, with ``WWW-Authenticate: Bearer``),
``403 RATE_LIMIT_EXCEEDED`` (``details``: ``limit``, ``reset``, ``retryAfter``; the
``X-RateLimit-*`` and ``Retry-After`` headers), ``503 SERVICE_UNAVAILABLE`` (the shared Redis
limiter cannot count: refused rather than guessed, except for public views such as
``/health``, which still answer so that the edge sees the outage).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quart import g, has_websocket_context, request, websocket

from origin.auth import Principal, authenticate
from origin.config import Settings, trusted_networks
from origin.errors import APIError, get_request_id
from origin.ratelimit import RateLimitResult

if TYPE_CHECKING:
    from .service import MixerService

__all__ = ["Admission", "admit", "client_address", "client_bucket"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

log = logging.getLogger("origin.mixer")


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted caller: who (``None`` on a public view without a credential), its rate-limit
    reading (``None`` when the shared limiter is down on a public view) and the request id."""

    principal: Principal | None
    limit: RateLimitResult | None
    request_id: str

    @property
    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` and ``X-Request-Id`` for the answer."""
        h = self.limit.headers() if self.limit is not None else {}
        h["X-Request-Id"] = self.request_id
        return h


#: X-Forwarded-For beyond this many characters is not read (the peer's own address counts)
MAX_FORWARDED_CHARS = 1024


def client_address(remote: str | None, forwarded: str | None, trusted: tuple[IPNetwork, ...]) -> str:
    """The caller's address: ``remote`` (the TCP peer) unless it is one of the ``trusted``
    proxies, then the right-most address in ``forwarded`` (X-Forwarded-For, each proxy appends
    the address it saw) that is not a trusted proxy. A malformed or over-long header is not read
    past: the last trusted hop is the best address known."""
    addr = remote or "unknown"
    if not trusted or not forwarded or len(forwarded) > MAX_FORWARDED_CHARS or not _within(addr, trusted):
        return addr
    for hop in reversed(forwarded.split(",")):
        try:
            ip = ipaddress.ip_address(hop.strip())
        except ValueError:
            return addr
        addr = str(ip)
        if not _within(addr, trusted):
            break
    return addr


def _within(addr: str, nets: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in nets)


def client_bucket(settings: Settings) -> str:
    """The rate-limit bucket of a caller without a credential: its address (:func:`client_address`
    with the ``trusted_proxies`` setting)."""
    ctx = websocket if has_websocket_context() else request
    forwarded = ",".join(ctx.headers.getlist("X-Forwarded-For"))
    return "ip:" + client_address(ctx.remote_addr, forwarded, trusted_networks(settings.trusted_proxies))


async def admit(svc: MixerService, *, public: bool = False) -> Admission:
    """Admit the current request or websocket handshake (see the module docstring).

    Sets ``g.rl`` (the reading the response's ``X-RateLimit-*`` headers show, also on a refusal)
    and ``g.principal`` (by :func:`origin.auth.authenticate`).

    Raises
    ------
    APIError
        401, 403 or 503 as above.
    """
    settings = svc.settings
    rid = get_request_id()
    principal = await authenticate()
    if principal is None and not public:
        rl = await _hit(svc, client_bucket(settings), settings.rate_limit_standard)
        g.rl = rl
        if rl is not None and not rl.allowed:
            raise _limited(svc, rl, f"Too many requests: {rl.limit} per minute; retry in {rl.retry_after} s")
        if g.get("token_rejected"):
            msg = g.get("token_error") or "Invalid or revoked API key"
        else:
            msg = "Missing API key: send 'Authorization: Bearer <key>'"
            if has_websocket_context():
                msg += " or ?token="
        raise APIError(401, "UNAUTHORIZED", msg, headers={"WWW-Authenticate": "Bearer"})
    if principal is None:
        bucket, limit = client_bucket(settings), settings.rate_limit_standard
    else:
        bucket, limit = principal.owner, settings.rate_limit_for(principal.tier)
    rl = await _hit(svc, bucket, limit, fail_open=public)
    g.rl = rl
    if rl is not None and not rl.allowed:
        raise _limited(
            svc, rl, f"Rate limit of {rl.limit} requests per minute exceeded; retry in {rl.retry_after} s"
        )
    return Admission(principal, rl, rid)


async def _hit(svc: MixerService, bucket: str, limit: int, fail_open: bool = False) -> RateLimitResult | None:
    try:
        return await svc.limiter.ahit(bucket, limit)
    except Exception as exc:  # the Redis limiter cannot count: refuse rather than guess
        if svc.shared is None:
            raise
        log.warning("rate limiter unavailable: %s", exc)
        if fail_open:
            return None
        raise APIError(503, "SERVICE_UNAVAILABLE", "shared state (Redis) is unreachable; retry") from None


def _limited(svc: MixerService, rl: RateLimitResult, message: str) -> APIError:
    """The spec's 403 for a spent per-minute limit (counted in the metrics)."""
    svc.metrics.rate_limited.inc()
    return APIError(
        403,
        "RATE_LIMIT_EXCEEDED",
        message,
        {"limit": rl.limit, "reset": rl.reset, "retryAfter": rl.retry_after},
        headers=rl.headers(),
    )
