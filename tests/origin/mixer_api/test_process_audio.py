from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from aimixer_dsp.mixer import MixerSession
from mixer_testutil import frame


def _direct(frames: list[list[float]], config: dict | None = None) -> list[np.ndarray]:
    s = MixerSession()
    return [np.asarray(s.process(np.asarray(f, dtype=np.float64), config)["processedBuffer"]) for f in frames]


async def test_json_process_matches_library_and_shape(client):
    buf = frame(1)
    r = await client.post("/process-audio", json={"audioBuffer": buf, "config": {"genre": "rock"}})
    assert r.status_code == 200
    body = await r.get_json()
    assert set(body) >= {"processedBuffer", "metrics", "appliedSettings"}
    assert len(body["processedBuffer"]) == 960
    want = _direct([buf], {"genre": "rock"})[0]
    np.testing.assert_allclose(np.asarray(body["processedBuffer"]), want, atol=1e-6)
    m = body["metrics"]
    for k in (
        "peak",
        "rms",
        "lufs",
        "momentaryLufs",
        "shortTermLufs",
        "genre",
        "confidence",
        "processingTime",
        "latencySamples",
    ):
        assert k in m
    assert m["genre"] == "rock" and m["confidence"] == 1.0
    assert m["lufs"] is None  # 20 ms is too short for integrated loudness: -inf -> null
    assert set(body["appliedSettings"]) >= {"noiseGate", "compressor", "eq", "limiter"}


async def test_v1_prefix_answers_the_same(client):
    buf = frame(2)
    a = await (await client.post("/process-audio", json={"audioBuffer": buf})).get_json()
    b = await (await client.post("/v1/process-audio", json={"audioBuffer": buf})).get_json()
    assert a["processedBuffer"] == b["processedBuffer"]


async def test_without_session_the_chain_is_fresh(client):
    frames = [frame(i, amp=0.5) for i in range(3)]
    outs = []
    for f in frames:
        outs.append(
            (await (await client.post("/process-audio", json={"audioBuffer": f})).get_json())[
                "processedBuffer"
            ]
        )
    # each equals processing that frame alone on a fresh chain (pooled chains are reset)
    for f, o in zip(frames, outs, strict=True):
        np.testing.assert_allclose(np.asarray(o), _direct([f])[0], atol=1e-6)


@pytest.mark.parametrize("how", ["body", "header"])
async def test_session_keeps_state(client, how):
    frames = [frame(10 + i, amp=0.5) for i in range(4)]
    outs = []
    for f in frames:
        if how == "body":
            r = await client.post("/process-audio", json={"audioBuffer": f, "sessionId": "s-1"})
        else:
            r = await client.post("/process-audio", json={"audioBuffer": f}, headers={"X-Session-Id": "s-1"})
        body = await r.get_json()
        assert body["sessionId"] == "s-1"
        outs.append(np.asarray(body["processedBuffer"]))
    want = _direct(frames)
    for o, w in zip(outs, want, strict=True):
        np.testing.assert_allclose(o, w, atol=1e-6)
    # and it differs from fresh-chain processing of the last frame (state matters)
    assert not np.allclose(outs[-1], _direct([frames[-1]])[0], atol=1e-6)


