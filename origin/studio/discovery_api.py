"""``/api/discovery``: Audyn's SAP discovery endpoints over our listener (:mod:`.discovery`).

* ``GET /status`` -> ``{running, multicast_addr, packets_received, packets_invalid,
  announcements, deletions, sdp_parse_errors, active_streams}``
* ``GET /streams`` -> announced streams (Audyn's ``StreamInfo`` fields plus ours: ``id``,
  ``session_name``, ``multicast_addr``, ``port``, ``encoding``, ``sample_rate``, ``channels``,
  ``channel_labels``, ``ptime`` (ms), ``samples_per_packet``, ``origin_ip``, ``sdp``...)
* ``GET /streams/{id}`` and ``GET /streams/{id}/sdp`` -> one stream / its SDP text
* ``POST /start`` / ``POST /stop`` (admin) -> start/stop listening (``{"message", "status"}``)

Import a stream with ``POST /api/sources/from-discovery`` (:mod:`.sources`).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from origin.errors import StudioError
from origin.studio.authz import admin_required, login_required
from origin.studio.common import service
from origin.studio.discovery import (
    audyn_stream,
    discovered,
    discovered_by_id,
    discovery_status,
    start_sap,
    stop_sap,
)
from origin.studio.models import studio_doc

bp = Blueprint("studio_discovery", __name__, url_prefix="/api/discovery")


@bp.get("/status")
@studio_doc(summary="SAP discovery status", tags=["discovery"])
@login_required
async def status() -> Any:
    return discovery_status(service())


@bp.get("/streams")
@studio_doc(summary="Announced streams", tags=["discovery"])
@login_required
async def streams() -> Any:
    return [audyn_stream(d) for d in discovered(service())]


def _stream(stream_id: str) -> dict[str, Any]:
    d = discovered_by_id(service(), stream_id)
    if d is None:
        raise StudioError(404, f"Stream {stream_id} not found (not announced now)")
    return d


@bp.get("/streams/<stream_id>")
@studio_doc(summary="One announced stream", tags=["discovery"])
@login_required
async def stream(stream_id: str) -> Any:
    return audyn_stream(_stream(stream_id))


@bp.get("/streams/<stream_id>/sdp")
@studio_doc(
    summary="An announced stream's SDP",
    responses={200: {"description": "SDP", "content": {"application/sdp": {"schema": {"type": "string"}}}}},
    tags=["discovery"],
)
@login_required
async def stream_sdp(stream_id: str) -> Any:
    d = _stream(stream_id)
    return {"stream_id": stream_id, "session_name": d["name"], "sdp": d.get("sdp")}


@bp.post("/start")
@studio_doc(summary="Start SAP discovery", tags=["discovery"])
@admin_required
async def start() -> Any:
    svc = service()
    if svc.sap is not None:
        return {"message": "Discovery already running", "status": "ok"}
    svc.sap = await start_sap(svc)
    if svc.sap is None:
        raise StudioError(503, "Discovery could not start: cannot join the SAP multicast groups on this host")
    return {"message": "Discovery started", "status": "ok"}


@bp.post("/stop")
@studio_doc(summary="Stop SAP discovery", tags=["discovery"])
@admin_required
async def stop() -> Any:
    svc = service()
    if svc.sap is None:
        return {"message": "Discovery not running", "status": "ok"}
    listener, svc.sap = svc.sap, None
    await stop_sap(listener)
    return {"message": "Discovery stopped", "status": "ok"}
