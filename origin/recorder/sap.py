"""SAP (RFC 2974) announcements and SDP (RFC 4566 / AES67) parsing.

* :func:`parse_sdp` reads ``c=``, ``m=``, ``a=rtpmap`` (L16/L24 rate/channels), ``a=ptime``,
  ``a=source-filter``, ``a=ts-refclk``, ``a=mediaclk`` and ``a=channel-order``.
* :class:`SAPListener` listens on 239.255.255.255:9875 and 224.2.127.254:9875 and keeps a
  live list of streams; an entry disappears on a SAP deletion or after ``timeout`` seconds
  without a repeat.
* :class:`SAPAnnouncer` announces one SDP (our test sender) and sends a deletion on stop.
* :func:`config_from_sdp` turns a discovered stream into a :class:`RecorderConfig`.
"""

from __future__ import annotations

import errno
import hashlib
import socket
import struct
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .receiver import IP_MULTICAST_ALL

SAP_GROUPS = ("239.255.255.255", "224.2.127.254")
SAP_PORT = 9875
SDP_MIME = b"application/sdp"


class SDPError(ValueError):
    """An SDP description we cannot record from."""


@dataclass
class SDPSession:
    session_name: str = ""
    origin_addr: str = ""
    session_id: str = ""
    session_version: str = ""
    connection_addr: str = ""
    ttl: int | None = None
    port: int = 0
    payload_type: int = 96
    encoding: str = ""
    sample_rate: int = 0
    channels: int = 1
    ptime_us: int | None = None
    source_filter: list[str] = field(default_factory=list)
    ts_refclk: str | None = None
    mediaclk: str | None = None
    channel_order: str | None = None
    channel_names: list[str] | None = None
    raw: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


_ORDER = {
    "M": ["M"],
    "DM": ["M1", "M2"],
    "ST": ["L", "R"],
    "LtRt": ["Lt", "Rt"],
    "51": ["L", "R", "C", "LFE", "Ls", "Rs"],
    "71": ["L", "R", "C", "LFE", "Lss", "Rss", "Lrs", "Rrs"],
    "222": [str(i + 1) for i in range(24)],
    "SGRP": ["1", "2", "3", "4"],
}


def channel_names_from_order(order: str | None, channels: int) -> list[str] | None:
    """``SMPTE2110.(ST,M,M)`` -> ``["L", "R", "M", "M"]`` (``U0n`` groups become numbers)."""
    if not order or "(" not in order:
        return None
    inner = order[order.index("(") + 1 : order.rindex(")")] if ")" in order else ""
    names: list[str] = []
    for grp in (g.strip() for g in inner.split(",") if g.strip()):
        if grp in _ORDER:
            names += _ORDER[grp]
        elif grp.startswith("U") and grp[1:].isdigit():
            names += [str(len(names) + i + 1) for i in range(int(grp[1:]))]
        else:
            return None
    return names if len(names) == channels else None


def parse_sdp(text: str) -> SDPSession:
    """Parse the first audio media of an SDP description. Raises :class:`SDPError`."""
    s = SDPSession(raw=text)
    media_seen = False
    session_c = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        k, v = line[0], line[2:]
        if k == "m":
            if media_seen:
                break  # first media only
            parts = v.split()
            if len(parts) < 4 or parts[0] != "audio":
                continue
            try:
                s.port = int(parts[1].split("/")[0])
                s.payload_type = int(parts[3])
            except ValueError as exc:
                raise SDPError(f"bad m= line: {v!r}") from exc
            media_seen = True
        elif k == "o":
            p = v.split()
            if len(p) >= 6:
                s.session_id, s.session_version, s.origin_addr = p[1], p[2], p[5]
        elif k == "s":
            s.session_name = v
        elif k == "c":
            p = v.split()
            if len(p) >= 3:
                addr = p[2].split("/")
                if media_seen or not session_c:
                    s.connection_addr = addr[0]
                    s.ttl = int(addr[1]) if len(addr) > 1 and addr[1].isdigit() else None
                if not media_seen:
                    session_c = addr[0]
        elif k == "a":
            name, _, val = v.partition(":")
            if name == "rtpmap":
                pt, _, enc = val.partition(" ")
                ep = enc.strip().split("/")
                if pt.strip().isdigit() and (not media_seen or int(pt) == s.payload_type):
                    s.encoding = ep[0].upper()
                    s.sample_rate = int(ep[1]) if len(ep) > 1 and ep[1].isdigit() else 0
                    s.channels = int(ep[2]) if len(ep) > 2 and ep[2].isdigit() else 1
            elif name == "ptime":
                try:
                    s.ptime_us = int(round(float(val) * 1000))
                except ValueError as exc:
                    raise SDPError(f"bad ptime {val!r}") from exc
            elif name == "source-filter":
                p = val.split()
                if len(p) >= 5 and p[0] == "incl":
                    s.source_filter = p[4:]
            elif name == "ts-refclk":
                s.ts_refclk = val.strip()
            elif name == "mediaclk":
                s.mediaclk = val.strip()
            elif name == "channel-order":
                s.channel_order = val.strip()
    if not media_seen:
        raise SDPError("SDP has no audio m= line")
    if not s.connection_addr:
        raise SDPError("SDP has no c= connection address")
    s.channel_names = channel_names_from_order(s.channel_order, s.channels)
    return s


