"""The CLI as a supervised child process: kill -9 crash safety, restart, SIGTERM, JSON lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from origin.recorder.sender import Sender, SenderConfig

from .conftest import align

LO = "127.0.0.1"


class Child:
    """``python -m origin.cli record ... --levels`` with its JSON lines collected by a thread."""

    def __init__(self, args: list[str]):
        self.p = subprocess.Popen(
            [sys.executable, "-m", "origin.cli", "record", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict] = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(json.loads(line))

    def wait_line(self, pred, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for ln in list(self.lines):
                if pred(ln):
                    return ln
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(
            f"no matching line; stderr={self.p.stderr.read() if self.p.poll() is not None else ''}"
        )

    def of(self, kind):
        return [ln for ln in self.lines if ln["type"] == kind]


def test_kill9_leaves_a_valid_file_and_restart_overwrites_nothing(tmp_path, group_port):
    group, port = group_port
    root = tmp_path / "archive"
    x = np.random.default_rng().integers(-(2**23), 2**23, size=(48000 * 3, 2)).astype(np.int32) << 8
    sf.write(tmp_path / "src.wav", x, 48000, subtype="PCM_24")
    args = [
        "--source",
        f"{group}:{port}",
        "--interface",
        LO,
        "--archive-root",
        str(root),
        "--layout",
        "dailydir",
        "--clock",
        "utc",
        "--period",
        "3600",
        "--sync-seconds",
        "1",
        "--levels",
    ]
    child = Child(args)
    child.wait_line(lambda ln: ln.get("event") == "started")
    snd = Sender(SenderConfig(dest_addr=group, port=port, interface=LO, program=str(tmp_path / "src.wav")))
    snd.start()
    # wait until at least one header sync (1 s of audio) plus some unsynced audio is on disk
    child.wait_line(lambda ln: ln["type"] == "stats" and ln["frames_written"] >= 72000)
    os.kill(child.p.pid, signal.SIGKILL)
    child.p.wait(5)
    snd.stop()
    snd.join(5)
    opened = child.wait_line(lambda ln: ln.get("event") == "file_open")
    path = opened["path"]
    assert path.startswith(str(root)) and path.endswith(".wav")
    # the file is valid: soundfile and ffprobe agree with the header written at the last sync
    info = sf.info(path)
    assert info.frames >= 48000
    y, _ = sf.read(path, dtype="int32")
    off = align(y, x)
    np.testing.assert_array_equal(y, x[off : off + len(y)])
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=duration_ts", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(probe.stdout.strip()) == info.frames
    on_disk_before = open(path, "rb").read()
    # the levels/stats/event line protocol
    lv = child.of("levels")[-1]["channels"]
    assert [c["name"] for c in lv] == ["L", "R"]
    assert set(lv[0]) == {"name", "level_db", "level_linear", "peak_db", "true_peak_db", "clipping"}
    st = child.of("stats")[-1]
    assert st["current_file"] == path and st["bytes_written"] > 0 and st["lost"] == 0

    # restart in the same period: the file is continued, nothing overwritten
    child2 = Child(args)
    child2.wait_line(lambda ln: ln.get("event") == "started")
    Sender(SenderConfig(dest_addr=group, port=port, interface=LO, program="tone", seconds=0.5)).run()
    child2.wait_line(lambda ln: ln["type"] == "stats" and ln["frames_written"] >= 24000)
    child2.p.send_signal(signal.SIGTERM)
    assert child2.p.wait(10) == 0
    child2.t.join(5)
    final = child2.of("final")[-1]
    ev = child2.wait_line(lambda ln: ln.get("event") == "file_open")
    assert ev["path"] == path and ev["append"] is True
    assert final["state"] == "stopped" and final["current_file"] == path
    after = open(path, "rb").read()
    hdr = sf.info(path)
    y2, _ = sf.read(path, dtype="int32")
    n_old = len(y2) - final["frames_written"]
    assert n_old >= info.frames  # every synced frame (and the complete unsynced ones) kept
    np.testing.assert_array_equal(y2[: len(y)], y)
    assert hdr.frames == len(y2) and len(after) > len(on_disk_before)
    base = os.path.basename(path)
    log = base.rsplit(".", 1)[0] + ".loudness.jsonl"
    assert sorted(os.listdir(os.path.dirname(path))) == sorted([base, log])  # no second audio file
    # the loudness log survived the kill -9 up to its last second and continues after the restart
    recs = [
        json.loads(line) for line in open(os.path.join(os.path.dirname(path), log)) if line.endswith("\n")
    ]
    headers = [r for r in recs if r.get("type") == "header"]
    assert len(headers) == 2 and headers[0]["resumed"] is False and headers[1]["resumed"] is True
    assert len(recs) > len(headers)


def test_json_stats_and_bad_flags(tmp_path, group_port):
    group, port = group_port
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "record",
            "--source",
            f"{group}:{port}",
            "--interface",
            LO,
            "--output",
            str(tmp_path / "o.wav"),
            "--seconds",
            "0.3",
            "--json-stats",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout.strip().splitlines()[-1])
    assert final["type"] == "final" and final["received"] == 0 and final["state"] == "stopped"
    for argv, msg in (
        (["--source", "nonsense", "--output", "x.wav"], "must be ADDR:PORT"),
        (["--source", f"{group}:{port}", "--archive-root", str(tmp_path), "--period", "5"], "period=5"),
        (["--source", f"{group}:{port}", "--output", "x.wav", "--ptime-us", "50"], "ptime_us=50"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "origin.cli", "record", *argv],
            capture_output=True,
            text=True,
            timeout=20,
            cwd=tmp_path,
        )
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_sender_cli_json_stats(group_port):
    group, port = group_port
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "sender",
            "--dest",
            f"{group}:{port}",
            "--interface",
            LO,
            "--seconds",
            "0.2",
            "--program",
            "pink",
            "--loss",
            "0.1",
            "--seed",
            "3",
            "--json-stats",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["packets"] == 200 and out["frames"] == 9600
    assert out["sent"] == 200 - len(out["dropped"]) and out["dropped"]
    bad = subprocess.run(
        [sys.executable, "-m", "origin.cli", "sender", "--dest", f"{group}:{port}", "--loss", "2"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert bad.returncode == 2 and "loss=2.0 is out of range" in bad.stderr


@pytest.mark.parametrize("program", ["speech", "music"])
def test_sender_programs_produce_audio(program):
    from origin.recorder.sender import Program

    p = Program(program, 48000, 2, seed=1)
    x = p.read(48000)
    assert x.shape == (48000, 2) and x.dtype == np.int32 and np.abs(x).max() > 2**26
