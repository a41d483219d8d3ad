"""Run a recorder as a supervised child process (``python -m origin.cli record ... --levels``).

A crashed child can be killed and restarted for real, and ``kill -9`` crash safety is real
because the recorder lives in its own process. :class:`RecorderProcess` starts the child,
reads its JSON line protocol (see :mod:`origin.recorder`) on a thread and keeps the latest
levels, stats and events; :func:`record_argv` builds the command line from a
:class:`~origin.recorder.engine.RecorderConfig`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from . import protocol
from .engine import RecorderConfig


def _arg(value: object) -> str:
    """One flag value: floats without a trailing ``.0`` (``-40.0`` -> ``-40``), exact otherwise."""
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def record_argv(
    config: RecorderConfig, *, python: str = sys.executable, levels: bool = True, check: bool = True
) -> list[str]:
    """The ``record`` command line for ``config`` (validated first unless ``check`` is false:
    then the child validates it and reports the error)."""
    c = config
    if check:
        c.validate()
    argv = [
        python,
        "-m",
        "origin.cli",
        "record",
        "--source",
        f"{c.source_addr}:{c.port}",
        "--payload",
        c.payload,
        "--rate",
        _arg(c.sample_rate),
        "--channels",
        _arg(c.channels),
        "--channel-offset",
        _arg(c.channel_offset),
        "--ptime-us",
        _arg(c.ptime_us),
        "--pt",
        _arg(c.payload_type),
        "--jitter-ms",
        _arg(c.jitter_ms),
        "--relock-timeout",
        _arg(c.relock_timeout),
        "--format",
        c.format,
        "--bits",
        c.bits,
        "--bitrate",
        _arg(c.bitrate),
        "--sync-seconds",
        _arg(c.sync_seconds),
        "--clock",
        c.clock,
        "--level-rate",
        _arg(c.level_rate_hz),
        "--silence-threshold-db",
        _arg(c.silence_threshold_db),
        "--clock-source",
        c.clock_source,
        "--clock-warn-ms",
        _arg(c.clock_warn_ms),
    ]
    if c.output is not None:
        argv += ["--output", c.output]
    else:
        argv += ["--archive-root", str(c.archive_root), "--layout", c.layout, "--period", str(c.period)]
    optional = {
        "--interface": c.interface,
        "--source-filter": c.source_filter,
        "--stream-channels": c.stream_channels,
        "--ssrc": c.ssrc,
        "--name": c.name,
        "--retain-hours": c.retain_hours,
        "--silence-seconds": c.silence_seconds,
        "--channel-names": ",".join(c.channel_names) if c.channel_names else None,
        "--redundant": f"{c.redundant_addr}:{c.redundant_port}" if c.redundant_addr else None,
        "--redundant-interface": c.redundant_interface,
        "--redundant-source-filter": c.redundant_source_filter,
        "--mediaclk-offset": c.mediaclk_offset,
        "--loudness-limit": c.loudness_limit_lufs,
        "--flac-level": c.flac_level if c.format == "flac" else None,
    }
    if c.vox is not None:
        optional.update(
            {
                "--vox-threshold-db": c.vox.threshold_db,
                "--vox-release-db": c.vox.release_db,
                "--vox-detection-ms": c.vox.detection_ms,
                "--vox-hangover-ms": c.vox.hangover_ms,
                "--vox-preroll-ms": c.vox.preroll_ms,
                "--vox-level-mode": c.vox.level_mode,
            }
        )
    for flag, value in optional.items():
        if value is not None:
            argv += [flag, _arg(value)]
    for sp in c.splits or []:
        argv += [
            "--split",
            f"{sp.get('channel_offset', 0)}:{sp['channels']}:{sp.get('archive_root') or sp['output']}",
        ]
    if c.vad:
        argv.append("--vad")
    argv += [
        "--loudness-seconds",
        _arg(c.loudness_seconds),
        "--stream-lost-seconds",
        _arg(c.stream_lost_seconds),
    ]
    if not c.loudness_log:
        argv.append("--no-loudness-log")
    if levels:
        argv.append("--levels")
    return argv


class RecorderProcess:
    """One recorder child process and the latest state it reported.

    Attributes updated from the child's lines: ``levels`` (list of ChannelLevel dicts),
    ``stats`` (latest stats line), ``final`` (the final line, after exit), ``events`` (recent
    event lines). ``on_line(dict)`` is called for every line on the reader thread.
    """

    def __init__(
        self,
        config: RecorderConfig,
        *,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        on_line: Callable[[protocol.Message], None] | None = None,
    ) -> None:
        self.config = config
        self.argv = record_argv(config, python=python)
        self.env = env
        self.cwd = cwd
        self.on_line = on_line
        self.proc: subprocess.Popen[str] | None = None
        self.levels: list[protocol.ChannelLevel] = []
        self.stats: Mapping[str, Any] = {}
        self.final: Mapping[str, Any] | None = None
        self.events: deque[protocol.EventMessage] = deque(maxlen=200)
        self.stderr_tail: deque[str] = deque(maxlen=50)
        self.started_at: float | None = None
        self._threads: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    @property
    def current_file(self) -> str | None:
        return (self.final or self.stats).get("current_file")

    @property
    def bytes_written(self) -> int:
        return int((self.final or self.stats).get("bytes_written", 0))

    def start(self) -> RecorderProcess:
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
            cwd=self.cwd,
        )
        self.started_at = time.time()
        self.final = None
        self.events.clear()
        self.levels, self.stats = [], {}
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def wait_started(self, timeout: float = 10.0) -> bool:
        """Wait for the child's ``started`` event (False if it exited or timed out)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(e.get("event") == "started" for e in self.events):
                return True
            if not self.alive:
                return False
            time.sleep(0.02)
        return False

    def stop(self, timeout: float = 10.0) -> Mapping[str, Any] | None:
        """SIGTERM (the child finishes its file cleanly), wait, return the final stats line."""
        if self.proc is None:
            return self.final
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for t in self._threads:
            t.join(2)
        return self.final

    def kill(self) -> None:
        """SIGKILL (crash simulation / stuck child). The file stays valid up to its last sync."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = protocol.parse(line)
            if msg is None:
                continue
            if msg["type"] == protocol.LEVELS:
                self.levels = msg.get("channels", [])
            elif msg["type"] == protocol.STATS:
                self.stats = msg
            elif msg["type"] == protocol.EVENT:
                self.events.append(msg)
            elif msg["type"] == protocol.FINAL:
                self.final = msg
            if self.on_line is not None:
                try:
                    self.on_line(msg)
                except Exception:
                    pass

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_tail.append(line.rstrip())
