"""origin/mixer_api/models.py: /extract-features, /classify-genre, PUT /config and /ws's ``config``
message are checked by the models /openapi.json documents: the documented ranges and choices are
exactly what is refused, with the messages these bodies always had (the DSP's own for ranges)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mixer_testutil import frame


async def _doc(client) -> dict:
    return await (await client.get("/openapi.json")).get_json()


def _body_schema(doc: dict, path: str, method: str = "post") -> dict:
    schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


async def _error(resp) -> tuple[int, dict]:
    return resp.status_code, (await resp.get_json()).get("error")


# -- /extract-features --------------------------------------------------------------------------


async def test_extract_features_documented_ranges_are_the_refused_ones(client):
    schema = _body_schema(await _doc(client), "/extract-features")
    props = schema["properties"]
    assert schema["required"] == ["audioBuffer"] and schema["additionalProperties"] is False
    audio = frame(0)
    for name in ("numFilters", "hopSize", "numCoefficients"):
        lo, hi = props[name]["minimum"], props[name]["maximum"]
        # numCoefficients is at most numFilters
        extra = {"numFilters": hi} if name == "numCoefficients" else {"numCoefficients": 1}
        for ok in (lo, hi):
            r = await client.post("/extract-features", json={"audioBuffer": audio, name: ok, **extra})
            assert r.status_code == 200, (name, ok, await r.get_data())
        for bad in (lo - 1, hi + 1):
            status, err = await _error(
                await client.post("/extract-features", json={"audioBuffer": audio, name: bad, **extra})
            )
            assert status == 400 and err["code"] == "INVALID_PARAMETER"
            assert err["message"] == f"{name}={bad} is out of range [{lo}, {hi}]"
    sizes = props["fftSize"]["enum"]
    assert sizes == [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
    for n in range(sizes[0] // 2, sizes[-1] * 2 + 1, 997):  # non-powers of two in and beyond range
        r = await client.post("/extract-features", json={"audioBuffer": audio, "fftSize": n})
        assert r.status_code == 400 and (await r.get_json())["error"]["code"] == "INVALID_PARAMETER"
    for n in (sizes[0], sizes[-1]):
        r = await client.post("/extract-features", json={"audioBuffer": audio, "fftSize": n})
        assert r.status_code == 200
    status, err = await _error(
        await client.post("/extract-features", json={"audioBuffer": audio, "fftSize": 1000})
    )
    assert err["message"] == "fftSize=1000 must be a power of two in [64, 16384]"
    for w in props["windowType"]["enum"]:
        r = await client.post("/extract-features", json={"audioBuffer": audio, "windowType": w})
        assert r.status_code == 200
    status, err = await _error(
        await client.post("/extract-features", json={"audioBuffer": audio, "windowType": "kaiser"})
    )
    assert err["message"] == "windowType='kaiser' is not one of ['hann', 'hamming', 'blackman']"
    # defaults as documented: the same answer as naming them
    named = {
        k: props[k]["default"] for k in ("numCoefficients", "numFilters", "fftSize", "hopSize", "windowType")
    }
    a = await (await client.post("/extract-features", json={"audioBuffer": audio})).get_json()
    b = await (await client.post("/extract-features", json={"audioBuffer": audio, **named})).get_json()
    assert a == b and len(a["features"][0]) == named["numCoefficients"]


@pytest.mark.parametrize(
    ("patch", "code", "message", "field"),
    [
        ({"sampleRate": 44100}, "INVALID_REQUEST", None, "sampleRate"),
        ({"hopSize": "a"}, "INVALID_REQUEST", "hopSize must be an integer, got string", "hopSize"),
        ({"fftSize": 2048.0}, "INVALID_REQUEST", "fftSize must be an integer, got number", "fftSize"),
        ({"windowType": 3}, "INVALID_REQUEST", "windowType must be a string, got number", "windowType"),
        ({"audioBuffer": []}, "INVALID_BUFFER_SIZE", "audioBuffer is empty", "audioBuffer"),
        (
            {"audioBuffer": None},
            "INVALID_REQUEST",
            "audioBuffer is required (an array of numbers)",
            "audioBuffer",
        ),
        ({"audioBuffer": [0.0, "x"]}, "INVALID_AUDIO", None, "audioBuffer"),
    ],
)
async def test_extract_features_errors_keep_their_texts(client, patch, code, message, field):
    status, err = await _error(
        await client.post("/extract-features", json={"audioBuffer": frame(0), **patch})
    )
    assert status == 400 and err["code"] == code and err["details"]["field"] == field
    if message is not None:
        assert err["message"] == message
    if field == "sampleRate":
        assert err["message"].startswith(
            "sampleRate is not a field of /extract-features (audio is 48 kHz mono;"
        )


async def test_extract_features_checks_in_the_old_order(client):
    # a bad buffer, then unknown fields, then an empty buffer, then the settings in field order
    for body, code, field in (
        ({"audioBuffer": [0.0, "x"], "sampleRate": 1, "hopSize": 0}, "INVALID_AUDIO", "audioBuffer"),
        ({"audioBuffer": [], "sampleRate": 1, "hopSize": 0}, "INVALID_REQUEST", "sampleRate"),
        ({"audioBuffer": [], "hopSize": 0}, "INVALID_BUFFER_SIZE", "audioBuffer"),
        (
            {"audioBuffer": [0.0], "windowType": 1, "numCoefficients": "a"},
            "INVALID_REQUEST",
            "numCoefficients",
        ),
    ):
        status, err = await _error(await client.post("/extract-features", json=body))
        assert (status, err["code"], err["details"]["field"]) == (400, code, field), body


async def test_extract_features_octet_stream_options_go_through_the_same_model(client):
    audio = np.asarray(frame(0), dtype="<f4")
    for query, json_extra in (
        ("?hopSize=0", {"hopSize": 0}),
        ("?fftSize=1000", {"fftSize": 1000}),
        ("?windowType=kaiser", {"windowType": "kaiser"}),
        ("?sampleRate=48000", {"sampleRate": 48000}),
    ):
        raw = await client.post(
            "/extract-features" + query,
            data=audio.tobytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        js = await client.post(
            "/extract-features", json={"audioBuffer": audio.astype(float).tolist(), **json_extra}
        )
        assert raw.status_code == js.status_code == 400
        a, b = (await raw.get_json())["error"], (await js.get_json())["error"]
        assert (a["code"], a["message"], a["details"]) == (b["code"], b["message"], b["details"])
    r = await client.post(
        "/extract-features?numCoefficients=20",
        data=audio.tobytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200 and len((await r.get_json())["features"][0]) == 20


# -- /classify-genre ----------------------------------------------------------------------------


async def test_classify_genre_documented_fields_and_their_checks(client):
    from aimixer_dsp.genre import FEATURE_SPEC

    schema = _body_schema(await _doc(client), "/classify-genre")
    props = schema["properties"]
    assert set(props) == {
        "features",
        "audioBuffer",
        "numFilters",
        "fftSize",
        "hopSize",
        "sampleRate",
        "windowType",
        "returnProbabilities",
    }
    assert (props["returnProbabilities"]["type"], props["returnProbabilities"]["default"]) == (
        "boolean",
        False,
    )
    vec = [0.1] * int(FEATURE_SPEC["size"])
    status, err = await _error(
        await client.post("/classify-genre", json={"features": [vec], "returnProbabilities": "yes"})
    )
    assert (status, err["code"], err["details"]["field"]) == (400, "INVALID_REQUEST", "returnProbabilities")
    assert err["message"] == "returnProbabilities must be a boolean, got string"
    # the declared settings are the MFCC matrix's: refused for a matrix, not for window vectors
    matrix = [[0.1] * 13] * 300
    for name, bad in (
        ("numFilters", 20),
        ("fftSize", 1024),
        ("hopSize", 256),
        ("sampleRate", 44100),
        ("windowType", "hamming"),
    ):
        assert props[name]["description"].startswith("declared MFCC setting; only ")
        status, err = await _error(await client.post("/classify-genre", json={"features": matrix, name: bad}))
        assert status == 400 and err["code"] == "UNSUPPORTED_FEATURE_SETTINGS", (name, err)
        assert err["details"]["fields"] == [name]
        r = await client.post("/classify-genre", json={"features": [vec], name: bad})
        assert r.status_code != 400  # 200 with the model, 503 without it
    # a long matrix is checked off the event loop, with the same answer
    status, err = await _error(
        await client.post("/classify-genre", json={"features": [[0.1] * 13] * 9 + [["x"] * 13]})
    )
    assert status == 400 and err["code"] == "MISSING_FEATURES"


async def test_classify_genre_audio_extension_checks(client):
    from aimixer_dsp.genre import MFCC_SPEC

    need = (int(MFCC_SPEC["minFrames"]) - 1) * int(MFCC_SPEC["hopSize"])
    status, err = await _error(await client.post("/classify-genre", json={"audioBuffer": [0.0] * (need - 1)}))
    assert (
        status == 400
        and err["code"] == "INVALID_BUFFER_SIZE"
        and err["details"]
        == {
            "field": "audioBuffer",
            "min": need,
        }
    )
    raw = np.zeros(need - 1, dtype="<f4").tobytes()
    r = await client.post("/classify-genre", data=raw, headers={"Content-Type": "application/octet-stream"})
    raw_err = (await r.get_json())["error"]  # the float32 body: the same check, the same answer
    assert (r.status_code, raw_err["code"], raw_err["message"]) == (400, err["code"], err["message"])
    status, err = await _error(
        await client.post("/classify-genre", json={"audioBuffer": [0.0] * need, "sampleRate": 44100})
    )
    assert status == 400 and err["code"] == "UNSUPPORTED_FEATURE_SETTINGS"
    status, err = await _error(await client.post("/classify-genre", json={"audioBuffer": [0.0, None]}))
    assert status == 400 and err["code"] == "INVALID_AUDIO"


# -- PUT /config and /ws config -----------------------------------------------------------------


def _numeric_leaves(props: dict, prefix: str = ""):
    for key, spec in props.items():
        if "properties" in spec:
            yield from _numeric_leaves(spec["properties"], f"{prefix}{key}.")
        elif spec.get("type") == "number" and "maximum" in spec:
            yield f"{prefix}{key}", spec["minimum"], spec["maximum"]


def _nest(path: str, value) -> dict:
    out: dict = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


async def _ws_config(client, data: dict) -> dict:
    async with client.websocket("/ws") as ws:
        await ws.receive()  # connected
        await ws.send(json.dumps({"type": "config", "id": "c", "data": data}))
        return json.loads(await ws.receive())


async def test_config_ranges_documented_are_refused_alike_over_http_and_ws(client):
    doc = await _doc(client)
    schema = _body_schema(doc, "/config", "put")
    assert schema["additionalProperties"] is False and set(schema["properties"]) == {"audio", "ai", "dsp"}
    leaves = list(_numeric_leaves(schema["properties"]["dsp"]["properties"]))
    assert {"gain", "compressor.ratio", "limiter.ceiling"} <= {p for p, _, _ in leaves}
    for path, lo, hi in leaves:
        for ok in (lo, hi):
            r = await client.put("/config", json={"dsp": _nest(path, ok)})
            assert r.status_code == 200, (path, ok, await r.get_data())
            assert (await _ws_config(client, _nest(path, ok)))["type"] == "config"
        bad = hi + max(1.0, abs(hi))
        status, err = await _error(await client.put("/config", json={"dsp": _nest(path, bad)}))
        assert status == 400 and err["code"] == "INVALID_PARAMETER", path
        assert err["message"].startswith(f"dsp.{path}=") and err["details"]["parameter"] == f"dsp.{path}"
        # /ws config (bare or wrapped) and /process-audio's config: one check, one message
        bare = (await _ws_config(client, _nest(path, bad)))["error"]
        wrapped = (await _ws_config(client, {"config": _nest(path, bad)}))["error"]
        r = await client.post("/process-audio", json={"audioBuffer": frame(0), "config": _nest(path, bad)})
        http = (await r.get_json())["error"]
        assert bare["code"] == wrapped["code"] == http["code"] == "INVALID_PARAMETER"
        assert bare["message"] == wrapped["message"] == http["message"] == err["message"].removeprefix("dsp.")
        assert bare["details"] == wrapped["details"] == http["details"]
    await client.put("/config", json={"dsp": {}})


@pytest.mark.parametrize(
    ("body", "code", "message", "parameter"),
    [
        (
            {"bogus": 1},
            "INVALID_PARAMETER",
            "bogus is not a configuration section (use dsp; audio and ai are read-only)",
            "bogus",
        ),
        ({"audio": 5}, "INVALID_PARAMETER", "audio must be an object", "audio"),
        (
            {"audio": {"sampleRate": 44100}},
            "INVALID_SAMPLE_RATE",
            "audio.sampleRate=44100 is fixed at 48000",
            "audio.sampleRate",
        ),
        (
            {"audio": {"frameSize": 480}},
            "INVALID_PARAMETER",
            "audio.frameSize=480 is fixed at 960",
            "audio.frameSize",
        ),
        (
            {"audio": {"bitDepth": True}},
            "INVALID_PARAMETER",
            "audio.bitDepth=True is fixed at 32",
            "audio.bitDepth",
        ),
        (
            {"audio": {"channels": 2}},
            "INVALID_PARAMETER",
            "audio.channels is not a setting",
            "audio.channels",
        ),
        ({"ai": {"model": "x"}}, "INVALID_PARAMETER", "ai settings are read-only", "ai"),
        ({"dsp": 5}, "INVALID_PARAMETER", "dsp must be an object", "dsp"),
        # checked in the order they always were: audio, ai, dsp
        (
            {"dsp": 5, "ai": 1, "audio": {"frameSize": 1}},
            "INVALID_PARAMETER",
            "audio.frameSize=1 is fixed at 960",
            "audio.frameSize",
        ),
    ],
)
async def test_put_config_errors_keep_their_texts(client, body, code, message, parameter):
    status, err = await _error(await client.put("/config", json=body))
    assert (status, err["code"], err["message"], err["details"]["parameter"]) == (
        400,
        code,
        message,
        parameter,
    )


async def test_put_config_documented_read_only_values_are_accepted(client):
    schema = _body_schema(await _doc(client), "/config", "put")
    fixed = {k: v["const"] for k, v in schema["properties"]["audio"]["properties"].items()}
    assert fixed == {"sampleRate": 48000, "frameSize": 960, "bitDepth": 32}
    assert schema["properties"]["ai"]["maxProperties"] == 0
    r = await client.put("/config", json={"audio": fixed, "ai": {}, "dsp": {"gain": 2}})
    assert r.status_code == 200 and (await r.get_json())["audio"] == fixed
    r = await client.put("/config", json={"dsp": {"compressor": {"ratio": 4}}})
    assert (await r.get_json())["dsp"]["gain"] == 2  # deep-merged into the stored overrides


async def test_ws_config_message_shapes(client):
    for data in ({"compressor": {"ratio": 3}}, {"config": {"compressor": {"ratio": 3}}}):
        out = await _ws_config(client, data)
        assert out["type"] == "config" and out["data"]["config"]["compressor"]["ratio"] == 3
    err = (await _ws_config(client, {"config": 5}))["error"]  # not an object: the data is the config
    assert err["code"] == "INVALID_PARAMETER" and err["details"]["parameter"] == "config"
