"""AES67 / RTP recorder engine (issue 5).

Pipeline: :mod:`.receiver` (UDP, multicast with ``IP_MULTICAST_ALL=0``) -> :mod:`.jitter`
(RTP-timestamp timeline, reorder, loss = silence of exactly the missing length) ->
:mod:`.payload` (L16/L24 decode, channel selection) -> :mod:`.archive` (Rotter layouts,
period rotation, never overwrite) -> :mod:`.sinks` (crash-safe WAV/RF64 + bext, FLAC, Opus);
:mod:`.levels` and :mod:`.silence` tap the decoded audio. :mod:`.sap` discovers streams (SDP in :mod:`.sdp`),
:mod:`.redundancy` merges ST 2022-7 legs, :mod:`.mediaclock` maps RTP timestamps to absolute time
(RFC 7273), :mod:`.ptp` reads the local ptp4l, :mod:`.sender` is the test/demo source. :class:`Recorder` (in :mod:`.engine`) is the library
entry point; ``aimixer record`` / ``sender`` / ``discover`` are the CLI; :mod:`.worker` runs a
recorder as a supervised child process (``RecorderProcess``, ``record_argv``).

Defaults: levels 20 Hz, peak hold 1.5 s, clip at -0.1 dBFS, floor -120 dBFS; header sync +
fsync every 10 s of audio; reorder depth 20 ms; blocks of 50 ms from the receive thread to the
writer thread; the receive thread drains all sockets every 20 ms; SSRC re-lock after 1 s of
silence from the locked source; a forward timestamp jump up to 10 s is filled with silence,
a larger one re-anchors the timeline (``timeline_reset``).

``aimixer record --levels`` line protocol (stdout, one JSON object per line, flushed)
--------------------------------------------------------------------------------------
Meant for a supervisor that runs ``python -m origin.cli record ... --levels`` as a child
process. Every line has a ``type``:

``{"type": "levels", "time": 1704898234.567, "channels": [ChannelLevel, ...]}``
    20 Hz by default (``--level-rate``), measured on the audio, one per 50 ms of audio.
    ``ChannelLevel`` = ``{"name", "level_db", "level_linear", "peak_db", "clipping"}``:
    RMS of the interval in dBFS, the same as a linear value, sample peak in dBFS held for
    1.5 s, clipping = a sample at or above -0.1 dBFS within the last 1.5 s. Floor -120 dBFS.
``{"type": "event", "event": NAME, "time": ..., ...}``
    ``started``, ``ssrc_lock`` (``ssrc``), ``ssrc_relock`` (``ssrc``, ``previous_ssrc``,
    ``gap_frames``), ``timeline_reset``, ``file_open`` (``path``, ``append``), ``file_close``
    (``path``, ``frames``), ``gap_filled`` (``path``, ``frames``: restart downtime written as
    silence into a continued file), ``retention_delete`` (``path``), ``silence_start`` /
    ``silence_end``, ``error`` (``message``), ``stopped``; with ``--redundant`` (ST 2022-7)
    ``path_down`` / ``path_up`` (``path``: primary/secondary, ``source``); with ``--clock-source
    rtp`` ``media_clock_anchor`` (``sample``, ``media_time``), ``clock_drift`` / ``clock_ok``
    (``offset_ms``, ``warn_ms``); events of ``--split`` archives carry ``split`` (its index).
``{"type": "stats", "time": ..., "state", "bytes_written", "current_file", "files",
"start_time", "errors", "received", "lost", "reordered", "duplicate", "late", "foreign",
"bad_pt", "malformed", "silence_frames", "frames_written", "seconds", "relocks", "ssrc"}``
    every second (``--stats-interval``); ``lost`` is the merged loss with a redundant leg, which
    adds ``paths`` (per leg ``path``, ``source``, ``received``, ``lost``, ``late``, ``up``) and
    ``path_skew_ms``; ``--clock-source rtp`` adds ``clock_source``, ``clock_offset_ms``,
    ``clock_drifting``; ``--split`` adds ``splits`` (per split ``current_file``, ``files``,
    ``frames_written``).
``{"type": "final", ...same fields as stats...}``
    once, after the file was finished (SIGINT/SIGTERM/--seconds), with ``--levels`` or
    ``--json-stats``.

Without ``--levels`` the command is quiet apart from one-line events on stderr.
"""

from __future__ import annotations

from .engine import Recorder, RecorderConfig, RecorderConfigError
from .sap import SAPListener, config_from_sdp, parse_sdp
from .sender import Sender, SenderConfig

CaptureEngine = Recorder

__all__ = [
    "CaptureEngine",
    "Recorder",
    "RecorderConfig",
    "RecorderConfigError",
    "SAPListener",
    "Sender",
    "SenderConfig",
    "config_from_sdp",
    "parse_sdp",
]
