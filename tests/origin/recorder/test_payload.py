from __future__ import annotations

import struct

import numpy as np
import pytest

from origin.recorder.payload import PayloadError, PayloadFormat, decode, encode, to_float


def _manual_l24(data: bytes, channels: int) -> list[list[int]]:
    out = []
    for i in range(0, len(data), 3 * channels):
        row = []
        for c in range(channels):
            b = data[i + 3 * c : i + 3 * c + 3]
            v = (b[0] << 16) | (b[1] << 8) | b[2]
            if v & 0x800000:
                v -= 1 << 24
            row.append(v)
        out.append(row)
    return out


@pytest.mark.parametrize("channels", [1, 2, 8, 64])
def test_l24_decode_matches_a_byte_by_byte_reference(channels):
    rng = np.random.default_rng(channels)
    data = rng.integers(0, 256, size=5 * 3 * channels, dtype=np.uint8).tobytes()
    got = decode(data, PayloadFormat("L24", 48000, channels))
    assert got.dtype == np.int32 and got.shape == (5, channels)
    assert (got >> 8).tolist() == _manual_l24(data, channels)
    assert not (got & 0xFF).any()


def test_l16_decode_and_extremes():
    data = struct.pack(">4h", 32767, -32768, 1, -1)
    got = decode(data, PayloadFormat("L16", 44100, 2))
    assert (got >> 16).tolist() == [[32767, -32768], [1, -1]]
    f = to_float(got)
    assert f[0, 1] == -1.0 and f[0, 0] == np.float32(32767 / 32768)


def test_channel_selection_offset_and_count():
    frames = np.arange(4 * 8, dtype=np.int32).reshape(4, 8) << 8
    data = encode(frames, "L24")
    fmt = PayloadFormat("L24", 48000, stream_channels=8, channel_offset=3, channel_count=2)
    got = decode(data, fmt)
    assert fmt.channels == 2
    np.testing.assert_array_equal(got, frames[:, 3:5])


@pytest.mark.parametrize("enc", ["L16", "L24"])
def test_encode_decode_roundtrip(enc):
    rng = np.random.default_rng(1)
    shift = 16 if enc == "L16" else 8
    bits = 16 if enc == "L16" else 24
    x = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(100, 3)).astype(np.int32) << shift
    np.testing.assert_array_equal(decode(encode(x, enc), PayloadFormat(enc, 96000, 3)), x)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"encoding": "L20"}, "payload='L20'"),
        ({"stream_channels": 65}, "stream channels=65"),
        ({"ptime_us": 100}, "ptime_us=100"),
        ({"ptime_us": 5000}, "ptime_us=5000"),
        ({"stream_channels": 2, "channel_offset": 2}, "channel_offset=2"),
        ({"stream_channels": 4, "channel_offset": 3, "channel_count": 2}, "channel count=2"),
    ],
)
def test_invalid_formats(kwargs, message):
    with pytest.raises(PayloadError, match=message):
        PayloadFormat(**kwargs)


def test_partial_frames_rejected():
    with pytest.raises(PayloadError, match="whole number"):
        decode(b"\x00" * 7, PayloadFormat("L24", 48000, 2))


def test_frames_per_packet_from_ptime():
    assert PayloadFormat("L24", 48000, 2, ptime_us=125).frames_per_packet == 6
    assert PayloadFormat("L24", 44100, 2, ptime_us=4000).frames_per_packet == 176
