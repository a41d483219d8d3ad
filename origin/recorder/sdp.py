"""SDP (RFC 4566) for AES67 / SMPTE ST 2110-30 streams: parsing what real devices publish.

:func:`parse_sdp` returns the stream's first audio media as an :class:`SDPSession`:

* ``c=`` (media level wins over session level), ``m=`` port and payload type, ``a=rtpmap``
  (encoding/rate/channels; static payload types 0, 8, 10, 11 without an rtpmap too),
  ``a=ptime``, ``a=source-filter``, ``a=ts-refclk`` and ``a=mediaclk`` (session level is
  inherited by the media, RFC 7273 section 5);
* the channel order: ``a=fmtp:<pt> channel-order=SMPTE2110.(...)`` (SMPTE ST 2110-30 section 6.2.2;
  some senders write the ``SVIP.(...)`` convention with the same symbols), or a bare
  ``a=channel-order:`` line (older AES67 senders). Symbols become labels: ``M`` -> M, ``DM`` ->
  M1 M2, ``ST`` -> L R, ``LtRt`` -> Lt Rt, ``51`` -> L R C LFE Ls Rs, ``71`` -> L R C LFE Lss Rss
  Lrs Rrs, ``222`` -> 1..24, ``SGRP`` -> 4 numbered, ``Unn`` -> nn numbered by position;
* Dante's media title ``i=N channels: name, name, ...`` gives the labels when there is no
  channel order (the standard field wins when both are present);
* SMPTE ST 2022-7 redundancy: ``a=group:DUP <mid> <mid>`` with two audio ``m=`` sections of
  the same format (``a=mid:``) becomes one stream with a ``redundant`` leg (address, port,
  source filter) instead of two streams or a dropped secondary;
* streams we cannot record (AM824 / ST 2110-31, Opus, PCMU, an unknown dynamic payload type,
  no rate, too many channels, a packet time outside 125 us..4 ms) parse, with an
  ``unsupported`` reason; non-audio media (video, ancillary data) are skipped.

Hostile input is bounded before it is parsed: at most :data:`MAX_SDP_BYTES` of text,
:data:`MAX_MEDIA` media sections, numbers of at most 10 digits, labels of at most 64 characters.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

from .payload import ENCODINGS, MAX_CHANNELS, MAX_PTIME_US, MIN_PTIME_US

MAX_SDP_BYTES = 16384
MAX_MEDIA = 32
MAX_LABEL = 64
#: conventions accepted in ``channel-order=<convention>.(<symbols>)``
CHANNEL_ORDER_CONVENTIONS = ("SMPTE2110", "SVIP")
#: RFC 3551 static payload types an audio SDP may use without an ``a=rtpmap``
STATIC_PT = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1), 10: ("L16", 44100, 2), 11: ("L16", 44100, 1)}
_UNSUPPORTED_NAMES = {
    "AM824": "AM824 (SMPTE ST 2110-31, AES3 transparent) is not supported: L16 and L24 only",
    "OPUS": "Opus is not supported: L16 and L24 only",
}

_SYMBOLS = {
    "M": ["M"],
    "DM": ["M1", "M2"],
    "ST": ["L", "R"],
    "LtRt": ["Lt", "Rt"],
    "51": ["L", "R", "C", "LFE", "Ls", "Rs"],
    "71": ["L", "R", "C", "LFE", "Lss", "Rss", "Lrs", "Rrs"],
    "222": [str(i + 1) for i in range(24)],
    "SGRP": ["1", "2", "3", "4"],
}
_DANTE_TITLE = re.compile(r"^\s*(\d{1,3})\s+channels?\s*:\s*(.*)$", re.IGNORECASE)


class SDPError(ValueError):
    """An SDP description we cannot read at all (no audio media, no address)."""


class RedundantLeg(TypedDict):
    """The ST 2022-7 secondary leg of an :class:`SDPSession`."""

    connection_addr: str
    ttl: int | None
    port: int
    source_filter: list[str]
    mid: str | None


@dataclass
class SDPSession:
    """One audio stream from an SDP (the first audio media, or the primary of a DUP pair)."""

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
    #: the ST 2022-7 secondary leg: ``{"connection_addr", "port", "ttl", "source_filter", "mid"}``
    redundant: RedundantLeg | None = None
    #: why this stream cannot be recorded (``None`` when it can)
    unsupported: str | None = None
    raw: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def mediaclk_offset(self) -> int | None:
        """The RFC 7273 ``direct=OFFSET`` of ``a=mediaclk`` (``None`` when absent or another form)."""
        return mediaclk_offset(self.mediaclk)


def mediaclk_offset(value: str | None) -> int | None:
    """``"direct=963214424"`` (optionally ``"direct=N rate=48000/1"``) -> 963214424."""
    if not value:
        return None
    head = value.strip().split()[0] if value.strip() else ""
    if not head.startswith("direct="):
        return None
    num = head[len("direct=") :]
    if not num.isdigit() or len(num) > 10:
        return None
    return int(num) & 0xFFFFFFFF


def channel_names_from_order(order: str | None, channels: int) -> list[str] | None:
    """``SMPTE2110.(ST,M,M)`` -> ``["L", "R", "M", "M"]`` (``Unn`` groups become position numbers).

    ``None`` when the order is missing, malformed, uses an unknown symbol or does not add up to
    ``channels``.
    """
    if not order or "(" not in order or ")" not in order or len(order) > 512:
        return None
    conv = order[: order.index("(")].rstrip(".").strip()
    if conv and conv not in CHANNEL_ORDER_CONVENTIONS:
        return None
    inner = order[order.index("(") + 1 : order.rindex(")")]
    names: list[str] = []
    for grp in (g.strip() for g in inner.split(",") if g.strip()):
        if grp in _SYMBOLS:
            names += _SYMBOLS[grp]
        elif len(grp) == 3 and grp[0] == "U" and grp[1:].isdigit() and 1 <= int(grp[1:]) <= MAX_CHANNELS:
            names += [str(len(names) + i + 1) for i in range(int(grp[1:]))]
        else:
            return None
        if len(names) > MAX_CHANNELS:
            return None
    return names if len(names) == channels else None


def channel_order_for(channels: int, names: list[str] | None = None) -> str:
    """The standard ``SMPTE2110.(...)`` order for ``channels`` (labels recognised when given)."""
    by_names = {tuple(v): k for k, v in _SYMBOLS.items() if k not in ("222", "SGRP")}
    if names and len(names) == channels:
        groups: list[str] = []
        i = 0
        while i < channels:
            for size in (8, 6, 2, 1):
                sym = by_names.get(tuple(names[i : i + size]))
                if sym:
                    groups.append(sym)
                    i += size
                    break
            else:
                groups.append("U01")
                i += 1
        return f"SMPTE2110.({','.join(groups)})"
    if channels == 1:
        return "SMPTE2110.(M)"
    if channels == 2:
        return "SMPTE2110.(ST)"
    return f"SMPTE2110.(U{channels:02d})"


def _dante_names(title: str | None, channels: int) -> list[str] | None:
    """Dante's ``i=2 channels: Left, Right`` -> ``["Left", "Right"]`` (when the count matches)."""
    if not title:
        return None
    m = _DANTE_TITLE.match(title)
    if not m or int(m.group(1)) != channels:
        return None
    names = [n.strip()[:MAX_LABEL] for n in m.group(2).split(",")]
    if len(names) != channels or not all(names):
        return None
    return names


