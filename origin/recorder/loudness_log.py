"""Per-second loudness log beside every archive file (``<base>.loudness.jsonl``).

While a recorder records, :class:`LoudnessLogger` meters the programme (all recorded channels,
BS.1770-4 channel weights) and appends one JSON line per second of audio to a log that sits
beside the audio file with the same base name (``2026-12-06-14.wav`` ->
``2026-12-06-14.loudness.jsonl``). It follows the archive's rotation: a new file starts a new
log and the loudness "since the top of the file" starts again.

Format (version 1), UTF-8 JSON lines. The first line of a log is a header::

    {"type": "header", "version": 1, "audio": "2026-12-06-14.wav", "start": "2026-12-06T14:00:00.000Z",
     "rate": 48000, "channels": 2, "resumed": false}

(``resumed``: the recorder restarted and continued an existing file; the readings start again at
that point.) Then one record per second of audio::

    {"t": "2026-12-06T14:00:01.000Z", "off": 1.0, "M": -23.1, "S": -23.4, "I": -23.2, "LRA": 4.1,
     "TP": -3.2, "TPmax": -1.9, "SP": -3.4, "SPmax": -2.0, "sil": false, "clip": false}

``t`` = wall-clock time (UTC) of the end of that second, ``off`` = seconds since the top of the
file; ``M``/``S``/``I`` = momentary, short-term and integrated loudness (LUFS, integrated since the
top of the file), ``LRA`` (LU, EBU Tech 3342), ``TP``/``SP`` = true peak (dBTP, BS.1770-4 Annex 2)
and sample peak (dBFS) within the second, ``TPmax``/``SPmax`` = their maxima since the top of the
file; ``sil`` = the second's RMS was below the silence threshold; ``clip`` = a sample reached
-0.1 dBFS. Values are rounded to 0.01; "no value" (silence, too little audio) is ``null``.

Crash safety: every line is written and flushed when its second completes, so a crash loses at
most the current second; a reader skips a torn last line.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Iterator
from typing import IO, Any

import numpy as np
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.truepeak import TruePeakMeter

__all__ = ["LoudnessLogger", "log_path_for", "read_log", "LOG_SUFFIX", "FORMAT_VERSION", "summarize"]

LOG_SUFFIX = ".loudness.jsonl"
FORMAT_VERSION = 1
CLIP_DBFS = -0.1
MAX_LINE = 4096  # a reader ignores longer lines
_SCALE = 1.0 / 2147483648.0
_TP_PIECE = 16384  # >= the true-peak meter's long-block threshold (its per-tap loop, not np.convolve)


def log_path_for(audio_path: str) -> str:
    """The log beside ``audio_path``: same directory and base name, ``.loudness.jsonl``."""
    base, _ext = os.path.splitext(audio_path)
    return base + LOG_SUFFIX


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _r(v: float) -> float | None:
    return round(v, 2) if math.isfinite(v) else None


def _db(v: float, power: bool = False) -> float:
    if v <= 0.0:
        return -math.inf
    return (10.0 if power else 20.0) * math.log10(v)


class LoudnessLogger:
    """Meters int32 (left-justified) or float blocks and writes the per-second log.

    Parameters
    ----------
    channels, sample_rate : the recorded audio.
    silence_threshold_db : RMS (dBFS, over all channels) below which a second counts as silent.
    on_record : called with every record written (the alert module listens here).
    """

    def __init__(
        self,
        channels: int,
        sample_rate: int,
        *,
        silence_threshold_db: float = -50.0,
        on_record: Any = None,
    ) -> None:
        self.channels = int(channels)
        self.rate = int(sample_rate)
        self.silence_threshold_db = float(silence_threshold_db)
        self.on_record = on_record
        self._metered = min(self.channels, 16)
        self._all_metered = self._metered == self.channels
        self._file: IO[str] | None = None
        self.path: str | None = None
        self._pending: list[tuple[int, str, float, bool]] = []  # (timeline index, audio path, t, resumed)
        self.records = 0
        self.errors = 0
        self._reset_file_state(0, 0.0)

    def _reset_file_state(self, index: int, t: float) -> None:
        self.meter = LoudnessMeter(self.rate, self._metered)
        self.tp = TruePeakMeter(self.rate, self._metered)
        self._file_index = index  # timeline index of the file's first sample
        self._file_time = t
        self._sec_n = 0  # samples in the current second
        self._sec_blocks: list[np.ndarray] = []  # its audio, metered when the second completes
        self._sec_sq = 0.0
        self._sec_pk = 0.0
        self._sec_tp = 0.0
        self._pk_max = 0.0
        self._tp_max = 0.0
        self._seconds = 0

    # ------------------------------------------------------------------ archive hooks
    def file_opened(self, audio_path: str, index: int, t: float, resumed: bool = False) -> None:
        """The archive opened ``audio_path`` at timeline ``index`` (wall time ``t``); the log
        switches there when the samples reach that index."""
        self._pending.append((int(index), audio_path, float(t), bool(resumed)))

    def close(self) -> None:
        """Close the current log (the last partial second is not written)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                self.errors += 1
            self._file = None

    # ------------------------------------------------------------------ audio
    def push(self, samples: np.ndarray, index: int) -> None:
        """Feed (frames, channels) samples whose first frame has timeline ``index``."""
        n = samples.shape[0]
        if not self._pending and self._sec_n + n < self.rate:
            # the common case (a packet inside the current second): keep it for the second's meter
            self._sec_blocks.append(samples if self._all_metered else samples[:, : self._metered])
            self._sec_n += n
            return
        i = 0
        while i < n:
            if self._pending and self._pending[0][0] <= index + i:
                _, path, t, resumed = self._pending.pop(0)
                self._switch(path, index + i, t, resumed)
                continue
            stop = n
            if self._pending:
                stop = min(stop, self._pending[0][0] - index)
            stop = min(stop, i + (self.rate - self._sec_n))
            if stop <= i:  # pragma: no cover - defensive
                stop = i + 1
            self._meter(samples[i:stop])
            i = stop
            if self._sec_n >= self.rate:
                self._emit()

    def _switch(self, audio_path: str, index: int, t: float, resumed: bool) -> None:
        self._sec_blocks = []  # a partial second at the end of a file is not logged
        self.close()
        self._reset_file_state(index, t)
        self.path = log_path_for(audio_path)
        try:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            header = {
                "type": "header",
                "version": FORMAT_VERSION,
                "audio": os.path.basename(audio_path),
                "start": _iso(t),
                "rate": self.rate,
                "channels": self.channels,
                "resumed": resumed,
            }
            self._file.write(json.dumps(header, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError:
            self.errors += 1
            self._file = None

    def _meter(self, block: np.ndarray) -> None:
        """Collect the second's audio; meter it in one go when it completes (or at a switch):
        one call per second costs far less than twenty 50 ms calls."""
        self._sec_blocks.append(block[:, : self._metered])
        self._sec_n += block.shape[0]

    def _flush(self) -> None:
        if not self._sec_blocks:
            return
        x = self._sec_blocks[0] if len(self._sec_blocks) == 1 else np.concatenate(self._sec_blocks)
        self._sec_blocks = []
        # int32: one pass (the cast and the exact power-of-two scale, as astype(float64) * _SCALE)
        f = (
            np.multiply(x, _SCALE, dtype=np.float64)
            if x.dtype == np.int32
            else x.astype(np.float64, copy=False)
        )
        self.meter.push(f)
        # the true peak in pieces of at least _TP_PIECE frames: the same readings (the meter
        # streams exactly), with its per-tap arrays small enough to stay in cache
        n = f.shape[0]
        pieces = max(1, n // _TP_PIECE)
        for k in range(pieces):
            self.tp.push(f[k * n // pieces : (k + 1) * n // pieces])
            self._sec_tp = max(self._sec_tp, self.tp.last_block)
        v = f.reshape(-1)
        self._sec_sq += float(np.einsum("i,i->", v, v))  # no BLAS call (its threads cost more)
        pk = max(float(v.max()), -float(v.min())) if v.size else 0.0
        self._sec_pk = max(self._sec_pk, pk)

    def _emit(self) -> None:
        self._flush()
        self._seconds += 1
        self._pk_max = max(self._pk_max, self._sec_pk)
        self._tp_max = max(self._tp_max, self._sec_tp, self._sec_pk)
        rms_db = _db(self._sec_sq / (self._sec_n * self._metered), power=True)
        sp = _db(self._sec_pk)
        m = self.meter
        rec = {
            "t": _iso(self._file_time + self._seconds),
            "off": float(self._seconds),
            "M": _r(m.momentary),
            "S": _r(m.short_term),
            "I": _r(m.integrated),
            "LRA": _r(m.loudness_range),
            "TP": _r(_db(max(self._sec_tp, self._sec_pk))),
            "TPmax": _r(_db(self._tp_max)),
            "SP": _r(sp),
            "SPmax": _r(_db(self._pk_max)),
            "sil": bool(rms_db < self.silence_threshold_db),
            "clip": bool(sp >= CLIP_DBFS),
        }
        self._sec_n = 0
        self._sec_sq = 0.0
        self._sec_pk = 0.0
        self._sec_tp = 0.0
        if self._file is not None:
            try:
                self._file.write(json.dumps(rec, separators=(",", ":")) + "\n")
                self._file.flush()
                self.records += 1
            except OSError:
                self.errors += 1
        if self.on_record is not None:
            self.on_record(rec)


# ---------------------------------------------------------------------- reading (studio API)


def read_log(path: str, *, max_records: int = 400_000) -> Iterator[dict[str, Any]]:
    """The records of a log (headers included, in order), skipping torn or over-long lines.
    At most ``max_records`` lines are read (a day of seconds is 86 400)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for k, line in enumerate(f):
            if k >= max_records:
                return
            if len(line) > MAX_LINE or not line.endswith("\n"):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                yield rec


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def summarize(records: list[dict[str, Any]], target_lufs: float) -> dict[str, Any]:
    """A recording's summary from its records: the last I and LRA, TP/SP/M/S maxima, seconds of
    silence and clipping, and the share of seconds whose short-term loudness is above
    ``target_lufs``."""
    data = [r for r in records if r.get("type") != "header"]

    def mx(key: str) -> float | None:
        vals = [v for v in (_num(r.get(key)) for r in data) if v is not None]
        return max(vals) if vals else None

    last_i = next((_num(r.get("I")) for r in reversed(data) if _num(r.get("I")) is not None), None)
    last_lra = next((_num(r.get("LRA")) for r in reversed(data) if _num(r.get("LRA")) is not None), None)
    st = [v for v in (_num(r.get("S")) for r in data) if v is not None]
    return {
        "seconds": len(data),
        "integrated": last_i,
        "lra": last_lra,
        "truePeakMax": mx("TP"),
        "samplePeakMax": mx("SP"),
        "momentaryMax": mx("M"),
        "shortTermMax": mx("S"),
        "silenceSeconds": sum(1 for r in data if r.get("sil") is True),
        "clippingSeconds": sum(1 for r in data if r.get("clip") is True),
        "aboveTargetShare": (sum(1 for v in st if v > target_lufs) / len(st)) if st else 0.0,
    }
