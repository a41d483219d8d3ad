"""Small helpers shared by the studio blueprints."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import TYPE_CHECKING, Any

from quart import current_app, request

from origin.errors import StudioError
from origin.jsonutil import JSONLimitError, loads

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


#: voice/level-activated recording (VOX) fields, Audyn's names; off unless ``vox_enabled`` is true
VOX_KEYS = (
    "vox_enabled",
    "vox_threshold_db",
    "vox_release_db",
    "vox_detection_ms",
    "vox_hangover_ms",
    "vox_preroll_ms",
    "vox_level_mode",
)

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
    "redundant_multicast_addr",
    "redundant_port",
    "redundant_interface",
    "channel_names",
    "clock_source",
    "flac_compression",
    *VOX_KEYS,
    # alert thresholds (extension): see origin/recorder/alerts.py
    "silence_threshold_db",
    "silence_seconds",
    "silence_vad",
    "loudness_limit_lufs",
    "loudness_seconds",
    "stream_lost_seconds",
)

#: Audyn's recorder-config fields that we accept and translate (see :func:`validate_recorder_config`):
#: ``bit_depth`` (-> ``bits``), ``source_type`` (``aes67`` only), ``source_id`` (applies a configured
#: source), ``pipewire_target`` (ignored unless ``source_type`` is ``pipewire``, which is a 400).
AUDYN_RECORDER_KEYS = ("bit_depth", "source_type", "source_id", "pipewire_target")

#: ``bit_depth`` (Audyn, integer) <-> ``bits`` (ours): 32 is 32-bit float WAV
BIT_DEPTH_TO_BITS = {16: "16", 24: "24", 32: "32f"}
BITS_TO_BIT_DEPTH = {v: k for k, v in BIT_DEPTH_TO_BITS.items()}


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

    allowed = allow or (*USER_RECORDER_KEYS, *AUDYN_RECORDER_KEYS)
    out: dict[str, Any] = {}
    for key in body:
        if key not in allowed:
            raise StudioError(400, f"Unknown config field {key!r}")
    if "source_type" in body and body["source_type"] not in (None, "aes67"):
        raise StudioError(
            400,
            f"source_type={body['source_type']!r} is not supported: this server records AES67/RTP "
            "streams only (source_type aes67)",
        )
    if "bit_depth" in body:
        bd = _int(body, "bit_depth", 16, 32)
        if bd not in BIT_DEPTH_TO_BITS:
            raise StudioError(400, f"bit_depth={bd} is not one of 16, 24, 32")
        if "bits" in body and body["bits"] != BIT_DEPTH_TO_BITS[bd]:
            raise StudioError(400, f"bit_depth={bd} contradicts bits={body['bits']!r}")
        out["bits"] = BIT_DEPTH_TO_BITS[bd]
    if "source_id" in body:
        sid = body["source_id"]
        if sid is not None and (not isinstance(sid, str) or not 0 < len(sid) <= 64):
            raise StudioError(400, "source_id must be a source id or null")
        out["source_id"] = sid
    if "flac_compression" in body:
        out["flac_compression"] = _int(body, "flac_compression", 0, 8)
    out.update(_validate_vox(body))
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
    if "redundant_multicast_addr" in body:
        out["redundant_multicast_addr"] = (
            None
            if body["redundant_multicast_addr"] in (None, "")
            else _ipv4(body, "redundant_multicast_addr")
        )
    if "redundant_port" in body:
        out["redundant_port"] = (
            None if body["redundant_port"] is None else _int(body, "redundant_port", 1, 65535)
        )
    if "redundant_interface" in body:
        out["redundant_interface"] = (
            None if body["redundant_interface"] in (None, "") else _ipv4(body, "redundant_interface")
        )
    if "channel_names" in body:
        out["channel_names"] = channel_names_field(body["channel_names"])
    if "clock_source" in body:
        out["clock_source"] = _choice(body, "clock_source", ("arrival", "rtp"))
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


def channel_names_field(v: Any) -> list[str] | None:
    """``channel_names``: null or a list of at most 64 labels (1-64 characters, no commas)."""
    if v is None:
        return None
    if not isinstance(v, list) or len(v) > 64:
        raise StudioError(400, "channel_names must be a list of at most 64 strings")
    for name in v:
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64 or "," in name:
            raise StudioError(
                400, f"channel_names entry {str(name)[:70]!r} must be 1-64 characters without commas"
            )
    return [n.strip() for n in v]


def _number(body: dict[str, Any], key: str, lo: float, hi: float) -> float:
    v = body[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        raise StudioError(400, f"{key} must be a number")
    if not lo <= v <= hi:
        raise StudioError(400, f"{key}={v} is out of range [{lo:g}, {hi:g}]")
    return float(v)


def _validate_vox(body: dict[str, Any]) -> dict[str, Any]:
    """The ``vox_*`` fields (Audyn's names and meanings; see ``origin.recorder.vox``)."""
    out: dict[str, Any] = {}
    if "vox_enabled" in body:
        if not isinstance(body["vox_enabled"], bool):
            raise StudioError(400, "vox_enabled must be true or false")
        out["vox_enabled"] = body["vox_enabled"]
    if "vox_threshold_db" in body:
        out["vox_threshold_db"] = _number(body, "vox_threshold_db", -100, 0)
    if "vox_release_db" in body:  # 0 = automatic (threshold - 5 dB)
        out["vox_release_db"] = _number(body, "vox_release_db", -100, 0)
    if "vox_detection_ms" in body:
        out["vox_detection_ms"] = _int(body, "vox_detection_ms", 0, 10000)
    if "vox_hangover_ms" in body:
        out["vox_hangover_ms"] = _int(body, "vox_hangover_ms", 0, 600000)
    if "vox_preroll_ms" in body:
        out["vox_preroll_ms"] = _int(body, "vox_preroll_ms", 0, 10000)
    if "vox_level_mode" in body:
        out["vox_level_mode"] = _choice(body, "vox_level_mode", ("rms", "peak", "any"))
    return out


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
