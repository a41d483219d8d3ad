"""The recorder engine: receiver -> jitter buffer -> decode -> archive/sink, plus levels.

Threads: the shared :class:`~.receiver.ReceiverHub` thread receives and reorders (hot path:
never blocks, never logs, counts); it hands ~10 ms blocks of wire bytes to this recorder's
writer thread through a lock-free queue. The writer decodes (NumPy), writes the archive,
meters levels, runs the silence alarm and publishes to subscribers without blocking.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np

from . import payload as _payload
from .alerts import AlertMonitor
from .archive import ArchiveError, ArchiveWriter, clock_tz, validate
from .jitter import JitterBuffer
from .levels import DEFAULT_RATE_HZ, LevelBroker, LevelMeter
from .loudness_log import LoudnessLogger
from .mediaclock import ClockWatch, MediaClock
from .protocol import ChannelLevel
from .receiver import ReceiverError, ReceiverHub, default_hub, open_rtp_socket
from .redundancy import RedundantMerger
from .silence import SilenceDetector
from .sinks import RIFF_MAX, Sink, SinkError, make_sink
from .vox import VoxAction, VoxConfig, VoxGate

log = logging.getLogger("origin.recorder")

#: audio handed from the receive thread to the writer thread in blocks of this many ms
BATCH_MS = 50


MAX_SPLITS = 64
SPLIT_KEYS = frozenset({"channel_offset", "channels", "archive_root", "output", "name"})


class RecorderConfigError(ValueError):
    """Invalid recorder configuration (message names the field and the value)."""


@dataclass
class RecorderConfig:
    """Everything one recorder needs. Field names follow the CLI flags.

    ``channels`` is the number of *recorded* channels starting at ``channel_offset``;
    ``stream_channels`` the number on the wire (default ``channel_offset + channels``).
    Exactly one of ``output`` (one file, no rotation) and ``archive_root`` is required.
    """

    source_addr: str = "239.69.1.1"
    port: int = 5004
    interface: str | None = None
    source_filter: str | None = None
    #: SMPTE ST 2022-7: the secondary leg of the same stream (merged by RTP sequence number)
    redundant_addr: str | None = None
    redundant_port: int | None = None
    redundant_interface: str | None = None
    redundant_source_filter: str | None = None
    payload: str = "L24"
    sample_rate: int = 48000
    channels: int = 2
    channel_offset: int = 0
    stream_channels: int | None = None
    ptime_us: int = 1000
    payload_type: int = 96
    ssrc: int | None = None
    jitter_ms: float = 20.0
    relock_timeout: float = 1.0
    output: str | None = None
    archive_root: str | None = None
    layout: str = "dailydir"
    period: int = 3600
    clock: str = "localtime"
    name: str | None = None
    format: str = "wav"
    bits: str = "24"
    bitrate: int = 128000
    sync_seconds: float = 10.0
    retain_hours: float | None = None
    level_rate_hz: float = DEFAULT_RATE_HZ
    channel_names: list[str] | None = None
    silence_threshold_db: float = -50.0
    silence_seconds: float | None = None
    vad: bool = False
    rf64_threshold: int = RIFF_MAX
    session_name: str | None = None
    #: ``arrival`` (sample 0 = arrival of the first packet) or ``rtp`` (RFC 7273 media clock:
    #: each sample's time from its RTP timestamp, ``mediaclk_offset`` and the system clock)
    clock_source: str = "arrival"
    mediaclk_offset: int | None = None
    clock_warn_ms: float = 50.0
    flac_level: int | None = None
    #: voice/level-activated recording (off when ``None``); see :mod:`.vox`
    vox: VoxConfig | None = None
    #: more channel subsets of the same received stream, each into its own file or archive:
    #: dicts with ``channel_offset``, ``channels``, ``archive_root`` or ``output``, and optional
    #: ``name``; the stream is received, reordered and decoded once for all of them
    splits: list[dict[str, Any]] | None = None
    loudness_log: bool = True
    loudness_limit_lufs: float | None = None
    loudness_seconds: int = 10
    stream_lost_seconds: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)

    def payload_format(self) -> _payload.PayloadFormat:
        sc = self.stream_channels if self.stream_channels is not None else self.channel_offset + self.channels
        try:
            return _payload.PayloadFormat(
                self.payload,
                int(self.sample_rate),
                int(sc),
                int(self.channel_offset),
                int(self.channels),
                int(self.ptime_us),
            )
        except _payload.PayloadError as exc:
            raise RecorderConfigError(str(exc)) from exc

    def validate(self) -> None:
        """Raise :class:`RecorderConfigError` for any bad field."""
        self.payload_format()
        if not 0 < int(self.port) < 65536:
            raise RecorderConfigError(f"port={self.port} is out of range [1, 65535]")
        if not 0 <= int(self.payload_type) <= 127:
            raise RecorderConfigError(f"pt={self.payload_type} is out of range [0, 127]")
        if (self.output is None) == (self.archive_root is None):
            raise RecorderConfigError("exactly one of output and archive_root is required")
        if not 0 <= self.jitter_ms <= 1000:
            raise RecorderConfigError(f"jitter_ms={self.jitter_ms} is out of range [0, 1000]")
        if self.sync_seconds <= 0:
            raise RecorderConfigError(f"sync_seconds={self.sync_seconds} must be > 0")
        if self.format not in ("wav", "flac", "opus"):
            raise RecorderConfigError(f"format={self.format!r} is not one of wav, flac, opus")
        if self.bits not in ("16", "24", "32f"):
            raise RecorderConfigError(f"bits={self.bits!r} is not one of 16, 24, 32f")
        if self.format == "opus" and int(self.sample_rate) not in (8000, 12000, 16000, 24000, 48000):
            raise RecorderConfigError(
                f"format=opus needs a rate of 8/12/16/24/48 kHz, not {self.sample_rate}"
            )
        if self.format == "flac" and self.bits == "32f":
            raise RecorderConfigError("format=flac supports bits 16 or 24, not 32f")
        if self.format == "opus" and not 6000 <= int(self.bitrate) <= 512000:
            raise RecorderConfigError(f"bitrate={self.bitrate} is out of range [6000, 512000]")
        try:
            if self.archive_root is not None:
                validate(self.layout, int(self.period), self.clock)
            else:
                clock_tz(self.clock)
        except ArchiveError as exc:
            raise RecorderConfigError(str(exc)) from exc
        if self.vox is not None:
            try:
                self.vox.validate()
            except ValueError as exc:
                raise RecorderConfigError(str(exc)) from exc
        if self.retain_hours is not None and self.retain_hours <= 0:
            raise RecorderConfigError(f"retain_hours={self.retain_hours} must be > 0")
        if self.loudness_limit_lufs is not None and not -70.0 <= self.loudness_limit_lufs <= 0.0:
            raise RecorderConfigError(
                f"loudness_limit_lufs={self.loudness_limit_lufs} is out of range [-70, 0]"
            )
        if not 1 <= int(self.loudness_seconds) <= 3600:
            raise RecorderConfigError(f"loudness_seconds={self.loudness_seconds} is out of range [1, 3600]")
        if not 0.2 <= float(self.stream_lost_seconds) <= 3600:
            raise RecorderConfigError(
                f"stream_lost_seconds={self.stream_lost_seconds} is out of range [0.2, 3600]"
            )
        if self.silence_seconds is not None and self.silence_seconds <= 0:
            raise RecorderConfigError(f"silence_seconds={self.silence_seconds} must be > 0")
        try:
            from .receiver import is_multicast

            is_multicast(self.source_addr)
            if self.redundant_addr is not None:
                is_multicast(self.redundant_addr)
        except ReceiverError as exc:
            raise RecorderConfigError(str(exc)) from exc
        if self.redundant_addr is not None:
            if self.redundant_port is None or not 0 < int(self.redundant_port) < 65536:
                raise RecorderConfigError(f"redundant_port={self.redundant_port} is out of range [1, 65535]")
            same_if = (self.redundant_interface or self.interface) == self.interface
            if (self.redundant_addr, int(self.redundant_port)) == (
                self.source_addr,
                int(self.port),
            ) and same_if:
                # ST 2022-7 legs often share the group and port on two networks: then the
                # interfaces must differ
                raise RecorderConfigError(
                    "the redundant leg must differ from the primary source (address, port or redundant_interface)"
                )
        if self.clock_source not in ("arrival", "rtp"):
            raise RecorderConfigError(f"clock_source={self.clock_source!r} is not one of arrival, rtp")
        if self.mediaclk_offset is not None and not 0 <= int(self.mediaclk_offset) <= 0xFFFFFFFF:
            raise RecorderConfigError(
                f"mediaclk_offset={self.mediaclk_offset} is out of range [0, 4294967295]"
            )
        self.split_formats()
        if not 0 < float(self.clock_warn_ms) <= 3600000:
            raise RecorderConfigError(f"clock_warn_ms={self.clock_warn_ms} is out of range (0, 3600000]")
        if self.vox is not None and self.clock_source == "rtp":
            raise RecorderConfigError(
                "vox (voice-activated recording) is not available with clock_source rtp"
            )
        if self.vox is not None and self.splits:
            raise RecorderConfigError("vox (voice-activated recording) is not available with splits")

    def split_formats(self) -> list[tuple[int, int]]:
        """``(channel_offset, channels)`` of each split, validated against the stream."""
        if not self.splits:
            return []
        if not isinstance(self.splits, list) or len(self.splits) > MAX_SPLITS:
            raise RecorderConfigError(f"splits must be a list of at most {MAX_SPLITS} entries")
        total = self.payload_format().stream_channels
        out = []
        for i, sp in enumerate(self.splits):
            if not isinstance(sp, dict) or set(sp) - SPLIT_KEYS:
                raise RecorderConfigError(f"split {i}: fields must be among {', '.join(sorted(SPLIT_KEYS))}")
            try:
                off, cnt = int(sp.get("channel_offset", 0)), int(sp["channels"])
            except (KeyError, TypeError, ValueError):
                raise RecorderConfigError(
                    f"split {i}: channels and channel_offset must be integers"
                ) from None
            if off < 0 or cnt < 1 or off + cnt > total:
                raise RecorderConfigError(
                    f"split {i}: channels [{off}, {off + cnt}) do not fit {total} stream channels"
                )
            if (sp.get("archive_root") is None) == (sp.get("output") is None):
                raise RecorderConfigError(f"split {i}: exactly one of output and archive_root is required")
            out.append((off, cnt))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RecorderConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise RecorderConfigError(f"unknown recorder config field(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        if isinstance(d.get("vox"), dict):
            d["vox"] = VoxConfig(**d["vox"])
        return cls(**d)


#: what the receive side hands the writer thread: a block (payload bytes, frame count, RTP
#: timestamp of its first frame), an event of the jitter buffer or the merger, or None (stop)
_WriterItem = tuple[bytes, int, int | None] | tuple[Literal["event"], dict[str, Any]] | None


class Recorder:
    """One AES67/RTP recorder.

    Usage::

        rec = Recorder(RecorderConfig(source_addr="239.69.1.1", port=5004, archive_root="/srv/a"))
        rec.start(); ...; rec.stop()
        rec.state, rec.stats(), rec.current_file, rec.bytes_written, rec.levels
        q = rec.subscribe_levels()   # bounded queue of ChannelLevel lists (drop-oldest)
        e = rec.subscribe_events()   # bounded queue of event dicts

    Events (dicts with ``event`` and ``time``): ``started``, ``stopped``, ``ssrc_lock``,
    ``ssrc_relock``, ``timeline_reset``, ``file_open``, ``file_close``, ``retention_delete``,
    ``silence_start``, ``silence_end``, ``error``; with a redundant leg ``path_down`` /
    ``path_up`` (``path``, ``source``); with ``clock_source="rtp"`` ``clock_drift`` /
    ``clock_ok`` (``offset_ms``).
    """

    def __init__(
        self,
        config: RecorderConfig,
        *,
        hub: ReceiverHub | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        config.validate()
        self.config = config
        self.fmt = config.payload_format()
        self.hub = hub
        self.now = now
        self.state = "stopped"
        self.errors: list[str] = []
        self.start_time: _dt.datetime | None = None
        self.levels_broker: LevelBroker[list[ChannelLevel]] = LevelBroker()
        self.events_broker: LevelBroker[dict[str, Any]] = LevelBroker(maxsize=256)
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=100)
        self.meter = LevelMeter(
            self.fmt.channels, self.fmt.sample_rate, rate_hz=config.level_rate_hz, names=config.channel_names
        )
        self._q: queue.SimpleQueue[_WriterItem] = queue.SimpleQueue()
        self._sock: socket.socket | None = None
        self._sock2: socket.socket | None = None
        self.merger: RedundantMerger | None = None
        self.media_clock: MediaClock | None = None
        self.clock_watch: ClockWatch | None = None
        self._writer: threading.Thread | None = None
        self.jitter: JitterBuffer | None = None
        self.archive: ArchiveWriter | None = None
        self.taps: list[ArchiveWriter] = []
        self.outputs: _Outputs | None = None
        self.decode_fmt = self.fmt
        self.silence: SilenceDetector | None = None
        self.loudness_log: LoudnessLogger | None = None
        self.alerts: AlertMonitor | None = None
        self._watch: threading.Thread | None = None
        self._lock = threading.Lock()
        self._final: dict[str, Any] | None = None
        self.vox: VoxGate | None = None

    # ------------------------------------------------------------------ public API
    @property
    def levels(self) -> list[ChannelLevel]:
        return self.meter.latest

    @property
    def current_file(self) -> str | None:
        return self.archive.current_file if self.archive else None

    @property
    def bytes_written(self) -> int:
        return self.archive.bytes_written if self.archive else 0

    def subscribe_levels(self) -> queue.Queue[list[ChannelLevel]]:
        return self.levels_broker.subscribe()

    def subscribe_events(self) -> queue.Queue[dict[str, Any]]:
        return self.events_broker.subscribe()

    def start(self) -> None:
        """Open the socket and start capturing. Raises RecorderConfigError / OSError."""
        with self._lock:
            if self.state == "recording":
                return
            c = self.config
            self.errors = []

            def any_sink() -> Sink:
                return make_sink(
                    c.format,
                    c.bits,
                    bitrate=int(c.bitrate),
                    sync_seconds=float(c.sync_seconds),
                    rf64_threshold=int(c.rf64_threshold),
                    flac_level=c.flac_level,
                )

            try:
                any_sink()
            except SinkError as exc:
                raise RecorderConfigError(str(exc)) from exc

            def new_sink() -> Sink:
                sink = any_sink()
                if c.vox is not None:  # each VOX activation is a file of its own, never appended
                    sink.can_append = lambda path, info: False  # type: ignore[method-assign]
                return sink

            self.archive = ArchiveWriter(
                c.archive_root,
                new_sink,
                self.fmt.sample_rate,
                self.fmt.channels,
                layout=c.layout,
                period=int(c.period),
                clock=c.clock,
                name=c.name,
                single_file=c.output,
                retain_hours=c.retain_hours,
                on_event=self._event,
                now=self.now,
            )
            lo = min([c.channel_offset] + [o for o, _ in c.split_formats()])
            hi = max([c.channel_offset + self.fmt.channels] + [o + n for o, n in c.split_formats()])
            self.decode_fmt = _payload.PayloadFormat(
                self.fmt.encoding,
                self.fmt.sample_rate,
                self.fmt.stream_channels,
                lo,
                hi - lo,
                self.fmt.ptime_us,
            )
            main = slice(c.channel_offset - lo, c.channel_offset - lo + self.fmt.channels)
            pairs = [(self.archive, main)]
            self.taps = []
            for sp, (off, cnt) in zip(c.splits or [], c.split_formats(), strict=True):
                tap = ArchiveWriter(
                    sp.get("archive_root"),
                    any_sink,
                    self.fmt.sample_rate,
                    cnt,
                    layout=c.layout,
                    period=int(c.period),
                    clock=c.clock,
                    name=sp.get("name"),
                    single_file=sp.get("output"),
                    retain_hours=c.retain_hours,
                    on_event=functools.partial(self._split_event, len(self.taps)),
                    now=self.now,
                )
                self.taps.append(tap)
                pairs.append((tap, slice(off - lo, off - lo + cnt)))
            self.outputs = _Outputs(pairs, main, self.fmt.sample_rate)
            self.alerts = AlertMonitor(
                self._event,
                loudness_limit_lufs=c.loudness_limit_lufs,
                loudness_seconds=c.loudness_seconds,
                stream_lost_seconds=c.stream_lost_seconds,
            )
            self.loudness_log = (
                LoudnessLogger(
                    self.fmt.channels,
                    self.fmt.sample_rate,
                    silence_threshold_db=c.silence_threshold_db,
                    on_record=self.alerts.on_record,
                )
                if c.loudness_log
                else None
            )
            if c.silence_seconds:
                self.silence = SilenceDetector(
                    self.fmt.sample_rate,
                    threshold_db=c.silence_threshold_db,
                    duration_s=c.silence_seconds,
                    vad=c.vad,
                )
            self.hub = self.hub or default_hub()
            # a redundant leg is drained after the primary in each hub cycle: the reorder depth
            # covers that cycle too, so the merge tolerates a path skew of jitter_ms
            extra_ms = 1000 * self.hub.poll_s if c.redundant_addr is not None else 0.0
            depth = int(round((c.jitter_ms + extra_ms) * self.fmt.sample_rate / 1000))
            self.vox = VoxGate(c.vox, self.fmt.sample_rate, self.fmt.channels) if c.vox else None
            q = self._q
            if c.clock_source == "rtp":
                self.media_clock = MediaClock(self.fmt.sample_rate, c.mediaclk_offset or 0)
                self.clock_watch = ClockWatch(warn_ms=float(c.clock_warn_ms), latency_s=c.jitter_ms / 1000)
            else:
                self.media_clock = self.clock_watch = None
            self.jitter = JitterBuffer(
                self.fmt.frame_bytes,
                self.fmt.sample_rate,
                depth,
                lambda data, n: q.put((data, n, self.jitter.block_ts)),  # type: ignore[union-attr]
                on_event=lambda ev: q.put(("event", ev)),
                payload_type=int(c.payload_type),
                ssrc=c.ssrc,
                batch_frames=max(1, self.fmt.sample_rate * BATCH_MS // 1000),
                relock_timeout=c.relock_timeout,
            )
            self._sock = sock = open_rtp_socket(
                c.source_addr, int(c.port), interface=c.interface, source=c.source_filter
            )
            sock2: socket.socket | None = None
            if c.redundant_addr is not None:
                try:
                    self._sock2 = sock2 = open_rtp_socket(
                        c.redundant_addr,
                        int(c.redundant_port),  # type: ignore[arg-type]
                        interface=c.redundant_interface or c.interface,
                        source=c.redundant_source_filter,
                    )
                except OSError:
                    self._sock.close()
                    self._sock = None
                    raise
                self.merger = RedundantMerger(
                    self.jitter,
                    (f"{c.source_addr}:{c.port}", f"{c.redundant_addr}:{c.redundant_port}"),
                    on_event=lambda ev: q.put(("event", ev)),
                )
            else:
                self.merger = None
            self.start_time = _dt.datetime.now(_dt.UTC)
            self.state = "recording"
            self._final = None
            self._writer = threading.Thread(target=self._write_loop, name="rec-writer", daemon=True)
            self._writer.start()
            jb = self.jitter
            idle = max(0.05, 2 * c.jitter_ms / 1000)
            if self.merger is not None:
                # a stall of both legs must not flush the tail the slower leg is still delivering
                idle = max(idle, 0.5)
            merger = self.merger
            if merger is None or sock2 is None:
                self.hub.add(sock, jb.push, lambda now: jb.tick(now, idle=idle))
            else:

                def tick(now: float) -> None:
                    jb.tick(now, idle=idle)
                    merger.tick(now)

                self.hub.add(sock, merger.handler(0), tick, recv=merger.reader(0, sock))
                self.hub.add(sock2, merger.handler(1), recv=merger.reader(1, sock2))
            ev = {"event": "started", "source": f"{c.source_addr}:{c.port}"}
            if merger is not None:
                ev["redundant"] = f"{c.redundant_addr}:{c.redundant_port}"
            self._event(ev)
            self._watch = threading.Thread(target=self._watch_loop, name="rec-alerts", daemon=True)
            self._watch.start()

    def stop(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop capturing, flush the buffer, finish the file. Returns the final stats."""
        with self._lock:
            if self._sock is None:
                return self._final or self.stats()
            assert self.hub is not None and self.jitter is not None
            self.hub.remove(self._sock)
            self._sock.close()
            self._sock = None
            if self._sock2 is not None:
                self.hub.remove(self._sock2)
                self._sock2.close()
                self._sock2 = None
            self.jitter.flush()
            self._q.put(None)
            if self._writer is not None:
                self._writer.join(timeout)
            if self.state != "error":
                self.state = "stopped"
            self._final = self.stats()
            self._event({"event": "stopped"})
            self._final = self.stats()
            return self._final

    def stats(self) -> dict[str, Any]:
        """Counters and status (JSON-safe)."""
        jb = self.jitter.counters() if self.jitter else {}
        frames = self.archive.position if self.archive else 0
        return {
            "state": self.state,
            **jb,
            "frames_written": frames,
            "seconds": round(frames / self.fmt.sample_rate, 6),
            "bytes_written": self.bytes_written,
            "current_file": self.current_file,
            "files": list(self.archive.files) if self.archive else [],
            **(
                {
                    "splits": [
                        {"current_file": t.current_file, "files": list(t.files), "frames_written": t.position}
                        for t in self.taps
                    ]
                }
                if self.taps
                else {}
            ),
            "start_time": self.start_time.isoformat().replace("+00:00", "Z") if self.start_time else None,
            "errors": list(self.errors),
            "levels_dropped": self.levels_broker.dropped,
            **(self.merger.counters() if self.merger else {}),
            **(
                {
                    "clock_source": "rtp",
                    "clock_offset_ms": self.clock_watch.offset_ms,
                    "clock_drifting": self.clock_watch.drifting,
                }
                if self.clock_watch
                else {}
            ),
            "vox": None if self.vox is None else ("open" if self.vox.is_open else "closed"),
        }

    # ------------------------------------------------------------------ internals
    def _split_event(self, index: int, ev: dict[str, Any]) -> None:
        self._event({**ev, "split": index})

    def _event(self, ev: dict[str, Any]) -> None:
        if (
            ev.get("event") == "file_open"
            and "split" not in ev
            and self.loudness_log is not None
            and self.archive is not None
        ):
            a = self.archive
            self.loudness_log.file_opened(
                ev["path"], a.position, a.time_of(a.position), bool(ev.get("append"))
            )
        ev = {"time": round(time.time(), 3), **ev}
        self.recent_events.append(ev)
        self.events_broker.publish(ev)
        if self.alerts is not None and ev.get("event") in ("silence_start", "silence_end", "ssrc_relock"):
            self.alerts.on_engine_event(ev)
        if ev.get("event") == "error":
            log.error("recorder: %s", ev.get("message"))
        else:
            log.info("recorder event: %s", ev)

    def _vox_apply(self, archive: ArchiveWriter, t0: float, actions: list[VoxAction]) -> None:
        """Carry out the VOX gate's actions: each opening starts a new file whose first sample
        is the pre-roll's (timeline re-anchored there), each closing finishes the file."""
        rate = self.fmt.sample_rate
        for act in actions:
            if act[0] == "open":
                archive.start(t0 + act[1] / rate)
                self._event({"event": "vox_open", "at": round(t0 + act[1] / rate, 3)})
            elif act[0] == "write":
                pos = archive.position
                archive.write(act[1])
                self._log_loudness(act[1], pos)
            else:
                archive.close()
                self._event({"event": "vox_close", "at": round(t0 + act[1] / rate, 3)})

    def _watch_loop(self) -> None:
        """Poll the packet counter for the stream-lost alert (4 Hz) while recording."""
        while self._sock is not None and self.state == "recording":
            jb, alerts = self.jitter, self.alerts
            if jb is not None and alerts is not None:
                alerts.poll(jb.received, time.monotonic())
            time.sleep(0.25)

    def _log_loudness(self, samples: np.ndarray, pos: int) -> None:
        if self.loudness_log is not None:
            self.loudness_log.push(samples, pos)

    def _write_loop(self) -> None:
        q = self._q
        out = self.outputs
        archive = self.archive
        jb = self.jitter
        assert out is not None and archive is not None and jb is not None
        started = False
        failed = False
        placer = _MediaPlacer(self) if self.media_clock is not None else None
        while True:
            item = q.get()
            if item is None:
                break
            if item[0] == "event":
                ev = item[1]
                if placer is not None and ev.get("event") in ("ssrc_relock", "timeline_reset"):
                    placer.reanchor = True
                self._event(ev)
                continue
            data, n, ts = item
            if failed:
                continue
            try:
                full = _payload.decode(data, self.decode_fmt)
                if placer is not None:  # media clock (VOX is refused with clock_source rtp)
                    placed = placer.place(full, ts)
                    if placed is None:
                        continue
                    full = placed
                    started = True
                    pos = archive.position
                    samples = out.write(full)
                    self._log_loudness(samples, pos)
                elif self.vox is None:
                    if not started:
                        out.start(jb.first_rx_wall or self.now())
                        started = True
                    pos = archive.position
                    samples = out.write(full)
                    self._log_loudness(samples, pos)
                else:  # VOX (refused with splits): the gate decides what reaches the one archive
                    if not started:
                        t0 = jb.first_rx_wall or self.now()
                        started = True
                    samples = full[:, out.main]
                    self._vox_apply(archive, t0, self.vox.push(samples))
                for snap in self.meter.push(samples):
                    self.levels_broker.publish(snap)
                    if self.silence is not None:
                        for ev in self.silence.update_levels(snap, self.meter.interval):
                            self._event(ev)
                if self.silence is not None and self.silence.mode == "speech":
                    for ev in self.silence.update_audio(samples):
                        self._event(ev)
            except Exception as exc:  # disk full, permissions...: report, keep the process alive
                failed = True
                self.state = "error"
                msg = f"{type(exc).__name__}: {exc}"
                self.errors.append(msg)
                self._event({"event": "error", "message": msg})
        try:
            if self.vox is not None and started:
                self._vox_apply(archive, t0, self.vox.flush())
            out.close()
        except Exception as exc:
            self.state = "error"
            self.errors.append(f"{type(exc).__name__}: {exc}")
        if self.loudness_log is not None:
            self.loudness_log.close()


