"""The local linuxptp daemon, read through ``pmc`` (what ``a=ts-refclk`` should say, TAI-UTC).

:func:`ptp_status` asks a running ``ptp4l`` (over its management socket) for its grandmaster,
port state and the UTC offset it distributes; :func:`ts_refclk` formats the grandmaster as the
RFC 7273 / AES67 ``a=ts-refclk:ptp=IEEE1588-2008:<EUI-64>:<domain>`` value a sender announces.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

_CLOCK_ID = re.compile(r"^[0-9a-fA-F]{6}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{6}$")


class PTPError(RuntimeError):
    """pmc is missing, ptp4l did not answer, or the answer could not be read."""


def ptp_status(*, uds: str = "/var/run/ptp4l", domain: int = 0, timeout: float = 3.0) -> dict[str, Any]:
    """``{"grandmaster": "001122.fffe.334455", "port_state": "SLAVE", "utc_offset": 37, ...}``."""
    if not 0 <= int(domain) <= 255:
        raise PTPError(f"domain={domain} is out of range [0, 255]")
    exe = shutil.which("pmc")
    if exe is None:
        raise PTPError("pmc (linuxptp) is not installed")
    argv = [exe, "-u", "-b", "0", "-d", str(int(domain)), "-s", uds]
    argv += ["GET PARENT_DATA_SET", "GET TIME_PROPERTIES_DATA_SET", "GET PORT_DATA_SET"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PTPError(f"pmc failed: {exc}") from None
    fields: dict[str, str] = {}
    for line in out.splitlines()[:200]:
        parts = line.split()
        if len(parts) == 2:
            fields.setdefault(parts[0], parts[1])
    gm = fields.get("grandmasterIdentity")
    if not gm or not _CLOCK_ID.match(gm):
        raise PTPError(f"no answer from ptp4l on {uds} (domain {domain})")
    try:
        utc = int(fields.get("currentUtcOffset", "37"))
    except ValueError:
        utc = 37
    return {
        "grandmaster": gm.lower(),
        "port_state": fields.get("portState"),
        "utc_offset": utc,
        "utc_offset_valid": fields.get("currentUtcOffsetValid") == "1",
        "domain": int(domain),
    }


def ts_refclk(grandmaster: str, domain: int = 0) -> str:
    """``"001122.fffe.334455"`` -> ``"ptp=IEEE1588-2008:00-11-22-FF-FE-33-44-55:0"``."""
    if not _CLOCK_ID.match(grandmaster):
        raise PTPError(f"{grandmaster!r} is not a PTP clock identity")
    hexs = grandmaster.replace(".", "").upper()
    eui = "-".join(hexs[i : i + 2] for i in range(0, 16, 2))
    return f"ptp=IEEE1588-2008:{eui}:{int(domain)}"
