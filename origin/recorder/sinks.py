"""Audio sinks behind one ``Sink`` protocol: ``open / write / sync / close``.

* :class:`WavSink` is written by hand so it is bit-transparent and crash-safe:

  - samples arrive as left-justified ``int32`` (see :mod:`.payload`); PCM16/PCM24 take the
    top 16/24 bits, float32 divides by 2**31 (exact for 24-bit input);
  - the header (RIFF and data sizes) is rewritten and ``fsync``-ed every ``sync_seconds`` of
    audio (default 10), after the data itself was synced, so after ``kill -9`` the file is a
    valid WAV holding everything up to the last sync;
  - the file starts with a 28-byte ``JUNK`` chunk that becomes the ``ds64`` chunk when the RIFF
    size passes ``rf64_threshold`` (default 4 GiB - 1): the file is then RF64 (EBU Tech 3306);
  - a BWF ``bext`` chunk (EBU Tech 3285 v1) carries OriginationDate/Time in the archive clock
    and TimeReference = samples since midnight of that clock;
  - ``append=True`` continues an existing file of ours with the same format (restart inside
    the same archive period): the header is read back and every complete frame on disk kept.

* :class:`SoundFileSink` writes FLAC (PCM16/PCM24) or Ogg/Opus (``bitrate``) via libsndfile.
"""

from __future__ import annotations

import datetime as _dt
import os
import struct
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

import numpy as np

RIFF_MAX = 0xFFFFFFFF
WAV_FORMATS = {"pcm16": (16, 1), "pcm24": (24, 1), "float32": (32, 3)}
BITS_TO_WAV = {"16": "pcm16", "24": "pcm24", "32f": "float32"}
_GUID_TAIL = b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
BEXT_SIZE = 602


class SinkError(OSError):
    """A sink could not be opened or written."""


@dataclass(frozen=True)
class SinkInfo:
    """What a sink needs to know about the audio it is given.

    ``start_time`` is the wall-clock time (epoch seconds) of the file's first sample; ``tz`` the
    archive clock (``None`` = system local time, ``datetime.timezone.utc`` for UTC).
    """

    sample_rate: int
    channels: int
    start_time: float = 0.0
    tz: _dt.tzinfo | None = None
    description: str = ""
    originator: str = "aimixer"
    #: the first sample's absolute index (samples since 1970 UTC) when the media clock gives it:
    #: TimeReference is then exact integer arithmetic instead of a rounded float product
    start_sample: int | None = None


@runtime_checkable
class Sink(Protocol):
    """The sink protocol every writer implements."""

    path: str | None
    extension: str
    frames_written: int
    bytes_written: int

    def open(self, path: str, info: SinkInfo, *, append: bool = False) -> None: ...

    def write(self, samples: np.ndarray) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...

    def can_append(self, path: str, info: SinkInfo) -> bool: ...


# ---------------------------------------------------------------------- WAV helpers
def _fmt_chunk(channels: int, rate: int, kind: str) -> bytes:
    bits, tag = WAV_FORMATS[kind]
    align = channels * bits // 8
    if channels > 2 or bits > 16:
        mask = {1: 0x4, 2: 0x3}.get(channels, 0)
        body = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * align, align, bits, 22, bits, mask)
        body += struct.pack("<I", tag) + _GUID_TAIL
    else:
        body = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    return b"fmt " + struct.pack("<I", len(body)) + body


def _midnight(t: float, tz: _dt.tzinfo | None) -> tuple[_dt.datetime, float]:
    d = _dt.datetime.fromtimestamp(t, tz) if tz is not None else _dt.datetime.fromtimestamp(t)
    m = d.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    return d, m.timestamp()


