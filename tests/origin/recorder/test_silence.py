from __future__ import annotations

import numpy as np

from origin.recorder.silence import SilenceDetector


def snap(db):
    return [{"name": "L", "level_db": db}, {"name": "R", "level_db": -120.0}]


def test_raise_after_duration_and_clear():
    d = SilenceDetector(48000, threshold_db=-50, duration_s=2.0, clear_s=0.5)
    ev = []
    for _ in range(39):  # 1.95 s of quiet
        ev += d.update_levels(snap(-70), 2400)
    assert ev == []
    ev += d.update_levels(snap(-70), 2400)
    assert [e["event"] for e in ev] == ["silence_start"] and d.active
    for _ in range(9):
        ev += d.update_levels(snap(-20), 2400)
    assert len(ev) == 1
    ev += d.update_levels(snap(-20), 2400)
    assert [e["event"] for e in ev] == ["silence_start", "silence_end"] and not d.active


def test_speech_aware_mode_raises_on_music_bed_without_voice_and_clears_on_speech():
    from origin.recorder.sender import _speech

    d = SilenceDetector(16000, duration_s=1.5, clear_s=0.5, vad=True, vad_mode=3)
    t = np.arange(16000 * 3) / 16000
    bed = (0.3 * np.sin(2 * np.pi * 6000 * t) * 2**31).astype(np.int32)[:, None]  # loud, but no voice
    ev = d.update_audio(bed)
    assert [e["event"] for e in ev] == ["silence_start"] and ev[0]["mode"] == "speech"
    assert d.update_levels(snap(-10), 1600) == []  # the level path is ignored in speech mode
    voice = _speech(16000)[: 16000 * 3]
    ev = d.update_audio(voice)
    assert [e["event"] for e in ev] == ["silence_end"]
