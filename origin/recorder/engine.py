"""The recorder engine: receiver -> jitter buffer -> decode -> archive/sink, plus levels.

Threads: the shared :class:`~.receiver.ReceiverHub` thread receives and reorders (hot path:
never blocks, never logs, counts); it hands ~10 ms blocks of wire bytes to this recorder's
writer thread through a lock-free queue. The writer decodes (NumPy), writes the archive,
meters levels, runs the silence alarm and publishes to subscribers without blocking.
"""

from __future__ import annotations

import datetime as _dt
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from . import payload as _payload
from .alerts import AlertMonitor
from .archive import ArchiveError, ArchiveWriter, clock_tz, validate
from .jitter import JitterBuffer
from .levels import DEFAULT_RATE_HZ, LevelBroker, LevelMeter
from .loudness_log import LoudnessLogger
from .receiver import ReceiverError, ReceiverHub, default_hub, open_rtp_socket
from .silence import SilenceDetector
from .sinks import RIFF_MAX, SinkError, make_sink

log = logging.getLogger("origin.recorder")

#: audio handed from the receive thread to the writer thread in blocks of this many ms
BATCH_MS = 50


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
        except ReceiverError as exc:
            raise RecorderConfigError(str(exc)) from exc

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RecorderConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise RecorderConfigError(f"unknown recorder config field(s): {', '.join(sorted(unknown))}")
        return cls(**d)


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
    ``silence_start``, ``silence_end``, ``error``.
    """

    def __init__(
        self, config: RecorderConfig, *, hub: ReceiverHub | None = None, now: Any = time.time
    ) -> None:
        config.validate()
        self.config = config
        self.fmt = config.payload_format()
        self.hub = hub
        self.now = now
        self.state = "stopped"
        self.errors: list[str] = []
        self.start_time: _dt.datetime | None = None
        self.levels_broker = LevelBroker()
        self.events_broker = LevelBroker(maxsize=256)
        self.recent_events: deque[dict] = deque(maxlen=100)
        self.meter = LevelMeter(
            self.fmt.channels, self.fmt.sample_rate, rate_hz=config.level_rate_hz, names=config.channel_names
        )
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._sock = None
        self._writer: threading.Thread | None = None
        self.jitter: JitterBuffer | None = None
        self.archive: ArchiveWriter | None = None
        self.silence: SilenceDetector | None = None
        self.loudness_log: LoudnessLogger | None = None
        self.alerts: AlertMonitor | None = None
        self._watch: threading.Thread | None = None
        self._lock = threading.Lock()
        self._final: dict | None = None

    # ------------------------------------------------------------------ public API
    @property
    def levels(self) -> list[dict]:
        return self.meter.latest

    @property
    def current_file(self) -> str | None:
        return self.archive.current_file if self.archive else None

    @property
    def bytes_written(self) -> int:
        return self.archive.bytes_written if self.archive else 0

    def subscribe_levels(self) -> queue.Queue:
        return self.levels_broker.subscribe()

    def subscribe_events(self) -> queue.Queue:
        return self.events_broker.subscribe()

    def start(self) -> None:
        """Open the socket and start capturing. Raises RecorderConfigError / OSError."""
        with self._lock:
            if self.state == "recording":
                return
            c = self.config
            self.errors = []
            sink_kw = {
                "bitrate": int(c.bitrate),
                "sync_seconds": float(c.sync_seconds),
                "rf64_threshold": int(c.rf64_threshold),
            }
            try:
                make_sink(c.format, c.bits, **sink_kw)
            except SinkError as exc:
                raise RecorderConfigError(str(exc)) from exc
            self.archive = ArchiveWriter(
                c.archive_root,
                lambda: make_sink(c.format, c.bits, **sink_kw),
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
            depth = int(round(c.jitter_ms * self.fmt.sample_rate / 1000))
            q = self._q
            self.jitter = JitterBuffer(
                self.fmt.frame_bytes,
                self.fmt.sample_rate,
                depth,
                lambda data, n: q.put((data, n)),
                on_event=lambda ev: q.put(("event", ev)),
                payload_type=int(c.payload_type),
                ssrc=c.ssrc,
                batch_frames=max(1, self.fmt.sample_rate * BATCH_MS // 1000),
                relock_timeout=c.relock_timeout,
            )
            self._sock = open_rtp_socket(
                c.source_addr, int(c.port), interface=c.interface, source=c.source_filter
            )
            self.hub = self.hub or default_hub()
            self.start_time = _dt.datetime.now(_dt.UTC)
            self.state = "recording"
            self._final = None
            self._writer = threading.Thread(target=self._write_loop, name="rec-writer", daemon=True)
            self._writer.start()
            jb = self.jitter
            self.hub.add(
                self._sock, jb.push, lambda now: jb.tick(now, idle=max(0.05, 2 * c.jitter_ms / 1000))
            )
            self._event({"event": "started", "source": f"{c.source_addr}:{c.port}"})
            self._watch = threading.Thread(target=self._watch_loop, name="rec-alerts", daemon=True)
            self._watch.start()

    def stop(self, timeout: float = 10.0) -> dict:
        """Stop capturing, flush the buffer, finish the file. Returns the final stats."""
        with self._lock:
            if self._sock is None:
                return self._final or self.stats()
            assert self.hub is not None and self.jitter is not None
            self.hub.remove(self._sock)
            self._sock.close()
            self._sock = None
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

    def stats(self) -> dict:
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
            "start_time": self.start_time.isoformat().replace("+00:00", "Z") if self.start_time else None,
            "errors": list(self.errors),
            "levels_dropped": self.levels_broker.dropped,
        }

    # ------------------------------------------------------------------ internals
    def _event(self, ev: dict) -> None:
        if ev.get("event") == "file_open" and self.loudness_log is not None and self.archive is not None:
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

    def _watch_loop(self) -> None:
        """Poll the packet counter for the stream-lost alert (4 Hz) while recording."""
        while self._sock is not None and self.state == "recording":
            jb, alerts = self.jitter, self.alerts
            if jb is not None and alerts is not None:
                alerts.poll(jb.received, time.monotonic())
            time.sleep(0.25)

    def _write_loop(self) -> None:
        q = self._q
        archive = self.archive
        jb = self.jitter
        assert archive is not None and jb is not None
        started = False
        failed = False
        while True:
            item = q.get()
            if item is None:
                break
            data, n = item
            if data == "event":
                self._event(n)
                continue
            if failed:
                continue
            try:
                samples = _payload.decode(data, self.fmt)
                if not started:
                    archive.start(jb.first_rx_wall or self.now())
                    started = True
                pos = archive.position
                archive.write(samples)
                if self.loudness_log is not None:
                    self.loudness_log.push(samples, pos)
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
            archive.close()
        except Exception as exc:
            self.state = "error"
            self.errors.append(f"{type(exc).__name__}: {exc}")
        if self.loudness_log is not None:
            self.loudness_log.close()


def silence_samples(frames: int, channels: int) -> np.ndarray:
    return np.zeros((frames, channels), dtype=np.int32)