def make_sdp(
    *,
    session_name: str,
    origin_addr: str,
    dest_addr: str,
    port: int,
    payload: str = "L24",
    sample_rate: int = 48000,
    channels: int = 2,
    payload_type: int = 96,
    ptime_us: int = 1000,
    ttl: int = 1,
    session_id: int = 0,
) -> str:
    """An AES67-style SDP for our sender."""
    ptime = f"{ptime_us / 1000:g}"
    order = {1: "SMPTE2110.(M)", 2: "SMPTE2110.(ST)"}.get(channels, f"SMPTE2110.(U{channels:02d})")
    lines = [
        "v=0",
        f"o=- {session_id} 0 IN IP4 {origin_addr}",
        f"s={session_name}",
        f"c=IN IP4 {dest_addr}/{ttl}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {payload_type}",
        f"c=IN IP4 {dest_addr}/{ttl}",
        f"a=rtpmap:{payload_type} {payload}/{sample_rate}/{channels}",
        f"a=ptime:{ptime}",
        f"a=source-filter: incl IN IP4 {dest_addr} {origin_addr}",
        "a=ts-refclk:localmac=00-00-00-00-00-00",
        "a=mediaclk:direct=0",
        f"a=channel-order:{order}",
        "a=recvonly",
    ]
    return "\r\n".join(lines) + "\r\n"


def build_sap(sdp: str, origin_addr: str, *, delete: bool = False, msg_hash: int | None = None) -> bytes:
    """A SAP v1 packet (IPv4 origin, no auth, no encryption) carrying ``sdp``."""
    if msg_hash is None:
        msg_hash = int.from_bytes(hashlib.sha1(sdp.encode()).digest()[:2], "big")
    b0 = 0x20 | (0x04 if delete else 0)
    return (
        struct.pack("!BBH4s", b0, 0, msg_hash, socket.inet_aton(origin_addr))
        + SDP_MIME
        + b"\x00"
        + sdp.encode()
    )


def parse_sap(data: bytes) -> tuple[bool, str, int, str]:
    """Return ``(is_deletion, origin_addr, msg_hash, sdp_text)``. Raises SDPError."""
    if len(data) < 8:
        raise SDPError("SAP packet too short")
    b0, auth_len, msg_hash = struct.unpack_from("!BBH", data, 0)
    if b0 >> 5 != 1:
        raise SDPError(f"SAP version {b0 >> 5} is not 1")
    if b0 & 0x02:
        raise SDPError("encrypted SAP is not supported")
    ipv6 = bool(b0 & 0x10)
    alen = 16 if ipv6 else 4
    origin = socket.inet_ntop(socket.AF_INET6 if ipv6 else socket.AF_INET, data[4 : 4 + alen])
    off = 4 + alen + 4 * auth_len
    body = data[off:]
    if not body.startswith(b"v=0"):
        mime, sep, rest = body.partition(b"\x00")
        if not sep:
            raise SDPError("SAP payload type is not terminated")
        if mime.strip().lower() != SDP_MIME:
            raise SDPError(f"SAP payload type {mime!r} is not application/sdp")
        body = rest
    return bool(b0 & 0x04), origin, msg_hash, body.decode("utf-8", "replace")


def _sap_socket(port: int, groups: tuple[str, ...], interface: str | None) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    s.bind(("", port))
    for g in groups:
        try:
            s.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(g) + socket.inet_aton(interface or "0.0.0.0"),
            )
        except OSError as exc:  # no multicast route (isolated host): listen on loopback
            if interface or exc.errno not in (errno.ENODEV, errno.ENETUNREACH):
                raise
            s.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(g) + socket.inet_aton("127.0.0.1"),
            )
    s.settimeout(0.2)
    return s


