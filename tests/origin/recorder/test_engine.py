"""End-to-end capture on loopback multicast with real senders (ffmpeg, GStreamer, ours)."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from origin.recorder import Recorder, RecorderConfig, RecorderConfigError
from origin.recorder.sender import Sender, SenderConfig

from .conftest import align, wait_for

LO = "127.0.0.1"


def start_recorder(tmp_path, group, port, name="out.wav", **kw) -> Recorder:
    cfg = RecorderConfig(source_addr=group, port=port, interface=LO, output=str(tmp_path / name), **kw)
    rec = Recorder(cfg)
    rec.start()
    return rec


def finish(rec: Recorder, frames: int | None = None, timeout: float = 5.0) -> dict:
    if frames is not None:
        wait_for(lambda: rec.jitter.high >= frames, timeout)
    time.sleep(0.1)
    return rec.stop()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_ffmpeg_l24_sender_is_recorded_bit_exact(tmp_path, group_port, source24):
    group, port = group_port
    src_path, src = source24
    rec = start_recorder(tmp_path, group, port, payload_type=97)  # ffmpeg's dynamic PT for L24
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-i",
            src_path,
            "-c:a",
            "pcm_s24be",
            "-f",
            "rtp",
            f"rtp://{group}:{port}?localaddr={LO}&ttl=1&pkt_size=1200",
        ],
        check=True,
        timeout=30,
        stdout=subprocess.DEVNULL,
    )
    st = finish(rec, len(src))
    y, sr = sf.read(tmp_path / "out.wav", dtype="int32")
    assert sr == 48000 and sf.info(tmp_path / "out.wav").subtype == "PCM_24"
    off = align(y, src)
    assert off == 0 and len(y) == len(src)
    np.testing.assert_array_equal(y, src)
    assert st["lost"] == 0 and st["silence_frames"] == 0 and st["received"] > 0


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer not installed")
@pytest.mark.parametrize("enc", ["L24", "L16"])
def test_gstreamer_sender_is_recorded_bit_exact(tmp_path, group_port, source24, enc):
    group, port = group_port
    src_path, src = source24
    if enc == "L16":
        src = (src >> 16) << 16
        src_path = str(tmp_path / "src16.wav")
        sf.write(src_path, src, 48000, subtype="PCM_16")
    rec = start_recorder(tmp_path, group, port, payload=enc, bits="24")
    pay = "rtpL24pay" if enc == "L24" else "rtpL16pay"
    subprocess.run(
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
            pay,
            "!",
            "udpsink",
            f"host={group}",
            f"port={port}",
            "multicast-iface=lo",
            "auto-multicast=true",
            "ttl-mc=1",
        ],
        check=True,
        timeout=30,
        stdout=subprocess.DEVNULL,
    )
    st = finish(rec, len(src))
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    assert sf.info(tmp_path / "out.wav").subtype == "PCM_24"
    off = align(y, src)
    np.testing.assert_array_equal(y, src[off : off + len(y)])
    assert off == 0 and len(y) == len(src)
    assert st["lost"] == 0


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer not installed")
def test_gstreamer_audiotestsrc_timeline(tmp_path, group_port):
    group, port = group_port
    rec = start_recorder(tmp_path, group, port)
    subprocess.run(
        [
            "gst-launch-1.0",
            "-q",
            "audiotestsrc",
            "num-buffers=50",
            "samplesperbuffer=480",
            "!",
            "audio/x-raw,rate=48000,channels=2",
            "!",
            "audioconvert",
            "!",
            "rtpL24pay",
            "!",
            "udpsink",
            f"host={group}",
            f"port={port}",
            "multicast-iface=lo",
            "auto-multicast=true",
        ],
        check=True,
        timeout=30,
        stdout=subprocess.DEVNULL,
    )
    finish(rec, 24000)
    y, _ = sf.read(tmp_path / "out.wav", dtype="float64")
    assert len(y) == 24000
    assert 0.3 < np.abs(y).max() < 1.0  # audiotestsrc's default sine at volume 0.8


def test_faults_keep_the_timeline_exact(tmp_path, group_port, source24):
    group, port = group_port
    src_path, src = source24
    rec = start_recorder(tmp_path, group, port)
    snd = Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface=LO,
            program=src_path,
            loss=0.03,
            reorder=0.03,
            duplicate=0.03,
            seed=7,
        )
    )
    st = snd.run()
    stats = finish(rec, len(src))
    assert st.dropped and st.reordered and st.duplicated  # faults really happened
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    assert len(y) == st.frames == len(src)  # timeline length exact to the sample
    expect = src.copy()
    for _seq, ts, n in st.dropped:
        k = (ts - st.first_ts) & 0xFFFFFFFF
        expect[k : k + n] = 0
    np.testing.assert_array_equal(y, expect)
    assert stats["lost"] == len(st.dropped)
    assert stats["duplicate"] == st.duplicated
    assert stats["reordered"] >= st.reordered
    assert stats["silence_frames"] == sum(n for _, _, n in st.dropped)


def test_two_recorders_same_port_different_groups_no_crosstalk(tmp_path, group_port):
    group_a, port = group_port
    parts = group_a.split(".")
    group_b = ".".join([*parts[:3], str((int(parts[3]) % 254) + 1)])
    rng = np.random.default_rng()
    srcs = []
    for g in ("a", "b"):
        x = rng.integers(-(2**23), 2**23, size=(24000, 2)).astype(np.int32) << 8
        sf.write(tmp_path / f"{g}.wav", x, 48000, subtype="PCM_24")
        srcs.append(x)
    ra = start_recorder(tmp_path, group_a, port, name="ra.wav")
    rb = start_recorder(tmp_path, group_b, port, name="rb.wav")
    sa = Sender(SenderConfig(dest_addr=group_a, port=port, interface=LO, program=str(tmp_path / "a.wav")))
    sb = Sender(SenderConfig(dest_addr=group_b, port=port, interface=LO, program=str(tmp_path / "b.wav")))
    sa.start()
    sb.start()
    sa.join(10)
    sb.join(10)
    sta, stb = finish(ra, 24000), finish(rb, 24000)
    for name, x, st, s in (("ra.wav", srcs[0], sta, sa), ("rb.wav", srcs[1], stb, sb)):
        y, _ = sf.read(tmp_path / name, dtype="int32")
        np.testing.assert_array_equal(y, x)
        assert st["foreign"] == 0 and st["ssrc"] == s.ssrc


def test_foreign_ssrc_is_ignored(tmp_path, group_port, source24):
    group, port = group_port
    src_path, src = source24
    rec = start_recorder(tmp_path, group, port)
    main = Sender(SenderConfig(dest_addr=group, port=port, interface=LO, program=src_path, ssrc=0x11111111))
    other = Sender(
        SenderConfig(dest_addr=group, port=port, interface=LO, program="tone", seconds=0.5, ssrc=0x22222222)
    )
    main.start()
    assert wait_for(lambda: rec.jitter.ssrc == 0x11111111)
    other.start()
    main.join(10)
    other.join(10)
    st = finish(rec, len(src))
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    np.testing.assert_array_equal(y, src)
    assert st["foreign"] >= 400 and st["ssrc"] == 0x11111111 and st["relocks"] == 0


def test_channel_selection_on_a_multichannel_stream(tmp_path, group_port):
    group, port = group_port
    x = np.random.default_rng().integers(-(2**23), 2**23, size=(24000, 8)).astype(np.int32) << 8
    sf.write(tmp_path / "m.wav", x, 48000, subtype="PCM_24")
    rec = start_recorder(tmp_path, group, port, channels=2, channel_offset=5, stream_channels=8, ptime_us=250)
    Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface=LO,
            program=str(tmp_path / "m.wav"),
            channels=8,
            ptime_us=250,
        )
    ).run()
    st = finish(rec, 24000)
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    np.testing.assert_array_equal(y, x[:, 5:7])
    assert st["received"] == 24000 // 12 and st["malformed"] == 0


def test_levels_are_published_to_subscribers(tmp_path, group_port):
    group, port = group_port
    rec = start_recorder(tmp_path, group, port)
    q = rec.subscribe_levels()
    Sender(SenderConfig(dest_addr=group, port=port, interface=LO, program="tone", seconds=0.6)).run()
    finish(rec, 28800)
    snaps = []
    while not q.empty():
        snaps.append(q.get_nowait())
    assert len(snaps) == 28800 // 2400  # one per 50 ms of audio (20 Hz)
    ch = snaps[-1]
    assert [c["name"] for c in ch] == ["L", "R"]
    # tone at -18 dBFS peak -> RMS -21.01 dBFS
    assert ch[0]["level_db"] == pytest.approx(-21.03, abs=0.1)
    assert ch[0]["peak_db"] == pytest.approx(-18.0, abs=0.05)
    assert ch[0]["level_linear"] == pytest.approx(10 ** (-21.03 / 20), rel=0.02)
    assert ch[0]["clipping"] is False


def test_bad_config_is_a_clear_error(tmp_path):
    with pytest.raises(RecorderConfigError, match="period=5 is below the minimum"):
        Recorder(RecorderConfig(archive_root=str(tmp_path), period=5))
    with pytest.raises(RecorderConfigError, match="exactly one of output and archive_root"):
        Recorder(RecorderConfig())
    with pytest.raises(RecorderConfigError, match="channel_offset=4"):
        Recorder(RecorderConfig(output=str(tmp_path / "x.wav"), channel_offset=4, stream_channels=2))


def test_unicast_source(tmp_path, source24):
    from .conftest import free_udp_port

    port = free_udp_port()
    src_path, src = source24
    rec = start_recorder(tmp_path, LO, port)
    Sender(SenderConfig(dest_addr=LO, port=port, program=src_path, seconds=0.5)).run()
    finish(rec, 24000)
    y, _ = sf.read(tmp_path / "out.wav", dtype="int32")
    np.testing.assert_array_equal(y, src[:24000])


def test_opus_archive_with_rotter_layout(tmp_path, group_port):
    group, port = group_port
    cfg = RecorderConfig(
        source_addr=group,
        port=port,
        interface=LO,
        archive_root=str(tmp_path / "arc"),
        layout="combo",
        name="studio",
        clock="utc",
        format="opus",
        bitrate=96000,
    )
    rec = Recorder(cfg)
    rec.start()
    Sender(SenderConfig(dest_addr=group, port=port, interface=LO, program="music", seconds=0.5)).run()
    st = finish(rec, 24000)
    (path,) = st["files"]
    rel = path[len(str(tmp_path / "arc")) + 1 :]
    parts = rel.split("/")
    assert len(parts) == 5 and parts[4].startswith("studio-") and parts[4].endswith(".opus")
    assert parts[4] == f"studio-{parts[0]}-{parts[1]}-{parts[2]}-{parts[3]}.opus"
    info = sf.info(path)
    assert info.subtype == "OPUS" and info.frames >= 24000 - 960
    assert st["bytes_written"] > 0
