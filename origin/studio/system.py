"""``/api/system``: the read-only parts of Audyn's appliance settings that make sense for us.

* ``GET /config`` -> ``{hostname, timezone, ntp_servers, max_recorders, active_recorders,
  archive_base_path, default_format, default_sample_rate, default_channels}`` (admin)
* ``GET /interfaces`` -> ``[{name, ip_address, netmask, mac_address, is_up}]`` (admin): the
  host's IPv4 interfaces (for a recorder's multicast ``interface``)
* ``GET /timezones`` -> IANA zone names (sorted)

Appliance administration stays out of scope: changing the hostname/timezone/NTP
(``POST /config``), the control and AES67 network interfaces (``/network``, ``/aes67``), SSL
certificates (``/ssl...``) and log rotation (``/logrotate...``) answer ``501`` with
``{"detail": "<what> is not managed by this server ..."}``; configure the host instead.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import time
import zoneinfo
from typing import Any

from quart import Blueprint

from origin.errors import StudioError
from origin.studio.authz import admin_required, require_admin
from origin.studio.common import service
from origin.studio.models import studio_doc

bp = Blueprint("studio_system", __name__, url_prefix="/api/system")

_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B


async def not_implemented(what: str) -> Any:
    """The 501 for appliance administration (after the admin check: no information leaks)."""
    await require_admin()
    raise StudioError(
        501, f"{what} is not managed by this server; configure the host (out of scope of this API)"
    )


def _ioctl_addr(sock: socket.socket, name: str, req: int) -> str | None:
    try:
        packed = struct.pack("256s", name.encode()[:15])
        return socket.inet_ntoa(fcntl.ioctl(sock.fileno(), req, packed)[20:24])
    except OSError:
        return None


def interfaces() -> list[dict[str, Any]]:
    """The host's network interfaces with their IPv4 address (Linux ioctl; blocking, fast)."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _idx, name in sorted(socket.if_nameindex()):
            mac = None
            up = None
            try:
                with open(f"/sys/class/net/{name}/address") as fh:
                    mac = fh.read().strip() or None
                with open(f"/sys/class/net/{name}/operstate") as fh:
                    up = fh.read().strip() in ("up", "unknown")
            except OSError:
                pass
            out.append(
                {
                    "name": name,
                    "ip_address": _ioctl_addr(sock, name, _SIOCGIFADDR),
                    "netmask": _ioctl_addr(sock, name, _SIOCGIFNETMASK),
                    "mac_address": mac,
                    "is_up": up,
                }
            )
    return out


def _timezone() -> str:
    tz = os.environ.get("TZ")
    if tz:
        return tz.lstrip(":")
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            return link.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return time.tzname[0] or "UTC"


def _ntp_servers() -> list[str]:
    for path in ("/etc/chrony/chrony.conf", "/etc/chrony.conf", "/etc/ntp.conf", "/etc/ntpsec/ntp.conf"):
        try:
            with open(path) as fh:
                lines = fh.read(65536).splitlines()
        except OSError:
            continue
        return [
            ln.split()[1] for ln in lines if ln.split()[:1] in (["server"], ["pool"]) and len(ln.split()) > 1
        ]
    return []


@bp.get("/config")
@studio_doc(summary="System configuration", tags=["system"])
@admin_required
async def get_config() -> Any:
    svc = service()
    return {
        "hostname": socket.gethostname(),
        "timezone": _timezone(),
        "ntp_servers": _ntp_servers(),
        "max_recorders": svc.max_recorders,
        "active_recorders": svc.active_count,
        "archive_base_path": str(svc.archive_root),
        "default_format": "wav",
        "default_sample_rate": 48000,
        "default_channels": 2,
    }


@bp.get("/interfaces")
@studio_doc(summary="Network interfaces", tags=["system"])
@admin_required
async def get_interfaces() -> Any:
    return interfaces()


@bp.get("/timezones")
@studio_doc(summary="Time zones", tags=["system"])
@admin_required
async def get_timezones() -> Any:
    return sorted(zoneinfo.available_timezones())


_NOT_IMPLEMENTED = {
    ("POST", "/config"): "Hostname, timezone and NTP",
    ("GET", "/network"): "Control network interface configuration",
    ("POST", "/network"): "Control network interface configuration",
    ("GET", "/network/current"): "Network interface configuration",
    ("GET", "/aes67"): "AES67 network interface configuration",
    ("POST", "/aes67"): "AES67 network interface configuration",
    ("GET", "/ssl"): "SSL certificate management",
    ("POST", "/ssl/enable"): "SSL certificate management",
    ("POST", "/ssl/disable"): "SSL certificate management",
    ("POST", "/ssl/renew"): "SSL certificate management",
    ("POST", "/ssl/upload"): "SSL certificate management",
    ("GET", "/logrotate"): "Log rotation",
    ("POST", "/logrotate"): "Log rotation",
    ("POST", "/logrotate/force"): "Log rotation",
}


def _register_501s() -> None:
    for (method, path), what in _NOT_IMPLEMENTED.items():

        @studio_doc(summary=f"{what} (501: not implemented here)", errors=(401, 403, 501), tags=["system"])
        async def view(what: str = what) -> Any:
            return await not_implemented(what)

        bp.add_url_rule(path, f"ni_{method}_{path}", view, methods=[method])


_register_501s()
