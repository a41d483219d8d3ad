from __future__ import annotations

import asyncio
import base64
import json

import httpx
import numpy as np
import pytest
from aimixer_dsp.mixer import MixerSession

FRAME_BYTES = 3840


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        ev, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        events.append((ev, json.loads("\n".join(data))))
    return events


def _signal(n_frames: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n_frames * 960) * 0.2).astype("<f4")


async def test_stream_events_match_library(client):
    sig = _signal(5)
    raw = sig.tobytes() + b"\x00" * 100  # ragged tail
    r = await client.post("/stream-audio", data=raw, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = parse_sse((await r.get_data()).decode())
    kinds = [e for e, _ in events]
    assert kinds == ["audio"] * 5 + ["error", "complete"]
    ref = MixerSession()
    for i, (_, data) in enumerate(events[:5]):
        assert data["chunkSize"] == 960 and data["processed"] is True and data["index"] == i
        assert set(data["metrics"]) >= {"peak", "rms", "lufs", "processingTime"}
        got = np.frombuffer(base64.b64decode(data["audio"]), dtype="<f4")
        want = ref.process(sig[i * 960 : (i + 1) * 960].astype(np.float64))["processedBuffer"]
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert events[1][1]["timestamp"] - events[0][1]["timestamp"] == 20
    err = events[5][1]["error"]
    assert err["code"] == "INVALID_BUFFER_SIZE" and "100 bytes" in err["message"]
    done = events[6][1]
    assert done["totalChunks"] == 5
    assert done["totalDuration"] == pytest.approx(0.1)
    assert done["averageLatency"] > 0


async def test_stream_nan_frame_is_error_event_and_stream_continues(client):
    sig = _signal(3)
    sig[960 + 4] = np.nan
    r = await client.post(
        "/stream-audio", data=sig.tobytes(), headers={"Content-Type": "application/octet-stream"}
    )
    events = parse_sse((await r.get_data()).decode())
    assert [e for e, _ in events] == ["audio", "error", "audio", "complete"]
    assert events[1][1]["error"]["code"] == "INVALID_AUDIO"
    assert events[3][1]["totalChunks"] == 2


async def test_stream_bad_config_and_media_type(client):
    r = await client.post(
        "/stream-audio",
        data=b"",
        headers={"Content-Type": "application/octet-stream", "X-Config": '{"gain": 99}'},
    )
    assert r.status_code == 400 and "gain" in (await r.get_json())["error"]["message"]
    r = await client.post("/stream-audio", data=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


async def test_events_arrive_while_upload_is_open_raw_socket(live_server):
    """A hand-written chunked HTTP/1.1 upload: the first SSE event must arrive before we send the
    second frame (we wait for it), so a server that buffers the upload would deadlock here."""
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write(
        b"POST /stream-audio HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    sig = _signal(3, seed=4)
    received = b""

    async def read_until(marker: bytes) -> None:
        nonlocal received
        while marker not in received:
            chunk = await reader.read(65536)
            assert chunk, "connection closed early"
            received += chunk

    for i in range(3):
        part = sig[i * 960 : (i + 1) * 960].tobytes()
        writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        await writer.drain()
        # the i-th audio event arrives while the upload is still open
        await asyncio.wait_for(read_until(f'"index":{i},'.encode()), 20)
    assert b"event: complete" not in received
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    await asyncio.wait_for(read_until(b"event: complete"), 20)
    writer.close()
    head, _, _ = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")


async def test_httpx_generator_upload_is_processed_before_upload_ends(live_server):
    """httpx sends the whole body before reading the answer, so we watch the server from a second
    connection: after each frame, /metrics must show that frame processed before the next is sent."""
    sig = _signal(4, seed=5)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as side:

        async def processed_samples() -> float:
            text = (await side.get("/metrics")).text
            for line in text.splitlines():
                if line.startswith("ai_mixer_samples_processed_total"):
                    return float(line.split()[-1])
            return 0.0

        async def body():
            for i in range(4):
                yield sig[i * 960 : (i + 1) * 960].tobytes()
                for _ in range(500):
                    if await processed_samples() >= (i + 1) * 960:
                        break
                    await asyncio.sleep(0.01)
                else:
                    raise AssertionError(f"frame {i} not processed while the upload was open")

        async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as c:
            r = await c.post(
                "/stream-audio", content=body(), headers={"Content-Type": "application/octet-stream"}
            )
    events = parse_sse(r.text)
    assert [e for e, _ in events] == ["audio"] * 4 + ["complete"]


async def test_stream_longer_than_json_body_limit(live_server):
    n = 1400  # 1400 frames = 5.4 MB, more than the 4 MiB JSON body limit
    sig = np.zeros(n * 960, dtype="<f4")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as c:
        r = await c.post(
            "/stream-audio", content=sig.tobytes(), headers={"Content-Type": "application/octet-stream"}
        )
    events = parse_sse(r.text)
    assert events[-1][0] == "complete" and events[-1][1]["totalChunks"] == n
    assert sum(1 for e, _ in events if e == "audio") == n