def _small_int(text: str, what: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        raise SDPError(f"bad {what} {text[:20]!r}")
    return int(text)


@dataclass
class _Media:
    kind: str
    port: int
    proto: str
    fmts: list[str]
    title: str | None = None
    conn: tuple[str, int | None] | None = None
    attrs: list[tuple[str, str]] = field(default_factory=list)

    def attr(self, name: str) -> str | None:
        return next((v for k, v in self.attrs if k == name), None)

    def attr_all(self, name: str) -> list[str]:
        return [v for k, v in self.attrs if k == name]


def _conn(value: str) -> tuple[str, int | None] | None:
    p = value.split()
    if len(p) < 3:
        return None
    addr = p[2].split("/")
    ttl = int(addr[1]) if len(addr) > 1 and addr[1].isdigit() and len(addr[1]) <= 3 else None
    return addr[0], ttl


def _split(text: str) -> tuple[dict[str, Any], list[_Media]]:
    sess: dict[str, Any] = {"attrs": [], "conn": None}
    media: list[_Media] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        k, v = line[0], line[2:]
        cur = media[-1] if media else None
        if k == "m":
            if len(media) >= MAX_MEDIA:
                raise SDPError(f"more than {MAX_MEDIA} m= sections")
            p = v.split()
            if len(p) < 4:
                continue
            port = _small_int(p[1].split("/")[0], "m= port")
            if port > 65535:
                raise SDPError(f"bad m= port {port}")
            media.append(_Media(p[0].lower(), port, p[2], p[3:]))
        elif k == "c":
            c = _conn(v)
            if cur is None:
                sess["conn"] = c
            else:
                cur.conn = c
        elif k == "i":
            if cur is None:
                sess["title"] = v
            else:
                cur.title = v
        elif k == "a":
            name, _, val = v.partition(":")
            (sess["attrs"] if cur is None else cur.attrs).append((name.strip(), val))
        elif cur is None and k in "osv":
            sess[k] = v
    return sess, media


def _encoding(m: _Media, pt: int) -> tuple[str, int, int]:
    for val in m.attr_all("rtpmap"):
        num, _, enc = val.strip().partition(" ")
        if num.strip() == str(pt):
            ep = enc.strip().split("/")
            rate = int(ep[1]) if len(ep) > 1 and ep[1].isdigit() and len(ep[1]) <= 7 else 0
            ch = int(ep[2]) if len(ep) > 2 and ep[2].isdigit() and len(ep[2]) <= 4 else 1
            return ep[0].upper(), rate, ch
    return STATIC_PT.get(pt, ("", 0, 1))


def _fmtp_channel_order(m: _Media, pt: int) -> str | None:
    for val in m.attr_all("fmtp"):
        num, _, params = val.strip().partition(" ")
        if num.strip() != str(pt):
            continue
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "channel-order":
                return value.strip()
    return None


def _source_filter(m: _Media, sess_attrs: list[tuple[str, str]]) -> list[str]:
    vals = m.attr_all("source-filter") or [v for k, v in sess_attrs if k == "source-filter"]
    for val in vals:
        p = val.split()
        if len(p) >= 5 and p[0] == "incl":
            return p[4:][:8]
    return []


def _unsupported(enc: str, rate: int, channels: int, ptime_us: int | None, pt: int) -> str | None:
    if not enc:
        return f"no a=rtpmap for dynamic payload type {pt}: encoding unknown"
    if enc not in ENCODINGS:
        return _UNSUPPORTED_NAMES.get(enc, f"encoding {enc} is not supported: L16 and L24 only")
    if rate <= 0:
        return "no sample rate in a=rtpmap"
    if not 1 <= channels <= MAX_CHANNELS:
        return f"{channels} channels: at most {MAX_CHANNELS} are supported"
    if ptime_us is not None and not MIN_PTIME_US <= ptime_us <= MAX_PTIME_US:
        return f"packet time {ptime_us} us is outside {MIN_PTIME_US}..{MAX_PTIME_US} us"
    return None


def parse_sdp(text: str) -> SDPSession:
    """Parse the first audio stream of an SDP description (see the module docstring).

    Raises :class:`SDPError` when there is no audio ``m=`` section or no connection address.
    """
    if len(text) > MAX_SDP_BYTES:
        raise SDPError(f"SDP of {len(text)} bytes is larger than {MAX_SDP_BYTES}")
    sess, media = _split(text)
    audio = [m for m in media if m.kind == "audio" and m.fmts and m.fmts[0].isdigit()]
    if not audio:
        raise SDPError("SDP has no audio m= line")
    primary, secondary = audio[0], None
    for val in (v for k, v in sess["attrs"] if k == "group"):
        parts = val.split()
        if len(parts) >= 3 and parts[0] == "DUP":
            by_mid = {m.attr("mid"): m for m in audio if m.attr("mid")}
            legs = [leg for mid in parts[1:3] if (leg := by_mid.get(mid)) is not None]
            if len(legs) == 2:
                primary, secondary = legs
                break
    s = SDPSession(raw=text)
    o = (sess.get("o") or "").split()
    if len(o) >= 6:
        s.session_id, s.session_version, s.origin_addr = o[1], o[2], o[5]
    s.session_name = sess.get("s", "")[:256]
    conn = primary.conn or sess["conn"]
    if conn is None:
        raise SDPError("SDP has no c= connection address")
    s.connection_addr, s.ttl = conn
    s.port = primary.port
    s.payload_type = _small_int(primary.fmts[0], "payload type")
    if s.payload_type > 127:
        raise SDPError(f"payload type {s.payload_type} is out of range [0, 127]")
    s.encoding, s.sample_rate, s.channels = _encoding(primary, s.payload_type)
    ptime = primary.attr("ptime") or next((v for k, v in sess["attrs"] if k == "ptime"), None)
    if ptime is not None:
        try:
            s.ptime_us = int(round(float(ptime.strip()[:12]) * 1000))
        except ValueError as exc:
            raise SDPError(f"bad ptime {ptime[:20]!r}") from exc
    s.source_filter = _source_filter(primary, sess["attrs"])
    sess_attr = dict(reversed(sess["attrs"]))
    s.ts_refclk = (primary.attr("ts-refclk") or sess_attr.get("ts-refclk") or "").strip() or None
    s.mediaclk = (primary.attr("mediaclk") or sess_attr.get("mediaclk") or "").strip() or None
    order = _fmtp_channel_order(primary, s.payload_type) or primary.attr("channel-order")
    s.channel_order = order.strip()[:512] if order else None
    s.channel_names = channel_names_from_order(s.channel_order, s.channels) or _dante_names(
        primary.title, s.channels
    )
    s.unsupported = _unsupported(s.encoding, s.sample_rate, s.channels, s.ptime_us, s.payload_type)
    if secondary is not None:
        sconn = secondary.conn or sess["conn"]
        if sconn is not None:
            s.redundant = {
                "connection_addr": sconn[0],
                "ttl": sconn[1],
                "port": secondary.port,
                "source_filter": _source_filter(secondary, sess["attrs"]),
                "mid": secondary.attr("mid"),
            }
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
    channel_names: list[str] | None = None,
    mediaclk_offset: int = 0,
    ts_refclk: str = "localmac=00-00-00-00-00-00",
    redundant: tuple[str, int] | None = None,
) -> str:
    """An AES67 / ST 2110-30 SDP for our sender (with an ST 2022-7 ``DUP`` pair when ``redundant``).

    The channel order is written in the standard ``a=fmtp:<pt> channel-order=SMPTE2110.(...)``
    form; ``a=ts-refclk`` and ``a=mediaclk:direct=<offset>`` say how the RTP timestamps relate
    to the reference clock (RFC 7273).
    """
    ptime = f"{ptime_us / 1000:g}"
    order = channel_order_for(channels, channel_names)
    head = [
        "v=0",
        f"o=- {session_id} 0 IN IP4 {origin_addr}",
        f"s={session_name}",
        "t=0 0",
    ]
    legs = [("primary", dest_addr, port)]
    if redundant is not None:
        head.append("a=group:DUP primary secondary")
        legs.append(("secondary", redundant[0], redundant[1]))
    lines = list(head)
    for mid, addr, p in legs:
        lines += [
            f"m=audio {p} RTP/AVP {payload_type}",
            f"c=IN IP4 {addr}/{ttl}",
            f"a=rtpmap:{payload_type} {payload}/{sample_rate}/{channels}",
            f"a=fmtp:{payload_type} channel-order={order}",
            f"a=ptime:{ptime}",
            f"a=source-filter: incl IN IP4 {addr} {origin_addr}",
            f"a=ts-refclk:{ts_refclk}",
            f"a=mediaclk:direct={int(mediaclk_offset) & 0xFFFFFFFF}",
            "a=recvonly",
        ]
        if redundant is not None:
            lines.append(f"a=mid:{mid}")
    return "\r\n".join(lines) + "\r\n"
