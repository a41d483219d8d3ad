"""``/api/recorders``: list, get, active count, config, start/stop (one and all), levels, events."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from origin.errors import StudioError
from origin.studio.authz import admin_required, check_recorder, login_required, principal
from origin.studio.common import (
    check_channels,
    check_redundancy,
    get_recorder_or_404,
    json_body,
    parse_recorder_id,
    service,
    validate_recorder_config,
)
from origin.studio.models import RecorderConfig, studio_doc

bp = Blueprint("studio_recorders", __name__, url_prefix="/api/recorders")


def _not_supervising() -> None:
    if not service().supervising:
        raise StudioError(503, "Recorders are supervised by another origin process")


@bp.get("/")
@studio_doc(summary="Active recorders", tags=["recorders"])
@login_required
async def list_recorders() -> Any:
    """All active recorders (a studio user: only its studio's)."""
    svc = service()
    p = principal()
    out = []
    for rec in await svc.store.recorders():
        if rec["id"] > svc.active_count:
            continue
        if not p.is_admin and (not p.studio_id or svc.store.studio_of(rec["id"]) != p.studio_id):
            continue
        out.append(svc.recorder_view(rec))
    return out


@bp.get("/active-count")
@studio_doc(summary="Number of active recorders", tags=["recorders"])
@login_required
async def get_active_count() -> Any:
    svc = service()
    return {"active_recorders": svc.active_count, "max_recorders": svc.max_recorders}


@bp.put("/active-count/<count>")
@studio_doc(summary="Set the number of active recorders", tags=["recorders"])
@admin_required
async def set_active_count(count: str) -> Any:
    svc = service()
    try:
        n = int(count)
    except ValueError:
        raise StudioError(400, "count must be an integer") from None
    if not 1 <= n <= svc.max_recorders:
        raise StudioError(400, f"count={n} is out of range [1, {svc.max_recorders}]")
    # recorders beyond the new count stop (their desired state becomes stopped)
    for rid in range(n + 1, svc.max_recorders + 1):
        rt = svc.supervisor.runtime(rid)
        if rt.running:
            await svc.supervisor.stop(rid)
        await svc.store.set_desired_state(rid, "stopped")
    await svc.store.kv_set("active_count", str(n))
    svc.active_count = n
    return {"active_recorders": n}


@bp.post("/start-all")
@studio_doc(summary="Start every active recorder", tags=["recorders"])
@admin_required
async def start_all() -> Any:
    svc = service()
    _not_supervising()
    started = []
    for rec in await svc.store.recorders():
        if rec["id"] > svc.active_count or svc.supervisor.runtime(rec["id"]).running:
            continue
        await svc.start_recorder(rec, wait=0.0)
        started.append(rec["id"])
    return {"message": f"Started {len(started)} recorders", "started": started}


@bp.post("/stop-all")
@studio_doc(summary="Stop every recorder", tags=["recorders"])
@admin_required
async def stop_all() -> Any:
    svc = service()
    stopped = []
    for rec in await svc.store.recorders():
        rt = svc.supervisor.runtime(rec["id"])
        was = rt.running
        await svc.store.set_desired_state(rec["id"], "stopped")
        if was:
            stopped.append(rec["id"])
    import asyncio

    await asyncio.gather(*(svc.supervisor.stop(rid) for rid in stopped))
    return {"message": f"Stopped {len(stopped)} recorders", "stopped": stopped}


@bp.get("/<recorder_id>")
@studio_doc(summary="One recorder", tags=["recorders"])
@login_required
async def get_recorder(recorder_id: str) -> Any:
    rid = parse_recorder_id(recorder_id)
    check_recorder(principal(), rid)
    return service().recorder_view(await get_recorder_or_404(rid))


@bp.put("/<recorder_id>/config")
@studio_doc(summary="Change a recorder's configuration", request=RecorderConfig, tags=["recorders"])
@admin_required
async def put_config(recorder_id: str) -> Any:
    svc = service()
    rid = parse_recorder_id(recorder_id)
    rec = await get_recorder_or_404(rid)
    body = await json_body()
    cleaned = validate_recorder_config(body)
    await svc.update_config(rec, cleaned)
    return {"message": "Configuration updated", "recorder": svc.recorder_view(rec)}


async def merge_config(config: dict[str, Any], cleaned: dict[str, Any]) -> dict[str, Any]:
    """``config`` updated with validated fields.

    An explicit non-null ``source_id`` (Audyn's recorder form) applies that source: its address
    and port, and its format fields where the body gives none; a body address that differs from
    both the source's and the current one detaches the recorder instead. An explicit null
    ``source_id``, or a changed address/port without one, detaches the recorder from its source.
    400 when the channels do not fit the stream.
    """
    from origin.studio.sources import apply_source

    svc = service()
    explicit = "source_id" in cleaned
    sid = cleaned.pop("source_id", None)
    cfg = {**config, **cleaned}
    addr_changed = "multicast_addr" in cleaned or "port" in cleaned
    if explicit and sid is not None:
        src = await svc.store.source(sid)
        if src is None:
            raise StudioError(400, f"source_id={sid!r}: Source {sid} not found")
        typed = (cfg.get("multicast_addr"), cfg.get("port"))
        if typed in (
            (src["multicast_addr"], src["port"]),
            (config.get("multicast_addr"), config.get("port")),
        ):
            body_fmt = {k: v for k, v in cleaned.items() if k not in ("multicast_addr", "port")}
            cfg = {**apply_source(cfg, src), **body_fmt}
            addr_changed = False
        else:
            explicit, sid = True, None
    if (explicit and sid is None) or addr_changed:
        cfg.pop("source_id", None)
        cfg.pop("source_filter", None)
    if "redundant_multicast_addr" in cleaned or "redundant_port" in cleaned:
        cfg.pop("redundant_source_filter", None)
    check_channels(cfg)
    check_redundancy(cfg)
    rel, thr = cfg.get("vox_release_db"), cfg.get("vox_threshold_db", -30.0)
    if rel and rel > thr:
        raise StudioError(400, f"vox_release_db={rel:g} must not be above vox_threshold_db={thr:g}")
    return cfg


@bp.post("/<recorder_id>/start")
@studio_doc(summary="Start a recorder", tags=["recorders"])
@admin_required
async def start(recorder_id: str) -> Any:
    svc = service()
    rid = parse_recorder_id(recorder_id)
    rec = await get_recorder_or_404(rid)
    _not_supervising()
    already = svc.supervisor.runtime(rid).running
    if not already:
        await svc.start_recorder(rec)
    msg = "Recording already running" if already else "Recording started"
    return {"message": msg, "recorder": svc.recorder_view(rec)}


async def stop_recorder(rid: int) -> None:
    svc = service()
    await svc.store.set_desired_state(rid, "stopped")
    if svc.supervisor.runtime(rid).running:
        await svc.store.add_event(rid, "stop", "stop requested")
        await svc.supervisor.stop(rid)


@bp.post("/<recorder_id>/stop")
@studio_doc(summary="Stop a recorder", tags=["recorders"])
@admin_required
async def stop(recorder_id: str) -> Any:
    svc = service()
    rid = parse_recorder_id(recorder_id)
    rec = await get_recorder_or_404(rid)
    await stop_recorder(rid)
    return {"message": "Recording stopped", "recorder": svc.recorder_view(rec)}


@bp.get("/<recorder_id>/levels")
@studio_doc(summary="A recorder's current levels", tags=["recorders"])
@login_required
async def levels(recorder_id: str) -> Any:
    rid = parse_recorder_id(recorder_id)
    check_recorder(principal(), rid)
    rt = service().supervisor.runtime(rid)
    return {"recorder_id": rid, "levels": rt.live_levels()}


@bp.get("/<recorder_id>/events")
@studio_doc(summary="A recorder's event log (extension)", tags=["recorders"])
@login_required
async def events(recorder_id: str) -> Any:
    """Extension: the recorder's event log (starts, stops, worker deaths and restarts), newest first."""
    rid = parse_recorder_id(recorder_id)
    check_recorder(principal(), rid)
    try:
        limit = max(1, min(1000, int(request.args.get("limit", "100"))))
    except ValueError:
        raise StudioError(400, "limit must be an integer") from None
    return {"recorder_id": rid, "events": await service().store.events(rid, limit)}
