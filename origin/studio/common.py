"""Small helpers shared by the studio blueprints."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from typing import TYPE_CHECKING, Any

from quart import current_app, request

from origin.errors import StudioError

if TYPE_CHECKING:
    from origin.studio import StudioService

__all__ = [
    "service",
    "json_body",
    "parse_recorder_id",
    "get_recorder_or_404",
    "validate_recorder_config",
    "COLOR_RE",
]

COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")


def service() -> StudioService:
    return current_app.extensions["studio"]


async def json_body(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 ``Invalid JSON body`` otherwise."""
    raw = await request.get_data(as_text=False)
    if not raw or not raw.strip():
        if required:
            raise StudioError(400, "Request body must be a JSON object")
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
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


def _int(body: dict[str, Any], key: str, lo: int, hi: int) -> int:
    v = body[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not v.is_integer()):
        raise StudioError(400, f"{key} must be an integer")
    v = int(v)
    if not lo <= v <= hi:
        raise StudioError(400, f"{key}={v} is out of range [{lo}, {hi}]")
    return v


def _choice(body: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    v = body[key]
    if not isinstance(v, str) or v not in choices:
        raise StudioError(400, f"{key}={v!r} is not one of {', '.join(choices)}")
    return v


def _ipv4(body: dict[str, Any], key: str) -> str:
    v = body[key]
    try:
        addr = ipaddress.IPv4Address(str(v).strip())
    except (ipaddress.AddressValueError, ValueError):
        raise StudioError(400, f"{key}={v!r} is not an IPv4 address") from None
    return str(addr)


#: recorder config fields a client may set (validated by :func:`validate_recorder_config`)
USER_RECORDER_KEYS = (
    "multicast_addr",
    "port",
    "sample_rate",
    "channels",
    "format",
    "archive_root",
    "encoding",
    "stream_channels",
    "channel_offset",
    "bitrate",
    "archive_layout",
    "archive_period",
    "archive_clock",
    "interface",
    "payload_type",
    "ptime_us",
    "bits",
    # alert thresholds (extension): see origin/recorder/alerts.py
    "silence_threshold_db",
    "silence_seconds",
    "silence_vad",
    "loudness_limit_lufs",
    "loudness_seconds",
    "stream_lost_seconds",
)


def _num(body: dict[str, Any], key: str, lo: float, hi: float, *, nullable: bool = False) -> float | None:
    v = body[key]
    if v is None and nullable:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise StudioError(
            400, f"{key} must be a number in [{lo:g}, {hi:g}]" + (" or null" if nullable else "")
        )
    return float(v)


def validate_recorder_config(body: dict[str, Any], *, allow: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Validate a (partial) recorder config; returns the cleaned fields.

    ``archive_root`` is resolved against the server archive root (must be a subfolder) and
    returned *relative* to it.
    """
    from origin.studio.paths import PathError, relpath, resolve_archive_dir

    allowed = allow or USER_RECORDER_KEYS
    out: dict[str, Any] = {}
    for key in body:
        if key not in allowed:
            raise StudioError(400, f"Unknown config field {key!r}")
    if "multicast_addr" in body:
        out["multicast_addr"] = _ipv4(body, "multicast_addr")
    if "interface" in body:
        out["interface"] = None if body["interface"] in (None, "") else _ipv4(body, "interface")
    if "port" in body:
        out["port"] = _int(body, "port", 1, 65535)
    if "format" in body:
        out["format"] = _choice(body, "format", ("wav", "opus", "flac"))
    if "sample_rate" in body:
        out["sample_rate"] = _int(body, "sample_rate", 8000, 192000)
    if "channels" in body:
        out["channels"] = _int(body, "channels", 1, 64)
    if "stream_channels" in body:
        out["stream_channels"] = (
            None if body["stream_channels"] is None else _int(body, "stream_channels", 1, 64)
        )
    if "channel_offset" in body:
        out["channel_offset"] = _int(body, "channel_offset", 0, 63)
    if "encoding" in body:
        out["encoding"] = _choice(body, "encoding", ("L16", "L24"))
    if "bitrate" in body:
        out["bitrate"] = _int(body, "bitrate", 6000, 512000)
    if "archive_layout" in body:
        out["archive_layout"] = _choice(
            body, "archive_layout", ("flat", "hierarchy", "combo", "dailydir", "accurate")
        )
    if "archive_period" in body:
        out["archive_period"] = _int(body, "archive_period", 10, 86400)
    if "archive_clock" in body:
        out["archive_clock"] = _choice(body, "archive_clock", ("localtime", "utc"))
    if "payload_type" in body:
        out["payload_type"] = _int(body, "payload_type", 0, 127)
    if "ptime_us" in body:
        out["ptime_us"] = _int(body, "ptime_us", 125, 4000)
    if "bits" in body:
        out["bits"] = _choice(body, "bits", ("16", "24", "32f"))
    if "silence_threshold_db" in body:
        out["silence_threshold_db"] = _num(body, "silence_threshold_db", -90.0, 0.0)
    if "silence_seconds" in body:
        out["silence_seconds"] = _num(body, "silence_seconds", 0.5, 3600.0, nullable=True)
    if "silence_vad" in body:
        if not isinstance(body["silence_vad"], bool):
            raise StudioError(400, "silence_vad must be true or false")
        out["silence_vad"] = body["silence_vad"]
    if "loudness_limit_lufs" in body:
        out["loudness_limit_lufs"] = _num(body, "loudness_limit_lufs", -70.0, 0.0, nullable=True)
    if "loudness_seconds" in body:
        out["loudness_seconds"] = _int(body, "loudness_seconds", 1, 3600)
    if "stream_lost_seconds" in body:
        out["stream_lost_seconds"] = _num(body, "stream_lost_seconds", 0.2, 3600.0)
    if "archive_root" in body:
        root = service().archive_root
        try:
            real = resolve_archive_dir(root, body["archive_root"])
        except PathError as exc:
            raise StudioError(exc.status, exc.detail) from None
        out["archive_root"] = relpath(root, real)
    return out


def check_channels(cfg: dict[str, Any]) -> None:
    """400 when the selected channels do not fit the stream."""
    sc = cfg.get("stream_channels")
    if sc is not None and cfg.get("channel_offset", 0) + cfg.get("channels", 2) > sc:
        raise StudioError(
            400,
            f"channel_offset={cfg.get('channel_offset', 0)} + channels={cfg.get('channels', 2)} "
            f"exceeds stream_channels={sc}",
        )
