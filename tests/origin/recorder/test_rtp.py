from __future__ import annotations

import struct

import pytest

from origin.recorder import rtp


def test_plain_header_fields():
    pkt = rtp.build(
        b"\x01\x02\x03", payload_type=97, sequence=65535, timestamp=0xFFFFFFFF, ssrc=0xDEADBEEF, marker=True
    )
    pt, seq, ts, ssrc, off, plen = rtp.parse_header(pkt)
    assert (pt, seq, ts, ssrc, off, plen) == (97, 65535, 0xFFFFFFFF, 0xDEADBEEF, 12, 3)
    assert rtp.parse(pkt).marker is True


def test_csrc_extension_and_padding_are_skipped():
    payload = bytes(range(12))
    pkt = rtp.build(
        payload,
        payload_type=96,
        sequence=1,
        timestamp=2,
        ssrc=3,
        csrcs=(10, 11, 12),
        extension=(0xBEDE, b"\xaa" * 8),
        padding=5,
    )
    # header 12 + 3 CSRC (12) + ext header 4 + ext 8 = 36; padding 5 at the end
    assert len(pkt) == 36 + 12 + 5
    pt, seq, ts, ssrc, off, plen = rtp.parse_header(pkt)
    assert off == 36 and plen == 12
    assert pkt[off : off + plen] == payload
    full = rtp.parse(pkt)
    assert full.csrcs == (10, 11, 12) and full.extension_profile == 0xBEDE and full.extension == b"\xaa" * 8


def test_length_argument_limits_the_datagram():
    pkt = rtp.build(b"\x00" * 6, payload_type=96, sequence=1, timestamp=2, ssrc=3)
    buf = bytearray(2048)
    buf[: len(pkt)] = pkt
    assert rtp.parse_header(buf, len(pkt))[5] == 6


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x80\x60\x00", "shorter than the 12-byte"),
        (b"\x40" + b"\x00" * 11, "version 1 is not 2"),
        (struct.pack("!BBHII", 0x8F, 96, 1, 2, 3) + b"\x00" * 8, "CSRC list"),
        (struct.pack("!BBHII", 0x90, 96, 1, 2, 3) + b"\x00\x00", "extension does not fit"),
        (struct.pack("!BBHII", 0x90, 96, 1, 2, 3) + b"\x00\x00\x00\x05", "CSRC list / extension"),
        (struct.pack("!BBHII", 0xA0, 96, 1, 2, 3) + b"\x01\x02\x00", "padding count 0"),
        (struct.pack("!BBHII", 0xA0, 96, 1, 2, 3) + b"\x01\x02\x09", "padding count 9"),
    ],
)
def test_malformed_packets_raise(data, message):
    with pytest.raises(rtp.RTPError, match=message):
        rtp.parse_header(data)


def test_build_validates():
    with pytest.raises(ValueError, match="payload_type=200"):
        rtp.build(b"", payload_type=200, sequence=0, timestamp=0, ssrc=0)
    with pytest.raises(ValueError, match="multiple of 4"):
        rtp.build(b"", payload_type=96, sequence=0, timestamp=0, ssrc=0, extension=(1, b"abc"))
