"""SAP discovery on the origin: one :class:`origin.recorder.sap.SAPListener` per app.

``/api/sources/discovered`` lists what it hears. Each stream gets a stable id
(``sap-`` + 12 hex digits of its SAP origin/hash key) usable in ``POST /api/sources/``
(``{"discovered_id": ..., "channel_offset": ..., "channels": ...}``).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import logging
from typing import Any

log = logging.getLogger("origin.studio.discovery")

__all__ = ["start_sap", "stop_sap", "discovered", "discovered_by_id"]


def sap_interfaces(service: Any) -> list[str] | None:
    """Where discovery listens: the ``sap_interfaces`` setting (comma-separated addresses of the
    AES67 cards), else the interfaces the recorders are configured with, else ``None`` (the
    default route's card)."""
    from origin.recorder.sap import parse_interfaces
    from origin.studio import setting

    raw = setting(service.settings, "studio_sap_interfaces", None)
    if raw:
        try:
            return parse_interfaces(raw)
        except ValueError as exc:
            log.warning("ignoring sap_interfaces: %s", exc)
    found: list[str] = []
    for rec in service.store.recorders_sync():
        cfg = rec.get("config") or {}
        for key in ("interface", "redundant_interface"):
            if cfg.get(key):
                found.append(str(cfg[key]))
    try:
        return parse_interfaces(found)
    except ValueError:
        return None


async def start_sap(service: Any) -> Any | None:
    """Start the SAP listener (``None`` when the host cannot join the SAP groups)."""
    from origin.recorder.sap import SAPListener

    loop = asyncio.get_running_loop()
    interfaces = sap_interfaces(service)
    try:
        return await loop.run_in_executor(None, lambda: SAPListener(interfaces=interfaces).start())
    except OSError as exc:
        log.warning("SAP listener not started: %s", exc)
        return None


async def stop_sap(listener: Any) -> None:
    await asyncio.get_running_loop().run_in_executor(None, listener.stop)


def _iso(t: float | None) -> str | None:
    if not t:
        return None
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry(s: dict[str, Any]) -> dict[str, Any]:
    from origin.recorder.sdp import mediaclk_offset

    key = str(s.get("key") or f"{s.get('sap_origin')}/{s.get('session_id')}")
    red = s.get("redundant") or {}
    return {
        "id": "sap-" + hashlib.sha1(key.encode()).hexdigest()[:12],
        "name": s.get("session_name") or key,
        "type": "aes67",
        "multicast_addr": s.get("connection_addr"),
        "port": s.get("port"),
        "encoding": s.get("encoding"),
        "sample_rate": s.get("sample_rate"),
        "channels": s.get("channels"),
        "channel_names": s.get("channel_names"),
        "payload_type": s.get("payload_type"),
        "ptime_us": s.get("ptime_us"),
        "source_filter": (s.get("source_filter") or [None])[0],
        "redundant_multicast_addr": red.get("connection_addr"),
        "redundant_port": red.get("port"),
        "redundant_source_filter": (red.get("source_filter") or [None])[0],
        "mediaclk_offset": mediaclk_offset(s.get("mediaclk")),
        "ts_refclk": s.get("ts_refclk"),
        "unsupported": s.get("unsupported"),
        "origin": s.get("sap_origin"),
        "first_seen": _iso(s.get("first_seen")),
        "last_seen": _iso(s.get("last_seen")),
        "sdp": s.get("raw"),
    }


def discovered(service: Any) -> list[dict[str, Any]]:
    """Streams currently announced over SAP (empty when the listener is off)."""
    listener = getattr(service, "sap", None)
    if listener is None:
        return []
    return [_entry(s) for s in listener.streams()]


def discovered_by_id(service: Any, did: str) -> dict[str, Any] | None:
    return next((d for d in discovered(service) if d["id"] == did), None)


def audyn_stream(d: dict[str, Any]) -> dict[str, Any]:
    """A :func:`discovered` entry in the shape of Audyn's ``/api/discovery/streams`` (its
    ``StreamInfo``), keeping our own fields too."""
    ptime_us = d.get("ptime_us")
    rate = d.get("sample_rate") or 0
    channels = d.get("channels") or 0
    names = d.get("channel_names") or [f"Ch {i + 1}" for i in range(channels)]
    return {
        **d,
        "session_name": d.get("name") or "(unnamed)",
        "origin_ip": d.get("origin"),
        "ptime": (ptime_us / 1000.0) if ptime_us else 1.0,
        "samples_per_packet": int(rate * (ptime_us or 1000) / 1_000_000),
        "channel_labels": names,
        "source_addr": d.get("source_filter"),
        "is_ssm": bool(d.get("source_filter")),
        "active": True,
    }


def discovery_status(service: Any) -> dict[str, Any]:
    """Audyn's ``DiscoveryStatus`` for our listener."""
    from origin.recorder.sap import SAP_GROUPS

    listener = getattr(service, "sap", None)
    return {
        "running": listener is not None,
        "multicast_addr": SAP_GROUPS[0],
        "packets_received": getattr(listener, "packets", 0),
        "packets_invalid": getattr(listener, "errors", 0),
        "announcements": getattr(listener, "announcements", 0),
        "deletions": getattr(listener, "deletions", 0),
        "sdp_parse_errors": getattr(listener, "errors", 0),
        "active_streams": len(discovered(service)),
    }
