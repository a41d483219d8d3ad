"""The worker command line for one recorder: ``python -m origin.cli record ... --levels``.

Maps the stored recorder config (API field names) to a
:class:`~origin.recorder.engine.RecorderConfig`; :func:`origin.recorder.worker.record_argv`
turns that into the command line (one builder for the CLI's supervisor and the studio).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from origin.recorder.engine import RecorderConfig
from origin.recorder.vox import VoxConfig
from origin.recorder.worker import record_argv

__all__ = ["recorder_config", "worker_argv"]

# API config key -> RecorderConfig field (unset or empty: the field's default, which is the flag's)
_FIELDS: dict[str, str] = {
    "interface": "interface",
    "source_filter": "source_filter",
    "encoding": "payload",
    "sample_rate": "sample_rate",
    "channels": "channels",
    "channel_offset": "channel_offset",
    "stream_channels": "stream_channels",
    "ptime_us": "ptime_us",
    "payload_type": "payload_type",
    "archive_layout": "layout",
    "archive_period": "period",
    "archive_clock": "clock",
    "format": "format",
    "bits": "bits",
    "bitrate": "bitrate",
    "redundant_interface": "redundant_interface",
    "redundant_source_filter": "redundant_source_filter",
    "clock_source": "clock_source",
    "mediaclk_offset": "mediaclk_offset",
    "silence_threshold_db": "silence_threshold_db",
    "silence_seconds": "silence_seconds",
    "loudness_limit_lufs": "loudness_limit_lufs",
    "loudness_seconds": "loudness_seconds",
    "stream_lost_seconds": "stream_lost_seconds",
}

# VOX fields (Audyn's names) -> VoxConfig fields; used only when ``vox_enabled`` is true
_VOX_FIELDS: dict[str, str] = {
    "vox_threshold_db": "threshold_db",
    "vox_release_db": "release_db",
    "vox_detection_ms": "detection_ms",
    "vox_hangover_ms": "hangover_ms",
    "vox_preroll_ms": "preroll_ms",
    "vox_level_mode": "level_mode",
}


def _set(cfg: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    return {field: cfg[key] for key, field in fields.items() if cfg.get(key) not in (None, "")}


def recorder_config(cfg: dict[str, Any], archive_dir: Path, *, level_rate: float = 20.0) -> RecorderConfig:
    """The recorder config of the stored API config ``cfg``, recording into ``archive_dir``."""
    kw = _set(cfg, _FIELDS)
    if cfg.get("format") == "flac" and cfg.get("flac_compression") is not None:
        kw["flac_level"] = cfg["flac_compression"]
    if cfg.get("redundant_multicast_addr") and cfg.get("redundant_port"):
        kw["redundant_addr"] = cfg["redundant_multicast_addr"]
        kw["redundant_port"] = int(cfg["redundant_port"])
    if cfg.get("channel_names"):
        kw["channel_names"] = list(cfg["channel_names"])
    return RecorderConfig(
        source_addr=cfg["multicast_addr"],
        port=int(cfg["port"]),
        archive_root=str(archive_dir),
        level_rate_hz=level_rate,
        vox=VoxConfig(**_set(cfg, _VOX_FIELDS)) if cfg.get("vox_enabled") else None,
        vad=cfg.get("silence_vad") is True,
        **kw,
    )


def worker_argv(cfg: dict[str, Any], archive_dir: Path, *, level_rate: float = 20.0) -> list[str]:
    """argv of the worker recording the stored API config ``cfg`` into ``archive_dir``. Not
    validated here: the API validated ``cfg``, and the child reports what it refuses."""
    return record_argv(recorder_config(cfg, archive_dir, level_rate=level_rate), check=False)
