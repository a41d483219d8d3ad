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

Auth and limits: a ``before_request`` hook runs :func:`origin.mixer_api.admission.admit` (the
step the ``/ws`` handshake runs too) on the mixer blueprints; ``/health`` and ``/openapi.json``
are public. Every non-studio response carries ``X-RateLimit-*``.
"""

from __future__ import annotations

import contextlib
import time

from prometheus_client import Counter, Histogram
from quart import Quart, Response, current_app, g, request

from origin.app import set_body_limit
from origin.auth import add_authenticator
from origin.auth.apikeys import make_authenticator
from origin.errors import is_studio_path
from origin.jobs import JobService

from . import audio, config, features, hooks, jobs, mobile, monitoring, ws
from .admission import admit, client_bucket
from .common import public
from .service import MixerService

__all__ = ["init_app", "BLUEPRINTS", "public"]

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
        if is_mixer:
            view = current_app.view_functions.get(request.endpoint or "")
            await admit(svc, public=bool(getattr(view, "__public__", False)))

    counters: dict[tuple[str, str, int], Counter] = {}
    durations: dict[str, Histogram] = {}

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
                    rl = await svc.limiter.apeek(client_bucket(settings), settings.rate_limit_standard)
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
