"""aimixer_dsp.genre: feature vector, incremental == whole, hysteresis, errors."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from aimixer_dsp import GENRES
from aimixer_dsp.errors import InvalidBufferError, InvalidSampleRateError, NonFiniteInputError, ParameterError
from aimixer_dsp.features import frame_features, mfcc
from aimixer_dsp.genre import (
    AUTO_MIN_CONFIDENCE,
    FEATURE_NAMES,
    FEATURE_SPEC,
    HOP,
    SEG,
    StreamingGenreClassifier,
    feature_vector,
    frame_rows,
)

SR = 48000


def _signal(seconds: float, seed: int = 1) -> list[float]:
    """Tones that change every 0.7 s plus noise bursts: a non-stationary test signal."""
    rnd = random.Random(seed)
    out = []
    n = int(seconds * SR)
    f = 220.0
    for i in range(n):
        if i % 33600 == 0:
            f = rnd.choice([110.0, 220.0, 440.0, 880.0, 1760.0])
        burst = rnd.uniform(-0.2, 0.2) if (i // 9600) % 3 == 0 else 0.0
        out.append(0.3 * math.sin(2 * math.pi * f * i / SR) + burst)
    return out


def test_spec_matches_vector():
    x = _signal(3.0)
    v = feature_vector(x)
    assert len(v) == FEATURE_SPEC["size"] == len(FEATURE_NAMES) == 48
    assert FEATURE_SPEC["names"] == list(FEATURE_NAMES)
    assert all(math.isfinite(a) for a in v)
    # 3 s -> 30 analysis frames, 5 s -> 50
    assert len(frame_rows(x)) == 30
    assert len(frame_rows(_signal(5.0))) == 50


def test_rows_are_the_features_functions_on_the_documented_segments():
    x = _signal(1.0, seed=3)
    rows = frame_rows(x)
    t = 4
    seg = x[t * HOP : t * HOP + SEG]
    m = mfcc(seg[256:], sample_rate=SR, n_mfcc=13, n_mels=40, n_fft=512, hop_length=256)[1]
    ff = frame_features(seg, sample_rate=SR, n_fft=512, hop_length=256)
    assert rows[t][:13] == m
    assert rows[t][13] == ff["centroid"][2]
    assert rows[t][14] == ff["rolloff"][2]
    assert rows[t][15] == ff["zcr"][2]
    assert rows[t][16] == pytest.approx(math.log10(ff["flux"][2] + 1e-10))


@pytest.mark.parametrize("kind", ["signal", "silence", "quiet_tail", "ints"])
def test_pure_rows_are_bit_identical_to_the_documented_calls(kind):
    # the pure path computes the three distinct frames of the two calls once (genre._segment_row_pure)
    rnd = random.Random(7)
    if kind == "signal":
        x = _signal(0.5, seed=5)
    elif kind == "silence":
        x = [0.0] * (HOP + SEG)
    elif kind == "quiet_tail":
        loud = [rnd.uniform(-1.0, 1.0) for _ in range(HOP + 300)]
        x = loud + [1e-6 * rnd.gauss(0.0, 1.0) for _ in range(SEG)]
    else:
        x = [rnd.randint(-3, 3) for _ in range(2 * HOP + SEG)]
    rows = frame_rows(x)
    for t, row in enumerate(rows):
        seg = x[t * HOP : t * HOP + SEG]
        m = mfcc(seg[256:], sample_rate=SR, n_mfcc=13, n_mels=40, n_fft=512, hop_length=256)[1]
        ff = frame_features(seg, sample_rate=SR, n_fft=512, hop_length=256)
        flux = math.log10(ff["flux"][2] + 1e-10)
        assert row == [*m, ff["centroid"][2], ff["rolloff"][2], ff["zcr"][2], flux]


def test_physical_meaning_of_spectral_stats():
    f = 3000.0
    x = [0.5 * math.sin(2 * math.pi * f * i / SR) for i in range(3 * SR)]
    v = dict(zip(FEATURE_NAMES, feature_vector(x), strict=True))
    assert v["centroid_mean"] == pytest.approx(f, rel=0.1)
    assert v["zcr_mean"] == pytest.approx(2 * f / SR, rel=0.05)
    assert v["centroid_std"] < 1.0  # stationary
    assert v["low_energy_ratio"] == 0.0
    # half the analysis frames silent -> about half are low-energy frames
    gated = [s if (i // (2 * HOP)) % 2 == 0 else 0.0 for i, s in enumerate(x)]
    vg = dict(zip(FEATURE_NAMES, feature_vector(gated), strict=True))
    assert 0.3 <= vg["low_energy_ratio"] <= 0.7


def test_gain_moves_only_level_features():
    x = _signal(3.0, seed=5)
    a = feature_vector(x)
    b = feature_vector([0.1 * s for s in x])
    for name, va, vb in zip(FEATURE_NAMES, a, b, strict=True):
        if name in ("mfcc_mean_0", "logflux_mean"):
            assert vb < va - 0.5, name
        elif name.startswith(("centroid", "rolloff", "zcr", "mfcc_std_1", "dmfcc_mad_2")):
            assert vb == pytest.approx(va, rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("block", [960, 481, 5000])
def test_incremental_equals_whole(block):
    x = _signal(6.0, seed=2)
    got: list[list[float]] = []
    clf = StreamingGenreClassifier(predict=lambda f: (got.append(f), {"rock": 1.0})[1])
    for i in range(0, len(x), block):
        clf.push(x[i : i + block])
    # windows of 3 s every 1 s: starts 0, 1, 2, 3 s
    assert len(got) == 4
    for k, vec in enumerate(got):
        assert vec == feature_vector(x[k * SR : k * SR + 3 * SR])


def test_window_is_due_when_its_last_frame_arrives():
    x = _signal(4.0, seed=4)
    clf = StreamingGenreClassifier()
    due = 29 * HOP + SEG  # 30th analysis frame complete
    clf.push(x[: due - 1])
    assert clf.pending_features is None
    clf.push(x[due - 1 : due])
    pending = clf.pending_features
    assert pending == feature_vector(x[:due])
    assert clf.apply({"jazz": 0.8, "rock": 0.2}) is True
    assert clf.pending_features is None
    assert clf.genre == "jazz" and clf.confidence == pytest.approx(0.8)


def test_numpy_path_matches_pure_path():
    x = _signal(3.0, seed=6)
    a = feature_vector(x)
    b = feature_vector(np.asarray(x))
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)


def _probs(top: str, p: float) -> dict[str, float]:
    rest = (1.0 - p) / (len(GENRES) - 1)
    return {g: (p if g == top else rest) for g in GENRES}


def test_hysteresis_rule():
    changes = []
    clf = StreamingGenreClassifier(switch_windows=3, margin=0.15, on_change=lambda g, c, p: changes.append(g))
    assert clf.genre is None and clf.confidence == 0.0
    assert clf.apply(_probs("speech", 0.9)) is True  # first verdict
    # a single flip does not switch
    assert clf.apply(_probs("rock", 0.9)) is False
    assert clf.genre == "speech"
    assert clf.confidence == pytest.approx(0.025)  # latest probability of the current genre
    assert clf.apply(_probs("speech", 0.9)) is False
    # two challenges then an interruption: no switch
    clf.apply(_probs("rock", 0.9))
    clf.apply(_probs("rock", 0.9))
    clf.apply(_probs("speech", 0.6))
    assert clf.genre == "speech"
    # a challenger that is not ahead by the margin does not count
    for _ in range(5):
        clf.apply({"speech": 0.40, "rock": 0.50, "jazz": 0.1})
    assert clf.genre == "speech"
    # alternating challengers reset each other
    for top in ("rock", "jazz", "rock", "jazz", "rock"):
        clf.apply(_probs(top, 0.9))
    assert clf.genre == "speech"
    # three consecutive confident challenges by the same class switch
    assert clf.apply(_probs("jazz", 0.8)) is False
    assert clf.apply(_probs("jazz", 0.8)) is False
    assert clf.apply(_probs("jazz", 0.8)) is True
    assert clf.genre == "jazz" and clf.confidence == pytest.approx(0.8)
    assert changes == ["speech", "jazz"]
    clf.reset()
    assert clf.genre is None and clf.pending_features is None


def test_flipping_fake_predict_through_push():
    x = _signal(12.0, seed=7)
    answers = iter(
        [_probs("rock", 0.9)] * 3 + [_probs("jazz", 0.9), _probs("rock", 0.9)] * 2 + [_probs("jazz", 0.9)] * 3
    )
    history = []

    def predict(features: list[float]) -> dict[str, float]:
        assert len(features) == 48
        return next(answers)

    clf = StreamingGenreClassifier(predict=predict)
    for i in range(0, len(x), 960):
        clf.push(x[i : i + 960])
        history.append(clf.genre)
    genres = [g for g in history if g is not None]
    assert genres[0] == "rock"
    assert clf.windows == 10
    assert clf.genre == "jazz"
    # the flip-flopping middle never switched: rock holds until the three jazz windows in a row
    first_jazz = genres.index("jazz")
    assert all(g == "rock" for g in genres[:first_jazz])
    assert all(g == "jazz" for g in genres[first_jazz:])


def test_errors():
    with pytest.raises(InvalidSampleRateError, match="44100"):
        feature_vector([0.0] * 48000, sample_rate=44100)
    with pytest.raises(InvalidSampleRateError, match="44100"):
        StreamingGenreClassifier(sample_rate=44100)
    with pytest.raises(InvalidBufferError, match="at least 5567 samples"):
        feature_vector([0.0] * 1000)
    with pytest.raises(NonFiniteInputError, match="NaN"):
        feature_vector([0.0] * 10000 + [float("nan")])
    with pytest.raises(ParameterError, match="window_s"):
        StreamingGenreClassifier(window_s=1.0)
    with pytest.raises(ParameterError, match="hop_s"):
        StreamingGenreClassifier(hop_s=0.25)
    with pytest.raises(ParameterError, match="margin"):
        StreamingGenreClassifier(margin=2.0)
    clf = StreamingGenreClassifier()
    clf.push([0.1] * 960)
    with pytest.raises(NonFiniteInputError, match="NaN"):
        clf.push([0.0, float("inf")])
    with pytest.raises(ParameterError, match="probabilities"):
        clf.apply({})


def test_silence_is_finite():
    v = feature_vector([0.0] * (3 * SR))
    assert all(math.isfinite(a) for a in v)


def test_auto_needs_a_confident_verdict():
    clf = StreamingGenreClassifier(switch_windows=2, margin=0.15, min_confidence=0.6)
    # unsure windows: no verdict, genre "auto" keeps the neutral defaults
    for _ in range(5):
        assert clf.apply(_probs("rock", 0.55)) is False
    assert clf.genre is None and clf.confidence == 0.0
    assert clf.apply(_probs("rock", 0.6)) is True and clf.genre == "rock"
    # a challenger ahead by the margin but not confident does not count
    for _ in range(4):
        assert clf.apply({"rock": 0.1, "jazz": 0.55, "speech": 0.35}) is False
    assert clf.genre == "rock"
    assert clf.apply(_probs("jazz", 0.7)) is False
    assert clf.apply(_probs("jazz", 0.7)) is True and clf.genre == "jazz"
    with pytest.raises(ParameterError, match="min_confidence"):
        StreamingGenreClassifier(min_confidence=1.5)
    assert StreamingGenreClassifier().min_confidence == AUTO_MIN_CONFIDENCE