def bext_chunk(info: SinkInfo, kind: str, coding_history: str | None = None) -> bytes:
    """Build a BWF ``bext`` chunk (version 1) for a file starting at ``info.start_time``."""
    d, midnight = _midnight(info.start_time, info.tz)
    if info.start_sample is not None:
        time_ref = max(0, info.start_sample - int(round(midnight * info.sample_rate)))
    else:
        time_ref = max(0, int(round((info.start_time - midnight) * info.sample_rate)))
    bits = WAV_FORMATS[kind][0]
    hist = coding_history or (
        f"A=PCM,F={info.sample_rate},W={bits},M={'mono' if info.channels == 1 else 'multi'},T=aimixer AES67\r\n"
    )
    payload = struct.pack(
        "<256s32s32s10s8sIIH64s190s",
        info.description.encode()[:256],
        info.originator.encode()[:32],
        b"",
        d.strftime("%Y-%m-%d").encode(),
        d.strftime("%H:%M:%S").encode(),
        time_ref & 0xFFFFFFFF,
        time_ref >> 32,
        1,
        b"",
        b"",
    ) + hist.encode("ascii", "replace")
    if len(payload) % 2:
        payload += b"\x00"
    return b"bext" + struct.pack("<I", len(payload)) + payload


class Bext(TypedDict):
    """The fields of a ``bext`` chunk (EBU Tech 3285)."""

    description: str
    originator: str
    originator_reference: str
    origination_date: str
    origination_time: str
    time_reference: int
    version: int
    coding_history: str


def parse_bext(payload: bytes) -> Bext:
    """Decode the fields of a ``bext`` chunk payload."""
    desc, orig, ref, date, tm, lo, hi, ver = struct.unpack_from("<256s32s32s10s8sIIH", payload, 0)

    def s(b: bytes) -> str:
        return b.split(b"\x00", 1)[0].decode("ascii", "replace")

    return {
        "description": s(desc),
        "originator": s(orig),
        "originator_reference": s(ref),
        "origination_date": s(date),
        "origination_time": s(tm),
        "time_reference": lo | (hi << 32),
        "version": ver,
        "coding_history": s(payload[BEXT_SIZE:]),
    }


def bext_start_time(bext: Bext | None, sample_rate: int, tz: _dt.tzinfo | None) -> float | None:
    """Wall-clock time of a file's first sample from its ``bext`` chunk (OriginationDate + TimeReference)."""
    if not bext:
        return None
    try:
        d = _dt.date.fromisoformat(bext["origination_date"])
    except (KeyError, ValueError):
        return None
    m = (
        _dt.datetime(d.year, d.month, d.day, tzinfo=tz)
        if tz is not None
        else _dt.datetime(d.year, d.month, d.day)
    )
    return m.timestamp() + bext["time_reference"] / sample_rate


