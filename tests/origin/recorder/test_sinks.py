from __future__ import annotations

import datetime as dt
import os
import struct
import subprocess

import numpy as np
import pytest
import soundfile as sf

from origin.recorder.sinks import SinkError, SinkInfo, WavSink, make_sink, parse_bext, read_wav_chunks

UTC = dt.UTC


def rand24(n, ch, seed=0):
    return np.random.default_rng(seed).integers(-(2**23), 2**23, size=(n, ch)).astype(np.int32) << 8


@pytest.mark.parametrize("kind, subtype", [("pcm24", "PCM_24"), ("pcm16", "PCM_16"), ("float32", "FLOAT")])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_wav_is_bit_transparent(tmp_path, kind, subtype, channels):
    x = rand24(1000, channels)
    if kind == "pcm16":
        x = (x >> 16) << 16
    p = str(tmp_path / "a.wav")
    s = WavSink(kind)
    s.open(p, SinkInfo(48000, channels, start_time=0.0, tz=UTC))
    s.write(x[:300])
    s.write(x[300:])
    s.close()
    info = sf.info(p)
    assert info.subtype == subtype and info.channels == channels and info.frames == 1000
    if kind == "float32":
        y, _ = sf.read(p, dtype="float32", always_2d=True)
        np.testing.assert_array_equal(y, x.astype(np.float64) / 2**31)
    else:
        y, _ = sf.read(p, dtype="int32", always_2d=True)
        np.testing.assert_array_equal(y, x)


def test_bext_contents(tmp_path):
    start = dt.datetime(2026, 1, 10, 14, 30, 15, 500000, tzinfo=UTC).timestamp()
    p = str(tmp_path / "b.wav")
    s = WavSink("pcm24")
    s.open(p, SinkInfo(48000, 2, start_time=start, tz=UTC, description="studio-a"))
    s.write(rand24(10, 2))
    s.close()
    w = read_wav_chunks(p)
    b = w["bext"]
    assert b["origination_date"] == "2026-01-10" and b["origination_time"] == "14:30:15"
    assert b["time_reference"] == (14 * 3600 + 30 * 60 + 15.5) * 48000
    assert b["description"] == "studio-a" and b["version"] == 1
    assert "A=PCM,F=48000,W=24" in b["coding_history"]
    with open(p, "rb") as f:
        raw = f.read()
    i = raw.index(b"bext")
    size = struct.unpack_from("<I", raw, i + 4)[0]
    assert parse_bext(raw[i + 8 : i + 8 + size]) == b


def test_header_synced_means_valid_file_without_close(tmp_path):
    p = str(tmp_path / "c.wav")
    x = rand24(48000 * 3, 2)
    s = WavSink("pcm24", sync_seconds=1.0)
    s.open(p, SinkInfo(48000, 2, start_time=0.0, tz=UTC))
    s.write(x[:60000])  # passes one sync at 48000 frames (sync happens at the end of this write)
    s.write(x[60000:70000])  # not yet synced
    # simulate a crash: never close; read what is on disk
    info = sf.info(p)
    assert info.frames == 60000
    y, _ = sf.read(p, dtype="int32")
    np.testing.assert_array_equal(y, x[:60000])
    os.close(s.fd)


def test_rf64_switch_with_injected_threshold(tmp_path):
    p = str(tmp_path / "d.wav")
    x = rand24(5000, 2)
    s = WavSink("pcm24", rf64_threshold=10000)
    s.open(p, SinkInfo(48000, 2, start_time=0.0, tz=UTC))
    s.write(x[:1000])
    s.sync()
    assert not s.rf64
    s.write(x[1000:])
    s.close()
    assert s.rf64
    with open(p, "rb") as f:
        head = f.read(64)
    assert head[:4] == b"RF64" and head[12:16] == b"ds64"
    riff64, data64, frames = struct.unpack_from("<QQQ", head, 20)
    assert data64 == 5000 * 6 and frames == 5000 and riff64 == os.path.getsize(p) - 8
    assert sf.info(p).format == "RF64"
    y, _ = sf.read(p, dtype="int32")
    np.testing.assert_array_equal(y, x)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=duration_ts", "-of", "csv=p=0", p],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(probe.stdout.strip()) == 5000


def test_append_continues_and_never_overwrites(tmp_path):
    p = str(tmp_path / "e.wav")
    x = rand24(3000, 2)
    s = WavSink("pcm24")
    info = SinkInfo(48000, 2, start_time=0.0, tz=UTC)
    s.open(p, info)
    s.write(x[:1000])
    s.close()
    s2 = WavSink("pcm24")
    with pytest.raises(SinkError, match="refusing to overwrite"):
        s2.open(p, info)
    assert s2.can_append(p, info)
    assert not WavSink("pcm16").can_append(p, info)
    s2.open(p, info, append=True)
    s2.write(x[1000:])
    s2.close()
    y, _ = sf.read(p, dtype="int32")
    np.testing.assert_array_equal(y, x)


def test_flac_and_opus(tmp_path):
    x = (rand24(4800, 2) >> 12) << 8  # quieter, still 24-bit samples
    f = make_sink("flac", "24")
    pf = str(tmp_path / "a.flac")
    f.open(pf, SinkInfo(48000, 2))
    f.write(x)
    f.close()
    y, _ = sf.read(pf, dtype="int32")
    np.testing.assert_array_equal(y, x)
    o = make_sink("opus", bitrate=64000)
    po = str(tmp_path / "a.opus")
    o.open(po, SinkInfo(48000, 2))
    o.write(x)
    o.close()
    assert sf.info(po).subtype == "OPUS" and os.path.getsize(po) > 0
    with pytest.raises(SinkError, match="bits='8'"):
        make_sink("wav", "8")
