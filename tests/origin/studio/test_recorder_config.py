"""origin/studio/recorder_config.py: the recorder and control config bodies are one declaration,
the schema in /openapi.json and the check the views run."""

from __future__ import annotations

import pytest

from origin.errors import StudioError
from origin.studio.recorder_config import (
    CONTROL_KEYS,
    IGNORED_KEYS,
    ControlConfig,
    RecorderConfig,
    validate_recorder_config,
)

SCHEMA = RecorderConfig.model_json_schema()["properties"]
# archive_root needs the app (the server's archive root); the Audyn fields are translated first
_CHECKED = [k for k in SCHEMA if k not in ("archive_root", "bit_depth", "source_type", "pipewire_target")]


def _refused(body: dict) -> str:
    with pytest.raises(StudioError) as exc:
        validate_recorder_config(body)
    assert exc.value.status == 400
    return str(exc.value.detail)


@pytest.mark.parametrize("key", [k for k in _CHECKED if "minimum" in SCHEMA[k]])
def test_documented_ranges_are_the_checked_ranges(key):
    s = SCHEMA[key]
    lo, hi = s["minimum"], s["maximum"]
    step = 1 if "integer" in s["type"] else 0.01
    assert validate_recorder_config({key: lo}) == {key: lo}
    assert validate_recorder_config({key: hi}) == {key: hi}
    for bad in (lo - step, hi + step):
        msg = _refused({key: bad})
        assert msg.startswith(key) and ("out of range" in msg or "must be a number in" in msg), msg
    assert _refused({key: "1"}).startswith(key)
    assert _refused({key: True}).startswith(key)
    nullable = "null" in s["type"]
    if nullable:
        assert validate_recorder_config({key: None}) == {key: None}
    else:
        assert _refused({key: None}).startswith(key)


@pytest.mark.parametrize("key", [k for k in _CHECKED if "enum" in SCHEMA[k]])
def test_documented_choices_are_the_checked_choices(key):
    for value in SCHEMA[key]["enum"]:
        assert validate_recorder_config({key: value}) == {key: value}
    assert _refused({key: "no-such-choice"}) == f"{key}='no-such-choice' is not one of " + ", ".join(
        SCHEMA[key]["enum"]
    )


def test_messages_and_order_of_the_checks():
    assert _refused({"port": 5004, "colour": 1}) == "Unknown config field 'colour'"
    assert _refused({"port": 0, "source_type": "pipewire"}).startswith(
        "source_type='pipewire' is not supported"
    )
    assert _refused({"bit_depth": 20}) == "bit_depth=20 is not one of 16, 24, 32"
    assert _refused({"bit_depth": 24, "bits": "16"}) == "bit_depth=24 contradicts bits='16'"
    # the first bad field in declaration order is reported
    assert _refused({"port": 0, "multicast_addr": "x"}) == "multicast_addr='x' is not an IPv4 address"
    assert _refused({"vox_threshold_db": float("nan")}) == "vox_threshold_db must be a number"
    assert _refused({"channel_names": ["a", "b,c"]}).startswith("channel_names entry 'b,c'")
    assert (
        _refused({"silence_seconds": float("inf")})
        == "silence_seconds must be a number in [0.5, 3600] or null"
    )
    assert _refused({"source_id": 7}) == "source_id must be a source id or null"
    with pytest.raises(StudioError, match="Unknown config field 'port'"):
        validate_recorder_config({"port": 5004}, allow=("channels",))


def test_cleaned_fields_are_normalised_and_translated():
    got = validate_recorder_config(
        {
            "multicast_addr": " 239.1.2.3 ",
            "port": 5004.0,
            "interface": "",
            "bit_depth": 32,
            "source_type": "aes67",
            "pipewire_target": "ignored",
            "channel_names": [" L ", "R"],
            "silence_threshold_db": -50,
        }
    )
    assert got == {
        "multicast_addr": "239.1.2.3",
        "port": 5004,
        "interface": None,
        "bits": "32f",
        "channel_names": ["L", "R"],
        "silence_threshold_db": -50.0,
    }
    assert type(got["port"]) is int


def test_control_config_is_the_recorder_declaration_plus_audyn_appliance_fields():
    control = ControlConfig.model_json_schema()["properties"]
    assert set(control) == {*CONTROL_KEYS, *IGNORED_KEYS}
    for key in CONTROL_KEYS:
        assert control[key] == SCHEMA[key]
    assert ControlConfig.model_validate({"port": 5004, "ptp_interface": "eth1"}).cleaned() == {"port": 5004}
    with pytest.raises(StudioError, match=r"port=0 is out of range \[1, 65535\]"):
        ControlConfig.model_validate({"port": 0})
    with pytest.raises(StudioError, match="Unknown config field 'bitrat'"):
        ControlConfig.model_validate({"vox_enabled": True, "bitrat": 1})
    assert ControlConfig.model_json_schema()["additionalProperties"] is False
