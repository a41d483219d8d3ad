"""``/api/sources``: configured sources, the active source, SAP-discovered streams.

Extensions (documented in the README):

* ``GET /api/sources/discovered`` lists streams announced over SAP.
* ``POST /api/sources/`` also accepts ``{"discovered_id": "sap-...", "name"?, "channel_offset"?,
  "channels"?}``: a source created from a discovered stream, recording channels
  ``[channel_offset, channel_offset + channels)`` of it (default: all).
* Setting the active source applies its address/port/format to the control recorder (the
  recorder behind ``/api/control``); 400 while that recorder is recording.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from origin.errors import StudioError
from origin.studio.authz import admin_required, check_recorder, login_required, principal
from origin.studio.common import json_body, service, validate_recorder_config
from origin.studio.discovery import discovered, discovered_by_id

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


@bp.get("/")
@login_required
async def list_sources() -> Any:
    return await service().store.sources()


@bp.get("/discovered")
@login_required
async def list_discovered() -> Any:
    """Extension: streams currently announced over SAP."""
    return discovered(service())


@bp.get("/active")
@login_required
async def get_active() -> Any:
    return {"active_source_id": await service().store.kv_get("active_source_id")}


@bp.post("/active/<source_id>")
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
    if svc.supervisor.runtime(rid).running:
        raise StudioError(400, "Cannot change the active source while recording")
    rec = await svc.store.recorder(rid)
    assert rec is not None
    cfg = dict(rec["config"])
    cfg["multicast_addr"] = src["multicast_addr"]
    cfg["port"] = src["port"]
    for k in FORMAT_KEYS:
        if src.get(k) is not None:
            cfg[k] = src[k]
        elif k in _CLEARED:
            cfg.pop(k, None)
    cfg["source_filter"] = src.get("source_filter")
    cfg["source_id"] = source_id
    await svc.store.set_recorder_config(rid, cfg)
    await svc.store.kv_set("active_source_id", source_id)
    await svc.store.add_event(rid, "source", f"active source set to {source_id}")
    return {"message": "Active source set", "active_source_id": source_id}


def _from_discovered(body: dict[str, Any]) -> tuple[str, str, int, dict[str, Any]]:
    d = discovered_by_id(service(), str(body["discovered_id"]))
    if d is None:
        raise StudioError(404, f"Discovered stream {body['discovered_id']} not found (not announced now)")
    if d.get("unsupported"):
        raise StudioError(400, f"Stream cannot be recorded: {d['unsupported']}")
    if d.get("encoding") not in ("L16", "L24"):
        raise StudioError(400, f"Stream encoding {d.get('encoding')!r} is not L16 or L24")
    total = int(d.get("channels") or 1)
    sel = validate_recorder_config(
        {k: body[k] for k in ("channel_offset", "channels") if k in body},
        allow=("channel_offset", "channels"),
    )
    offset = sel.get("channel_offset", 0)
    count = sel.get("channels", total - offset)
    if offset >= total or count < 1 or offset + count > total:
        raise StudioError(
            400, f"channels [{offset}, {offset + count}) do not fit the stream's {total} channels"
        )
    name = body.get("name")
    if name is None:
        name = d["name"] if (offset, count) == (0, total) else f"{d['name']} ch {offset + 1}-{offset + count}"
    names = d.get("channel_names")
    extra = {
        "sample_rate": d.get("sample_rate"),
        "channels": count,
        "stream_channels": total,
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
    }
    return name, d["multicast_addr"], int(d["port"]), extra


@bp.post("/")
@admin_required
async def create_source() -> Any:
    body = await json_body()
    if "discovered_id" in body:
        unknown = set(body) - {"discovered_id", "name", "channel_offset", "channels", "enabled"}
        if unknown:
            raise StudioError(400, f"Unknown source field {sorted(unknown)[0]!r}")
        name, addr, port, extra = _from_discovered(body)
        type_ = "aes67"
    else:
        allowed = {
            "name",
            "type",
            "multicast_addr",
            "port",
            "enabled",
            "sample_rate",
            "channels",
            "stream_channels",
            "channel_offset",
            "encoding",
            "description",
            "redundant_multicast_addr",
            "redundant_port",
            "channel_names",
        }
        unknown = set(body) - allowed
        if unknown:
            raise StudioError(400, f"Unknown source field {sorted(unknown)[0]!r}")
        for req in ("name", "multicast_addr", "port"):
            if req not in body:
                raise StudioError(400, f"{req} is required")
        type_ = body.get("type", "aes67")
        if type_ != "aes67":
            raise StudioError(400, f"type={type_!r} is not supported (aes67)")
        fmt = validate_recorder_config(
            {
                k: v
                for k, v in body.items()
                if k
                in (
                    "multicast_addr",
                    "port",
                    "sample_rate",
                    "channels",
                    "stream_channels",
                    "channel_offset",
                    "encoding",
                    "redundant_multicast_addr",
                    "redundant_port",
                    "channel_names",
                )
            },
        )
        name = body["name"]
        addr, port = fmt.pop("multicast_addr"), fmt.pop("port")
        extra = {k: v for k, v in fmt.items() if v is not None}
        if isinstance(body.get("description"), str):
            extra["description"] = body["description"]
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise StudioError(400, "name must be a non-empty string of at most 200 characters")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise StudioError(400, "enabled must be true or false")
    src = await service().store.create_source(
        name.strip(), type_, addr, port, enabled, {k: v for k, v in extra.items() if v is not None}
    )
    return src, 201


@bp.get("/<source_id>")
@login_required
async def get_source(source_id: str) -> Any:
    src = await service().store.source(source_id)
    if src is None:
        raise StudioError(404, f"Source {source_id} not found")
    return src


@bp.delete("/<source_id>")
@admin_required
async def delete_source(source_id: str) -> Any:
    if not await service().store.delete_source(source_id):
        raise StudioError(404, f"Source {source_id} not found")
    return {"message": "Source deleted"}
