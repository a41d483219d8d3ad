"""Silence / dead-air alarm.

Plain mode: the alarm is *raised* when every channel's RMS level stays below
``threshold_db`` for ``duration_s`` seconds of audio, and *cleared* when any channel is back
above the threshold for ``clear_s`` seconds.

Speech-aware mode (``vad=True``, for talk stations): the alarm is raised when no *voice* was
detected for ``duration_s``, even if a music bed keeps the level up. Voice detection is
webrtcvad (aggressiveness ``vad_mode`` 0..3) on the channel mix, 30 ms frames at 48/32/16/8 kHz
(other rates are resampled linearly to 16 kHz).

Events are dicts: ``{"event": "silence_start" | "silence_end", "mode": "level" | "speech",
"position": <frame index>, "duration_s": ...}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .protocol import ChannelLevel

VAD_RATES = (8000, 16000, 32000, 48000)


class SilenceDetector:
    """Threshold + duration alarm fed by level snapshots (and audio for the speech mode)."""

    def __init__(
        self,
        sample_rate: int,
        *,
        threshold_db: float = -50.0,
        duration_s: float = 10.0,
        clear_s: float = 1.0,
        vad: bool = False,
        vad_mode: int = 2,
    ) -> None:
        if duration_s <= 0:
            raise ValueError(f"silence duration_s={duration_s} must be > 0")
        if not -120 <= threshold_db <= 0:
            raise ValueError(f"silence threshold_db={threshold_db} is out of range [-120, 0]")
        self.rate = sample_rate
        self.threshold_db = threshold_db
        self.duration = int(duration_s * sample_rate)
        self.clear = int(clear_s * sample_rate)
        self.active = False
        self.mode = "speech" if vad else "level"
        self._quiet_since: int | None = 0
        self._loud_since: int | None = None
        self._pos = 0
        self._vad = None
        if vad:
            import webrtcvad

            self._vad = webrtcvad.Vad(vad_mode)
            self._vad_rate = sample_rate if sample_rate in VAD_RATES else 16000
            self._vad_frame = self._vad_rate * 30 // 1000
            self._vad_buf = np.zeros(0, dtype=np.int16)

    def update_levels(self, snapshot: list[ChannelLevel], frames: int) -> list[dict[str, Any]]:
        """Feed one level snapshot covering ``frames`` frames (plain mode)."""
        self._pos += frames
        if self._vad is not None:
            return []
        loud = any(ch["level_db"] > self.threshold_db for ch in snapshot)
        return self._step(loud, frames)

    def update_audio(self, samples: np.ndarray) -> list[dict[str, Any]]:
        """Feed audio (int32 left-justified, (frames, channels)) for the speech-aware mode."""
        if self._vad is None:
            return []
        mono = (samples.astype(np.int64).sum(axis=1) // samples.shape[1] >> 16).astype(np.int16)
        if self._vad_rate != self.rate:
            n = int(len(mono) * self._vad_rate / self.rate)
            mono = np.interp(np.linspace(0, len(mono) - 1, n), np.arange(len(mono)), mono).astype(np.int16)
        buf = np.concatenate([self._vad_buf, mono])
        events: list[dict[str, Any]] = []
        k = self._vad_frame
        step_frames = int(round(k * self.rate / self._vad_rate))
        i = 0
        while i + k <= len(buf):
            voiced = self._vad.is_speech(buf[i : i + k].tobytes(), self._vad_rate)
            events += self._step(voiced, step_frames)
            i += k
        self._vad_buf = buf[i:]
        return events

    def _step(self, loud: bool, frames: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if loud:
            self._quiet_since = None
            if self._loud_since is None:
                self._loud_since = 0
            self._loud_since += frames
            if self.active and self._loud_since >= self.clear:
                self.active = False
                out.append({"event": "silence_end", "mode": self.mode, "position": self._pos})
        else:
            self._loud_since = None
            if self._quiet_since is None:
                self._quiet_since = 0
            self._quiet_since += frames
            if not self.active and self._quiet_since >= self.duration:
                self.active = True
                out.append(
                    {
                        "event": "silence_start",
                        "mode": self.mode,
                        "position": self._pos,
                        "duration_s": round(self._quiet_since / self.rate, 3),
                    }
                )
        return out
