from __future__ import annotations

import time

import soundfile as sf

from origin.recorder import RecorderConfig
from origin.recorder.sender import Sender, SenderConfig
from origin.recorder.vox import VoxConfig
from origin.recorder.worker import RecorderProcess, record_argv

from .conftest import wait_for


def test_record_argv_round_trips_through_the_cli_parser(tmp_path):
    from origin.cli import build_parser
    from origin.commands.record import config_from_args

    cfg = RecorderConfig(
        source_addr="239.69.9.9",
        port=5004,
        interface="127.0.0.1",
        archive_root=str(tmp_path),
        layout="flat",
        period=600,
        clock="utc",
        name="studio",
        format="flac",
        bits="16",
        channels=2,
        channel_offset=4,
        stream_channels=8,
        ptime_us=250,
        payload_type=98,
        retain_hours=48.0,
        channel_names=["A", "B"],
        silence_seconds=30.0,
        vad=True,
        loudness_limit_lufs=-18.0,
        loudness_seconds=5,
        stream_lost_seconds=1.5,
        loudness_log=False,
        flac_level=7,
        vox=VoxConfig(threshold_db=-42.5, hangover_ms=1500, level_mode="peak"),
        silence_threshold_db=-47.25,
    )
    argv = record_argv(cfg)
    assert argv[1:4] == ["-m", "origin.cli", "record"] and "--levels" in argv
    back = config_from_args(build_parser().parse_args(argv[3:]))
    for field in (
        "source_addr",
        "port",
        "interface",
        "archive_root",
        "layout",
        "period",
        "clock",
        "name",
        "format",
        "bits",
        "channels",
        "channel_offset",
        "stream_channels",
        "ptime_us",
        "payload_type",
        "retain_hours",
        "channel_names",
        "silence_seconds",
        "loudness_limit_lufs",
        "loudness_seconds",
        "stream_lost_seconds",
        "loudness_log",
        "vad",
        "flac_level",
        "vox",
        "silence_threshold_db",
    ):
        assert getattr(back, field) == getattr(cfg, field), field


def test_supervised_child_reports_levels_stats_and_finishes(tmp_path, group_port):
    group, port = group_port
    cfg = RecorderConfig(
        source_addr=group,
        port=port,
        interface="127.0.0.1",
        archive_root=str(tmp_path),
        layout="dailydir",
        clock="utc",
        channel_names=["Mic", "Music"],
    )
    rp = RecorderProcess(cfg).start()
    try:
        assert rp.wait_started(15), list(rp.stderr_tail)
        Sender(
            SenderConfig(dest_addr=group, port=port, interface="127.0.0.1", program="tone", seconds=1.2)
        ).run()
        assert wait_for(lambda: rp.stats.get("frames_written", 0) >= 48000, 5)
        assert [c["name"] for c in rp.levels] == ["Mic", "Music"]
        assert rp.levels[0]["level_db"] > -30
    finally:
        final = rp.stop()
    assert final is not None and final["state"] == "stopped" and rp.returncode == 0
    assert final["frames_written"] == 57600 and final["lost"] == 0
    assert sf.info(final["current_file"]).frames == 57600
    assert rp.current_file == final["current_file"] and rp.bytes_written > 57600 * 6


def test_kill_and_restart(tmp_path, group_port):
    group, port = group_port
    cfg = RecorderConfig(source_addr=group, port=port, interface="127.0.0.1", output=str(tmp_path / "k.wav"))
    rp = RecorderProcess(cfg).start()
    assert rp.wait_started(15)
    rp.kill()
    assert not rp.alive and rp.returncode == -9
    time.sleep(0.1)
    rp.start()
    assert rp.wait_started(15) and rp.alive
    final = rp.stop()
    assert final is not None and final["received"] == 0
