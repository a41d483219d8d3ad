"""Archive policy: Rotter's file layouts, period-aligned rotation, never-overwrite, retention.

Layouts (``root`` is the archive root, ``NAME`` the optional archive name, ``SUF`` the
sink's extension; date/time fields are the *period start* in the archive clock):

=========== ================================================================================
flat        ``root/YYYY-MM-DD-HH.SUF``            (``root/NAME-YYYY-MM-DD-HH.SUF``)
hierarchy   ``root/YYYY/MM/DD/HH/archive.SUF``    (``root/YYYY/MM/DD/HH/NAME.SUF``)
combo       ``root/YYYY/MM/DD/HH/YYYY-MM-DD-HH.SUF`` (``.../HH/NAME-YYYY-MM-DD-HH.SUF``)
dailydir    ``root/YYYY-MM-DD/YYYY-MM-DD-HH.SUF`` (``root/YYYY-MM-DD/NAME-YYYY-MM-DD-HH.SUF``)
accurate    ``root/YYYY-MM-DD/YYYY-MM-DD-HH-mm-ss-uu.SUF`` (uu = hundredths; the file's exact
            first-sample time; no archive name, as in Rotter)
custom      any other value is a strftime pattern relative to ``root`` (it names the suffix
            itself, as in Rotter, e.g. ``%Y/%m/%d/%H%M.wav``)
=========== ================================================================================

Periods are ``period`` seconds (>= 10) counted from midnight of the archive clock
(``localtime`` or ``utc``); a new day always starts a new period. A sample belongs to the
file whose period contains its wall-clock time ``t0 + index / rate``: the split falls on the
exact boundary sample, so consecutive files are gapless and add up to the whole recording.

Never overwrite: when the target exists, a WAV of ours with the same format is continued
(append; the time the recorder was down is filled with silence, so sample positions keep
matching the clock: the file start comes from its ``bext`` chunk); otherwise the next free ``STEM-1.SUF``, ``STEM-2.SUF``... is used (the newest of
those is continued when it is appendable). The repeated hour at a DST fall-back gets the
zone abbreviation added to its name (``2026-10-25-02-CET.wav`` after ``2026-10-25-02.wav``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .sinks import Sink, SinkInfo

log = logging.getLogger("origin.recorder.archive")

LAYOUTS = ("flat", "hierarchy", "combo", "dailydir", "accurate")
DEFAULT_ARCHIVE_NAME = "archive"
MIN_PERIOD = 10
AUDIO_EXTENSIONS = (".wav", ".flac", ".opus", ".ogg", ".rf64")


class ArchiveError(ValueError):
    """Invalid archive settings."""


def clock_tz(clock: str | _dt.tzinfo | None) -> _dt.tzinfo | None:
    """``"utc"`` -> UTC, ``"localtime"``/None -> system local (None), a tzinfo -> itself."""
    if clock is None or clock == "localtime":
        return None
    if clock == "utc":
        return _dt.UTC
    if isinstance(clock, _dt.tzinfo):
        return clock
    raise ArchiveError(f"clock={clock!r} is not one of localtime, utc")


def to_datetime(t: float, tz: _dt.tzinfo | None) -> _dt.datetime:
    """Epoch seconds -> datetime in the archive clock (``fold`` set for the repeated hour)."""
    return _dt.datetime.fromtimestamp(t, tz) if tz is not None else _dt.datetime.fromtimestamp(t)


def midnight(t: float, tz: _dt.tzinfo | None) -> float:
    """Epoch seconds of the archive clock's midnight that starts ``t``'s day."""
    d = to_datetime(t, tz)
    return d.replace(hour=0, minute=0, second=0, microsecond=0, fold=0).timestamp()


def next_midnight(t: float, tz: _dt.tzinfo | None) -> float:
    d = to_datetime(t, tz).date() + _dt.timedelta(days=1)
    m = (
        _dt.datetime(d.year, d.month, d.day, tzinfo=tz)
        if tz is not None
        else _dt.datetime(d.year, d.month, d.day)
    )
    return m.timestamp()


def period_bounds(t: float, period: int, tz: _dt.tzinfo | None) -> tuple[float, float]:
    """The archive period ``[start, end)`` (epoch seconds) that contains ``t``."""
    m = midnight(t, tz)
    k = math.floor((t - m) / period)
    start = m + k * period
    return start, min(start + period, next_midnight(t, tz))


def layout_path(
    root: str,
    layout: str,
    start: float,
    extension: str,
    *,
    name: str | None = None,
    tz: _dt.tzinfo | None = None,
) -> str:
    """The file path for a file whose period (or, for ``accurate``, first sample) is ``start``."""
    d = to_datetime(start, tz)
    ymdh = f"{d.year:04d}-{d.month:02d}-{d.day:02d}-{d.hour:02d}"
    hier = os.path.join(f"{d.year:04d}", f"{d.month:02d}", f"{d.day:02d}", f"{d.hour:02d}")
    day = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    pre = f"{name}-" if name else ""
    lay = layout.lower()
    if lay == "flat":
        rel = f"{pre}{ymdh}.{extension}"
    elif lay == "hierarchy":
        rel = os.path.join(hier, f"{name or DEFAULT_ARCHIVE_NAME}.{extension}")
    elif lay == "combo":
        rel = os.path.join(hier, f"{pre}{ymdh}.{extension}")
    elif lay == "dailydir":
        rel = os.path.join(day, f"{pre}{ymdh}.{extension}")
    elif lay == "accurate":
        rel = os.path.join(
            day, f"{ymdh}-{d.minute:02d}-{d.second:02d}-{d.microsecond // 10000:02d}.{extension}"
        )
    else:
        if not layout.strip():
            raise ArchiveError("custom layout must be a non-empty strftime pattern")
        rel = d.strftime(layout)
        if not rel.strip("/"):
            raise ArchiveError(f"custom layout {layout!r} gives an empty path")
        rel = rel.lstrip("/")
    path = os.path.join(root, rel)
    if d.fold:  # second occurrence of a repeated (DST fall-back) hour: distinct name
        zone = d.strftime("%Z") or d.strftime("%z") or "fold"
        path = _add_suffix(path, zone)
    return path


def _add_suffix(path: str, suffix: str) -> str:
    head, tail = os.path.split(path)
    stem, dot, ext = tail.rpartition(".")
    if not dot:
        return os.path.join(head, f"{tail}-{suffix}")
    return os.path.join(head, f"{stem}-{suffix}.{ext}")


def validate(layout: str, period: int, clock: str | _dt.tzinfo | None) -> None:
    if int(period) < MIN_PERIOD:
        raise ArchiveError(f"period={period} is below the minimum of {MIN_PERIOD} seconds")
    clock_tz(clock)
    if not layout or not layout.strip():
        raise ArchiveError(
            "layout must be one of flat, hierarchy, combo, dailydir, accurate or a strftime pattern"
        )


class ArchiveWriter:
    """Writes the recorded timeline into period-aligned archive files through a sink.

    Parameters
    ----------
    root : archive root directory.
    sink_factory : returns a fresh :class:`Sink` per file.
    sample_rate, channels : the audio handed to :meth:`write`.
    layout, period, clock, name : see the module docstring.
    single_file : write everything into this one path instead (no rotation; never overwrite).
    retain_hours : delete audio files under ``root`` older than this after each rotation
        (``None`` = off, the default). Each deletion is logged and reported as an event.
    on_event : callback for ``file_open`` / ``file_close`` / ``retention_delete`` events.
    """

    def __init__(
        self,
        root: str | None,
        sink_factory: Callable[[], Sink],
        sample_rate: int,
        channels: int,
        *,
        layout: str = "dailydir",
        period: int = 3600,
        clock: str | _dt.tzinfo | None = "localtime",
        name: str | None = None,
        single_file: str | None = None,
        retain_hours: float | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if single_file is None:
            if not root:
                raise ArchiveError("an archive root or an output file is required")
            validate(layout, period, clock)
        if retain_hours is not None and retain_hours <= 0:
            raise ArchiveError(f"retain_hours={retain_hours} must be > 0")
        self.root = root
        self.sink_factory = sink_factory
        self.rate = int(sample_rate)
        self.channels = int(channels)
        self.layout = layout
        self.period = int(period)
        self.tz = clock_tz(clock)
        self.name = name
        self.single_file = single_file
        self.retain_hours = retain_hours
        self.on_event = on_event or (lambda ev: None)
        self.now = now
        self.t0: float | None = None
        self.a0: int | None = None  # absolute sample index of timeline 0 (media clock), if known
        self.position = 0  # frames written in total (timeline index of the next sample)
        self.sink: Sink | None = None
        self.current_file: str | None = None
        self.boundary: int | None = None  # timeline index where the current file ends
        self.files: list[str] = []
        self.bytes_closed = 0

    @property
    def bytes_written(self) -> int:
        return self.bytes_closed + (self.sink.bytes_written if self.sink else 0)

    def start(self, t0: float, *, sample: int | None = None) -> None:
        """Anchor the timeline: sample 0 has wall-clock time ``t0`` (epoch seconds).

        ``sample`` (absolute samples since 1970 UTC, from the media clock) anchors it exactly:
        period boundaries and TimeReference are then computed in integers. Re-anchoring closes
        the open file first.
        """
        self._close()
        self.a0 = sample
        self.t0 = sample / self.rate if sample is not None else t0
        self.position = 0

    def time_of(self, index: int) -> float:
        assert self.t0 is not None
        if self.a0 is not None:
            return (self.a0 + index) / self.rate
        return self.t0 + index / self.rate

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples`` (frames, channels) int32 to the timeline, rotating on boundaries."""
        if self.t0 is None:
            self.start(self.now())
        n = samples.shape[0]
        i = 0
        while i < n:
            if self.sink is None:
                self._open()
            assert self.sink is not None
            take = n - i if self.boundary is None else min(n - i, self.boundary - self.position)
            if take > 0:
                self.sink.write(samples[i : i + take])
                i += take
                self.position += take
            if self.boundary is not None and self.position >= self.boundary:
                self._close()
                self._retention()

    def sync(self) -> None:
        if self.sink is not None:
            self.sink.sync()

    def close(self) -> None:
        self._close()

    # ------------------------------------------------------------------ internals
    def _open(self) -> None:
        assert self.t0 is not None
        t = self.time_of(self.position)
        sink = self.sink_factory()
        if self.single_file is not None:
            path = self.single_file
            self.boundary = None
        else:
            pstart, pend = period_bounds(t, self.period, self.tz)
            # the file ends at the first sample whose time is at or after the period end
            if self.a0 is not None:
                end = math.ceil(round(pend * self.rate, 3)) - self.a0
            else:
                end = math.ceil(round((pend - self.t0) * self.rate, 3))
            self.boundary = max(self.position + 1, end)
            name_time = t if self.layout.lower() == "accurate" else pstart
            path = layout_path(
                self.root or ".", self.layout, name_time, sink.extension, name=self.name, tz=self.tz
            )
        info = SinkInfo(
            self.rate,
            self.channels,
            start_time=t,
            tz=self.tz,
            description=os.path.basename(path),
            start_sample=None if self.a0 is None else self.a0 + self.position,
        )
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        path, append = self._resolve(path, sink, info)
        sink.open(path, info, append=append)
        self.sink = sink
        self.current_file = path
        self.files.append(path)
        existing = sink.frames_written if append else 0
        self.on_event({"event": "file_open", "path": path, "append": append, "frames_existing": existing})
        if append and self.single_file is None:
            self._fill_downtime(sink, t)

    def _fill_downtime(self, sink: Sink, t: float) -> None:
        """Keep a continued file aligned to the clock: the restart gap becomes silence."""
        origin = getattr(sink, "origin_time", None)
        if origin is None:
            return
        pad = int(round((t - origin) * self.rate)) - sink.frames_written
        if pad <= 0 or pad > self.period * self.rate:
            return
        zeros = np.zeros((min(pad, self.rate), self.channels), dtype=np.int32)
        left = pad
        while left > 0:
            n = min(left, len(zeros))
            sink.write(zeros[:n])
            left -= n
        self.on_event({"event": "gap_filled", "path": self.current_file, "frames": pad})

    def _resolve(self, path: str, sink: Sink, info: SinkInfo) -> tuple[str, bool]:
        """Never overwrite: continue an appendable file of ours or pick the next free suffix."""
        if not os.path.exists(path):
            return path, False
        last = path
        k = 1
        while True:
            cand = _add_suffix(path, str(k))
            if not os.path.exists(cand):
                break
            last = cand
            k += 1
        if sink.can_append(last, info):
            return last, True
        return cand, False

    def _close(self) -> None:
        if self.sink is None:
            return
        sink = self.sink
        self.sink = None
        sink.close()
        self.bytes_closed += sink.bytes_written
        self.on_event({"event": "file_close", "path": self.current_file, "frames": sink.frames_written})

    def _retention(self) -> None:
        if not self.retain_hours or not self.root:
            return
        for path in delete_older_than(
            self.root,
            self.retain_hours,
            now=self.now(),
            keep={self.current_file} if self.current_file else None,
        ):
            self.on_event({"event": "retention_delete", "path": path})


def delete_older_than(
    root: str, hours: float, *, now: float | None = None, keep: set[str] | None = None
) -> list[str]:
    """Delete audio files under ``root`` last modified more than ``hours`` ago; log each one.

    Empty directories left behind are removed too. Returns the deleted paths.
    """
    now = time.time() if now is None else now
    limit = now - hours * 3600.0
    deleted = []
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for fn in files:
            p = os.path.join(dirpath, fn)
            if not fn.lower().endswith(AUDIO_EXTENSIONS) or (keep and p in keep):
                continue
            try:
                if os.path.getmtime(p) < limit:
                    os.remove(p)
                    deleted.append(p)
                    log.info("retention: deleted %s (older than %s h)", p, hours)
            except OSError as exc:
                log.warning("retention: could not delete %s: %s", p, exc)
        if dirpath != root:
            try:
                os.rmdir(dirpath)  # only succeeds when empty
            except OSError:
                pass
    return deleted