class _MediaPlacer:
    """``clock_source="rtp"``: put each decoded block where its RTP timestamp says it belongs.

    The first block anchors the archive at its absolute sample index (media clock); later
    blocks are placed by their unwrapped timestamps: a forward gap (the stream paused) becomes
    silence up to 10 s, a block that overlaps what was written is trimmed, and a bigger jump (or
    an SSRC re-lock / timeline reset) re-anchors the archive: the period's file is then continued
    with the downtime as silence (``gap_filled``), so later samples stay where the clock says.
    """

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.clock = rec.media_clock
        self.watch = rec.clock_watch
        self.out = rec.outputs
        self.next_index: int | None = None
        self.reanchor = False
        self.max_gap = rec.fmt.sample_rate * 10  # as the jitter buffer's silence fill

    def place(self, samples: np.ndarray, ts: int | None) -> np.ndarray | None:
        assert self.clock is not None and self.out is not None and self.watch is not None
        if ts is None:
            return None
        n = samples.shape[0]
        rate = self.clock.rate
        wall = time.time()
        if self.next_index is None or self.reanchor:
            idx = self.clock.anchor(ts, wall)
            self.reanchor = False
            self.out.start(idx / rate, sample=idx)
            self.rec._event(
                {"event": "media_clock_anchor", "sample": idx, "media_time": round(idx / rate, 6)}
            )
        else:
            idx = self.clock.index(ts)
            gap = idx - self.next_index
            if gap > self.max_gap or gap <= -n - self.max_gap:
                idx = self.clock.anchor(ts, wall)
                self.out.start(idx / rate, sample=idx)
                self.rec._event(
                    {"event": "media_clock_anchor", "sample": idx, "media_time": round(idx / rate, 6)}
                )
            elif gap > 0:
                self.out.silence(gap, samples.shape[1])
            elif gap < 0:
                if -gap >= n:
                    return None
                samples = samples[-gap:]
                idx -= gap
        self.next_index = idx + samples.shape[0]
        ev = self.watch.observe(self.next_index / rate, wall)
        if ev is not None:
            self.rec._event(ev)
        return samples


