"""``/api/sources``: configured sources, the active source, SAP-discovered streams.

Extensions (documented in the README):

* ``GET /api/sources/discovered`` lists streams announced over SAP.
* ``POST /api/sources/`` also accepts ``{"discovered_id": "sap-...", "name"?, "channel_offset"?,
  "channels"?, "enabled"?, "description"?}`` (:class:`~origin.studio.models.SourceFromStream`): a
  source created from a discovered stream, recording channels
  ``[channel_offset, channel_offset + channels)`` of it (default: all).
* Setting the active source applies its address/port/format to the control recorder (the
  recorder behind ``/api/control``). While that recorder records, it is switched over: stopped
  (its file finalised), reconfigured and started again on the new source (the event log says so).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from origin.errors import StudioError
from origin.studio.authz import admin_required, check_recorder, login_required, principal
from origin.studio.common import check_channels, json_body, service
from origin.studio.discovery import discovered
from origin.studio.models import (
    EDITABLE,
    READ_ONLY,
    SourceCreate,
    SourceFromDiscovery,
    SourceFromStream,
    SourceUpdate,
    parse_body,
    studio_doc,
)
from origin.studio.store import SOURCE_DEFAULTS

__all__ = ["bp", "apply_source", "EDITABLE", "READ_ONLY"]

bp = Blueprint("studio_sources", __name__, url_prefix="/api/sources")

#: source fields copied into the control recorder's config when the source becomes active
FORMAT_KEYS = (
    "sample_rate",
    "channels",
    "stream_channels",
    "channel_offset",
    "encoding",
    "payload_type",
    "ptime_us",
    "redundant_multicast_addr",
    "redundant_port",
    "redundant_source_filter",
    "channel_names",
    "mediaclk_offset",
)
#: of those, the ones a source without them clears from the recorder config
_CLEARED = (
    "stream_channels",
    "channel_offset",
    "payload_type",
    "ptime_us",
    "redundant_multicast_addr",
    "redundant_port",
    "redundant_source_filter",
    "channel_names",
    "mediaclk_offset",
)


def apply_source(config: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    """``config`` recording source ``src``: its address, port, format and channel selection."""
    cfg = dict(config)
    cfg["multicast_addr"] = src["multicast_addr"]
    cfg["port"] = src["port"]
    for k in FORMAT_KEYS:
        if src.get(k) is not None:
            cfg[k] = src[k]
        elif k in _CLEARED:
            cfg.pop(k, None)
    cfg["source_filter"] = src.get("source_filter")
    cfg["source_id"] = src["id"]
    return cfg


@bp.get("/")
@studio_doc(summary="List sources", tags=["sources"])
@login_required
async def list_sources() -> Any:
    return await service().store.sources()


@bp.get("/discovered")
@studio_doc(summary="Streams announced over SAP now (extension)", tags=["sources"])
@login_required
async def list_discovered() -> Any:
    """Extension: streams currently announced over SAP."""
    return discovered(service())


@bp.get("/active")
@studio_doc(summary="The active source", tags=["sources"])
@login_required
async def get_active() -> Any:
    return {"active_source_id": await service().store.kv_get("active_source_id")}


@bp.post("/active/<source_id>")
@studio_doc(summary="Make a source the active one", tags=["sources"])
@login_required
async def set_active(source_id: str) -> Any:
    svc = service()
    rid = svc.control_recorder
    check_recorder(principal(), rid)
    src = await svc.store.source(source_id)
    if src is None:
        raise StudioError(404, f"Source {source_id} not found")
    if not src.get("enabled", True):
        raise StudioError(400, f"Source {source_id} is disabled")
    rec = await svc.store.recorder(rid)
    assert rec is not None
    cfg = apply_source(rec["config"], src)
    check_channels(cfg)
    restart = svc.supervisor.runtime(rid).running
    if restart:  # switch a running capture over: stop (file finalised), reconfigure, start again
        from origin.studio.recorders import _not_supervising

        _not_supervising()
        await svc.store.add_event(rid, "source", f"switching the recording to source {source_id}")
        await svc.supervisor.stop(rid)
    await svc.store.set_recorder_config(rid, cfg)
    await svc.store.kv_set("active_source_id", source_id)
    await svc.store.add_event(rid, "source", f"active source set to {source_id}")
    if restart:
        rec["config"] = cfg
        await svc.start_recorder(rec)
    return {"message": "Active source set", "active_source_id": source_id}


def _from_stream(body: dict[str, Any]) -> tuple[str, str, int, bool, dict[str, Any]]:
    """A source made from a discovered stream, checked by :class:`SourceFromStream` -> name,
    address, port, enabled, extra fields."""
    req = SourceFromStream.model_validate(body)
    d: dict[str, Any] = req.discovered_id
    offset, count = req.selection()
    names = d.get("channel_names")
    extra = {
        "sample_rate": d.get("sample_rate"),
        "channels": count,
        "stream_channels": int(d.get("channels") or 1),
        "channel_offset": offset,
        "encoding": d.get("encoding"),
        "payload_type": d.get("payload_type"),
        "ptime_us": d.get("ptime_us"),
        "source_filter": d.get("source_filter"),
        "channel_names": names[offset : offset + count] if names else None,
        "redundant_multicast_addr": d.get("redundant_multicast_addr"),
        "redundant_port": d.get("redundant_port"),
        "redundant_source_filter": d.get("redundant_source_filter"),
        "mediaclk_offset": d.get("mediaclk_offset"),
        "discovered_id": d["id"],
        "discovered_name": d["name"],
        "description": req.description,
    }
    return req.name, d["multicast_addr"], int(d["port"]), req.enabled, extra


def _manual_source(
    body: dict[str, Any], source_id: str | None = None
) -> tuple[str, str, int, bool, dict[str, Any]]:
    """A typed-in source (``POST``/``PUT`` body) checked by :class:`SourceUpdate` -> name,
    address, port, enabled, extra fields."""
    src = SourceUpdate.model_validate(body, context={"source_id": source_id})
    extra: dict[str, Any] = {**SOURCE_DEFAULTS, **src.format_fields()}
    if src.description:
        extra["description"] = src.description
    return src.name, src.multicast_addr, src.port, src.enabled, extra


@bp.post("/")
@studio_doc(
    summary="Create a source (typed in, or from a discovered stream)",
    request_content={"application/json": {"schema": {"anyOf": [SourceCreate, SourceFromStream]}}},
    tags=["sources"],
)
@admin_required
async def create_source() -> Any:
    """Create a source: typed in (``id`` absent or null; ``sample_rate``/``channels`` default
    to 48000/2), or from a discovered stream (``discovered_id``)."""
    body = await json_body()
    if "discovered_id" in body:
        name, addr, port, enabled, extra = _from_stream(body)
    else:
        name, addr, port, enabled, extra = _manual_source(body)
    src = await service().store.create_source(
        name, "aes67", addr, port, enabled, {k: v for k, v in extra.items() if v is not None}
    )
    return src, 201


@bp.post("/from-discovery")
@studio_doc(summary="Create a source from a discovered stream", request=SourceFromDiscovery, tags=["sources"])
@admin_required
async def create_from_discovery() -> Any:
    """Audyn's import of a discovered stream: ``{"stream_id", "name"?, "description"?,
    "channels"?, "channel_offset"?, "stream_channels"?}`` (``stream_channels``, when given, must
    match the announced stream)."""
    body = (await parse_body(SourceFromDiscovery)).fields()
    req: dict[str, Any] = {"discovered_id": body["stream_id"]}
    for k in ("name", "channels", "channel_offset", "description"):
        if body.get(k) is not None:
            req[k] = body[k]
    name, addr, port, enabled, extra = _from_stream(req)
    sc = body.get("stream_channels")
    if sc is not None and sc != extra["stream_channels"]:
        raise StudioError(
            400, f"stream_channels={sc!r} does not match the announced stream ({extra['stream_channels']})"
        )
    src = await service().store.create_source(
        name, "aes67", addr, port, enabled, {k: v for k, v in extra.items() if v is not None}
    )
    return src, 201


@bp.get("/pipewire")
@studio_doc(summary="Local PipeWire nodes (always empty: AES67/RTP only)", tags=["sources"])
@login_required
async def list_pipewire() -> Any:
    """Audyn's local PipeWire nodes: this server records AES67/RTP only, so there are none."""
    return []


