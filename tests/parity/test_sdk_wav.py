"""The WAV codec of the SDK's origin twin (``encodeWavFloat32`` / ``decodeWav`` in
``wasm/js/files.js``, in Node) against soundfile: what the SDK uploads to ``POST /jobs`` reads back
bit-exact, what an origin may send back (float32, 16/24/32-bit PCM, plain or extensible, 1-6
channels) decodes to soundfile's values, and hostile files fail with ``INVALID_AUDIO``."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
CASES = [(1, "FLOAT", 44100), (2, "FLOAT", 48000), (6, "FLOAT", 48000), (2, "PCM_24", 48000),
         (3, "PCM_16", 32000), (2, "PCM_32", 96000)]  # fmt: skip


def _hostile(tmp: Path) -> list:
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 200, 48000, 0, 0, 16)  # 200 channels
    bits0 = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 2, 48000, 0, 0, 0)
    files = {
        "garbage": b"\x00\x01not a wav at all" * 10,
        "channels": b"RIFF"
        + struct.pack("<I", 100)
        + b"WAVE"
        + fmt
        + b"data"
        + struct.pack("<I", 8)
        + bytes(8),
        "no_data": b"RIFF" + struct.pack("<I", 100) + b"WAVE" + struct.pack("<4sI", b"junk", 0xFFFFFFF0),
        "zero_bits": b"RIFF"
        + struct.pack("<I", 100)
        + b"WAVE"
        + bits0
        + b"data"
        + struct.pack("<I", 8)
        + bytes(8),
        "short_fmt": b"RIFF" + struct.pack("<I", 100) + b"WAVE" + struct.pack("<4sI", b"fmt ", 4) + bytes(4),
        "empty": b"",
    }
    paths = []
    for name, data in files.items():
        p = tmp / f"hostile-{name}.wav"
        p.write_bytes(data)
        paths.append(str(p))
    return paths


def test_wav_codec_matches_soundfile(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    job: dict = {"encode": [], "decode": [], "hostile": _hostile(tmp_path)}
    signals = []
    for k, (ch, subtype, sr) in enumerate(CASES):
        x = (0.9 * rng.uniform(-1, 1, (1000 + 37 * k, ch))).astype(np.float32)
        x[0, 0] = -1.0
        signals.append(x)
        x.T.copy().tofile(tmp_path / f"in{k}.f32")
        job["encode"].append({"path": str(tmp_path / f"enc{k}.wav"), "channels": ch, "frames": x.shape[0],
                              "sampleRate": sr, "raw": str(tmp_path / f"in{k}.f32")})  # fmt: skip
        sf.write(tmp_path / f"sf{k}.wav", x, sr, subtype=subtype)
        job["decode"].append({"path": str(tmp_path / f"sf{k}.wav"), "raw": str(tmp_path / f"dec{k}.f32")})
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.run(["node", str(ROOT / "tests" / "node" / "wav_roundtrip.mjs"), str(tmp_path / "job.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    for k, (ch, subtype, sr) in enumerate(CASES):
        x = signals[k]
        # what the SDK uploads: soundfile reads the exact float32 samples back
        y, rate = sf.read(tmp_path / f"enc{k}.wav", dtype="float32", always_2d=True)
        assert rate == sr and sf.info(tmp_path / f"enc{k}.wav").subtype == "FLOAT"
        assert np.array_equal(y, x)
        # what an origin sends back: the values soundfile decodes
        want, _ = sf.read(tmp_path / f"sf{k}.wav", dtype="float32", always_2d=True)
        assert out["decoded"][k] == {"channels": ch, "frames": x.shape[0], "sampleRate": sr}
        got = np.fromfile(tmp_path / f"dec{k}.f32", dtype=np.float32).reshape(ch, -1).T
        assert np.abs(got - want).max() <= 1e-7, subtype
    assert out["hostile"] == ["INVALID_AUDIO"] * len(job["hostile"])
