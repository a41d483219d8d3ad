"""Recorder alerts: silence, loudness, clipping and stream loss, as engine events.

:class:`AlertMonitor` is plugged into the engine next to the loudness logger. It turns what the
engine already measures into the studio's alert events (``event`` names as the webhooks use):

* ``recorder.silence`` / ``recorder.silence_cleared`` — from the silence detector
  (``silence_start`` / ``silence_end``: level threshold, duration and the speech-aware mode are
  the recorder's ``silence_*`` settings);
* ``recorder.loudness`` — the short-term loudness stayed above ``loudness_limit_lufs`` for
  ``loudness_seconds`` consecutive seconds (once; re-armed when it falls back to the limit);
* ``recorder.clipping`` — a second with a sample at -0.1 dBFS (then quiet for ``CLIP_REARM_S``);
* ``recorder.stream_lost`` / ``recorder.stream_restored`` — no packets for
  ``stream_lost_seconds``, or an SSRC change (``reason``: ``"timeout"`` / ``"ssrc_change"``).

``recorder.error`` and ``recorder.restarted`` come from the studio's supervisor (a worker that
dies cannot report its own death).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["AlertMonitor", "ALERT_EVENTS", "CLIP_REARM_S"]

ALERT_EVENTS = (
    "recorder.silence",
    "recorder.silence_cleared",
    "recorder.loudness",
    "recorder.clipping",
    "recorder.stream_lost",
    "recorder.stream_restored",
    "recorder.error",
    "recorder.restarted",
)
CLIP_REARM_S = 10


class AlertMonitor:
    """Turns per-second loudness records, engine events and packet counts into alert events.

    Parameters
    ----------
    emit : callable
        ``emit(event_dict)``; the engine's event publisher.
    loudness_limit_lufs : float or None
        Short-term loudness limit (``None``: no loudness alert).
    loudness_seconds : int
        Seconds above the limit before the alert.
    stream_lost_seconds : float
        Seconds without packets before ``recorder.stream_lost``.
    """

    def __init__(
        self,
        emit: Callable[[dict[str, Any]], None],
        *,
        loudness_limit_lufs: float | None = None,
        loudness_seconds: int = 10,
        stream_lost_seconds: float = 2.0,
    ) -> None:
        self.emit = emit
        self.loudness_limit_lufs = loudness_limit_lufs
        self.loudness_seconds = max(1, int(loudness_seconds))
        self.stream_lost_seconds = float(stream_lost_seconds)
        self._loud_run = 0
        self._loud_fired = False
        self._quiet_since_clip = CLIP_REARM_S
        self._last_count: int | None = None
        self._last_change = 0.0
        self._lost = False

    # -- per second of audio (the loudness logger's records) -----------------------------------
    def on_record(self, rec: dict[str, Any]) -> None:
        limit = self.loudness_limit_lufs
        s = rec.get("S")
        if limit is not None:
            if isinstance(s, int | float) and s > limit:
                self._loud_run += 1
                if self._loud_run >= self.loudness_seconds and not self._loud_fired:
                    self._loud_fired = True
                    self.emit(
                        {
                            "event": "recorder.loudness",
                            "short_term_lufs": s,
                            "limit_lufs": limit,
                            "seconds": self._loud_run,
                        }
                    )
            else:
                self._loud_run = 0
                self._loud_fired = False
        if rec.get("clip"):
            if self._quiet_since_clip >= CLIP_REARM_S:
                self.emit(
                    {
                        "event": "recorder.clipping",
                        "sample_peak_dbfs": rec.get("SP"),
                        "true_peak_dbtp": rec.get("TP"),
                    }
                )
            self._quiet_since_clip = 0
        else:
            self._quiet_since_clip += 1

    # -- engine events --------------------------------------------------------------------------
    def on_engine_event(self, ev: dict[str, Any]) -> None:
        name = ev.get("event")
        if name == "silence_start":
            self.emit(
                {"event": "recorder.silence", **{k: v for k, v in ev.items() if k not in ("event", "time")}}
            )
        elif name == "silence_end":
            self.emit(
                {
                    "event": "recorder.silence_cleared",
                    **{k: v for k, v in ev.items() if k not in ("event", "time")},
                }
            )
        elif name == "ssrc_relock":
            self.emit({"event": "recorder.stream_lost", "reason": "ssrc_change"})
            self.emit({"event": "recorder.stream_restored", "reason": "ssrc_change", "ssrc": ev.get("ssrc")})

    # -- packet counter, polled a few times a second ------------------------------------------------
    def poll(self, received: int, now: float) -> None:
        if self._last_count is None or received != self._last_count:
            if self._lost and self._last_count is not None:
                self._lost = False
                self.emit({"event": "recorder.stream_restored", "reason": "packets"})
            self._last_count = received
            self._last_change = now
            return
        if received and not self._lost and now - self._last_change >= self.stream_lost_seconds:
            self._lost = True
            self.emit(
                {
                    "event": "recorder.stream_lost",
                    "reason": "timeout",
                    "seconds": round(now - self._last_change, 2),
                }
            )
