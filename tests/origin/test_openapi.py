"""``/openapi.json`` documents every route of both APIs (mixer and studio), and ``/docs`` serves
Swagger UI from local assets."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from origin.app import create_app

#: Non-API pages and assets (HTML/JS/CSS for people, not operations); everything else is documented.
NOT_API = {
    "static",  # Quart's static folder
    "webapp.index",  # the studio web app's pages
    "webapp.studio",
    "webapp.studio_noslash",
    "wasm_api.web_mixer",  # the browser mixer's page
    "apidocs.page",  # /docs itself and its assets
    "apidocs.asset",
}

_ARG = re.compile(r"<(?:[a-z_]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


@pytest.fixture
async def full_app(make_settings):
    app = create_app(make_settings())
    async with app.test_app():
        yield app


async def test_every_registered_route_is_documented(full_app):
    doc = await (await full_app.test_client().get("/openapi.json")).get_json()
    validate(doc)
    missing = []
    seen = 0
    for rule in full_app.url_map.iter_rules():
        if rule.endpoint in NOT_API:
            continue
        path = _ARG.sub(r"{\1}", rule.rule)
        if rule.endpoint.startswith("v1_") or ".v1_" in rule.endpoint:
            # /v1 duplicates are the same operations under the second server URL
            path = path.removeprefix("/v1")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            seen += 1
            if method.lower() not in doc["paths"].get(path, {}):
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "undocumented routes:\n" + "\n".join(missing)
    assert seen > 100  # both APIs were registered
    for needle in ("/api/recorders/{recorder_id}/start", "/auth/me", "/ws/levels", "/jobs", "/wasm"):
        assert needle in doc["paths"], needle


async def test_studio_operations_use_the_detail_error_shape(full_app):
    doc = await (await full_app.test_client().get("/openapi.json")).get_json()
    detail = {"$ref": "#/components/schemas/Detail"}
    error = {"$ref": "#/components/schemas/Error"}
    op = doc["paths"]["/api/studios/"]["post"]
    assert op["responses"]["400"]["content"]["application/json"]["schema"] == detail
    assert (
        doc["paths"]["/process-audio"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
        == error
    )
    assert doc["components"]["schemas"]["Detail"]["required"] == ["detail"]
    # every operation names the error shape its API answers with
    with_errors = 0
    for path, ops in doc["paths"].items():
        want = detail if path.startswith(("/api/", "/auth/", "/ws/")) else error
        for method, operation in ops.items():
            refs = [
                r["content"]["application/json"]["schema"]
                for code, r in operation["responses"].items()
                if code[0] in "45" and "application/json" in r.get("content", {})
            ]
            assert all(ref == want for ref in refs), (method, path, refs)
            with_errors += bool(refs)
    assert with_errors >= sum(map(len, doc["paths"].values())) - 1  # all but /openapi.json
    # the studio body is the pydantic model's schema, with its field rules
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["required"] == ["name"]
    assert set(body["properties"]) == {"name", "description", "color", "enabled", "id"}
    assert body["additionalProperties"] is False
    # a WebSocket route is documented as its upgrade request
    ws = doc["paths"]["/ws/levels/{recorder_id}"]["get"]
    assert "101" in ws["responses"] and "keepalive" in ws["description"]


async def test_studio_body_errors_answer_in_the_detail_shape(full_app):
    c = full_app.test_client()
    r = await c.post("/api/studios/", json={"name": "A", "colour": "#fff"})
    assert r.status_code == 400
    assert await r.get_json() == {"detail": "Unknown studio field 'colour'"}
    r = await c.post("/api/studios/", json={"name": "A", "color": "red"})
    assert (await r.get_json()) == {"detail": "color='red' must be #RRGGBB"}
    r = await c.post("/api/studios/", json={"description": "x"})
    assert (await r.get_json()) == {"detail": "name is required"}
    r = await c.post("/api/studios/", json={"name": "x" * 10_000})
    assert (await r.get_json()) == {"detail": "name must be a non-empty string of at most 100 characters"}
    r = await c.post("/api/studios/", json={"name": " Studio A ", "color": "#a0b0c0", "id": "sa"})
    assert r.status_code == 201, await r.get_data()
    assert (await r.get_json())["name"] == "Studio A" and (await r.get_json())["color"] == "#A0B0C0"
    r = await c.put("/api/studios/sa", json={"id": "other"})
    assert (await r.get_json()) == {"detail": "The studio id cannot be changed"}
    r = await c.post("/api/studios/sa/assign", json={})
    assert (await r.get_json()) == {"detail": "recorder_id is required (null to unassign)"}
    for bad, msg in (
        ({"paths": "a"}, "paths must be a list of file paths"),
        ({"paths": ["a"] * 1001}, "Too many paths (1001; at most 1000)"),
        ({"paths": [], "x": 1}, "Unknown field 'x'"),
        ({"paths": [], "studio_id": 7}, "studio_id must be a string"),
    ):
        r = await c.post("/api/assets/delete-bulk", json=bad)
        assert r.status_code == 400 and (await r.get_json()) == {"detail": msg}, bad
    for bad, msg in (
        ({"stream_id": "s", "colour": 1, "bogus": 2}, "Unknown field 'bogus'"),
        ({"name": "x"}, "stream_id is required"),
        ({"stream_id": ["s"]}, "stream_id is required"),
    ):
        r = await c.post("/api/sources/from-discovery", json=bad)
        assert r.status_code == 400 and (await r.get_json()) == {"detail": msg}, bad
    r = await c.post("/api/sources/from-discovery", json={"stream_id": "sap-000000000000"})
    assert r.status_code == 404
    r = await c.post("/api/assets/delete-bulk", json={"paths": ["recorder1/nope.wav"]})
    assert r.status_code == 200 and (await r.get_json())["deleted"] == []


async def test_docs_assets_refuse_other_names(full_app):
    c = full_app.test_client()
    for name in ("..%2F..%2Fpyproject.toml", "package.json", "index.html", "x" * 5000):
        r = await c.get(f"/docs/assets/{name}")
        assert r.status_code == 404, name
        assert (await r.get_json())["error"]["code"] == "ENDPOINT_NOT_FOUND"
    r = await c.get("/docs/assets/swagger-ui-bundle.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"


async def test_mixer_model_body_keeps_the_error_shape(full_app):
    """POST /mobile/session validated through its model: same codes, messages and fields, in
    field order (a missing deviceId is reported before a bad platform)."""
    c = full_app.test_client()
    ok = {"deviceId": "d1", "platform": "ios", "sdkVersion": "1.0"}
    for body, code, msg, field in (
        ({"platform": "web"}, "INVALID_REQUEST", "deviceId is required", "deviceId"),
        ({**ok, "deviceId": 5}, "INVALID_REQUEST", "deviceId must be a string, got number", "deviceId"),
        (
            {**ok, "platform": "web"},
            "INVALID_REQUEST",
            "platform='web' is not one of ['ios', 'android']",
            "platform",
        ),
        (
            {**ok, "sdkVersion": "x" * 33},
            "INVALID_REQUEST",
            "sdkVersion must be 1-32 characters",
            "sdkVersion",
        ),
        (
            {**ok, "capabilities": []},
            "INVALID_REQUEST",
            "capabilities must be an object, got array",
            "capabilities",
        ),
        (
            {**ok, "capabilities": {"sampleRate": 44100}},
            "INVALID_SAMPLE_RATE",
            "Sample rate must be 48000 Hz; capabilities.sampleRate=44100 (resample on the device)",
            "capabilities.sampleRate",
        ),
        (
            {**ok, "capabilities": {"channels": True}},
            "INVALID_REQUEST",
            "capabilities.channels=True must be 1 or 2",
            "capabilities.channels",
        ),
    ):
        r = await c.post("/mobile/session", json=body)
        err = (await r.get_json())["error"]
        assert r.status_code == 400 and (err["code"], err["message"], err["details"]["field"]) == (
            code,
            msg,
            field,
        )
    r = await c.post("/mobile/session", json={**ok, "capabilities": {"channels": 2, "bitDepth": 16}})
    assert r.status_code == 200
    cfg = (await r.get_json())["config"]
    assert (cfg["inputChannels"], cfg["inputBitDepth"], cfg["platform"]) == (2, 16, "ios")


def test_documented_config_models_list_the_accepted_fields():
    """The source models, which only document a body (still checked by hand), name exactly the
    fields the hand-written checks accept; the key lists the recorder and control views use are
    their models' fields (the models validate: tests/origin/studio/test_recorder_config.py)."""
    from origin.studio import sources
    from origin.studio.common import AUDYN_RECORDER_KEYS, USER_RECORDER_KEYS
    from origin.studio.control import CONTROL_KEYS, IGNORED_KEYS
    from origin.studio.models import ControlConfig, RecorderConfig, SourceCreate, SourceUpdate

    assert set(RecorderConfig.model_fields) == {*USER_RECORDER_KEYS, *AUDYN_RECORDER_KEYS}
    assert set(ControlConfig.model_fields) == {*CONTROL_KEYS, *IGNORED_KEYS}
    assert set(SourceCreate.model_fields) == {*sources.EDITABLE, "discovered_id"}
    assert set(SourceUpdate.model_fields) <= {*sources.EDITABLE, *sources.READ_ONLY}
