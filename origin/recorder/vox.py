"""Voice/level-activated recording (VOX): write only while there is signal.

The gate looks at the audio in 10 ms windows:

* **closed -> open** when the window level stays at or above ``threshold_db`` for
  ``detection_ms`` (0: the first such window). The ``preroll_ms`` of audio before the opening
  window is written too, so the first syllable is not cut.
* **open -> closed** when the level stays below the release level for ``hangover_ms``. The
  release level is ``release_db`` (a level in dBFS), or ``threshold_db - 5`` when ``release_db``
  is 0 (Audyn's "automatic"); the gap between the two is the hysteresis.

Window level (``level_mode``): ``rms`` the RMS over all channels, ``peak`` the highest absolute
sample of any channel, ``any`` the RMS of the loudest channel. Levels are dBFS of the int32
(left-justified) samples the engine decodes.

The gate never touches the samples; :meth:`VoxGate.push` returns what to do with them:
``("open", index)`` (start a new recording whose first frame is stream frame ``index``),
``("write", samples)``, ``("close", index)``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["VoxConfig", "VoxGate", "VoxAction", "LEVEL_MODES", "AUTO_RELEASE_DB"]

LEVEL_MODES = ("rms", "peak", "any")
#: release level below the threshold when ``release_db`` is 0
AUTO_RELEASE_DB = 5.0
WINDOW_MS = 10
_FULL_SCALE = 2147483648.0

#: what :meth:`VoxGate.push` asks for: open a file at / close it at a stream frame index, or
#: write (frames, channels) int32 samples
VoxAction = tuple[Literal["open", "close"], int] | tuple[Literal["write"], np.ndarray]


@dataclass
class VoxConfig:
    """Gate settings (Audyn's ``vox_*`` fields without the prefix)."""

    threshold_db: float = -30.0
    release_db: float = 0.0
    detection_ms: int = 100
    hangover_ms: int = 2000
    preroll_ms: int = 500
    level_mode: str = "rms"

    def validate(self) -> None:
        if not -100.0 <= self.threshold_db <= 0.0:
            raise ValueError(f"vox threshold_db={self.threshold_db} is out of range [-100, 0]")
        if not -100.0 <= self.release_db <= 0.0:
            raise ValueError(f"vox release_db={self.release_db} is out of range [-100, 0]")
        if self.release_db and self.release_db > self.threshold_db:
            raise ValueError(
                f"vox release_db={self.release_db} must not be above threshold_db={self.threshold_db}"
            )
        for name in ("detection_ms", "hangover_ms", "preroll_ms"):
            if not 0 <= getattr(self, name) <= 600000:
                raise ValueError(f"vox {name}={getattr(self, name)} is out of range [0, 600000]")
        if self.level_mode not in LEVEL_MODES:
            raise ValueError(f"vox level_mode={self.level_mode!r} is not one of {', '.join(LEVEL_MODES)}")

    @property
    def release_level_db(self) -> float:
        return self.release_db if self.release_db else self.threshold_db - AUTO_RELEASE_DB


def window_level_db(block: np.ndarray, mode: str) -> float:
    """Level in dBFS of one (frames, channels) int32 block; -inf for digital silence."""
    x = block.astype(np.float64) * (1.0 / _FULL_SCALE)
    if mode == "peak":
        v = float(np.max(np.abs(x))) if x.size else 0.0
    elif mode == "any":
        v = float(np.sqrt(np.max(np.mean(x * x, axis=0)))) if x.size else 0.0
    else:
        v = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return 20.0 * math.log10(v) if v > 0 else -math.inf


class VoxGate:
    """Decides which stretches of the stream are recorded (see the module docstring)."""

    def __init__(self, config: VoxConfig, sample_rate: int, channels: int) -> None:
        config.validate()
        self.config = config
        self.window = max(1, sample_rate * WINDOW_MS // 1000)
        self.channels = channels
        self.preroll_frames = int(round(config.preroll_ms * sample_rate / 1000))
        self.is_open = False
        self.position = 0  # stream frames seen so far
        self._pending = np.zeros((0, channels), dtype=np.int32)  # < one window, not yet judged
        self._history: deque[np.ndarray] = deque()  # judged windows kept for the pre-roll
        self._history_frames = 0
        self._above_ms = 0.0
        self._below_ms = 0.0
        self.window_ms = self.window * 1000.0 / sample_rate

    def push(self, samples: np.ndarray) -> list[VoxAction]:
        """Feed (frames, channels) int32 audio; returns the actions for these frames."""
        if self._pending.shape[0]:
            samples = np.concatenate([self._pending, samples])
        n_full = samples.shape[0] // self.window * self.window
        self._pending = samples[n_full:].copy()
        actions: list[VoxAction] = []
        start = self.position
        for i in range(0, n_full, self.window):
            self._step(samples[i : i + self.window], start + i, actions)
        self.position = start + n_full
        return _merge_writes(actions)

    def flush(self) -> list[VoxAction]:
        """End of stream: write what is pending if open, then close."""
        actions: list[VoxAction] = []
        if self.is_open:
            if self._pending.shape[0]:
                actions.append(("write", self._pending))
                self.position += self._pending.shape[0]
            actions.append(("close", self.position))
            self.is_open = False
        self._pending = np.zeros((0, self.channels), dtype=np.int32)
        return actions

    def _step(self, win: np.ndarray, index: int, actions: list[VoxAction]) -> None:
        c = self.config
        level = window_level_db(win, c.level_mode)
        if not self.is_open:
            if level >= c.threshold_db:
                self._above_ms += self.window_ms
            else:
                self._above_ms = 0.0
            if level >= c.threshold_db and self._above_ms >= c.detection_ms:
                pre = list(self._history)
                pre_frames = sum(b.shape[0] for b in pre)
                self.is_open = True
                self._below_ms = 0.0
                actions.append(("open", index - pre_frames))
                for b in pre:
                    actions.append(("write", b))
                actions.append(("write", win))
                self._history.clear()
                self._history_frames = 0
                return
            self._remember(win)
            return
        actions.append(("write", win))
        if level >= c.release_level_db:
            self._below_ms = 0.0
        else:
            self._below_ms += self.window_ms
            if self._below_ms >= c.hangover_ms:
                self.is_open = False
                self._above_ms = 0.0
                actions.append(("close", index + win.shape[0]))

    def _remember(self, win: np.ndarray) -> None:
        if self.preroll_frames <= 0:
            return
        self._history.append(win)
        self._history_frames += win.shape[0]
        while self._history and self._history_frames - self._history[0].shape[0] >= self.preroll_frames:
            self._history_frames -= self._history.popleft().shape[0]


def _merge_writes(actions: list[VoxAction]) -> list[VoxAction]:
    out: list[VoxAction] = []
    run: list[np.ndarray] = []
    for a in actions:
        if a[0] == "write":
            run.append(a[1])
            continue
        if run:
            out.append(("write", np.concatenate(run) if len(run) > 1 else run[0]))
            run = []
        out.append(a)
    if run:
        out.append(("write", np.concatenate(run) if len(run) > 1 else run[0]))
    return out