class SAPListener:
    """Background SAP listener keeping a live list of announced streams.

    ``streams()`` -> list of dicts: the :class:`SDPSession` fields plus ``sap_origin``,
    ``first_seen``, ``last_seen`` (epoch seconds) and ``key``. Entries expire after ``timeout``.
    """

    def __init__(
        self,
        *,
        interface: str | None = None,
        groups: tuple[str, ...] = SAP_GROUPS,
        port: int = SAP_PORT,
        timeout: float = 60.0,
    ) -> None:
        self.interface = interface
        self.groups = groups
        self.port = port
        self.timeout = timeout
        self._streams: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.errors = 0
        self.packets = 0  # datagrams handled
        self.announcements = 0
        self.deletions = 0

    def start(self) -> SAPListener:
        self._sock = _sap_socket(self.port, self.groups, self.interface)
        self._thread = threading.Thread(target=self._run, name="sap-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SAPListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, data: bytes, now: float | None = None) -> None:
        """Process one SAP datagram (public for tests and other transports)."""
        now = time.time() if now is None else now
        self.packets += 1
        try:
            delete, origin, h, text = parse_sap(data)
            key = f"{origin}/{h}"
            if delete:
                self.deletions += 1
                with self._lock:
                    self._streams.pop(key, None)
                    for k in [k for k, v in self._streams.items() if v.get("raw") == text]:
                        self._streams.pop(k, None)
                return
            sess = parse_sdp(text)
        except (SDPError, ValueError, OSError):
            self.errors += 1
            return
        self.announcements += 1
        with self._lock:
            prev = self._streams.get(key)
            entry = {
                **sess.to_dict(),
                "sap_origin": origin,
                "key": key,
                "first_seen": prev["first_seen"] if prev else now,
                "last_seen": now,
            }
            self._streams[key] = entry

    def streams(self, now: float | None = None) -> list[dict[str, Any]]:
        now = time.time() if now is None else now
        with self._lock:
            for k in [k for k, v in self._streams.items() if now - v["last_seen"] > self.timeout]:
                del self._streams[k]
            return sorted((dict(v) for v in self._streams.values()), key=lambda v: v["session_name"])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)  # type: ignore[union-attr]
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                self.errors += 1
                time.sleep(0.1)
                continue
            self.handle(data)


class SAPAnnouncer:
    """Announce one SDP every ``interval`` seconds; send a deletion on :meth:`stop`."""

    def __init__(
        self,
        sdp: str,
        *,
        interval: float = 5.0,
        interface: str | None = None,
        addr: str = SAP_GROUPS[0],
        port: int = SAP_PORT,
        ttl: int = 1,
    ) -> None:
        self.sdp = sdp
        self.interval = interval
        self.addr, self.port = addr, port
        origin = parse_sdp(sdp).origin_addr or interface or "127.0.0.1"
        self.packet = build_sap(sdp, origin)
        self.delete_packet = build_sap(sdp, origin, delete=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        if interface:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fallback = bool(interface)
        self.sent = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sap-announcer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sock.sendto(self.packet, (self.addr, self.port))
                self.sent += 1
            except OSError as exc:
                if exc.errno in (errno.ENETUNREACH, errno.ENODEV) and not self._fallback:
                    self._fallback = True  # no multicast route: announce on loopback
                    self.sock.setsockopt(
                        socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1")
                    )
                    continue
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        try:
            self.sock.sendto(self.delete_packet, (self.addr, self.port))
        except OSError:
            pass
        self.sock.close()


def config_from_sdp(
    sdp: str | SDPSession | dict,
    *,
    archive_root: str | None = None,
    output: str | None = None,
    channel_offset: int = 0,
    channels: int | None = None,
    interface: str | None = None,
    use_source_filter: bool = True,
    **overrides: Any,
):
    """Create a :class:`~origin.recorder.engine.RecorderConfig` for a discovered stream.

    ``channel_offset``/``channels`` select the recorded channels (default: all). Other
    RecorderConfig fields can be given as keyword overrides.
    """
    from .engine import RecorderConfig, RecorderConfigError

    if isinstance(sdp, dict):
        sdp = sdp.get("raw") or ""
    sess = parse_sdp(sdp) if isinstance(sdp, str) else sdp
    if sess.encoding not in ("L16", "L24"):
        raise RecorderConfigError(f"stream encoding {sess.encoding or 'unknown'!r} is not L16 or L24")
    count = channels if channels is not None else sess.channels - channel_offset
    names = sess.channel_names[channel_offset : channel_offset + count] if sess.channel_names else None
    cfg = RecorderConfig(
        source_addr=sess.connection_addr,
        port=sess.port,
        interface=interface,
        source_filter=(sess.source_filter[0] if use_source_filter and sess.source_filter else None),
        payload=sess.encoding,
        sample_rate=sess.sample_rate,
        channels=count,
        channel_offset=channel_offset,
        stream_channels=sess.channels,
        ptime_us=sess.ptime_us or 1000,
        payload_type=sess.payload_type,
        archive_root=archive_root,
        output=output,
        channel_names=names,
        session_name=sess.session_name,
    )
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise RecorderConfigError(f"unknown recorder config field {k!r}")
        setattr(cfg, k, v)
    cfg.validate()
    return cfg
