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
from origin.studio.common import check_channels, check_redundancy, json_body, service
from origin.studio.models import studio_doc
from origin.studio.recorder_config import CONTROL_KEYS, IGNORED_KEYS, ControlConfig

__all__ = ["bp", "CONTROL_KEYS", "IGNORED_KEYS"]

bp = Blueprint("studio_control", __name__, url_prefix="/api/control")


async def _control_recorder() -> dict[str, Any]:
    svc = service()
    rec = await svc.store.recorder(svc.control_recorder)
    if rec is None:  # pragma: no cover - recorders 1..max always exist
        raise StudioError(503, "Control recorder is not initialised")
    return rec


@bp.get("/status")
@studio_doc(summary="Control recorder status", tags=["control"])
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


#: Audyn's control-config fields that describe the appliance, not the capture: accepted and
#: not applied (listed under ``ignored`` in the answer with the reason)
def control_config_view(cfg: dict[str, Any]) -> dict[str, Any]:
    """The control recorder's config in Audyn's control shape."""
    return {"source_type": "aes67", **service().public_config(cfg)}


@bp.get("/config")
@studio_doc(summary="Control recorder configuration", tags=["control"])
@login_required
async def get_config() -> Any:
    """The control recorder's configuration (what ``POST /config`` sets)."""
    svc = service()
    check_recorder(principal(), svc.control_recorder)
    rec = await _control_recorder()
    return control_config_view(rec["config"])


@bp.post("/config")
@studio_doc(summary="Change the control recorder", request=ControlConfig, tags=["control"])
@admin_required
async def config() -> Any:
    """Update the control recorder. Appliance fields (:data:`IGNORED_KEYS`) and an
    ``archive_root`` outside the server archive root (Audyn's ``/var/lib/audyn`` default: our
    archive root is fixed by the server config) are accepted but not applied: the answer lists
    them under ``ignored`` with the reason."""
    from origin.studio.paths import PathError, resolve_archive_dir

    svc = service()
    body = await json_body()
    ignored = {k: IGNORED_KEYS[k] for k in body if k in IGNORED_KEYS and body[k] not in (None, False, "")}
    root = body.get("archive_root")
    if isinstance(root, str) and root.startswith("/"):
        try:
            resolve_archive_dir(svc.archive_root, root)
        except PathError as exc:
            ignored["archive_root"] = f"not applied: {exc.detail}"
            body = {k: v for k, v in body.items() if k != "archive_root"}
    cleaned = ControlConfig.model_validate(body).cleaned()
    rec = await _control_recorder()
    if svc.supervisor.runtime(rec["id"]).running:
        raise StudioError(400, "Cannot update config while recording")
    cfg = {**rec["config"], **cleaned}
    if "multicast_addr" in cleaned or "port" in cleaned:  # no longer the active source's stream
        if (cleaned.get("multicast_addr", cfg["multicast_addr"]), cleaned.get("port", cfg["port"])) != (
            rec["config"]["multicast_addr"],
            rec["config"]["port"],
        ):
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
    out: dict[str, Any] = {"message": "Configuration updated", "config": control_config_view(cfg)}
    if ignored:
        out["ignored"] = ignored
    return out


@bp.post("/start")
@studio_doc(summary="Start the control recorder", tags=["control"])
@login_required
async def start() -> Any:
    from origin.studio.recorders import _not_supervising

    svc = service()
    check_recorder(principal(), svc.control_recorder)
    _not_supervising()
    rec = await _control_recorder()
    if not svc.supervisor.runtime(rec["id"]).running:
        await svc.start_recorder(rec)
    return {"message": "Capture started", "state": svc.supervisor.runtime(rec["id"]).state}


@bp.post("/stop")
@studio_doc(summary="Stop the control recorder", tags=["control"])
@login_required
async def stop() -> Any:
    from origin.studio.recorders import stop_recorder

    svc = service()
    check_recorder(principal(), svc.control_recorder)
    await stop_recorder(svc.control_recorder)
    return {"message": "Capture stopped", "state": svc.supervisor.runtime(svc.control_recorder).state}