def read_wav_chunks(path: str) -> dict[str, Any]:
    """Walk a RIFF/RF64 WAV file's chunks.

    Returns a dict with ``form`` ("RIFF"/"RF64"), ``chunks`` (list of (id, offset, size)),
    ``fmt`` (channels, rate, bits, tag), ``data_offset``, ``data_size`` (from the header, ds64
    for RF64), ``file_size`` and ``bext`` (decoded, if present).
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            raise SinkError(f"{path} is not a WAV file")
        chunks = []
        pos = 12
        info: dict[str, Any] = {"form": head[:4].decode(), "file_size": size, "bext": None, "fmt": None}
        ds64_data = None
        while pos + 8 <= size:
            f.seek(pos)
            cid, csz = struct.unpack("<4sI", f.read(8))
            cid_s = cid.decode("latin-1")
            if cid_s == "ds64":
                body = f.read(csz)
                _, ds64_data, _ = struct.unpack_from("<QQQ", body, 0)
            elif cid_s == "fmt ":
                body = f.read(csz)
                tag, ch, rate, _, _, bits = struct.unpack_from("<HHIIHH", body, 0)
                if tag == 0xFFFE and csz >= 40:
                    tag = struct.unpack_from("<I", body, 24)[0]
                info["fmt"] = {"tag": tag, "channels": ch, "rate": rate, "bits": bits}
            elif cid_s == "bext":
                info["bext"] = parse_bext(f.read(csz))
            chunks.append((cid_s, pos, csz))
            if cid_s == "data":
                info["data_offset"] = pos + 8
                info["data_size"] = ds64_data if (csz == RIFF_MAX and ds64_data is not None) else csz
                break  # our files end with data; a stale size after a crash must not be walked past
            pos += 8 + csz + (csz & 1)
        info["chunks"] = chunks
    if info["fmt"] is None or "data_offset" not in info:
        raise SinkError(f"{path} has no fmt/data chunk")
    return info


class WavSink:
    """Crash-safe, bit-transparent WAV/RF64 writer with a BWF ``bext`` chunk.

    Parameters
    ----------
    kind : "pcm16", "pcm24" or "float32".
    sync_seconds : header + fsync interval in seconds of audio (default 10).
    rf64_threshold : RIFF size above which the file is written as RF64 (injectable for tests).
    """

    extension = "wav"

    def __init__(
        self, kind: str = "pcm24", *, sync_seconds: float = 10.0, rf64_threshold: int = RIFF_MAX
    ) -> None:
        if kind not in WAV_FORMATS:
            raise SinkError(f"wav sample format {kind!r} is not one of {', '.join(WAV_FORMATS)}")
        if sync_seconds <= 0:
            raise SinkError(f"sync_seconds={sync_seconds} must be > 0")
        self.kind = kind
        self.sync_seconds = sync_seconds
        self.rf64_threshold = rf64_threshold
        self.path: str | None = None
        self.fd: int | None = None
        self.frames_written = 0  # frames in the file (appended files include the old ones)
        self.bytes_written = 0  # bytes this sink wrote (data + header)
        self.data_bytes = 0
        self.data_offset = 0
        self.rf64 = False
        self._since_sync = 0
        self._sync_every = 1
        self.channels = 0
        self.block_align = 0
        self.origin_time: float | None = None  # wall-clock time of the file's first sample

    # -- protocol ---------------------------------------------------------------------
    def can_append(self, path: str, info: SinkInfo) -> bool:
        """True if ``path`` is one of our WAV files with the same format (safe to continue)."""
        try:
            w = read_wav_chunks(path)
        except (OSError, struct.error):
            return False
        bits, tag = WAV_FORMATS[self.kind]
        f = w["fmt"]
        first = w["chunks"][0][0] if w["chunks"] else ""
        ours = bool(w["bext"]) and w["bext"]["originator"] == "aimixer"
        return bool(
            f["channels"] == info.channels
            and f["rate"] == info.sample_rate
            and f["bits"] == bits
            and f["tag"] == tag
            and first in ("JUNK", "ds64")
            and ours
        )

    def open(self, path: str, info: SinkInfo, *, append: bool = False) -> None:
        bits, _ = WAV_FORMATS[self.kind]
        self.channels = info.channels
        self.block_align = info.channels * bits // 8
        self._sync_every = max(1, int(self.sync_seconds * info.sample_rate))
        self.path = path
        if append:
            w = read_wav_chunks(path)
            self.data_offset = w["data_offset"]
            on_disk = w["file_size"] - self.data_offset
            self.data_bytes = on_disk - on_disk % self.block_align  # keep every complete frame
            self.rf64 = w["form"] == "RF64"
            self.fd = os.open(path, os.O_RDWR)
            os.ftruncate(self.fd, self.data_offset + self.data_bytes)
            os.lseek(self.fd, 0, os.SEEK_END)
            self.frames_written = self.data_bytes // self.block_align
            self.origin_time = bext_start_time(w["bext"], info.sample_rate, info.tz)
            self._write_sizes()
            os.fsync(self.fd)
            return
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never overwrite
        except FileExistsError as exc:
            raise SinkError(f"{path} exists; refusing to overwrite") from exc
        header = bytearray(b"RIFF\x00\x00\x00\x00WAVE")
        header += b"JUNK" + struct.pack("<I", 28) + bytes(28)
        header += bext_chunk(info, self.kind)
        header += _fmt_chunk(info.channels, info.sample_rate, self.kind)
        header += b"data\x00\x00\x00\x00"
        self.data_offset = len(header)
        self.data_bytes = 0
        self.frames_written = 0
        self.origin_time = info.start_time
        os.write(self.fd, bytes(header))
        self.bytes_written += len(header)
        self._write_sizes()
        os.fsync(self.fd)

    def encode(self, samples: np.ndarray) -> bytes:
        """Left-justified int32 (frames, channels) -> WAV data bytes."""
        s = np.ascontiguousarray(samples, dtype=np.int32)
        if self.kind == "pcm24":
            return s.view(np.uint8).reshape(-1, 4)[:, 1:].tobytes()
        if self.kind == "pcm16":
            return (s >> 16).astype("<i2").tobytes()
        return (s.astype(np.float32) * np.float32(1.0 / 2147483648.0)).astype("<f4").tobytes()

    def write(self, samples: np.ndarray) -> None:
        if self.fd is None:
            raise SinkError("sink is not open")
        if samples.ndim != 2 or samples.shape[1] != self.channels:
            raise SinkError(f"expected (frames, {self.channels}) samples, got {samples.shape}")
        data = self.encode(samples)
        view = memoryview(data)
        while view:
            k = os.write(self.fd, view)
            view = view[k:]
        n = samples.shape[0]
        self.data_bytes += len(data)
        self.bytes_written += len(data)
        self.frames_written += n
        self._since_sync += n
        if self._since_sync >= self._sync_every:
            self.sync()

    def sync(self) -> None:
        """Make the data durable, then publish its size in the header (and fsync again)."""
        if self.fd is None:
            return
        os.fsync(self.fd)
        self._write_sizes()
        os.fsync(self.fd)
        self._since_sync = 0

    def close(self) -> None:
        if self.fd is None:
            return
        if self.data_bytes % 2:  # RIFF pad byte
            os.write(self.fd, b"\x00")
        self.sync()
        os.close(self.fd)
        self.fd = None

    # -- header ------------------------------------------------------------------------
    def _write_sizes(self) -> None:
        assert self.fd is not None
        riff = self.data_offset - 8 + self.data_bytes + (self.data_bytes & 1)
        if self.rf64 or riff > self.rf64_threshold:
            self.rf64 = True
            frames = self.data_bytes // self.block_align
            os.pwrite(self.fd, b"RF64" + struct.pack("<I", RIFF_MAX), 0)
            os.pwrite(self.fd, b"ds64" + struct.pack("<IQQQI", 28, riff, self.data_bytes, frames, 0), 12)
            os.pwrite(self.fd, struct.pack("<I", RIFF_MAX), self.data_offset - 4)
        else:
            os.pwrite(self.fd, struct.pack("<I", riff), 4)
            os.pwrite(self.fd, struct.pack("<I", self.data_bytes), self.data_offset - 4)


class SoundFileSink:
    """FLAC or Ogg/Opus through soundfile (libsndfile).

    Parameters
    ----------
    fmt : "flac" or "opus".
    bits : "16" or "24" for FLAC.
    bitrate : Opus target bitrate in bit/s (libsndfile maps it from its compression level:
        ``bitrate = channels * (6000 + (1 - level) * 250000)``).
    flac_level : FLAC compression level 0-8 (libsndfile's compression level ``level / 8``);
        ``None`` keeps libsndfile's default (5).
    """

    def __init__(
        self,
        fmt: str = "flac",
        *,
        bits: str = "24",
        bitrate: int = 128000,
        sync_seconds: float = 10.0,
        flac_level: int | None = None,
    ) -> None:
        if fmt not in ("flac", "opus"):
            raise SinkError(f"format {fmt!r} is not one of flac, opus")
        self.fmt = fmt
        self.extension = "flac" if fmt == "flac" else "opus"
        self.bits = bits
        self.bitrate = bitrate
        if flac_level is not None and not 0 <= flac_level <= 8:
            raise SinkError(f"flac level {flac_level} is out of range [0, 8]")
        self.flac_level = flac_level
        self.sync_seconds = sync_seconds
        self.path: str | None = None
        self.sf = None
        self.frames_written = 0
        self.bytes_written = 0
        self._since_sync = 0
        self._sync_every = 1

    def can_append(self, path: str, info: SinkInfo) -> bool:
        return False

    def open(self, path: str, info: SinkInfo, *, append: bool = False) -> None:
        import soundfile as sf

        if append:
            raise SinkError(f"{self.fmt} files cannot be appended")
        if os.path.exists(path):
            raise SinkError(f"{path} exists; refusing to overwrite")
        kw: dict[str, float] = {}
        if self.fmt == "flac":
            fmt, sub = "FLAC", {"16": "PCM_16", "24": "PCM_24"}.get(self.bits, "PCM_24")
            if self.flac_level is not None:
                kw["compression_level"] = self.flac_level / 8.0
        else:
            fmt, sub = "OGG", "OPUS"
            if info.sample_rate not in (8000, 12000, 16000, 24000, 48000):
                raise SinkError(f"opus needs a rate of 8/12/16/24/48 kHz, not {info.sample_rate}")
            per_ch = self.bitrate / max(1, info.channels)
            kw["compression_level"] = float(min(1.0, max(0.0, 1.0 - (per_ch - 6000.0) / 250000.0)))
        self.path = path
        self.sf = sf.SoundFile(
            path, "w", samplerate=info.sample_rate, channels=info.channels, format=fmt, subtype=sub, **kw
        )
        self._sync_every = max(1, int(self.sync_seconds * info.sample_rate))

    def write(self, samples: np.ndarray) -> None:
        if self.sf is None:
            raise SinkError("sink is not open")
        if self.fmt == "flac":
            self.sf.write(np.ascontiguousarray(samples, dtype=np.int32))
        else:
            self.sf.write(samples.astype(np.float32) * np.float32(1.0 / 2147483648.0))
        self.frames_written += samples.shape[0]
        self._since_sync += samples.shape[0]
        if self._since_sync >= self._sync_every:
            self.sync()

    def sync(self) -> None:
        if self.sf is not None:
            self.sf.flush()
            self._since_sync = 0
            try:
                self.bytes_written = os.path.getsize(self.path or "")
            except OSError:
                pass

    def close(self) -> None:
        if self.sf is not None:
            self.sf.close()
            self.sf = None
            try:
                self.bytes_written = os.path.getsize(self.path or "")
            except OSError:
                pass


def make_sink(
    fmt: str = "wav",
    bits: str = "24",
    *,
    bitrate: int = 128000,
    sync_seconds: float = 10.0,
    rf64_threshold: int = RIFF_MAX,
    flac_level: int | None = None,
) -> Sink:
    """Sink factory for the CLI / engine settings (``--format``, ``--bits``, ``--bitrate``)."""
    if fmt == "wav":
        if bits not in BITS_TO_WAV:
            raise SinkError(f"bits={bits!r} is not one of 16, 24, 32f")
        return WavSink(BITS_TO_WAV[bits], sync_seconds=sync_seconds, rf64_threshold=rf64_threshold)
    if fmt in ("flac", "opus"):
        if fmt == "flac" and bits not in ("16", "24"):
            raise SinkError(f"flac supports bits 16 or 24, not {bits}")
        return SoundFileSink(
            fmt, bits=bits, bitrate=bitrate, sync_seconds=sync_seconds, flac_level=flac_level
        )
    raise SinkError(f"format={fmt!r} is not one of wav, flac, opus")
