"""origin/studio/models.py: a typed-in source is checked by its declaration (SourceUpdate), whose
stream fields are RecorderConfig's."""

from __future__ import annotations

import pytest

from origin.errors import StudioError
from origin.studio.models import SourceCreate, SourceUpdate
from origin.studio.recorder_config import RecorderConfig

OK = {"name": " Desk ", "multicast_addr": "239.69.1.9", "port": 5004}


def _refused(body: dict, source_id: str | None = None) -> str:
    with pytest.raises(StudioError) as exc:
        SourceUpdate.model_validate(body, context={"source_id": source_id})
    assert exc.value.status == 400
    return str(exc.value.detail)


def test_messages_in_the_order_they_were_always_checked():
    assert _refused({**OK, "colour": 1, "bogus": 2}) == "Unknown source field 'bogus'"
    assert (
        _refused({**OK, "id": "source-2"}, "source-1") == "id='source-2' does not match the source (source-1)"
    )
    assert _refused({**OK, "id": "source-2"}) == "id='source-2' does not match the source (new)"
    assert _refused({"name": "x", "port": 5004}) == "multicast_addr is required"
    assert _refused({**OK, "type": "pipewire"}) == "type='pipewire' is not supported (aes67)"
    assert _refused({**OK, "port": 0, "channels": 99}) == "port=0 is out of range [1, 65535]"
    assert _refused({**OK, "channels": 99, "description": 5}) == "channels=99 is out of range [1, 64]"
    assert _refused({**OK, "description": "x" * 1001, "name": ""}).startswith("description must be")
    assert _refused({**OK, "name": "", "enabled": 1}).startswith("name must be a non-empty string")
    assert _refused({**OK, "enabled": 1}) == "enabled must be true or false"
    # a null address or port is a missing one (it used to fail inside the view)
    assert _refused({**OK, "multicast_addr": None}) == "multicast_addr is required"
    assert _refused({**OK, "port": None}) == "port is required"


def test_cleaned_source():
    src = SourceUpdate.model_validate(
        {**OK, "id": "source-1", "channels": None, "encoding": "L24", "ptime_us": 125, "description": ""},
        context={"source_id": "source-1"},
    )
    assert (src.name, src.multicast_addr, src.port, src.enabled) == ("Desk", "239.69.1.9", 5004, True)
    assert src.format_fields() == {"encoding": "L24"}  # null is "not given"; read-only fields are not applied


def test_the_stream_fields_are_the_recorder_declarations():
    source = SourceUpdate.model_json_schema()["properties"]
    recorder = RecorderConfig.model_json_schema()["properties"]
    for key in ("port", "sample_rate", "channels", "encoding", "payload_type", "channel_names"):
        limits = {k: v for k, v in recorder[key].items() if k in ("minimum", "maximum", "enum", "maxItems")}
        assert limits and limits.items() <= source[key].items()
    assert SourceCreate.model_json_schema()["properties"]["port"] == source["port"]


async def test_null_address_is_a_400_over_http(make_app):
    async with make_app(max_recorders=2) as app:
        await _null_address_over_http(app.test_client())


async def _null_address_over_http(c):
    r = await c.post("/api/sources/", json={**OK, "multicast_addr": None})
    assert r.status_code == 400 and await r.get_json() == {"detail": "multicast_addr is required"}
    r = await c.post("/api/sources/", json=OK)
    assert r.status_code == 201 and (await r.get_json())["name"] == "Desk"
    r = await c.put("/api/sources/source-1", json={**OK, "port": None})
    assert r.status_code == 400 and await r.get_json() == {"detail": "port is required"}
