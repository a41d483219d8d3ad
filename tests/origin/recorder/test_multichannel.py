"""SMPTE ST 2110-30 / AES67 multichannel: packet times of conformance levels A/B/C (1 ms,
125 us), up to 64 channels at 48 and 96 kHz from our sender and GStreamer, channel labels from
the SDP into the levels, and several channel subsets of one received stream into several archives."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from origin.recorder import Recorder, RecorderConfig, config_from_sdp
from origin.recorder.payload import encode
from origin.recorder.sender import Sender, SenderConfig

from .conftest import wait_for

LO = "127.0.0.1"


def _program(tmp_path, rate: int, channels: int, seconds: float, seed: int = 5):
    x = np.random.default_rng(seed).integers(-(2**23), 2**23, size=(int(rate * seconds), channels))
    x = x.astype(np.int32) << 8
    path = tmp_path / f"src{channels}x{rate}.wav"
    sf.write(path, x, rate, subtype="PCM_24")
    return str(path), x


def _finish(rec: Recorder, frames: int) -> dict:
    wait_for(lambda: rec.jitter.high >= frames, 10)
    time.sleep(0.1)
    return rec.stop()


@pytest.mark.parametrize(
    ("channels", "rate", "ptime_us"),
    [(64, 96000, 125), (64, 48000, 125), (64, 48000, 1000), (8, 96000, 1000)],
)
def test_our_sender_multichannel_packet_times_bit_exact(tmp_path, group_port, channels, rate, ptime_us):
    group, port = group_port
    src_path, src = _program(tmp_path, rate, channels, 0.5)
    rec = Recorder(
        RecorderConfig(
            source_addr=group,
            port=port,
            interface=LO,
            output=str(tmp_path / "o.wav"),
            sample_rate=rate,
            channels=channels,
            ptime_us=ptime_us,
        )
    )
    rec.start()
    st = Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface=LO,
            program=src_path,
            channels=channels,
            sample_rate=rate,
            ptime_us=ptime_us,
        )
    ).run()
    stats = _finish(rec, len(src))
    y, sr = sf.read(tmp_path / "o.wav", dtype="int32")
    assert sr == rate and y.shape == src.shape
    np.testing.assert_array_equal(y, src)
    assert stats["lost"] == 0 and stats["received"] == st.packets == len(src) * 1_000_000 // (rate * ptime_us)


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer not installed")
@pytest.mark.parametrize(("rate", "ptime_us"), [(96000, 125), (48000, 1000)])
def test_gstreamer_64_channels(tmp_path, group_port, rate, ptime_us):
    group, port = group_port
    src = np.random.default_rng(9).integers(-(2**23), 2**23, size=(rate // 10, 64)).astype(np.int32) << 8
    raw = tmp_path / "src.raw"
    raw.write_bytes(encode(src, "L24"))
    rec = Recorder(
        RecorderConfig(
            source_addr=group,
            port=port,
            interface=LO,
            output=str(tmp_path / "o.wav"),
            sample_rate=rate,
            channels=64,
            ptime_us=ptime_us,
        )
    )
    rec.start()
    subprocess.run(
        [
            "gst-launch-1.0",
            "-q",
            "filesrc",
            f"location={raw}",
            "!",
            "rawaudioparse",
            "use-sink-caps=false",
            "format=pcm",
            "pcm-format=s24be",
            f"sample-rate={rate}",
            "num-channels=64",
            "!",
            "rtpL24pay",
            "pt=96",
            f"min-ptime={ptime_us * 1000}",
            f"max-ptime={ptime_us * 1000}",
            "mtu=16000",
            "!",
            "udpsink",
            f"host={group}",
            f"port={port}",
            "multicast-iface=lo",
            "auto-multicast=true",
            # unpaced: 0.1 s of audio in one burst fits the socket buffer, so the test does not
            # depend on a real-time schedule on a loaded machine
            "sync=false",
        ],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stats = _finish(rec, len(src))
    y, _ = sf.read(tmp_path / "o.wav", dtype="int32")
    assert y.shape == src.shape
    np.testing.assert_array_equal(y, src)
    assert stats["lost"] == 0 and stats["received"] == len(src) * 1_000_000 // (rate * ptime_us)


def test_labels_from_the_sdp_reach_the_levels(tmp_path, group_port):
    group, port = group_port
    labels = ["L", "R", "C", "LFE", "Ls", "Rs", "L", "R"]
    snd = Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface=LO,
            program="tone",
            channels=8,
            seconds=1.0,
            channel_names=labels,
        )
    )
    assert "channel-order=SMPTE2110.(51,ST)" in snd.sdp()
    cfg = config_from_sdp(snd.sdp(), output=str(tmp_path / "o.wav"), interface=LO)
    assert cfg.channel_names == labels
    rec = Recorder(cfg)
    q = rec.subscribe_levels()
    rec.start()
    snd.run()
    _finish(rec, 48000)
    snap = q.get(timeout=5)
    assert [c["name"] for c in snap] == labels


def test_eight_stereo_programmes_from_one_16_channel_stream(tmp_path, group_port):
    """One socket, one reorder buffer, one decode: the main recording plus seven splits, each
    into its own archive (different roots and names), bit-exact per channel pair."""
    group, port = group_port
    src_path, src = _program(tmp_path, 48000, 16, 1.0)
    splits = [
        {
            "channel_offset": 2 * i,
            "channels": 2,
            "archive_root": str(tmp_path / f"prog{i + 1}"),
            "name": f"p{i + 1}",
        }
        for i in range(1, 8)
    ]
    rec = Recorder(
        RecorderConfig(
            source_addr=group,
            port=port,
            interface=LO,
            archive_root=str(tmp_path / "prog1"),
            name="p1",
            stream_channels=16,
            channels=2,
            splits=splits,
            clock="utc",
        )
    )
    rec.start()
    Sender(SenderConfig(dest_addr=group, port=port, interface=LO, program=src_path, channels=16)).run()
    stats = _finish(rec, len(src))
    assert len(stats["splits"]) == 7 and stats["lost"] == 0
    for i in range(8):
        files = sorted((tmp_path / f"prog{i + 1}").rglob("*.wav"))
        assert len(files) in (1, 2)  # a period boundary may fall inside the second
        assert all(f.name.startswith(f"p{i + 1}-") for f in files)
        y = np.concatenate([sf.read(f, dtype="int32")[0] for f in files])
        np.testing.assert_array_equal(y, src[:, 2 * i : 2 * i + 2])


def test_split_config_errors(tmp_path):
    from origin.recorder import RecorderConfigError

    base = {"output": str(tmp_path / "a.wav"), "stream_channels": 4, "channels": 2}
    with pytest.raises(RecorderConfigError, match=r"split 0: channels \[3, 5\) do not fit 4"):
        Recorder(RecorderConfig(**base, splits=[{"channel_offset": 3, "channels": 2, "output": "b.wav"}]))
    with pytest.raises(RecorderConfigError, match="exactly one of output and archive_root"):
        Recorder(RecorderConfig(**base, splits=[{"channel_offset": 2, "channels": 2}]))
    with pytest.raises(RecorderConfigError, match="fields must be among"):
        Recorder(RecorderConfig(**base, splits=[{"channels": 2, "output": "b.wav", "rm": "-rf"}]))
    with pytest.raises(RecorderConfigError, match="at most 64"):
        Recorder(RecorderConfig(**base, splits=[{"channels": 1, "output": "b.wav"}] * 65))
