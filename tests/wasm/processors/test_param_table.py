"""One declaration per parameter: everything that names a DSP parameter derives from ``PARAMS``."""

from __future__ import annotations

import pytest
from aimixer_dsp import presets
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.processors import Compressor, Gain, Limiter, Param
from aimixer_dsp.processors.gain import GAIN_RANGE


def _section(settings: dict, cls: type) -> dict:
    return {"enabled": True, "gain": settings["gain"]} if cls is Gain else settings[cls.config_key]


@pytest.mark.parametrize("cls", presets.STAGE_TYPES, ids=lambda c: c.__name__)
def test_every_view_of_a_stage_lists_the_same_parameters(cls: type) -> None:
    keys = [p.key for p in cls.PARAMS]
    proc = cls()
    assert list(proc.settings()) == ["enabled", *keys]
    assert all(f"{p.attr}=" in repr(proc) for p in cls.PARAMS)
    assert {k: v for k, v in _section(presets.DEFAULT_SETTINGS, cls).items() if k != "enabled"} == {
        p.key: p.default for p in cls.PARAMS
    }
    if cls is Gain:
        assert presets.SCHEMA["gain"] == GAIN_RANGE
        return
    assert list(presets.SCHEMA[cls.config_key]) == ["enabled", *keys]
    schema = presets.config_json_schema()[cls.config_key]["properties"]
    assert list(schema) == ["enabled", *keys]
    for p in cls.PARAMS:
        if p.range is None:  # an on/off parameter (e.g. the limiter's truePeak)
            assert schema[p.key]["type"] == "boolean"
            continue
        assert (schema[p.key]["minimum"], schema[p.key]["maximum"]) == p.range
        assert presets.UNITS[f"{cls.config_key}.{p.key}"] == (p.unit, p.label)
    stage = next(s for s in presets.controls()["stages"] if s["key"] == cls.config_key)
    assert [c["key"] for c in stage["params"] + stage["switches"]] == keys


def test_build_chain_and_apply_settings_go_through_the_table() -> None:
    settings = presets.resolve_settings(
        {"compressor": {"knee": 6, "makeup": 3}, "limiter": {"lookahead": 5}}, None
    )
    chain = presets.build_chain(settings)
    comp, lim = chain.find(Compressor), chain.find(Limiter)
    assert (comp.knee_db, comp.makeup_db, lim.lookahead_ms) == (6.0, 3.0, 5.0)
    assert lim.latency_samples == 240
    presets.apply_settings(chain, {"compressor": {"ratio": 8}})
    assert (comp.ratio, comp.knee_db, lim.lookahead_ms, lim.latency_samples) == (8.0, 0.0, 1.5, 72)
    assert chain.settings() == presets.resolve_settings({"compressor": {"ratio": 8}}, None)


def test_constructor_arguments_come_from_the_table() -> None:
    c = Compressor(-30, 8, knee_db=6)
    assert (c.threshold_db, c.ratio, c.knee_db, c.attack_ms) == (-30.0, 8.0, 6.0, 10.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'knee'"):
        Compressor(knee=6)
    with pytest.raises(TypeError, match="multiple values for argument 'threshold_db'"):
        Compressor(-30, threshold_db=-20)
    with pytest.raises(TypeError, match="at most 6 positional"):
        Compressor(-30, 8, 10, 100, 0, 0, 1)
    with pytest.raises(ParameterError, match="ratio"):
        Compressor(ratio=25)
    with pytest.raises(ParameterError, match="true or false"):
        Compressor(enabled="yes")


def test_a_new_parameter_is_one_line() -> None:
    class Tilt(Gain):
        config_key = "tilt"
        tilt_db = Param("tilt", "dB", (-6.0, 6.0), 1.5, "Tilt", on_change="_tilt_changed")

        def _tilt_changed(self) -> None:
            self.tilt_changes = getattr(self, "tilt_changes", 0) + 1

    t = Tilt(2.0)
    assert [p.attr for p in Tilt.PARAMS] == ["gain_db", "tilt_db"]
    assert t.settings() == {"enabled": True, "gain": 2.0, "tilt": 1.5}
    assert "tilt_db=1.5" in repr(t) and t.tilt_changes == 1
    t.tilt_db = -6
    assert t.tilt_db == -6.0 and t.tilt_changes == 2
    with pytest.raises(ParameterError, match=r"tilt_db=7 is out of range"):
        t.tilt_db = 7
    assert Tilt.tilt_db.json_schema() == {
        "type": "number",
        "minimum": -6.0,
        "maximum": 6.0,
        "description": "Tilt, dB",
    }
