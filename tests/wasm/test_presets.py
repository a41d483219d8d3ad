from __future__ import annotations

import copy

import numpy as np
import pytest
from aimixer_dsp import GENRES
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.presets import (
    DEFAULT_SETTINGS,
    GENRE_PRESETS,
    apply_settings,
    build_chain,
    merge_config,
    resolve_settings,
    validate_config,
)
from aimixer_dsp.processors import Compressor, Limiter


def test_every_genre_has_a_full_valid_preset():
    assert set(GENRE_PRESETS) == set(GENRES)
    for genre, preset in GENRE_PRESETS.items():
        validate_config(preset)
        assert set(preset) == set(DEFAULT_SETTINGS)
        for key, val in DEFAULT_SETTINGS.items():
            if isinstance(val, dict):
                assert set(preset[key]) == set(val), genre
        assert preset != DEFAULT_SETTINGS
        # a chain built from the preset reports exactly the preset
        assert build_chain(preset).settings() == preset


def test_presets_are_distinct():
    items = list(GENRE_PRESETS.values())
    assert all(a != b for i, a in enumerate(items) for b in items[i + 1 :])


@pytest.mark.parametrize(
    "config,msg",
    [
        ({"compressor": {"ratio": 25}}, r"compressor.ratio=25 is out of range \[1, 20\]"),
        ({"compressor": {"ratio": "4"}}, r"compressor.ratio='4' must be a number in \[1, 20\]"),
        ({"compressor": {"threshold": -41}}, r"compressor.threshold=-41 is out of range \[-40, 0\]"),
        ({"compressor": {"attack": 0}}, r"compressor.attack=0 is out of range \[0.1, 100\]"),
        ({"compressor": {"release": 2000}}, r"compressor.release=2000 is out of range \[10, 1000\]"),
        ({"noiseGate": {"threshold": -70}}, r"noiseGate.threshold=-70 is out of range \[-60, 0\]"),
        ({"eq": {"mid": 13}}, r"eq.mid=13 is out of range \[-12, 12\]"),
        ({"limiter": {"ceiling": 1}}, r"limiter.ceiling=1 is out of range \[-3, 0\]"),
        ({"gain": 21}, r"gain=21 is out of range \[-20, 20\]"),
        ({"gain": True}, r"gain=True must be a number"),
        ({"eq": {"enabled": "yes"}}, r"eq.enabled='yes' must be true or false"),
        ({"bypass": 1}, r"bypass=1 must be true or false"),
        ({"genre": "pop"}, r"genre='pop' is not one of \['auto', 'speech'"),
        ({"compressor": {"foo": 1}}, r"compressor.foo is not a config field"),
        ({"reverb": {}}, r"'reverb' is not a config field"),
        ({"compressor": 4}, r"compressor=4 must be an object"),
        ({"compressor": {"ratio": float("nan")}}, r"compressor.ratio=nan is out of range"),
    ],
)
def test_validate_config_names_the_field(config, msg):
    with pytest.raises(ParameterError, match=msg) as ei:
        validate_config(config)
    assert ei.value.code == "INVALID_PARAMETER"


def test_validate_config_accepts_partial_and_none():
    validate_config(None)
    validate_config({})
    validate_config({"genre": "auto", "compressor": {"ratio": 6}, "gain": None})
    with pytest.raises(ParameterError, match="config must be an object"):
        validate_config([1, 2])


def test_merge_config_field_by_field_and_pure():
    base = {"gain": 1.0, "compressor": {"ratio": 2.0, "threshold": -10.0}, "eq": {"low": 1.0}}
    over = {"compressor": {"ratio": 6.0}, "eq": None, "gain": None, "bypass": True}
    base_copy, over_copy = copy.deepcopy(base), copy.deepcopy(over)
    out = merge_config(base, over)
    assert out == {
        "gain": 1.0,
        "compressor": {"ratio": 6.0, "threshold": -10.0},
        "eq": {"low": 1.0},
        "bypass": True,
    }
    assert base == base_copy and over == over_copy
    out["compressor"]["ratio"] = 99
    assert base["compressor"]["ratio"] == 2.0  # no shared nested dicts
    assert merge_config(None, None) == {}


def test_resolve_settings_precedence():
    s = resolve_settings({"compressor": {"ratio": 6}, "genre": "jazz"}, "rock")
    rock = GENRE_PRESETS["rock"]
    assert s["compressor"]["ratio"] == 6
    assert s["compressor"]["threshold"] == rock["compressor"]["threshold"]  # preset kept
    assert s["eq"] == rock["eq"]
    assert resolve_settings(None, None) == DEFAULT_SETTINGS
    with pytest.raises(ParameterError, match="genre='auto' is not one of"):
        resolve_settings({}, "auto")


def test_apply_settings_changes_params_keeps_state():
    rng = np.random.default_rng(3)
    a = rng.standard_normal(2000) * 0.5
    b = rng.standard_normal(2000) * 0.5
    chain = build_chain(DEFAULT_SETTINGS)
    ya = chain.process(a)
    new = merge_config(DEFAULT_SETTINGS, {"compressor": {"ratio": 8.0}, "eq": {"high": 3.0}})
    comp_state = chain.find(Compressor)._g
    apply_settings(chain, new)
    assert chain.settings() == new
    assert chain.find(Compressor)._g == comp_state != 0.0
    yb = chain.process(b)
    # the limiter's delay line carried over: the first 72 output samples continue signal a
    L = chain.find(Limiter).latency_samples
    fresh = build_chain(new).process(b)
    assert np.abs(yb[:L]).max() > 0.01
    np.testing.assert_array_equal(fresh[:L], 0.0)
    assert ya.shape == a.shape


def test_apply_settings_validates_first():
    chain = build_chain(None)
    before = chain.settings()
    with pytest.raises(ParameterError, match="limiter.ceiling"):
        apply_settings(chain, {"compressor": {"ratio": 8}, "limiter": {"ceiling": 3}})
    assert chain.settings() == before


def test_build_chain_partial_and_sample_rate():
    chain = build_chain({"compressor": {"enabled": False}, "bypass": True}, sample_rate=44100)
    assert chain.bypass and not chain.find(Compressor).enabled
    assert chain.sample_rate == 44100
    assert chain.latency_samples == 0
    chain.bypass = False
    assert chain.latency_samples == round(1.5 * 44.1)


@pytest.mark.parametrize("genre", [None, "rock", "jazz", "speech"])
def test_apply_full_settings_matches_apply_settings(genre):
    """The no-revalidation path the session uses sets exactly what ``apply_settings`` sets."""
    from aimixer_dsp.presets import apply_full_settings

    settings = resolve_settings({"compressor": {"ratio": 7}, "eq": {"low": -3}}, genre)
    a, b = build_chain(), build_chain()
    apply_settings(a, settings)
    apply_full_settings(b, settings)
    assert a.settings() == b.settings() and repr(a) == repr(b)
