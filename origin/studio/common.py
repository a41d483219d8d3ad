"""Small helpers shared by the studio blueprints."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from quart import current_app, request

from origin.errors import StudioError
from origin.jsonutil import JSONLimitError, loads
from origin.studio.recorder_config import (
    AUDYN_RECORDER_KEYS,
    BIT_DEPTH_TO_BITS,
    BITS_TO_BIT_DEPTH,
    USER_RECORDER_KEYS,
    VOX_KEYS,
    channel_names_field,
    validate_recorder_config,
)

if TYPE_CHECKING:
    from origin.studio import StudioService

__all__ = [
    "service",
    "json_body",
    "parse_recorder_id",
    "get_recorder_or_404",
    "validate_recorder_config",
    "channel_names_field",
    "check_channels",
    "check_redundancy",
    "USER_RECORDER_KEYS",
    "AUDYN_RECORDER_KEYS",
    "VOX_KEYS",
    "BIT_DEPTH_TO_BITS",
    "BITS_TO_BIT_DEPTH",
    "COLOR_RE",
]

COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")


def service() -> StudioService:
    return current_app.extensions["studio"]


async def json_body(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 ``Invalid JSON body`` otherwise, 415 for a body that is
    declared as something other than JSON (no ``Content-Type`` is taken as JSON)."""
    ctype = (request.mimetype or "").lower()
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise StudioError(415, f"Content-Type {request.mimetype!r} is not supported; send application/json")
    raw = await request.get_data(as_text=False)
    if not raw or not raw.strip():
        if required:
            raise StudioError(400, "Request body must be a JSON object")
        return {}
    try:
        data = loads(raw)
    except JSONLimitError as exc:
        raise StudioError(400, f"Invalid JSON body: {exc}") from None
    except (ValueError, TypeError):
        raise StudioError(400, "Invalid JSON body") from None
    if not isinstance(data, dict):
        raise StudioError(400, "Request body must be a JSON object")
    return data


def parse_recorder_id(raw: Any) -> int:
    """A recorder id from the path/body; 400 when not an integer, 404 when out of range."""
    svc = service()
    if isinstance(raw, bool):
        raise StudioError(400, "recorder_id must be an integer")
    try:
        rid = int(raw)
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        if isinstance(raw, str) and not raw.strip().lstrip("-").isdigit():
            raise ValueError
    except (TypeError, ValueError):
        raise StudioError(400, "recorder_id must be an integer") from None
    if not 1 <= rid <= svc.max_recorders:
        raise StudioError(404, f"Recorder {rid} not found")
    return rid


async def get_recorder_or_404(rid: int) -> dict[str, Any]:
    rec = await service().store.recorder(rid)
    if rec is None:
        raise StudioError(404, f"Recorder {rid} not found")
    return rec


def check_redundancy(cfg: dict[str, Any]) -> None:
    """400 when the ST 2022-7 leg is half set, or is the primary leg itself on the same interface."""
    addr, port = cfg.get("redundant_multicast_addr"), cfg.get("redundant_port")
    if (addr is None) != (port is None):
        raise StudioError(400, "redundant_multicast_addr and redundant_port must be set together")
    same_if = (cfg.get("redundant_interface") or cfg.get("interface")) == cfg.get("interface")
    if addr is not None and (addr, port) == (cfg.get("multicast_addr"), cfg.get("port")) and same_if:
        raise StudioError(
            400, "the redundant leg must differ from the primary (address, port or redundant_interface)"
        )


def check_channels(cfg: dict[str, Any]) -> None:
    """400 when the selected channels do not fit the stream."""
    sc = cfg.get("stream_channels")
    if sc is not None and cfg.get("channel_offset", 0) + cfg.get("channels", 2) > sc:
        raise StudioError(
            400,
            f"channel_offset={cfg.get('channel_offset', 0)} + channels={cfg.get('channels', 2)} "
            f"exceeds stream_channels={sc}",
        )
