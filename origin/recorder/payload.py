"""L16 / L24 payload formats: validation, decode and encode with NumPy.

Internally every sample is a *left-justified* ``int32`` (full scale = 2**31): an L24 sample
``s`` becomes ``s << 8``, an L16 sample ``s << 16``. That keeps every wire sample exact through
the pipeline; sinks take the top 16/24 bits back out (bit-transparent) or divide by 2**31 for
float32 (exact, float32 has a 24-bit mantissa).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENCODINGS = {"L16": 2, "L24": 3}
MIN_PTIME_US = 125
MAX_PTIME_US = 4000
MAX_CHANNELS = 64


class PayloadError(ValueError):
    """Invalid payload format settings."""


@dataclass(frozen=True)
class PayloadFormat:
    """The stream's wire format and which channels we keep.

    Parameters
    ----------
    encoding : "L16" or "L24" (big-endian, interleaved).
    sample_rate : any positive rate in Hz.
    stream_channels : channels on the wire (1..64).
    channel_offset, channel_count : the selected channels ``[offset, offset + count)``;
        ``channel_count=None`` keeps all from the offset.
    ptime_us : nominal packet time in microseconds (125..4000).
    """

    encoding: str = "L24"
    sample_rate: int = 48000
    stream_channels: int = 2
    channel_offset: int = 0
    channel_count: int | None = None
    ptime_us: int = 1000

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise PayloadError(f"payload={self.encoding!r} is not one of L16, L24")
        if not 1 <= int(self.sample_rate) <= 768000:
            raise PayloadError(f"rate={self.sample_rate} is out of range [1, 768000]")
        if not 1 <= self.stream_channels <= MAX_CHANNELS:
            raise PayloadError(f"stream channels={self.stream_channels} is out of range [1, {MAX_CHANNELS}]")
        if not MIN_PTIME_US <= self.ptime_us <= MAX_PTIME_US:
            raise PayloadError(f"ptime_us={self.ptime_us} is out of range [{MIN_PTIME_US}, {MAX_PTIME_US}]")
        if not 0 <= self.channel_offset < self.stream_channels:
            raise PayloadError(
                f"channel_offset={self.channel_offset} is out of range [0, {self.stream_channels - 1}]"
            )
        if self.channel_count is not None and not (
            1 <= self.channel_count <= self.stream_channels - self.channel_offset
        ):
            raise PayloadError(
                f"channel count={self.channel_count} with offset {self.channel_offset} does not fit "
                f"{self.stream_channels} stream channels"
            )

    @property
    def bytes_per_sample(self) -> int:
        return ENCODINGS[self.encoding]

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame on the wire (all stream channels)."""
        return ENCODINGS[self.encoding] * self.stream_channels

    @property
    def channels(self) -> int:
        """Number of selected (recorded) channels."""
        if self.channel_count is None:
            return self.stream_channels - self.channel_offset
        return self.channel_count

    @property
    def frames_per_packet(self) -> int:
        """Nominal frames per packet from ``ptime_us`` (at least 1)."""
        return max(1, round(self.sample_rate * self.ptime_us / 1_000_000))


def decode(data: bytes | bytearray | memoryview, fmt: PayloadFormat) -> np.ndarray:
    """Decode interleaved big-endian wire bytes into left-justified int32 samples.

    Parameters
    ----------
    data : a whole number of wire frames (``len(data) % fmt.frame_bytes == 0``).
    fmt : the payload format and channel selection.

    Returns
    -------
    ndarray, int32, shape (frames, fmt.channels)
    """
    bps = fmt.bytes_per_sample
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size % fmt.frame_bytes:
        raise PayloadError(f"{raw.size} bytes is not a whole number of {fmt.frame_bytes}-byte frames")
    frames = raw.size // fmt.frame_bytes
    a, c = fmt.channel_offset, fmt.channels
    if bps == 2:
        v = raw.view(">i2").reshape(frames, fmt.stream_channels)[:, a : a + c]
        return v.astype(np.int32) << 16
    v = raw.reshape(frames, fmt.stream_channels, 3)[:, a : a + c, :]
    out = np.zeros((frames, c, 4), dtype=np.uint8)
    out[:, :, 1] = v[:, :, 2]
    out[:, :, 2] = v[:, :, 1]
    out[:, :, 3] = v[:, :, 0]
    return out.view("<i4").reshape(frames, c)


def encode(samples: np.ndarray, encoding: str) -> bytes:
    """Encode left-justified int32 samples, shape (frames, channels), into wire bytes."""
    s = np.ascontiguousarray(samples, dtype=np.int32)
    if encoding == "L16":
        return (s >> 16).astype(">i2").tobytes()
    if encoding != "L24":
        raise PayloadError(f"payload={encoding!r} is not one of L16, L24")
    b = s.astype("<i4").view(np.uint8).reshape(*s.shape, 4)
    out = np.empty((*s.shape, 3), dtype=np.uint8)
    out[..., 0] = b[..., 3]
    out[..., 1] = b[..., 2]
    out[..., 2] = b[..., 1]
    return out.tobytes()


def to_float(samples: np.ndarray) -> np.ndarray:
    """Left-justified int32 -> float32 in [-1, 1) (exact for 24-bit values)."""
    return samples.astype(np.float32) * np.float32(1.0 / 2147483648.0)
