"""Prometheus metrics of one app (its own :class:`prometheus_client.CollectorRegistry`).

=============================================  =========  ======================================
metric                                         type       labels / meaning
=============================================  =========  ======================================
``ai_mixer_requests_total``                    counter    method, endpoint (route rule without
                                                          ``/v1``; ``unmatched`` for 404s), status
``ai_mixer_processing_duration_seconds``       histogram  DSP time per 960-sample frame
``ai_mixer_request_duration_seconds``          histogram  endpoint; whole request handling time
``ai_mixer_samples_processed_total``           counter    samples through the DSP chain
``ai_mixer_rate_limited_total``                counter    requests refused by the rate limiter
``ai_mixer_active_sessions``                   gauge      mixer sessions in memory
``ai_mixer_websocket_connections``             gauge      open ``/ws`` connections
``ai_mixer_genre_detections_total``            counter    genre; session genre changes
``ai_mixer_webhook_deliveries_total``          counter    event, result (delivered|failed|dropped)
=============================================  =========  ======================================
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["Metrics", "CONTENT_TYPE_LATEST"]

PROCESSING_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The app's metric objects and their registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests_total = Counter(
            "ai_mixer_requests", "Total number of requests", ["method", "endpoint", "status"], registry=r
        )
        self.processing_duration = Histogram(
            "ai_mixer_processing_duration_seconds",
            "Audio processing duration",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.request_duration = Histogram(
            "ai_mixer_request_duration_seconds",
            "Request handling duration",
            ["endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.samples_processed = Counter(
            "ai_mixer_samples_processed", "Audio samples processed by the DSP chain", registry=r
        )
        self.rate_limited = Counter(
            "ai_mixer_rate_limited", "Requests refused by the rate limiter", registry=r
        )
        self.active_sessions = Gauge("ai_mixer_active_sessions", "Mixer sessions in memory", registry=r)
        self.ws_connections = Gauge("ai_mixer_websocket_connections", "Open /ws connections", registry=r)
        self.genre_detections = Counter(
            "ai_mixer_genre_detections", "Session genre changes", ["genre"], registry=r
        )
        self.webhook_deliveries = Counter(
            "ai_mixer_webhook_deliveries", "Webhook deliveries", ["event", "result"], registry=r
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
