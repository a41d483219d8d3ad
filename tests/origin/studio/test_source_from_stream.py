"""origin/studio/models.py: a source made from a discovered stream (``POST /api/sources/`` with
``discovered_id``, and Audyn's ``/from-discovery``) is checked by SourceFromStream, the schema
/openapi.json documents: same messages, same order as the hand checks it replaced."""

from __future__ import annotations

import pytest

from origin.studio.models import SourceFromStream
from origin.studio.recorder_config import RecorderConfig


@pytest.fixture
async def studio_app(make_app):
    async with make_app(max_recorders=2) as app:
        yield app


@pytest.fixture
def c(studio_app):
    return studio_app.test_client()


@pytest.fixture
async def stream(c, studio_app) -> dict:
    """An 8-channel L24 stream announced over SAP now."""
    from origin.recorder.sap import build_sap, make_sdp

    svc = studio_app.extensions["studio"]
    if svc.sap is None:
        pytest.skip("SAP listener could not bind on this host")
    sdp = make_sdp(
        session_name="Desk 8ch",
        origin_addr="192.0.2.20",
        dest_addr="239.69.45.1",
        port=5004,
        payload_type=97,
        payload="L24",
        sample_rate=48000,
        channels=8,
    )
    svc.sap.handle(build_sap(sdp, "192.0.2.20"))
    found = await (await c.get("/api/sources/discovered")).get_json()
    return next(x for x in found if x["name"] == "Desk 8ch")


async def _detail(c, body: dict, path: str = "/api/sources/") -> tuple[int, str]:
    r = await c.post(path, json=body)
    return r.status_code, (await r.get_json())["detail"]


def test_the_channel_fields_are_the_recorder_declarations():
    ours = SourceFromStream.model_json_schema()
    recorder = RecorderConfig.model_json_schema()["properties"]
    for key in ("channels", "channel_offset"):
        assert (ours["properties"][key]["minimum"], ours["properties"][key]["maximum"]) == (
            recorder[key]["minimum"],
            recorder[key]["maximum"],
        )
    assert ours["required"] == ["discovered_id"] and ours["additionalProperties"] is False


async def test_documented_ranges_are_the_refused_ones(c, stream):
    doc = await (await c.get("/openapi.json")).get_json()
    body = doc["paths"]["/api/sources/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    names = [ref["$ref"].rsplit("/", 1)[1] for ref in body["anyOf"]]
    assert names == ["SourceCreate", "SourceFromStream"]
    props = doc["components"]["schemas"]["SourceFromStream"]["properties"]
    sid = stream["id"]
    for key in ("channels", "channel_offset"):
        lo, hi = props[key]["minimum"], props[key]["maximum"]
        for bad in (lo - 1, hi + 1):
            assert await _detail(c, {"discovered_id": sid, key: bad}) == (
                400,
                f"{key}={bad} is out of range [{lo}, {hi}]",
            )
        # in the documented range, and beyond the stream's 8 channels: the stream's own limit
        status, detail = await _detail(c, {"discovered_id": sid, key: hi})
        assert status == 400 and detail.endswith("do not fit the stream's 8 channels")
    assert await _detail(c, {"discovered_id": sid, "channels": None}) == (400, "channels must be an integer")
    assert await _detail(c, {"discovered_id": sid, "name": " "}) == (
        400,
        "name must be a non-empty string of at most 200 characters",
    )
    assert await _detail(c, {"discovered_id": sid, "enabled": "yes"}) == (
        400,
        "enabled must be true or false",
    )
    r = await c.post(
        "/api/sources/",
        json={
            "discovered_id": sid,
            "channel_offset": 6,
            "name": None,
            "description": "d" * 5000,
            "enabled": False,
        },
    )
    assert r.status_code == 201
    src = await r.get_json()
    assert (src["name"], src["channel_offset"], src["channels"], src["stream_channels"]) == (
        "Desk 8ch ch 7-8",
        6,
        2,
        8,
    )
    assert len(src["description"]) == 1000 and src["enabled"] is False
    r = await c.post("/api/sources/", json={"discovered_id": sid, "name": " Mine ", "description": 5})
    src = await r.get_json()
    assert (src["name"], src["channels"], src.get("description")) == ("Mine", 8, None)


async def test_checked_in_the_order_they_always_were(c, stream):
    sid = stream["id"]
    # unknown fields, then the announcement, then channels, channel_offset, the fit, name, enabled
    assert await _detail(c, {"discovered_id": "sap-000000000000", "bogus": 1}) == (
        400,
        "Unknown source field 'bogus'",
    )
    status, detail = await _detail(c, {"discovered_id": "sap-000000000000", "channels": 0, "name": ""})
    assert status == 404 and detail == "Discovered stream sap-000000000000 not found (not announced now)"
    assert await _detail(c, {"discovered_id": sid, "channel_offset": 99, "channels": 0}) == (
        400,
        "channels=0 is out of range [1, 64]",
    )
    assert await _detail(
        c, {"discovered_id": sid, "channel_offset": 6, "channels": 4, "name": "", "enabled": 1}
    ) == (
        400,
        "channels [6, 10) do not fit the stream's 8 channels",
    )
    assert await _detail(c, {"discovered_id": sid, "name": "", "enabled": 1}) == (
        400,
        "name must be a non-empty string of at most 200 characters",
    )


async def test_audyn_import_answers_alike(c, stream):
    sid = stream["id"]
    for ours, audyn in (
        ({"channels": 0}, {"channels": 0}),
        ({"channel_offset": 64}, {"channel_offset": 64}),
        ({"channel_offset": 7, "channels": 2}, {"channel_offset": 7, "channels": 2}),
        ({"name": "x" * 201}, {"name": "x" * 201}),
    ):
        a = await _detail(c, {"discovered_id": sid, **ours})
        b = await _detail(c, {"stream_id": sid, **audyn}, "/api/sources/from-discovery")
        assert a == b and a[0] == 400, (a, b)
    assert await _detail(c, {"stream_id": sid, "stream_channels": 2}, "/api/sources/from-discovery") == (
        400,
        "stream_channels=2 does not match the announced stream (8)",
    )
    r = await c.post(
        "/api/sources/from-discovery", json={"stream_id": sid, "channels": 2, "description": "Main"}
    )
    assert r.status_code == 201
    src = await r.get_json()
    assert (src["name"], src["channels"], src["description"]) == ("Desk 8ch ch 1-2", 2, "Main")