class _Outputs:
    """The archives fed from one decoded stream: the main one and the splits (channel slices)."""

    def __init__(self, pairs: list[tuple[ArchiveWriter, slice]], main: slice, rate: int) -> None:
        self.pairs = pairs
        self.main = main
        self.rate = rate
        self.whole = len(pairs) == 1 and main.start == 0

    def start(self, t0: float, sample: int | None = None) -> None:
        for a, _ in self.pairs:
            a.start(t0, sample=sample)

    def write(self, full: np.ndarray) -> np.ndarray:
        """Write ``full`` (the decoded channel span) to every archive; returns the main selection."""
        if self.whole and full.shape[1] == self.main.stop:
            self.pairs[0][0].write(full)
            return full
        for a, sl in self.pairs:
            a.write(np.ascontiguousarray(full[:, sl]))
        return full[:, self.main]

    def silence(self, frames: int, channels: int) -> None:
        zeros = silence_samples(min(frames, self.rate), channels)
        while frames > 0:
            self.write(zeros[: min(frames, len(zeros))])
            frames -= len(zeros)

    def close(self) -> None:
        errors = []
        for a, _ in self.pairs:
            try:
                a.close()
            except Exception as exc:  # close the others anyway
                errors.append(exc)
        if errors:
            raise errors[0]


def silence_samples(frames: int, channels: int) -> np.ndarray:
    return np.zeros((frames, channels), dtype=np.int32)
