"""SMPTE ST 2022-7: two legs of one stream merged by RTP sequence number (real packets on loopback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from netutil import free_udp_port, unique_group

from origin.recorder import Recorder, RecorderConfig, RecorderConfigError
from origin.recorder.sender import Sender, SenderConfig

from .conftest import wait_for

LO = "127.0.0.1"


@pytest.fixture
def legs():
    """Two distinct multicast groups (primary, secondary) and ports."""
    a = unique_group("239.71")
    b = unique_group("239.72")
    return (a, free_udp_port()), (b, free_udp_port())


def start(tmp_path, legs, name="out.wav", **kw) -> Recorder:
    (a, pa), (b, pb) = legs
    rec = Recorder(
        RecorderConfig(
            source_addr=a,
            port=pa,
            interface=LO,
            redundant_addr=b,
            redundant_port=pb,
            output=str(tmp_path / name),
            **kw,
        )
    )
    events = rec.subscribe_events()
    rec.start()
    return rec, events


def send(legs, program, *, drop=None, **kw) -> Sender:
    (a, pa), (b, pb) = legs
    return Sender(
        SenderConfig(
            dest_addr=a, port=pa, redundant_addr=b, redundant_port=pb, interface=LO, program=program, **kw
        ),
        drop=drop,
    )


def finish(rec: Recorder, frames: int) -> dict:
    wait_for(lambda: rec.jitter.high >= frames, 5)
    time.sleep(0.1)
    return rec.stop()


def drained(q) -> list[dict]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def expect_with_holes(src: np.ndarray, first_ts: int, dropped) -> np.ndarray:
    exp = src.copy()
    for _seq, ts, n in dropped:
        k = (ts - first_ts) & 0xFFFFFFFF
        exp[k : k + n] = 0
    return exp


def test_complementary_bursts_give_a_bit_exact_file(tmp_path, legs, source24):
    src_path, src = source24
    rec, _ = start(tmp_path, legs)
    # 20-packet bursts, alternating between the legs: every packet is missing on one leg or none
    snd = send(legs, src_path, drop=lambda path, k: (k % 100) // 20 == (1 if path == 0 else 3))
    st = snd.run()
    stats = finish(rec, len(src))
    assert len(st.dropped_paths[0]) >= 180 and len(st.dropped_paths[1]) >= 180
    assert not {d[0] for d in st.dropped_paths[0]} & {d[0] for d in st.dropped_paths[1]}
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    assert len(y) == len(src)
    np.testing.assert_array_equal(y, src, err_msg=str(stats))
    assert stats["lost"] == 0 and stats["silence_frames"] == 0
    p, s = stats["paths"]
    assert (p["path"], p["lost"], p["received"]) == (
        "primary",
        len(st.dropped_paths[0]),
        st.packets - p["lost"],
    )
    assert (s["path"], s["lost"], s["received"]) == (
        "secondary",
        len(st.dropped_paths[1]),
        st.packets - s["lost"],
    )


def test_independent_loss_with_5ms_skew_loses_only_the_joint_drops(tmp_path, legs, source24):
    src_path, src = source24
    rec, _ = start(tmp_path, legs)
    snd = send(legs, src_path, loss_primary=0.05, loss_secondary=0.05, seed=11, redundant_delay_ms=5.0)
    st = snd.run()
    stats = finish(rec, len(src))
    drops = [{d[0]: d for d in leg} for leg in st.dropped_paths]
    joint = [drops[0][q] for q in drops[0].keys() & drops[1].keys()]
    assert len(drops[0]) > 20 and len(drops[1]) > 20  # the faults really happened
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    assert len(y) == len(src)
    np.testing.assert_array_equal(y, expect_with_holes(src, st.first_ts, joint))
    assert stats["lost"] == len(joint)
    assert [p["lost"] for p in stats["paths"]] == [len(drops[0]), len(drops[1])]
    assert stats["paths"][1]["late"] == 0  # 5 ms is well inside the 20 ms reorder depth
    assert stats["path_skew_ms"] > 0  # the secondary arrives later (kernel timestamps)


def test_one_path_dead_for_10s_leaves_no_gap(tmp_path, legs):
    rng = np.random.default_rng(20)
    src = (rng.integers(-(2**23), 2**23, size=(48000 * 12, 2)).astype(np.int32)) << 8
    path = tmp_path / "src12.wav"
    sf.write(path, src, 48000, subtype="PCM_24")
    rec, events = start(tmp_path, legs)
    # primary dead from 1 s to 11 s (1 ms packets)
    snd = send(legs, str(path), drop=lambda leg, k: leg == 0 and 1000 <= k < 11000)
    st = snd.run()
    stats = finish(rec, len(src))
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    assert len(y) == len(src)
    np.testing.assert_array_equal(y, src)
    assert stats["lost"] == 0 and stats["silence_frames"] == 0
    assert stats["paths"][0]["lost"] == len(st.dropped_paths[0]) == 10000
    evs = [e for e in drained(events) if e["event"] in ("path_down", "path_up")]
    assert [(e["event"], e["path"]) for e in evs] == [("path_down", "primary"), ("path_up", "primary")]
    assert evs[0]["time"] <= evs[1]["time"]


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer not installed")
def test_gstreamer_pair_of_senders_as_the_two_legs(tmp_path, legs, source24):
    """Two independent GStreamer senders with the same SSRC/sequence/timestamp base, each
    dropping 5 % of its packets (``identity drop-probability``): the merge fills every hole
    that only one of them has."""
    src_path, src = source24
    # two processes start at different moments: the reorder depth must cover that skew
    rec, _ = start(tmp_path, legs, jitter_ms=1000)
    procs = []
    # identity draws from C rand(), unseeded, so both processes would drop the same packets:
    # the second leg's extra (practically never dropping) identity shifts its random sequence
    shift = [[], ["identity", "drop-probability=0.0000001", "!"]]
    for (addr, port), pre in zip(legs, shift, strict=True):
        procs.append(
            subprocess.Popen(
                [
                    "gst-launch-1.0",
                    "-q",
                    "filesrc",
                    f"location={src_path}",
                    "!",
                    "wavparse",
                    "!",
                    "audioconvert",
                    "!",
                    "rtpL24pay",
                    "pt=96",
                    "ssrc=305419896",
                    "seqnum-offset=1000",
                    "timestamp-offset=5000",
                    "min-ptime=1000000",
                    "max-ptime=1000000",
                    "!",
                    *pre,
                    "identity",
                    "drop-probability=0.05",
                    "!",
                    "udpsink",
                    f"host={addr}",
                    f"port={port}",
                    "multicast-iface=lo",
                    "auto-multicast=true",
                    "ttl-mc=1",
                    "sync=true",
                ],
                stdout=subprocess.DEVNULL,
            )
        )
    for p in procs:
        assert p.wait(30) == 0
    stats = finish(rec, len(src))
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    assert len(y) == len(src)
    hole = np.all(y == 0, axis=1)
    np.testing.assert_array_equal(y[~hole], src[~hole])  # everything received is bit-exact
    p, s = stats["paths"]
    assert p["lost"] > 10 and s["lost"] > 10  # each leg really lost packets
    assert stats["lost"] < min(p["lost"], s["lost"]) / 3  # only joint losses remain
    assert stats["silence_frames"] == 48 * stats["lost"]
    assert stats["ssrc"] == 305419896


def test_cli_record_redundant_with_sender_loss_per_leg(tmp_path, legs, source24):
    (a, pa), (b, pb) = legs
    src_path, src = source24
    out = tmp_path / "cli.wav"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rec = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "record",
            "--source",
            f"{a}:{pa}",
            "--redundant",
            f"{b}:{pb}",
            "--interface",
            LO,
            "--output",
            str(out),
            "--levels",
            "--stats-interval",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = rec.stdout.readline()
        assert '"started"' in line and f"{b}:{pb}" in line
        snd = subprocess.run(
            [
                sys.executable,
                "-m",
                "origin.cli",
                "sender",
                "--dest",
                f"{a}:{pa}",
                "--redundant-dest",
                f"{b}:{pb}",
                "--interface",
                LO,
                "--program",
                src_path,
                "--loss-primary",
                "0.1",
                "--loss-secondary",
                "0.1",
                "--loss-burst",
                "4",
                "--seed",
                "3",
                "--json-stats",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert snd.returncode == 0, snd.stderr
        sent = json.loads(snd.stdout)
        time.sleep(0.5)
    finally:
        rec.terminate()
        outs, _ = rec.communicate(timeout=20)
    final = json.loads(outs.strip().splitlines()[-1])
    d0, d1 = ({d[0] for d in leg} for leg in sent["dropped_paths"])
    assert len(d0) > 30 and len(d1) > 30
    assert final["type"] == "final" and final["lost"] == len(d0 & d1)
    assert [p["lost"] for p in final["paths"]] == [len(d0), len(d1)]
    y, _ = sf.read(out, dtype="int32")
    assert len(y) == len(src)


def test_bad_redundant_config_is_a_clear_error(tmp_path):
    with pytest.raises(RecorderConfigError, match="redundant_port=None"):
        Recorder(RecorderConfig(redundant_addr="239.1.1.2", output=str(tmp_path / "x.wav")))
    with pytest.raises(RecorderConfigError, match="must differ"):
        Recorder(
            RecorderConfig(redundant_addr="239.69.1.1", redundant_port=5004, output=str(tmp_path / "x.wav"))
        )
    # the same group and port on two networks is a valid pair when the interfaces differ
    RecorderConfig(
        redundant_addr="239.69.1.1",
        redundant_port=5004,
        interface="10.1.0.2",
        redundant_interface="10.2.0.2",
        output=str(tmp_path / "x.wav"),
    ).validate()
    with pytest.raises(RecorderConfigError, match="not an IPv4"):
        Recorder(RecorderConfig(redundant_addr="nope", redundant_port=5004, output=str(tmp_path / "x.wav")))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "record",
            "--source",
            "239.1.1.1:5004",
            "--redundant",
            "x:99999",
            "--output",
            str(tmp_path / "y.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 2 and "--redundant 'x:99999' must be ADDR:PORT" in r.stderr


def _local_addr() -> str | None:
    from origin.recorder.sap import local_ipv4_addresses

    return next((a for a in local_ipv4_addresses() if not a.startswith("127.")), None)


@pytest.mark.skipif(_local_addr() is None, reason="no second network interface")
def test_same_group_and_port_on_two_networks(tmp_path, source24):
    """The usual ST 2022-7 plant: both legs use the same group and port, one per network card
    (here loopback and the host's other card, looped back): each leg's socket hears only its
    card, and complementary bursts still give a bit-exact file."""
    other = _local_addr()
    group, port = unique_group("239.76"), free_udp_port()
    src_path, src = source24
    rec = Recorder(
        RecorderConfig(
            source_addr=group,
            port=port,
            interface=LO,
            redundant_addr=group,
            redundant_port=port,
            redundant_interface=other,
            output=str(tmp_path / "o.wav"),
        )
    )
    rec.start()
    snd = Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface=LO,
            redundant_addr=group,
            redundant_port=port,
            redundant_interface=other,
            program=src_path,
        ),
        drop=lambda path, k: (k % 100) // 20 == (1 if path == 0 else 3),
    )
    st = snd.run()
    stats = finish(rec, len(src))
    y, _ = sf.read(tmp_path / "o.wav", dtype="int32")
    np.testing.assert_array_equal(y, src, err_msg=str(stats))
    p, s = stats["paths"]
    assert p["lost"] == len(st.dropped_paths[0]) and s["lost"] == len(st.dropped_paths[1])
    assert p["received"] == st.packets - p["lost"]  # each socket heard its own card only
