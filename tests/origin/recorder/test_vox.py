"""Voice/level-activated recording: the gate's decisions, and the engine recording only the
active stretch (plus pre-roll and hangover) of a real RTP stream."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from origin.recorder import Recorder, RecorderConfig, RecorderConfigError
from origin.recorder.sender import Sender, SenderConfig
from origin.recorder.vox import VoxConfig, VoxGate, window_level_db

from .conftest import wait_for

RATE = 48000


def _signal(seed: int = 1) -> np.ndarray:
    """1 s digital silence, 1 s noise at about -12 dBFS RMS, 2.5 s silence (stereo, int32)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((int(4.5 * RATE), 2), dtype=np.int32)
    x[RATE : 2 * RATE] = (rng.integers(-(2**23), 2**23, size=(RATE, 2)).astype(np.int32) << 6) << 2
    return x


def _run(gate: VoxGate, x: np.ndarray, chunks: list[int]) -> list[tuple]:
    out: list[tuple] = []
    i = 0
    k = 0
    while i < len(x):
        n = chunks[k % len(chunks)]
        out += gate.push(x[i : i + n])
        i += n
        k += 1
    return out + gate.flush()


def test_gate_opens_after_detection_with_preroll_and_closes_after_hangover():
    x = _signal()
    cfg = VoxConfig(threshold_db=-30, detection_ms=100, hangover_ms=500, preroll_ms=200)
    acts = _run(VoxGate(cfg, RATE, 2), x, [333, 1000, 47, 4800])  # odd chunk sizes
    kinds = [a[0] for a in acts]
    assert kinds[0] == "open" and kinds[-1] == "close" and kinds.count("open") == 1
    # opens on the 10th 10-ms window of signal (100 ms held), 200 ms of pre-roll before it
    open_at = RATE + 9 * 480 - 200 * 48
    close_at = 2 * RATE + 50 * 480  # 500 ms below the release level
    assert acts[0] == ("open", open_at) and acts[-1] == ("close", close_at)
    written = np.concatenate([a[1] for a in acts if a[0] == "write"])
    np.testing.assert_array_equal(written, x[open_at:close_at])


def test_gate_ignores_short_bursts_and_uses_hysteresis():
    x = np.zeros((2 * RATE, 1), dtype=np.int32)
    x[RATE : RATE + 2400] = 2**30  # 50 ms burst: shorter than the detection time
    gate = VoxGate(VoxConfig(threshold_db=-30, detection_ms=100), RATE, 1)
    assert _run(gate, x, [480]) == []
    # level between release (-35) and threshold (-30) keeps an open gate open
    x = np.zeros((3 * RATE, 1), dtype=np.int32)
    amp = int(2**31 * 10 ** (-32 / 20))
    x[: RATE // 2] = 2**30
    x[RATE // 2 :] = amp  # -32 dBFS constant
    acts = _run(VoxGate(VoxConfig(threshold_db=-30, detection_ms=0, hangover_ms=200), RATE, 1), x, [960])
    assert [a[0] for a in acts if a[0] != "write"] == ["open", "close"]  # the close is the flush
    assert acts[-1] == ("close", len(x))


def test_level_modes():
    x = np.zeros((480, 2), dtype=np.int32)
    x[:, 0] = 2**30  # left at -6 dBFS, right silent
    assert window_level_db(x, "peak") == pytest.approx(-6.02, abs=0.01)
    assert window_level_db(x, "any") == pytest.approx(-6.02, abs=0.01)
    assert window_level_db(x, "rms") == pytest.approx(-9.03, abs=0.01)
    assert window_level_db(np.zeros((480, 2), dtype=np.int32), "rms") == float("-inf")


def test_bad_vox_settings_are_config_errors(tmp_path):
    for bad in (
        VoxConfig(threshold_db=5),
        VoxConfig(level_mode="loud"),
        VoxConfig(threshold_db=-40, release_db=-30),
        VoxConfig(hangover_ms=-1),
    ):
        with pytest.raises(RecorderConfigError, match="vox"):
            Recorder(RecorderConfig(output=str(tmp_path / "x.wav"), vox=bad))


def test_engine_records_only_the_active_stretch(tmp_path, group_port):
    group, port = group_port
    x = _signal(seed=5)
    src = tmp_path / "src.wav"
    sf.write(src, x, RATE, subtype="PCM_24")
    x24 = sf.read(src, dtype="int32")[0]
    cfg = RecorderConfig(
        source_addr=group,
        port=port,
        interface="127.0.0.1",
        output=str(tmp_path / "vox.wav"),
        vox=VoxConfig(threshold_db=-30, detection_ms=50, hangover_ms=300, preroll_ms=100),
    )
    rec = Recorder(cfg)
    rec.start()
    try:
        Sender(SenderConfig(dest_addr=group, port=port, interface="127.0.0.1", program=str(src))).run()
        assert wait_for(lambda: rec.jitter.high >= len(x) - 960, 10)
    finally:
        st = rec.stop()
    assert st["vox"] == "closed"
    events = [e["event"] for e in rec.recent_events]
    assert events.count("vox_open") == 1 and events.count("vox_close") == 1
    y, _ = sf.read(tmp_path / "vox.wav", dtype="int32")
    # it starts in the pre-roll (silence) and ends after the hangover: about 1.45 s, not 4.5 s
    assert 1.3 * RATE <= len(y) <= 1.6 * RATE
    start = RATE + 4 * 480 - 100 * 48  # 50 ms detection on the 5th window, 100 ms pre-roll
    first = int(np.argmax(y[:, 0] != 0))  # the signal, bit-exact, after that much pre-roll
    assert first == RATE - start
    np.testing.assert_array_equal(y[first : first + RATE], x24[RATE : 2 * RATE])