@bp.put("/<source_id>")
@studio_doc(summary="Edit a source", request=SourceUpdate, tags=["sources"])
@admin_required
async def update_source(source_id: str) -> Any:
    """Edit a source (the whole object, as ``GET`` returns it; read-only fields are ignored).
    Fields that came from discovery (SSRC filter, channel names) are kept."""
    svc = service()
    if await svc.store.source(source_id) is None:
        raise StudioError(404, f"Source {source_id} not found")
    body = await json_body()
    name, addr, port, enabled, extra = _manual_source(body, source_id)
    kept = {
        k: v
        for k, v in (await svc.store.source_extra(source_id)).items()
        if k
        in ("discovered_id", "discovered_name", "source_filter", "channel_names", "ptime_us", "payload_type")
    }
    if "payload_type" in extra:
        kept.pop("payload_type", None)
    src = await svc.store.update_source(source_id, name, addr, port, enabled, {**kept, **extra})
    return src


@bp.get("/<source_id>")
@studio_doc(summary="One source", tags=["sources"])
@login_required
async def get_source(source_id: str) -> Any:
    src = await service().store.source(source_id)
    if src is None:
        raise StudioError(404, f"Source {source_id} not found")
    return src


@bp.delete("/<source_id>")
@studio_doc(summary="Delete a source", tags=["sources"])
@admin_required
async def delete_source(source_id: str) -> Any:
    if not await service().store.delete_source(source_id):
        raise StudioError(404, f"Source {source_id} not found")
    return {"message": "Source deleted"}
