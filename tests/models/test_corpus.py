"""The synthetic corpus generator: determinism, metadata, augmentation helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from aimixer_train import corpus
from aimixer_train.corpus import GENRES, SAMPLE_RATE, make_clip, plan_corpus


def test_plan_cycles_labels():
    plan = plan_corpus(7, seed=3)
    assert [p["label"] for p in plan] == [GENRES[i % 5] for i in range(7)]
    assert all(p["corpusSeed"] == 3 for p in plan)
    with pytest.raises(ValueError, match="clips=0"):
        plan_corpus(0)


@pytest.mark.parametrize("index", [0, 1, 2])  # speech, rock, jazz
def test_clip_is_deterministic_and_recorded(index, tmp_path):
    job = plan_corpus(5, seed=11)[index]
    a, meta_a = make_clip(job, seconds=3.0)
    b, meta_b = make_clip(job, seconds=3.0)
    assert a.dtype == np.float32 and a.shape == (3 * SAMPLE_RATE,)
    np.testing.assert_array_equal(a, b)
    assert meta_a == meta_b
    assert meta_a["label"] == job["label"]
    assert isinstance(meta_a["seed"], int) and meta_a["corpusSeed"] == 11
    assert np.max(np.abs(a)) > 1e-3
    if job["label"] == "speech":
        assert meta_a["voice"].count("+") == 1 and meta_a["group"] == f"speech:{meta_a['variant']}"
        assert 120 <= meta_a["rate"] <= 230
    else:
        assert meta_a["programs"] and meta_a["group"] == f"{job['label']}:prog{meta_a['leadProgram']}"
        assert "tempo" in meta_a["style"]
    json.dumps(meta_a)  # manifest-safe


def test_other_seed_gives_other_audio():
    a, _ = make_clip(plan_corpus(2, seed=1)[1], seconds=3.0)
    b, _ = make_clip(plan_corpus(2, seed=2)[1], seconds=3.0)
    assert not np.array_equal(a, b)


def test_generate_corpus_writes_manifest(tmp_path):
    path = corpus.generate_corpus(tmp_path / "c", clips=2, seed=5, seconds=3.0, jobs=1, progress=False)
    m = json.loads(path.read_text())
    assert m["clips"] == 2 and m["seed"] == 5
    assert [it["label"] for it in m["items"]] == ["speech", "rock"]
    for it in m["items"]:
        assert (tmp_path / "c" / it["file"]).is_file()
    assert (tmp_path / "c" / "manifest.csv").read_text().splitlines()[0].startswith("file,label,group,seed")


def test_vad_trim_removes_leading_and_trailing_silence(tmp_path):
    speech = corpus.speak("hello world, this is a test", "en-us", rate=170, pitch=50, workdir=tmp_path)
    padded = np.concatenate([np.zeros(SAMPLE_RATE), speech, np.zeros(SAMPLE_RATE)])
    trimmed = corpus.vad_trim(padded)
    assert len(trimmed) < len(padded) - SAMPLE_RATE
    assert len(trimmed) > 0.5 * len(speech)


def test_phone_band_and_opus_roundtrip():
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(SAMPLE_RATE)
    y = corpus.phone_band(x)
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)
    assert spec[f > 5000].sum() < 0.01 * spec[(f > 400) & (f < 3000)].sum()
    z = corpus.opus_roundtrip(x, 0.5)
    assert z.shape == x.shape
    assert not np.array_equal(z, x)


def test_missing_soundfont_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AIMIXER_SOUNDFONT", "/nonexistent/x.sf2")
    with pytest.raises(corpus.CorpusError, match="does not exist"):
        corpus.find_soundfont()
