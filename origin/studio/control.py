"""``/api/control``: Audyn's single-capture view, mapped onto one recorder.

The control API drives the *control recorder* (``studio_control_recorder``, default recorder 1)
through the same supervisor as ``/api/recorders``: ``status`` is that recorder's live state,
``config`` updates its configuration (admin only; 400 while recording), ``start``/``stop``
start/stop it. Studio users may use status/start/stop only when that recorder is assigned to
their studio.
"""

from __future__ import annotations

import time
from typing import Any

from quart import Blueprint

from origin.errors import StudioError
from origin.studio.authz import admin_required, check_recorder, login_required, principal
from origin.studio.common import (
    check_channels,
    check_redundancy,
    json_body,
    service,
    validate_recorder_config,
)

bp = Blueprint("studio_control", __name__, url_prefix="/api/control")

CONTROL_KEYS = (
    "source_type",
    "multicast_addr",
    "port",
    "sample_rate",
    "channels",
    "format",
    "bitrate",
    "archive_root",
    "archive_layout",
    "archive_period",
    "archive_clock",
    "encoding",
    "stream_channels",
    "channel_offset",
    "interface",
    "redundant_multicast_addr",
    "redundant_port",
    "redundant_interface",
    "channel_names",
    "clock_source",
)


async def _control_recorder() -> dict[str, Any]:
    svc = service()
    rec = await svc.store.recorder(svc.control_recorder)
    if rec is None:  # pragma: no cover - recorders 1..max always exist
        raise StudioError(503, "Control recorder is not initialised")
    return rec


@bp.get("/status")
@login_required
async def status() -> Any:
    svc = service()
    check_recorder(principal(), svc.control_recorder)
    rec = await _control_recorder()
    rt = svc.supervisor.runtime(rec["id"])
    cfg = rec["config"]
    duration = round(time.time() - rt.start_time, 1) if rt.start_time and rt.state != "stopped" else 0.0
    full = svc.public_config(cfg)
    return {
        "state": rt.state,
        "config": {
            "source_type": "aes67",
            "multicast_addr": cfg.get("multicast_addr"),
            "port": cfg.get("port"),
            **{k: v for k, v in full.items() if k not in ("multicast_addr", "port")},
        },
        "current_file": rt.current_file,
        "recording_duration": duration,
        "bytes_written": int(rt.bytes_written),
        "errors": rt.view()["errors"],
        "recorder_id": rec["id"],
    }


@bp.post("/config")
@admin_required
async def config() -> Any:
    svc = service()
    body = await json_body()
    unknown = set(body) - set(CONTROL_KEYS)
    if unknown:
        raise StudioError(400, f"Unknown config field {sorted(unknown)[0]!r}")
    if body.get("source_type", "aes67") != "aes67":
        raise StudioError(400, f"source_type={body['source_type']!r} is not supported (aes67)")
    cleaned = validate_recorder_config({k: v for k, v in body.items() if k != "source_type"})
    rec = await _control_recorder()
    if svc.supervisor.runtime(rec["id"]).running:
        raise StudioError(400, "Cannot update config while recording")
    cfg = {**rec["config"], **cleaned}
    if "multicast_addr" in cleaned or "port" in cleaned:  # no longer the active source's stream
        cfg.pop("source_id", None)
        cfg.pop("source_filter", None)
    if "redundant_multicast_addr" in cleaned or "redundant_port" in cleaned:
        cfg.pop("redundant_source_filter", None)
    check_channels(cfg)
    check_redundancy(cfg)
    await svc.store.set_recorder_config(rec["id"], cfg)
    await svc.store.add_event(
        rec["id"], "config", f"configuration updated via control API: {sorted(cleaned)}"
    )
    return {"message": "Configuration updated", "config": {"source_type": "aes67", **svc.public_config(cfg)}}


@bp.post("/start")
@login_required
async def start() -> Any:
    from origin.studio.recorders import _not_supervising, _start

    svc = service()
    check_recorder(principal(), svc.control_recorder)
    _not_supervising()
    rec = await _control_recorder()
    if not svc.supervisor.runtime(rec["id"]).running:
        await _start(rec)
    return {"message": "Capture started", "state": svc.supervisor.runtime(rec["id"]).state}


@bp.post("/stop")
@login_required
async def stop() -> Any:
    from origin.studio.recorders import stop_recorder

    svc = service()
    check_recorder(principal(), svc.control_recorder)
    await stop_recorder(svc.control_recorder)
    return {"message": "Capture stopped", "state": svc.supervisor.runtime(svc.control_recorder).state}
