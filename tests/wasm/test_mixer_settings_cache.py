"""MixerSession's settings cache and the small-block K-filter: fast paths, same answers.

The session caches the validated, merged config and the resolved settings while the config is
unchanged; these tests check every way a config can change (new values, in-place mutation of
the same dict, another type with an equal value, base_config, the auto-genre verdict) against
an independently driven chain, and the meter's 960-sample path against the pure-Python loop.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.mixer import MixerSession, config_cache_key
from aimixer_dsp.presets import (
    DEFAULT_SETTINGS,
    GENRE_PRESETS,
    apply_settings,
    build_chain,
    merge_config,
    resolve_settings,
)

FS = 48000


def _frames(n: int, seed: int = 0, level: float = 0.3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n * 960) / FS
    x = level * np.sin(2 * np.pi * 330 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t))
    x = x + 0.02 * rng.standard_normal(t.size)
    return [x[i * 960 : (i + 1) * 960] for i in range(n)]


def _reference(frames: list[np.ndarray], configs: list, base: dict | None = None) -> list[np.ndarray]:
    """Outputs of one chain re-configured every frame from scratch (no caching anywhere)."""
    chain = build_chain(None)
    out = []
    for f, cfg in zip(frames, configs, strict=True):
        merged = merge_config(base, cfg)
        settings = resolve_settings(merged, merged.get("genre"))
        apply_settings(chain, settings)
        out.append(chain.process(f))
    return out


def test_config_sequence_matches_a_chain_reconfigured_every_frame():
    a = {"genre": "rock", "compressor": {"ratio": 6}}
    b = {"gain": -3.5, "eq": {"high": 4.0}, "limiter": {"ceiling": -2.0}}
    c = {"genre": "speech", "noiseGate": {"enabled": False}}
    configs = [None, a, a, dict(a), b, b, None, c, c, a, {}, b]
    frames = _frames(len(configs))
    sess = MixerSession()
    got = [sess.process(f, cfg) for f, cfg in zip(frames, configs, strict=True)]
    ref = _reference(frames, configs)
    for i, (r, y) in enumerate(zip(got, ref, strict=True)):
        np.testing.assert_array_equal(r["processedBuffer"], y, err_msg=f"frame {i}")
    assert got[1]["appliedSettings"]["compressor"]["ratio"] == 6.0
    assert (
        got[1]["appliedSettings"]["compressor"]["threshold"]
        == GENRE_PRESETS["rock"]["compressor"]["threshold"]
    )
    assert got[4]["appliedSettings"]["gain"] == -3.5 and got[4]["metrics"]["genre"] is None
    assert got[6]["appliedSettings"] == DEFAULT_SETTINGS
    assert got[7]["metrics"]["genre"] == "speech" and got[7]["metrics"]["confidence"] == 1.0
    assert got[7]["appliedSettings"]["noiseGate"]["enabled"] is False


def test_mutating_the_same_config_dict_takes_effect():
    cfg = {"gain": 2.0, "compressor": {"ratio": 3.0}}
    frames = _frames(4, seed=1)
    sess = MixerSession()
    seen = []
    r0 = sess.process(frames[0], cfg)
    seen.append(copy.deepcopy(cfg))
    cfg["gain"] = -6.0  # same object, new value
    r1 = sess.process(frames[1], cfg)
    seen.append(copy.deepcopy(cfg))
    cfg["compressor"]["ratio"] = 10.0  # nested change
    r2 = sess.process(frames[2], cfg)
    seen.append(copy.deepcopy(cfg))
    del cfg["compressor"]
    r3 = sess.process(frames[3], cfg)
    seen.append(copy.deepcopy(cfg))
    assert [r["appliedSettings"]["gain"] for r in (r0, r1, r2, r3)] == [2.0, -6.0, -6.0, -6.0]
    assert [r["appliedSettings"]["compressor"]["ratio"] for r in (r0, r1, r2, r3)] == [3.0, 3.0, 10.0, 4.0]
    for r, y in zip((r0, r1, r2, r3), _reference(frames, seen), strict=True):
        np.testing.assert_array_equal(r["processedBuffer"], y)


@pytest.mark.parametrize(
    ("good", "bad", "match"),
    [
        (
            {"noiseGate": {"enabled": True}},
            {"noiseGate": {"enabled": 1}},
            r"noiseGate\.enabled=1 must be true or false",
        ),
        ({"gain": 1.0}, {"gain": True}, r"gain=True must be a number"),
        (
            {"compressor": {"ratio": 4}},
            {"compressor": {"ratio": "4"}},
            r"compressor\.ratio='4' must be a number",
        ),
        ({"bypass": False}, {"bypass": 0}, r"bypass=0 must be true or false"),
    ],
)
def test_an_equal_value_of_another_type_is_still_validated(good, bad, match):
    sess = MixerSession()
    f = _frames(1)[0]
    sess.process(f, good)
    sess.process(f, good)  # now cached
    frames_before = sess.frames
    with pytest.raises(ParameterError, match=match):
        sess.process(f, bad)
    assert sess.frames == frames_before  # nothing changed on error
    with pytest.raises(ParameterError, match=match):
        sess.process(f, bad)  # an invalid config is never cached


def testconfig_cache_keys_are_exact():
    assert (
        config_cache_key({"gain": 1}) != config_cache_key({"gain": 1.0}) != config_cache_key({"gain": True})
    )
    assert config_cache_key({"eq": {"low": 1.0}}) == config_cache_key({"eq": {"low": 1.0}})
    assert config_cache_key({"eq": {"low": 1.0}}) != config_cache_key({"eq": {"low": 2.0}})
    assert config_cache_key(None) == ()
    # not representable -> not cached (validated every call)
    assert config_cache_key({"gain": np.float64(1.0)}) is None
    assert config_cache_key({"eq": {"low": [1.0]}}) is None
    assert config_cache_key([("gain", 1.0)]) is None


def test_base_config_changes_are_seen():
    frames = _frames(3, seed=2)
    sess = MixerSession(base_config={"gain": 3.0})
    r0 = sess.process(frames[0], {"eq": {"mid": 2.0}})
    sess.base_config["gain"] = -4.0  # mutated in place
    r1 = sess.process(frames[1], {"eq": {"mid": 2.0}})
    sess.base_config = {"limiter": {"ceiling": -2.5}}  # replaced
    r2 = sess.process(frames[2], {"eq": {"mid": 2.0}})
    assert [r["appliedSettings"]["gain"] for r in (r0, r1, r2)] == [3.0, -4.0, 0.0]
    assert r2["appliedSettings"]["limiter"]["ceiling"] == -2.5
    assert all(r["appliedSettings"]["eq"]["mid"] == 2.0 for r in (r0, r1, r2))


class _Tracker:
    def __init__(self, verdicts: dict[int, str]) -> None:
        self.verdicts = verdicts
        self.reset()

    def reset(self) -> None:
        self.pushes, self.genre, self.confidence = 0, None, 0.0

    def push(self, samples) -> bool:
        self.pushes += 1
        if self.pushes in self.verdicts:
            self.genre, self.confidence = self.verdicts[self.pushes], 0.7
            return True
        return False


def test_auto_verdict_changes_apply_with_an_unchanged_config_object():
    cfg = {"genre": "auto", "eq": {"low": -2.0}}
    frames = _frames(7, seed=3)
    sess = MixerSession(genre_tracker=_Tracker({2: "jazz", 4: "electronic", 6: "jazz"}))
    got = [sess.process(f, cfg) for f in frames]
    genres = [r["metrics"]["genre"] for r in got]
    assert genres == [None, None, "jazz", "jazz", "electronic", "electronic", "jazz"]
    expected = [None, None, "jazz", "jazz", "electronic", "electronic", "jazz"]
    ref_cfgs = [{"eq": {"low": -2.0}} if g is None else {"genre": g, "eq": {"low": -2.0}} for g in expected]
    for r, y in zip(got, _reference(frames, ref_cfgs), strict=True):
        np.testing.assert_array_equal(r["processedBuffer"], y)
    assert (
        got[4]["appliedSettings"]["limiter"]["ceiling"] == GENRE_PRESETS["electronic"]["limiter"]["ceiling"]
    )
    assert got[6]["appliedSettings"]["noiseGate"]["enabled"] is False  # jazz again, from the cache


def test_returned_settings_are_not_shared_with_the_cache():
    sess = MixerSession()
    f = _frames(1)[0]
    r = sess.process(f, {"gain": 1.0})
    r["appliedSettings"]["gain"] = 99.0
    r["appliedSettings"]["compressor"]["ratio"] = 20.0
    again = sess.process(f, {"gain": 1.0})
    assert again["appliedSettings"]["gain"] == 1.0
    assert again["appliedSettings"]["compressor"]["ratio"] == DEFAULT_SETTINGS["compressor"]["ratio"]


# ------------------------------------------------------------------------------ meter, 960 frames


def _pure_loudness(x: np.ndarray, sr: int) -> LoudnessMeter:
    m = LoudnessMeter(sr)
    m.push(x.tolist())
    return m


@pytest.mark.parametrize("sr", [48000, 44100, 96000])
def test_numpy_960_frames_match_the_pure_loop(sr):
    rng = np.random.default_rng(11)
    n = int(4.2 * sr) // 960 * 960
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t) * (0.3 + 0.7 * (t % 1.0)) + 0.05 * rng.standard_normal(n)
    framed = LoudnessMeter(sr)
    for i in range(0, n, 960):
        framed.push(x[i : i + 960])
    ref = _pure_loudness(x, sr)
    for a, b in (
        (framed.momentary, ref.momentary),
        (framed.short_term, ref.short_term),
        (framed.integrated, ref.integrated),
        (framed.loudness_range, ref.loudness_range),
    ):
        assert math.isfinite(a) and abs(a - b) <= 1e-9, (a, b)
    # the filter states agree too, so either path can continue the other
    np.testing.assert_allclose(framed._states[0], ref._states[0], rtol=0, atol=1e-12)
