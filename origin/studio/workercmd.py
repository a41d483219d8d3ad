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
    "redundant_interface": "--redundant-interface",
    "redundant_source_filter": "--redundant-source-filter",
    "clock_source": "--clock-source",
    "mediaclk_offset": "--mediaclk-offset",
    "flac_compression": "--flac-level",
    "silence_threshold_db": "--silence-threshold-db",
    "silence_seconds": "--silence-seconds",
    "loudness_limit_lufs": "--loudness-limit",
    "loudness_seconds": "--loudness-seconds",
    "stream_lost_seconds": "--stream-lost-seconds",
}

# VOX fields (Audyn's names) -> flags; passed only when ``vox_enabled`` is true
_VOX_FLAGS: dict[str, str] = {
    "vox_threshold_db": "--vox-threshold-db",
    "vox_release_db": "--vox-release-db",
    "vox_detection_ms": "--vox-detection-ms",
    "vox_hangover_ms": "--vox-hangover-ms",
    "vox_preroll_ms": "--vox-preroll-ms",
    "vox_level_mode": "--vox-level-mode",
}
#: Audyn's VOX defaults
VOX_DEFAULTS: dict[str, float | int | str] = {"vox_threshold_db": -30.0}


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
        if key == "flac_compression" and cfg.get("format") != "flac":
            continue
        argv += [flag, str(v)]
    if cfg.get("redundant_multicast_addr") and cfg.get("redundant_port"):
        argv += ["--redundant", f"{cfg['redundant_multicast_addr']}:{int(cfg['redundant_port'])}"]
    if cfg.get("channel_names"):
        argv += ["--channel-names", ",".join(cfg["channel_names"])]
    if cfg.get("vox_enabled"):
        for key, flag in _VOX_FLAGS.items():
            v = cfg.get(key, VOX_DEFAULTS.get(key))
            if v is not None:
                argv += [flag, f"{v:g}" if isinstance(v, float) else str(v)]
    if cfg.get("silence_vad") is True:
        argv.append("--vad")
    return argv
