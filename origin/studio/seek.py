"""Serving an archive file from a time (``?start=SECONDS`` on the preview) and its duration.

Everything here works on a file that is **already open** (a binary file object or a file
descriptor); nothing opens or re-opens a path, so the caller's single, checked open is the only
one.

* **WAV / RF64** (what the recorder writes): the answer is a new WAV header followed by the
  original sample bytes from the first frame at or after ``start`` (the byte offset is
  ``data_offset + ceil(start * rate) * block_align``, so it always lands on a frame boundary).
  No decoding; the bytes are the archive's own. For a file being recorded the header announces
  an unknown length and the answer keeps following what the recorder appends ("listen live,
  N seconds behind").
* **Other formats** (FLAC, Ogg/Opus, MP3...): decoded by libsndfile (``soundfile``) from the
  frame at ``start`` and served as 16-bit PCM WAV of the rest of the file (no Range).

A compressed file still being recorded is served as it is on disk at the time of the request.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "WavLayout",
    "SeekError",
    "wav_layout",
    "wav_header",
    "wav_seek",
    "duration_info",
    "decoded_from",
]

#: at most this many bytes of chunks before ``data`` are scanned
MAX_HEADER_SCAN = 1 << 20
DECODE_BLOCK = 16384  # frames per decoded chunk


class SeekError(ValueError):
    """The file cannot be served from a time (not a readable audio file)."""


@dataclass(frozen=True)
class WavLayout:
    """Where the samples of a WAV/RF64 file are and what they are."""

    data_offset: int
    data_bytes: int  # from the header; clamped to the file size by :func:`wav_layout`
    fmt_chunk: bytes  # the ``fmt `` chunk body, copied into the new header
    sample_rate: int
    channels: int
    block_align: int

    @property
    def frames(self) -> int:
        return self.data_bytes // self.block_align


def _pread(fd: int, n: int, offset: int) -> bytes:
    return os.pread(fd, n, offset)


def wav_layout(fd: int, size: int) -> WavLayout | None:
    """Parse the header of an open WAV/RF64 file (``None`` when it is not one).

    ``size`` is the file size now; a header written before the recorder's last sync (a growing
    file) is corrected to the frames that are on disk.
    """
    head = _pread(fd, 12, 0)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64", b"BW64"):
        return None
    rf64 = head[:4] != b"RIFF"
    pos = 12
    fmt: bytes | None = None
    ds64_data: int | None = None
    while pos < min(size, MAX_HEADER_SCAN):
        hdr = _pread(fd, 8, pos)
        if len(hdr) < 8:
            return None
        cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
        body = pos + 8
        if cid == b"ds64" and rf64:
            d = _pread(fd, min(clen, 28), body)
            if len(d) >= 16:
                ds64_data = struct.unpack("<Q", d[8:16])[0]
        elif cid == b"fmt ":
            fmt = _pread(fd, min(clen, 64), body)
        elif cid == b"data":
            if fmt is None or len(fmt) < 16:
                return None
            _tag, channels, rate, _bps, block_align = struct.unpack("<HHIIH", fmt[:14])
            if channels < 1 or rate < 1 or block_align < 1:
                return None
            n = ds64_data if (rf64 and clen == 0xFFFFFFFF and ds64_data is not None) else clen
            on_disk = max(0, size - body)
            n = on_disk if n == 0 or n > on_disk else n  # growing file / header not synced yet
            n -= n % block_align
            return WavLayout(body, n, fmt, rate, channels, block_align)
        pos = body + clen + (clen & 1)
    return None


#: the size fields of a WAV whose length is not known yet (a live stream, as encoders write it)
UNKNOWN_SIZE = 0xFFFFFFFF


def wav_header(fmt_chunk: bytes, data_bytes: int | None) -> bytes:
    """A WAV header (RIFF, or RF64 when the data does not fit 32 bits) for ``data_bytes``;
    ``None``: a live stream of unknown length (both size fields ``0xFFFFFFFF``)."""
    fmt = b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + (b"\0" if len(fmt_chunk) & 1 else b"")
    if data_bytes is None:
        return (
            b"RIFF"
            + struct.pack("<I", UNKNOWN_SIZE)
            + b"WAVE"
            + fmt
            + b"data"
            + struct.pack("<I", UNKNOWN_SIZE)
        )
    riff_size = 4 + len(fmt) + 8 + data_bytes
    if riff_size <= 0xFFFFFFFF:
        return (
            b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + fmt + b"data" + struct.pack("<I", data_bytes)
        )
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, riff_size + 36, data_bytes, 0, 0)
    return (
        b"RF64"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + ds64
        + fmt
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


def wav_seek(layout: WavLayout, start_s: float) -> tuple[bytes, int, int, float]:
    """``(header, offset, length, actual_start_s)``: serve ``header`` then ``length`` bytes of
    the file from ``offset``. ``offset`` is on a frame boundary: the first frame at or after
    ``start_s`` (the end of the data when ``start_s`` is past it)."""
    frame = min(layout.frames, max(0, math.ceil(start_s * layout.sample_rate - 1e-9)))
    offset = layout.data_offset + frame * layout.block_align
    length = layout.data_bytes - frame * layout.block_align
    return wav_header(layout.fmt_chunk, length), offset, length, frame / layout.sample_rate


def duration_info(fh: BinaryIO, size: int) -> dict[str, float | int | str | None]:
    """``{"duration", "sample_rate", "channels", "frames", "codec"}`` of an open audio file."""
    layout = wav_layout(fh.fileno(), size)
    if layout is not None:
        bits = struct.unpack("<H", layout.fmt_chunk[14:16])[0] if len(layout.fmt_chunk) >= 16 else None
        return {
            "duration": layout.frames / layout.sample_rate,
            "sample_rate": layout.sample_rate,
            "channels": layout.channels,
            "frames": layout.frames,
            "codec": f"pcm_{bits}" if bits else "pcm",
        }
    import soundfile as sf

    fh.seek(0)
    try:
        with sf.SoundFile(fh) as f:
            frames = f.frames
            return {
                "duration": frames / f.samplerate if f.samplerate else 0.0,
                "sample_rate": f.samplerate,
                "channels": f.channels,
                "frames": frames,
                "codec": f.subtype.lower(),
            }
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise SeekError(f"not a readable audio file: {exc}") from None


def decoded_from(fh: BinaryIO, start_s: float) -> tuple[bytes, Iterator[bytes], float]:
    """``(header, chunks, actual_start_s)``: the rest of a compressed file from ``start_s``,
    decoded to 16-bit PCM WAV. ``chunks`` yields the PCM bytes (blocking reads: iterate it
    off the event loop) and closes the decoder when exhausted."""
    import numpy as np
    import soundfile as sf

    fh.seek(0)
    try:
        f = sf.SoundFile(fh)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise SeekError(f"not a readable audio file: {exc}") from None
    rate, ch = f.samplerate, f.channels
    frame = min(f.frames, max(0, math.ceil(start_s * rate - 1e-9)))
    try:
        f.seek(frame)
    except (RuntimeError, sf.LibsndfileError) as exc:
        f.close()
        raise SeekError(f"cannot seek in this file: {exc}") from None
    left = f.frames - frame
    fmt = struct.pack("<HHIIHH", 1, ch, rate, rate * ch * 2, ch * 2, 16)

    def chunks() -> Iterator[bytes]:
        try:
            remaining = left
            while remaining > 0:
                block = f.read(min(DECODE_BLOCK, remaining), dtype="int16", always_2d=True)
                if not len(block):
                    break
                remaining -= len(block)
                yield np.ascontiguousarray(block, dtype="<i2").tobytes()
            if remaining > 0:  # the decoder ended early: keep the announced length
                yield b"\0" * (remaining * ch * 2)
        finally:
            f.close()

    return wav_header(fmt, left * ch * 2), chunks(), frame / rate