async def test_octet_stream_with_header_and_query_config(client):
    buf = frame(3)
    raw = np.asarray(buf, dtype="<f4").tobytes()
    cfg = {"genre": "jazz", "compressor": {"ratio": 6}}
    r = await client.post(
        "/process-audio",
        data=raw,
        headers={"Content-Type": "application/octet-stream", "X-Config": json.dumps(cfg)},
    )
    assert r.status_code == 200
    body = await r.get_json()
    np.testing.assert_allclose(np.asarray(body["processedBuffer"]), _direct([buf], cfg)[0], atol=1e-6)
    assert body["appliedSettings"]["compressor"]["ratio"] == 6
    r2 = await client.post(
        "/process-audio",
        data=raw,
        query_string={"config": json.dumps(cfg)},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert (await r2.get_json())["processedBuffer"] == body["processedBuffer"]


async def test_octet_stream_response_when_accepted(client):
    buf = frame(4)
    raw = np.asarray(buf, dtype="<f4").tobytes()
    r = await client.post(
        "/process-audio",
        data=raw,
        headers={"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"},
    )
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    out = np.frombuffer(await r.get_data(), dtype="<f4")
    assert out.shape == (960,)
    np.testing.assert_allclose(out, _direct([buf])[0], atol=1e-6)
    assert "metrics" in json.loads(r.headers["X-Metrics"])


@pytest.mark.parametrize("n", [0, 1, 959, 961, 1920])
async def test_wrong_sizes_are_invalid_buffer_size(client, n):
    r = await client.post("/process-audio", json={"audioBuffer": [0.0] * n})
    assert r.status_code == 400
    err = (await r.get_json())["error"]
    assert err["code"] == "INVALID_BUFFER_SIZE"
    assert str(n) in err["message"]
    assert err["requestId"] == r.headers["X-Request-Id"]


@pytest.mark.parametrize("nbytes", [0, 3, 3836, 3844])
async def test_wrong_binary_sizes(client, nbytes):
    r = await client.post(
        "/process-audio", data=b"\0" * nbytes, headers={"Content-Type": "application/octet-stream"}
    )
    assert r.status_code == 400
    assert (await r.get_json())["error"]["code"] == "INVALID_BUFFER_SIZE"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_nan_literals_are_clear_400(client, literal):
    body = '{"audioBuffer": [' + ",".join(["0.0"] * 959 + [literal]) + "]}"
    r = await client.post("/process-audio", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    err = (await r.get_json())["error"]
    assert err["code"] == "INVALID_AUDIO"
    assert "NaN or Infinity" in err["message"]


async def test_binary_nan_and_huge_values(client):
    vals = [0.0] * 960
    vals[5] = float("nan")
    r = await client.post(
        "/process-audio",
        data=struct.pack("<960f", *vals),
        headers={"Content-Type": "application/octet-stream"},
    )
    err = (await r.get_json())["error"]
    assert r.status_code == 400 and err["code"] == "INVALID_AUDIO" and err["details"]["index"] == 5
    big = [0.0] * 960
    big[7] = 1e300
    r = await client.post("/process-audio", json={"audioBuffer": big})
    err = (await r.get_json())["error"]
    assert r.status_code == 400 and err["code"] == "INVALID_AUDIO" and "[7]" in err["message"]


@pytest.mark.parametrize("bad", ["x", None, True, [1.0], {"a": 1}])
async def test_non_numbers_are_clear_400(client, bad):
    buf = [0.0] * 960
    buf[3] = bad
    r = await client.post("/process-audio", json={"audioBuffer": buf})
    err = (await r.get_json())["error"]
    assert r.status_code == 400 and err["code"] == "INVALID_AUDIO"
    assert "audioBuffer[3]" in err["message"]


async def test_missing_buffer_bad_json_and_media_type(client):
    r = await client.post("/process-audio", json={"config": {}})
    assert r.status_code == 400 and (await r.get_json())["error"]["code"] == "INVALID_REQUEST"
    r = await client.post("/process-audio", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and (await r.get_json())["error"]["code"] == "INVALID_JSON"
    r = await client.post("/process-audio", json=[1, 2])
    assert r.status_code == 400 and (await r.get_json())["error"]["code"] == "INVALID_JSON"
    r = await client.post("/process-audio", data="a=b", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and (await r.get_json())["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"compressor": {"ratio": 25}}, "compressor.ratio"),
        ({"gain": 40}, "gain"),
        ({"limiter": {"ceiling": -10}}, "limiter.ceiling"),
        ({"genre": "polka"}, "genre"),
    ],
)
async def test_config_errors_name_the_field(client, config, field):
    r = await client.post("/process-audio", json={"audioBuffer": frame(0), "config": config})
    assert r.status_code == 400
    err = (await r.get_json())["error"]
    assert err["code"] == "INVALID_PARAMETER"
    assert field in err["message"]


async def test_bad_session_id(client):
    r = await client.post("/process-audio", json={"audioBuffer": frame(0), "sessionId": "a b/c"})
    assert r.status_code == 400 and "sessionId" in (await r.get_json())["error"]["message"]
    r = await client.post("/process-audio", json={"audioBuffer": frame(0), "sessionId": 5})
    assert r.status_code == 400


async def test_oversized_body_is_413_in_error_shape(client):
    r = await client.post(
        "/process-audio",
        data=b"[" + b"0.0," * 1_200_000 + b"0.0]",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    err = (await r.get_json())["error"]
    assert err["code"] == "PAYLOAD_TOO_LARGE" and err["requestId"] == r.headers["X-Request-Id"]
