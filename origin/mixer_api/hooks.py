"""Webhook subscriptions: ``POST /webhooks``, ``GET /webhooks``, ``DELETE /webhooks/{id}``,
``GET /webhooks/{id}/deliveries`` (delivery log). Subscriptions belong to the caller's key.

``POST`` body: ``url`` (http/https), ``events`` (subset of ``processing.complete``,
``genre.detected``, ``error.occurred``, ``job.complete``, ``job.failed``; default all), optional ``secret`` (8-256 chars; generated
when absent). The answer (201) contains the secret; later listings do not. See
:mod:`origin.webhooks` for payloads, signatures and retries.
"""

from __future__ import annotations

from quart import Blueprint, Response

from origin.errors import APIError
from origin.jsonutil import dumps
from origin.openapi import doc, schema
from origin.webhooks import EVENTS

from .common import principal_owner, read_json, service
from .models import WebhookRequest, parse_model

__all__ = ["bp"]

bp = Blueprint("mixer_webhooks", __name__)

WEBHOOK = schema(
    "Webhook",
    {
        "type": "object",
        "required": ["id", "url", "events"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "secret": {"type": "string"},
            "createdAt": {"type": "integer"},
        },
    },
)


@bp.post("/webhooks")
@doc(summary="Subscribe a URL to events", request=WebhookRequest, responses={201: WEBHOOK}, tags=["webhooks"])
async def create_webhook() -> Response:
    req = parse_model(WebhookRequest, await read_json())
    hook = await service().webhooks.create(principal_owner(), req.url, req.events, req.secret)
    return Response(dumps(hook), status=201, content_type="application/json")


@bp.get("/webhooks")
@doc(
    summary="List your webhooks",
    responses={200: {"type": "object", "properties": {"webhooks": {"type": "array", "items": WEBHOOK}}}},
    tags=["webhooks"],
)
async def list_webhooks() -> Response:
    hooks = await service().webhooks.list(principal_owner())
    return Response(dumps({"webhooks": hooks, "events": list(EVENTS)}), content_type="application/json")


@bp.delete("/webhooks/<hook_id>")
@doc(
    summary="Delete a webhook",
    responses={204: {"description": "deleted"}},
    tags=["webhooks"],
    errors=(401, 403, 404),
)
async def delete_webhook(hook_id: str) -> Response:
    if not await service().webhooks.delete(principal_owner(), hook_id):
        raise APIError(404, "WEBHOOK_NOT_FOUND", f"No webhook {hook_id!r}", {"id": hook_id})
    return Response(b"", status=204)


@bp.get("/webhooks/<hook_id>/deliveries")
@doc(
    summary="Delivery log of a webhook (newest first)",
    responses={200: {"type": "object"}},
    tags=["webhooks"],
    errors=(401, 403, 404),
)
async def webhook_deliveries(hook_id: str) -> Response:
    rows = await service().webhooks.deliveries(principal_owner(), hook_id)
    if rows is None:
        raise APIError(404, "WEBHOOK_NOT_FOUND", f"No webhook {hook_id!r}", {"id": hook_id})
    return Response(dumps({"deliveries": rows}), content_type="application/json")
