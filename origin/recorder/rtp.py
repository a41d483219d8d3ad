"""RTP version 2 header parsing and building (RFC 3550).

The parser is used on the capture hot path, so it works on a buffer plus a length
(``recv_into`` fills a preallocated ``bytearray``) and returns plain ints: no
per-packet objects are created beyond the result tuple.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

RTP_HEADER = struct.Struct("!BBHII")
_EXT = struct.Struct("!HH")
MIN_HEADER = 12


class RTPError(ValueError):
    """A datagram that is not a valid RTP v2 packet."""


class RTPPacket(NamedTuple):
    """Parsed header fields and the payload's position inside the datagram."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension_profile: int | None
    extension: bytes
    payload_offset: int
    payload_length: int


def parse_header(
    buf: bytes | bytearray | memoryview, length: int | None = None
) -> tuple[int, int, int, int, int, int]:
    """Parse an RTP header quickly.

    Parameters
    ----------
    buf : buffer holding the datagram.
    length : number of valid bytes in ``buf`` (default ``len(buf)``).

    Returns
    -------
    (payload_type, sequence, timestamp, ssrc, payload_offset, payload_length)

    Raises
    ------
    RTPError
        Too short, wrong version, a CSRC list / extension / padding that does not fit.
    """
    n = len(buf) if length is None else length
    if n < MIN_HEADER:
        raise RTPError(f"datagram of {n} bytes is shorter than the 12-byte RTP header")
    b0, b1, seq, ts, ssrc = RTP_HEADER.unpack_from(buf, 0)
    if b0 >> 6 != 2:
        raise RTPError(f"RTP version {b0 >> 6} is not 2")
    off = MIN_HEADER + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in 32-bit words
        if off + 4 > n:
            raise RTPError("RTP header extension does not fit in the datagram")
        _, words = _EXT.unpack_from(buf, off)
        off += 4 + 4 * words
    end = n
    if b0 & 0x20:  # padding: the last octet counts the padding octets (itself included)
        pad = buf[n - 1]
        if pad == 0 or pad > n - off:
            raise RTPError(f"RTP padding count {pad} is invalid")
        end = n - pad
    if off > end:
        raise RTPError("RTP CSRC list / extension longer than the datagram")
    return b1 & 0x7F, seq, ts, ssrc, off, end - off


def parse(buf: bytes | bytearray | memoryview, length: int | None = None) -> RTPPacket:
    """Parse a datagram into an :class:`RTPPacket` (all header fields; not for the hot path)."""
    pt, seq, ts, ssrc, off, plen = parse_header(buf, length)
    b0, b1 = buf[0], buf[1]
    cc = b0 & 0x0F
    csrcs = struct.unpack_from(f"!{cc}I", buf, MIN_HEADER) if cc else ()
    profile = None
    ext = b""
    if b0 & 0x10:
        p = MIN_HEADER + 4 * cc
        profile, words = _EXT.unpack_from(buf, p)
        ext = bytes(buf[p + 4 : p + 4 + 4 * words])
    return RTPPacket(pt, bool(b1 & 0x80), seq, ts, ssrc, tuple(csrcs), profile, ext, off, plen)


def build(
    payload: bytes,
    *,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
    extension: tuple[int, bytes] | None = None,
    padding: int = 0,
) -> bytes:
    """Build an RTP v2 datagram (used by the test sender and the tests).

    ``extension`` is ``(profile, data)`` with ``len(data)`` a multiple of 4; ``padding`` adds that
    many padding octets (1..255).
    """
    if not 0 <= payload_type <= 127:
        raise ValueError(f"payload_type={payload_type} is out of range [0, 127]")
    if len(csrcs) > 15:
        raise ValueError("at most 15 CSRCs")
    b0 = 0x80 | len(csrcs) | (0x10 if extension else 0) | (0x20 if padding else 0)
    b1 = (0x80 if marker else 0) | payload_type
    parts = [RTP_HEADER.pack(b0, b1, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)]
    if csrcs:
        parts.append(struct.pack(f"!{len(csrcs)}I", *csrcs))
    if extension:
        prof, data = extension
        if len(data) % 4:
            raise ValueError("extension data length must be a multiple of 4")
        parts.append(_EXT.pack(prof, len(data) // 4) + data)
    parts.append(payload)
    if padding:
        if not 1 <= padding <= 255:
            raise ValueError(f"padding={padding} is out of range [1, 255]")
        parts.append(bytes(padding - 1) + bytes([padding]))
    return b"".join(parts)
