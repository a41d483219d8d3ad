"""The worker command line for one recorder: ``python -m origin.cli record ... --levels``.

Maps the stored recorder config (API field names) to ``aimixer record`` flags.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["record_argv"]

# API config key -> flag of `aimixer record`
_FLAGS: dict[str, str] = {
    "interface": "--interface",
    "source_filter": "--source-filter",
    "encoding": "--payload",
    "sample_rate": "--rate",
    "channels": "--channels",
    "channel_offset": "--channel-offset",
    "stream_channels": "--stream-channels",
    "ptime_us": "--ptime-us",
    "payload_type": "--pt",
    "archive_layout": "--layout",
    "archive_period": "--period",
    "archive_clock": "--clock",
    "format": "--format",
    "bits": "--bits",
    "bitrate": "--bitrate",
    "silence_threshold_db": "--silence-threshold-db",
    "silence_seconds": "--silence-seconds",
    "loudness_limit_lufs": "--loudness-limit",
    "loudness_seconds": "--loudness-seconds",
    "stream_lost_seconds": "--stream-lost-seconds",
}


def record_argv(
    rid: int,
    cfg: dict[str, Any],
    archive_dir: Path,
    name: str,
    *,
    level_rate: float = 20.0,
    python: str | None = None,
) -> list[str]:
    """argv for recorder ``rid`` recording ``cfg`` into ``archive_dir``."""
    argv = [
        python or sys.executable,
        "-m",
        "origin.cli",
        "record",
        "--source",
        f"{cfg['multicast_addr']}:{int(cfg['port'])}",
        "--archive-root",
        str(archive_dir),
        "--levels",
        "--level-rate",
        f"{level_rate:g}",
        "--stats-interval",
        "1",
    ]
    for key, flag in _FLAGS.items():
        v = cfg.get(key)
        if v is None or v == "":
            continue
        argv += [flag, str(v)]
    if cfg.get("silence_vad") is True:
        argv.append("--vad")
    return argv
