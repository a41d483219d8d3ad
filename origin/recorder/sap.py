"""SAP (RFC 2974) announcements; the SDP they carry is parsed by :mod:`.sdp`.

* :class:`SAPListener` listens on 239.255.255.255:9875 and 224.2.127.254:9875, on one or more
  interfaces (the AES67 network cards: ``interfaces``), and keeps a live list of streams; an
  entry disappears on a SAP deletion or after ``timeout`` seconds without a repeat.
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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .receiver import IP_MULTICAST_ALL
from .sdp import SDPError, SDPSession, channel_names_from_order, make_sdp, parse_sdp

if TYPE_CHECKING:
    from .engine import RecorderConfig

SAP_GROUPS = ("239.255.255.255", "224.2.127.254")
SAP_PORT = 9875
SDP_MIME = b"application/sdp"


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


__all__ = [
    "SAP_GROUPS",
    "SAP_PORT",
    "SAPAnnouncer",
    "SAPListener",
    "SDPError",
    "SDPSession",
    "build_sap",
    "channel_names_from_order",
    "config_from_sdp",
    "make_sdp",
    "parse_sap",
    "parse_sdp",
]


def _sap_socket(port: int, groups: tuple[str, ...], interfaces: list[str] | None) -> socket.socket:
    """One socket joined to every SAP group on every interface (``None``: the default route's)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    s.bind(("", port))
    ifaces: list[str | None] = [*interfaces] if interfaces else [None]
    for g in groups:
        for iface in ifaces:
            try:
                s.setsockopt(
                    socket.IPPROTO_IP,
                    socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(g) + socket.inet_aton(iface or "0.0.0.0"),
                )
            except OSError as exc:  # no multicast route (isolated host): listen on loopback
                if iface or exc.errno not in (errno.ENODEV, errno.ENETUNREACH):
                    s.close()
                    raise
                s.setsockopt(
                    socket.IPPROTO_IP,
                    socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(g) + socket.inet_aton("127.0.0.1"),
                )
    s.settimeout(0.2)
    return s


def local_ipv4_addresses() -> list[str]:
    """The IPv4 address of every interface that has one (Linux ``SIOCGIFADDR``), loopback included."""
    import fcntl

    out = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _idx, name in socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                res = fcntl.ioctl(s.fileno(), 0x8915, req)  # SIOCGIFADDR
            except OSError:
                continue  # no IPv4 address on this interface
            out.append(socket.inet_ntoa(res[20:24]))
    finally:
        s.close()
    return out


def parse_interfaces(value: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """``"10.0.0.2, 127.0.0.1"`` (or a list) -> a list of IPv4 interface addresses (``None`` if empty).

    ``all`` stands for every interface with an IPv4 address. Raises ``ValueError`` naming the bad
    entry (at most 16 interfaces).
    """
    import ipaddress

    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if text.lower() == "all":
            out += local_ipv4_addresses()
            continue
        try:
            out.append(str(ipaddress.IPv4Address(text)))
        except ValueError:
            raise ValueError(f"sap interface {text[:40]!r} is not an IPv4 address") from None
    if len(out) > 16:
        raise ValueError(f"{len(out)} sap interfaces: at most 16")
    return list(dict.fromkeys(out)) or None


class SAPListener:
    """Background SAP listener keeping a live list of announced streams.

    ``streams()`` -> list of dicts: the :class:`SDPSession` fields plus ``sap_origin``,
    ``first_seen``, ``last_seen`` (epoch seconds) and ``key``. Entries expire after ``timeout``.
    Announcements without an audio stream (video, ancillary data) are counted in ``ignored``.

    ``interfaces`` (or the single ``interface``) are the addresses of the network cards to join
    the SAP groups on; without them the kernel picks the default route's card, which on a
    multi-homed recorder is usually not the AES67 one.
    """

    def __init__(
        self,
        *,
        interface: str | None = None,
        interfaces: list[str] | None = None,
        groups: tuple[str, ...] = SAP_GROUPS,
        port: int = SAP_PORT,
        timeout: float = 60.0,
    ) -> None:
        self.interfaces = parse_interfaces(interfaces) or parse_interfaces(interface)
        self.interface = self.interfaces[0] if self.interfaces else None
        self.groups = groups
        self.port = port
        self.timeout = timeout
        self._streams: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.errors = 0
        self.ignored = 0
        self.packets = 0  # datagrams handled
        self.announcements = 0
        self.deletions = 0

    def start(self) -> SAPListener:
        self._sock = _sap_socket(self.port, self.groups, self.interfaces)
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
        except SDPError as exc:
            if "no audio" in str(exc):
                self.ignored += 1
            else:
                self.errors += 1
            return
        except (ValueError, OSError):
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
    sdp: str | SDPSession | Mapping[str, Any],
    *,
    archive_root: str | None = None,
    output: str | None = None,
    channel_offset: int = 0,
    channels: int | None = None,
    interface: str | None = None,
    use_source_filter: bool = True,
    **overrides: Any,
) -> RecorderConfig:
    """Create a :class:`~origin.recorder.engine.RecorderConfig` for a discovered stream.

    ``channel_offset``/``channels`` select the recorded channels (default: all). Other
    RecorderConfig fields can be given as keyword overrides.
    """
    from .engine import RecorderConfig, RecorderConfigError

    if isinstance(sdp, Mapping):
        sdp = sdp.get("raw") or ""
    sess = parse_sdp(sdp) if isinstance(sdp, str) else sdp
    if sess.encoding not in ("L16", "L24"):
        raise RecorderConfigError(f"stream encoding {sess.encoding or 'unknown'!r} is not L16 or L24")
    if sess.unsupported:
        raise RecorderConfigError(f"stream cannot be recorded: {sess.unsupported}")
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
        mediaclk_offset=sess.mediaclk_offset,
    )
    if sess.redundant:
        red = sess.redundant
        cfg.redundant_addr = red["connection_addr"]
        cfg.redundant_port = red["port"]
        cfg.redundant_interface = interface
        if use_source_filter and red.get("source_filter"):
            cfg.redundant_source_filter = red["source_filter"][0]
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise RecorderConfigError(f"unknown recorder config field {k!r}")
        setattr(cfg, k, v)
    cfg.validate()
    return cfg
