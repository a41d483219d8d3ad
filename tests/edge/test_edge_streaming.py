"""Streams through the edge: SSE while the upload is still going, /ws, /ws/levels, Range/206,
and what a client sees when the origin dies in the middle of a stream."""

from __future__ import annotations

import asyncio
import json
import struct
import time

import httpx
import numpy as np
import pytest
import soundfile as sf
import websockets
from edgeenv import sine_frame

pytestmark = pytest.mark.node

FRAME_BYTES = struct.pack("<960f", *sine_frame())


async def sse_upload(port: int, frames: int, gap: float, on_event=None) -> list[tuple[str, dict, bool]]:
    """POST /stream-audio with a chunked body sent frame by frame while reading the events.

    Returns (event, data, upload_finished_when_received) for each event. httpx cannot do this:
    it sends the whole body before it reads the answer.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /stream-audio HTTP/1.1\r\nHost: edge\r\nContent-Type: application/octet-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    done = asyncio.Event()

    async def upload() -> None:
        try:
            for _ in range(frames):
                writer.write(b"%x\r\n" % len(FRAME_BYTES) + FRAME_BYTES + b"\r\n")
                await writer.drain()
                await asyncio.sleep(gap)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass
        done.set()

    task = asyncio.create_task(upload())
    events: list[tuple[str, dict, bool]] = []
    status = await asyncio.wait_for(reader.readline(), 20)
    assert b" 200" in status, status
    headers = {}
    while (line := await asyncio.wait_for(reader.readline(), 20)) not in (b"\r\n", b""):
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"

    async def body_pieces():
        while True:
            if not chunked:
                piece = await asyncio.wait_for(reader.read(65536), 20)
                if not piece:
                    return
                yield piece
                continue
            size_line = await asyncio.wait_for(reader.readline(), 20)
            if not size_line:
                return
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            piece = await asyncio.wait_for(reader.readexactly(size + 2), 20)
            yield piece[:-2]

    buf = b""
    try:
        async for piece in body_pieces():
            buf += piece
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                fields = dict(ln.split(b":", 1) for ln in block.strip(b"\n").split(b"\n") if b":" in ln)
                if b"event" not in fields:
                    continue
                event = fields[b"event"].strip().decode()
                events.append((event, json.loads(fields[b"data"]), done.is_set()))
                if on_event:
                    on_event(event, len(events))
                if event == "complete":
                    return events
                if event == "error" and events[-1][1].get("error", {}).get("code") == "SERVICE_UNAVAILABLE":
                    return events
    finally:
        task.cancel()
        writer.close()
    return events


def test_sse_events_arrive_while_the_upload_is_still_going(edge_pair) -> None:
    events = asyncio.run(sse_upload(edge_pair.edge.port, frames=12, gap=0.1))
    kinds = [e for e, _, _ in events]
    assert kinds == ["audio"] * 12 + ["complete"]
    # the first events came back before the client had finished sending
    assert not events[0][2] and not events[5][2]
    assert events[-1][1]["totalChunks"] == 12
    assert [d["index"] for e, d, _ in events if e == "audio"] == list(range(12))


def test_ws_streaming_through_the_edge(edge_pair) -> None:
    async def run() -> None:
        async with websockets.connect(edge_pair.edge.ws_url + "/ws") as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "connected"
            await ws.send(json.dumps({"type": "ping", "id": "p"}))
            assert json.loads(await ws.recv())["type"] == "pong"
            await ws.send(json.dumps({"type": "stream", "id": "s", "data": {"metricsEvery": 1}}))
            assert json.loads(await ws.recv())["type"] == "stream.started"
            for _ in range(5):
                await ws.send(FRAME_BYTES)
                got = [await ws.recv(), await ws.recv()]
                binary = [m for m in got if isinstance(m, bytes)]
                text = [json.loads(m) for m in got if isinstance(m, str)]
                assert len(binary) == 1 and len(binary[0]) == 3840
                assert text[0]["type"] == "audio"
            await ws.send(json.dumps({"type": "stop", "id": "x"}))
            assert json.loads(await ws.recv())["type"] == "stream.complete"

    asyncio.run(run())


def test_ws_handshake_refusal_passes_through(edge_pair) -> None:
    async def run() -> tuple[int, dict]:
        try:
            async with websockets.connect(edge_pair.edge.ws_url + "/ws?sessionId=bad%20id"):
                return 101, {}
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code, json.loads(exc.response.body)

    status, body = asyncio.run(run())
    assert status == 400 and body["error"]["code"] == "INVALID_REQUEST"


def test_ws_levels_through_the_edge(edge_pair) -> None:
    async def run() -> None:
        async with websockets.connect(edge_pair.edge.ws_url + "/ws/levels") as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert first["type"] in ("all_levels", "keepalive")
            await ws.send(json.dumps({"type": "ping"}))
            for _ in range(20):
                if json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong":
                    return
            pytest.fail("no pong through the edge")

    asyncio.run(run())


def test_range_previews_through_the_edge(edge_pair) -> None:
    archive = edge_pair.us.data_dir / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    sf.write(archive / "take.wav", np.zeros(48000, dtype="float32"), 48000, subtype="PCM_16")
    data = (archive / "take.wav").read_bytes()
    url = edge_pair.edge.url + "/api/stream/preview/take.wav"
    r = httpx.get(url, headers={"Range": "bytes=100-1123"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 100-1123/{len(data)}"
    assert r.content == data[100:1124]
    assert r.headers["x-aimixer-origin"] == "us-west"
    assert r.headers["accept-ranges"] == "bytes"
    bad = httpx.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
    assert bad.status_code == 416
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == data


def test_broken_upstream_ends_streams_with_the_spec_error(pair) -> None:
    edge = pair.edge

    # SSE: the origin serving it (us-west) dies after a few events; the client gets `error`
    def kill_after(event: str, n: int) -> None:
        if n == 3:
            pair.us.kill9()

    events = asyncio.run(sse_upload(edge.port, frames=40, gap=0.05, on_event=kill_after))
    assert [e for e, _, _ in events][:3] == ["audio"] * 3
    last_event, last, _ = events[-1]
    assert last_event == "error"
    assert last["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert last["error"]["details"]["origin"] == "us-west"

    # WebSockets: both now open on eu-west, which dies too
    async def ws_break() -> list[tuple[list, int, str]]:
        socks = [
            await websockets.connect(edge.ws_url + "/ws", additional_headers={"X-AIMixer-Region": "eu-west"}),
            await websockets.connect(edge.ws_url + "/ws/levels"),
        ]
        firsts = [await asyncio.wait_for(ws.recv(), 10) for ws in socks]
        pair.eu.kill9()
        out = []
        for ws, first in zip(socks, firsts, strict=True):
            msgs = [first]
            try:
                while True:
                    msgs.append(await asyncio.wait_for(ws.recv(), 15))
            except websockets.exceptions.ConnectionClosed as exc:
                out.append((msgs, exc.rcvd.code if exc.rcvd else -1, exc.rcvd.reason if exc.rcvd else ""))
        return out

    t0 = time.monotonic()
    (ws_msgs, ws_code, _), (lv_msgs, lv_code, lv_reason) = asyncio.run(ws_break())
    assert ws_code == 1011
    err = json.loads(ws_msgs[-1])
    assert err["type"] == "error" and err["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert lv_code == 1011 and "origin" in lv_reason
    assert all(json.loads(m)["type"] != "error" for m in lv_msgs)  # the studio socket: the close only
    assert time.monotonic() - t0 < 30
