"""Per-second loudness logs beside the archive files (real recorder, real sender, real files)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from origin.recorder import Recorder, RecorderConfig
from origin.recorder.archive import ArchiveWriter
from origin.recorder.loudness_log import LoudnessLogger, log_path_for, read_log, summarize
from origin.recorder.sender import Sender, SenderConfig
from origin.recorder.sinks import make_sink

from .conftest import wait_for

LO = "127.0.0.1"
SR = 48000


def _tone(seconds: float, db: float, channels: int = 2) -> np.ndarray:
    x = 10 ** (db / 20) * np.sin(2 * np.pi * 1000 * np.arange(int(seconds * SR)) / SR)
    return (np.round(np.stack([x] * channels, axis=1) * 8388607).astype(np.int32)) << 8


def test_log_follows_rotation_and_survives_a_torn_line(tmp_path):
    root = tmp_path / "arc"
    logger = LoudnessLogger(2, SR)

    def on_event(ev):
        if ev["event"] == "file_open":
            logger.file_opened(ev["path"], archive.position, archive.time_of(archive.position), ev["append"])

    archive = ArchiveWriter(str(root), lambda: make_sink("wav", "24"), SR, 2, layout="accurate", period=10,
                            clock="utc", on_event=on_event)  # fmt: skip
    archive.start(1_800_000_008.0)  # 2 s before a 10 s boundary
    x = np.concatenate([_tone(2.0, -18.0), _tone(3.0, -28.0)])
    for i in range(0, len(x), 2400):
        pos = archive.position
        archive.write(x[i : i + 2400])
        logger.push(x[i : i + 2400], pos)
    archive.close()
    logger.close()
    assert len(archive.files) == 2
    logs = [log_path_for(p) for p in archive.files]
    assert all(os.path.exists(p) for p in logs)
    first, second = (list(read_log(p)) for p in logs)
    assert first[0]["type"] == "header" and first[0]["audio"] == os.path.basename(archive.files[0])
    assert len(first) == 1 + 2 and len(second) == 1 + 3  # one record per second, split at the boundary
    assert first[-1]["off"] == 2.0 and second[-1]["off"] == 3.0
    assert second[0]["start"] == "2027-01-15T08:00:10.000Z"
    # 1 kHz stereo at -18 dBFS reads -18 LUFS; the second file's integrated loudness starts again
    assert first[-1]["I"] == pytest.approx(-18.0, abs=0.1)
    assert second[-1]["I"] == pytest.approx(-28.0, abs=0.1)
    assert second[-1]["TPmax"] == pytest.approx(-28.0, abs=0.2) and second[-1]["SP"] == pytest.approx(
        -28.0, abs=0.05
    )
    assert not any(r.get("sil") or r.get("clip") for r in first[1:] + second[1:])
    # a crash mid-line: the torn line is skipped, the rest reads
    with open(logs[1], "a", encoding="utf-8") as f:
        f.write('{"t": "2027-01-15T08:00:14.000Z", "off": 4.0, "M": -2')
    assert len(list(read_log(logs[1]))) == 4
    s = summarize(second, target_lufs=-23.0)
    assert (
        s["seconds"] == 3
        and s["integrated"] == pytest.approx(-28.0, abs=0.1)
        and s["aboveTargetShare"] == 0.0
    )


def test_silence_and_clipping_flags(tmp_path):
    logger = LoudnessLogger(1, SR, silence_threshold_db=-50.0)
    logger.file_opened(str(tmp_path / "a.wav"), 0, 1_800_000_000.0)
    loud = np.clip(_tone(1.0, 3.0, 1), -(2**31), 2**31 - 1)
    logger.push(np.concatenate([_tone(1.0, -70.0, 1), loud]), 0)
    logger.close()
    recs = [r for r in read_log(str(tmp_path / "a.loudness.jsonl")) if r.get("type") != "header"]
    assert [r["sil"] for r in recs] == [True, False]
    assert [r["clip"] for r in recs] == [False, True]
    assert recs[1]["TP"] >= recs[1]["SP"] >= -0.1


def test_recorder_writes_the_log_beside_its_file(tmp_path, group_port):
    group, port = group_port
    cfg = RecorderConfig(source_addr=group, port=port, interface=LO, output=str(tmp_path / "out.wav"))
    rec = Recorder(cfg)
    rec.start()
    Sender(SenderConfig(dest_addr=group, port=port, interface=LO, program="tone", seconds=2.2)).run()
    wait_for(lambda: rec.jitter.high >= int(2.1 * SR), 5.0)
    rec.stop()
    path = tmp_path / "out.loudness.jsonl"
    lines = path.read_text().splitlines()
    header, *recs = (json.loads(line) for line in lines)
    assert header["type"] == "header" and header["audio"] == "out.wav" and header["channels"] == 2
    assert len(recs) == 2
    # the sender's tone: -18 dBFS peak in both channels
    assert recs[-1]["M"] == pytest.approx(-18.0, abs=0.3)
    assert recs[-1]["SPmax"] == pytest.approx(-18.0, abs=0.05)
    assert recs[-1]["TPmax"] >= recs[-1]["SPmax"]
