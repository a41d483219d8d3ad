"""The committed model on freshly generated clips from a seed it was not trained on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from aimixer_dsp import GENRES
from aimixer_train.corpus import make_clip, plan_corpus

from origin import genre as og

NEW_SEED = 2026  # the committed model is trained on seed 0


@pytest.fixture(scope="module")
def model():
    return og.GenreModel(og.DEFAULT_MODEL_PATH)


def test_metadata_and_card_are_consistent(model):
    meta = json.loads(og.DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    import hashlib

    assert meta["model"]["onnxSha256"] == hashlib.sha256(og.DEFAULT_MODEL_PATH.read_bytes()).hexdigest()
    assert meta["classes"] == list(GENRES)
    card = og.DEFAULT_MODEL_PATH.with_name("MODEL_CARD.md").read_text()
    assert "synthetic" in card.lower()
    best = meta["metrics"]["selected"]
    acc5 = meta["metrics"]["crossValidation"]["models"][best]["accuracy5s"]
    assert f"{acc5:.4f}" in card


@pytest.mark.slow
def test_fresh_clips_mostly_right(model):
    jobs = plan_corpus(10, seed=NEW_SEED)  # two clips per genre
    right = 0
    for job in jobs:
        audio, meta = make_clip(job, seconds=6.0)
        res = og.classify_signal(
            np.asarray(audio, dtype=np.float64), model, window_s=5.0, hop_s=1.0, vad=False
        )
        right += res["genre"] == meta["label"]
    assert right >= 8, f"{right}/10 fresh clips right"
