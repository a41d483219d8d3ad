"""The AI Mixer API (``../shared/spec/ai-mixer-api.md``) as Quart blueprints.

One blueprint per domain, each registered twice: at ``/`` and under ``/v1``:

==================  ===================================================================
module              routes
==================  ===================================================================
``audio``           ``POST /process-audio``, ``POST /stream-audio``, ``WS /ws``
``features``        ``POST /extract-features``, ``POST /classify-genre``
``config``          ``GET/PUT /config``
``monitoring``      ``GET /health``, ``GET /metrics``, ``GET /stats``, ``GET /openapi.json``
``mobile``          ``POST /mobile/session``
``hooks``           ``POST/GET /webhooks``, ``DELETE /webhooks/{id}``, ``GET /webhooks/{id}/deliveries``
==================  ===================================================================

Auth and limits (a ``before_request`` hook on the mixer blueprints): ``Authorization: Bearer``
with an API key or a mobile session token; ``/health`` and ``/openapi.json`` are public; dev mode
accepts keyless requests as the dev principal. Each key (a mobile token counts against the key
that created it; anonymous callers against their IP) may make ``rate_limit_<tier>`` requests per
UTC minute; every non-studio response carries ``X-RateLimit-*``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from quart import Quart, Response, current_app, g, request

from origin.app import set_body_limit
from origin.auth import add_authenticator, authenticate
from origin.auth.apikeys import make_authenticator
from origin.errors import APIError, is_studio_path
from origin.jobs import JobService

from . import audio, config, features, hooks, jobs, mobile, monitoring, ws
from .common import public
from .service import MixerService

__all__ = ["init_app", "BLUEPRINTS", "public"]

log = logging.getLogger("origin.mixer")

BLUEPRINTS = (audio.bp, features.bp, config.bp, monitoring.bp, mobile.bp, hooks.bp, jobs.bp)
_BP_NAMES = {bp.name for bp in BLUEPRINTS}


def _is_mixer_blueprint(name: str | None) -> bool:
    if not name:
        return False
    return name in _BP_NAMES or (name.startswith("v1_") and name[3:] in _BP_NAMES)


def _endpoint_label() -> str:
    rule = request.url_rule
    if rule is None:
        return "unmatched"
    r = rule.rule
    return r[3:] if r.startswith("/v1/") else r


def _client_bucket() -> str:
    return "ip:" + (request.remote_addr or "unknown")


def init_app(app: Quart) -> None:
    """Register the mixer API on ``app`` (engines, authenticators, blueprints, hooks)."""
    settings = app.extensions["settings"]
    storage = app.extensions["storage"]
    svc = MixerService(settings, storage, app.extensions["secret_key"], shared=app.extensions.get("shared"))
    app.extensions["mixer"] = svc
    add_authenticator(app, make_authenticator(storage))
    add_authenticator(app, mobile.make_token_authenticator(app))

    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
        app.register_blueprint(bp, url_prefix="/v1", name=f"v1_{bp.name}")
    ws.install(app)  # /ws and /v1/ws: a lean ASGI path in front of Quart's dispatch
    stream_limit = int(settings.stream_max_seconds * 48000 * 4)
    for path in ("/stream-audio", "/v1/stream-audio"):
        set_body_limit(app, path, stream_limit)
    for path in ("/jobs", "/v1/jobs"):
        set_body_limit(app, path, settings.job_max_bytes)
    job_service = JobService(settings, storage)
    app.extensions["jobs"] = job_service
    analysis_limit = features.analysis_body_limit(settings.analysis_max_seconds)
    for route in ("/extract-features", "/classify-genre"):
        for path in (route, "/v1" + route):
            set_body_limit(app, path, analysis_limit)

    @app.before_serving
    async def _start_mixer() -> None:
        await svc.start()
        await job_service.start()

    @app.after_serving
    async def _stop_mixer() -> None:
        await job_service.stop()
        await svc.stop()

    @app.before_request
    async def _guard() -> None:
        g.t0 = time.perf_counter()
        g.mixer_route = is_mixer = _is_mixer_blueprint(request.blueprint)
        if not is_mixer:
            return None
        view = current_app.view_functions.get(request.endpoint or "")
        is_public = bool(getattr(view, "__public__", False))
        principal = await authenticate()
        if principal is None and not is_public:
            rl = await _hit(_client_bucket(), settings.rate_limit_standard)
            g.rl = rl
            if not rl.allowed:
                raise _limited(rl, f"Too many requests: {rl.limit} per minute; retry in {rl.retry_after} s")
            if g.get("token_rejected"):
                msg = g.get("token_error") or "Invalid or revoked API key"
            else:
                msg = "Missing API key: send 'Authorization: Bearer <key>'"
            raise APIError(401, "UNAUTHORIZED", msg, headers={"WWW-Authenticate": "Bearer"})
        if principal is None:
            bucket, limit = _client_bucket(), settings.rate_limit_standard
        else:
            bucket, limit = principal.owner, settings.rate_limit_for(principal.tier)
        rl = await _hit(bucket, limit, fail_open=is_public)
        g.rl = rl
        if rl is not None and not rl.allowed:
            raise _limited(
                rl, f"Rate limit of {rl.limit} requests per minute exceeded; retry in {rl.retry_after} s"
            )
        return None

    async def _hit(bucket: str, limit: int, fail_open: bool = False) -> Any:
        try:
            return await svc.limiter.ahit(bucket, limit)
        except Exception as exc:  # the Redis limiter cannot count: refuse rather than guess
            if svc.shared is None:
                raise
            log.warning("rate limiter unavailable: %s", exc)
            if fail_open:  # public views (/health) still answer, so the edge sees the outage
                return None
            raise APIError(503, "SERVICE_UNAVAILABLE", "shared state (Redis) is unreachable; retry") from None

    def _limited(rl: Any, message: str) -> APIError:
        """The spec's 403 for a spent per-minute limit (counted in the metrics)."""
        svc.metrics.rate_limited.inc()
        return APIError(
            403,
            "RATE_LIMIT_EXCEEDED",
            message,
            {"limit": rl.limit, "reset": rl.reset, "retryAfter": rl.retry_after},
            headers=rl.headers(),
        )

    counters: dict[tuple[str, str, int], object] = {}
    durations: dict[str, object] = {}

    @app.after_request
    async def _account(response: Response) -> Response:
        is_mixer = g.get("mixer_route")
        if not is_mixer and is_studio_path(request.path):  # mixer routes are never studio paths
            return response
        rl = g.get("rl")
        if rl is None:
            p = g.get("principal")
            with contextlib.suppress(Exception):  # no headers rather than a failed response
                if p is not None:
                    rl = await svc.limiter.apeek(p.owner, settings.rate_limit_for(p.tier))
                else:
                    rl = await svc.limiter.apeek(_client_bucket(), settings.rate_limit_standard)
        headers = response.headers
        if rl is not None and not any(k.lower() == "x-ratelimit-limit" for k, _ in headers.items()):
            headers.extend(rl.headers())
        endpoint = _endpoint_label()
        status = response.status_code
        key = (request.method, endpoint, status)
        child = counters.get(key)
        if child is None:
            child = counters[key] = svc.metrics.requests_total.labels(request.method, endpoint, str(status))
        child.inc()
        t0 = g.get("t0")
        if t0 is not None:
            hist = durations.get(endpoint)
            if hist is None:
                hist = durations[endpoint] = svc.metrics.request_duration.labels(endpoint)
            hist.observe(time.perf_counter() - t0)
        if is_mixer or request.url_rule is None:
            svc.stats.record_request(status)
        return response
