"""File jobs without Redis: the local process pool, the API's answers to bad input, and the
reaper that never leaves a job running (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import pytest
import soundfile as sf

from origin.jobs.store import MAX_ATTEMPTS, JobStore
from origin.migrations import app_schemas
from origin.storage import open_storage

pytestmark = pytest.mark.timeout(120)


def _wav(seconds: float = 2.0, sr: int = 44100, channels: int = 2) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.4 * np.sin(2 * np.pi * 220 * t)
    buf = io.BytesIO()
    sf.write(buf, np.stack([x] * channels, axis=1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _upload(data: bytes, **fields: str) -> dict:
    from quart.datastructures import FileStorage

    return {"files": {"file": FileStorage(io.BytesIO(data), filename="song.wav")}, "form": fields}


async def _until_final(client, job_id: str, timeout: float = 90.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = await (await client.get(f"/jobs/{job_id}")).get_json()
        if job["state"] in ("complete", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['state']}")


async def test_local_pool_process_and_analysis_jobs(client):
    r = await client.post("/jobs", **_upload(_wav(), config='{"compressor": {"ratio": 4}}', format="flac"))
    assert r.status_code == 202, await r.get_data()
    job = await r.get_json()
    assert (
        job["state"] == "queued"
        and job["kind"] == "process"
        and r.headers["Location"] == f"/jobs/{job['id']}"
    )
    done = await _until_final(client, job["id"])
    assert done["state"] == "complete" and done["progress"] == 1.0 and done["attempts"] == 1, done
    audio = await client.get(f"/jobs/{job['id']}/result")
    assert audio.status_code == 200 and audio.mimetype == "audio/flac"
    y, sr = sf.read(io.BytesIO(await audio.get_data()))
    assert sr == 44100 and y.shape == (88200, 2)  # same length and channels as the input
    metrics = await (
        await client.get(f"/jobs/{job['id']}/result", headers={"Accept": "application/json"})
    ).get_json()
    assert metrics["appliedSettings"]["compressor"]["ratio"] == 4 and metrics["output"]["peak"] <= 0.0

    r = await client.post("/jobs", **_upload(_wav(1.0), analysis="true"))
    a = await _until_final(client, (await r.get_json())["id"])
    assert a["state"] == "complete" and a["kind"] == "analysis"
    res = await (await client.get(f"/jobs/{a['id']}/result")).get_json()
    assert res["loudness"]["peak"] == pytest.approx(20 * np.log10(0.4), abs=0.1)

    assert (await client.delete(f"/jobs/{job['id']}")).status_code == 204
    r = await client.get(f"/jobs/{job['id']}")
    assert r.status_code == 404 and (await r.get_json())["error"]["code"] == "JOB_NOT_FOUND"


async def test_job_api_refuses_bad_input(make_app):
    async with make_app(job_max_bytes=200_000, job_max_seconds=1.5) as app:
        c = app.test_client()

        async def err(resp, status):
            assert resp.status_code == status, (resp.status_code, await resp.get_data())
            return (await resp.get_json())["error"]

        assert (await err(await c.post("/jobs", json={"file": "x"}), 415))["code"] == "UNSUPPORTED_MEDIA_TYPE"
        e = await err(await c.post("/jobs", form={"config": "{}"}, files={}), 400)
        assert e["details"]["field"] == "file"
        e = await err(await c.post("/jobs", **_upload(b"RIFF not audio at all" * 10)), 400)
        assert e["code"] == "INVALID_AUDIO_FILE"
        e = await err(
            await c.post(
                "/jobs", **_upload(_wav(1.0, sr=8000, channels=1), config='{"compressor": {"ratio": 99}}')
            ),
            400,
        )
        assert e["code"] == "INVALID_PARAMETER" and "compressor.ratio" in e["message"]
        e = await err(
            await c.post("/jobs", **_upload(_wav(1.0, sr=8000, channels=1), config="[" * 100000)), 400
        )
        assert "config" in e["message"]
        e = await err(await c.post("/jobs", **_upload(_wav(1.0, sr=8000, channels=1), format="mp3")), 400)
        assert e["details"]["field"] == "format"
        e = await err(await c.post("/jobs", **_upload(_wav(2.0, sr=8000, channels=1))), 400)
        assert e["code"] == "INVALID_AUDIO_FILE" and e["details"]["maxSeconds"] == 1.5
        r = await c.post("/jobs", **_upload(_wav(10.0)))
        assert r.status_code == 413
        for bad in ("job_1", "../../etc/passwd", "job_" + "0" * 24):
            assert (await c.get(f"/jobs/{bad}")).status_code == 404
        assert list(app.extensions["settings"].jobs_dir.iterdir()) == []  # nothing left behind


def test_reaper_requeues_then_fails_a_silent_job(storage_target):
    with open_storage(storage_target, app_schemas()) as st:
        store = JobStore(st)
        store.create("job_a", "o", "process", {}, "x.wav", "wav")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert store.claim("job_a", f"w{attempt}") is not None
            st.execute("UPDATE jobs SET heartbeat_at=? WHERE id='job_a'", (time.time() - 100,))
            requeued, failed = store.reap(30)
            if attempt < MAX_ATTEMPTS:
                assert requeued == ["job_a"] and failed == []
                assert store.get("job_a")["state"] == "queued"
            else:
                assert requeued == [] and failed[0]["id"] == "job_a"
        job = store.get("job_a")
        assert job["state"] == "failed" and "lost" in job["error"] and job["attempts"] == MAX_ATTEMPTS
        # a live worker (fresh heartbeat) is left alone
        store.create("job_b", "o", "process", {}, "x.wav", "wav")
        store.claim("job_b", "w")
        assert store.reap(30) == ([], []) and store.get("job_b")["state"] == "running"


async def test_delete_cancels_a_running_job(client, settings):
    buf = io.BytesIO()  # three minutes of near-silence: small to upload, seconds of work
    sf.write(buf, np.full((48000 * 180, 1), 1e-4, dtype=np.float32), 48000, format="FLAC", subtype="PCM_16")
    job = await (await client.post("/jobs", **_upload(buf.getvalue()))).get_json()
    end = time.monotonic() + 60
    while (await (await client.get(f"/jobs/{job['id']}")).get_json())["state"] != "running":
        assert time.monotonic() < end, "the job never started"
        await asyncio.sleep(0.05)
    assert (await client.delete(f"/jobs/{job['id']}")).status_code == 204
    assert (await client.get(f"/jobs/{job['id']}")).status_code == 404
    await asyncio.sleep(HEARTBEAT_WAIT)
    assert not (settings.jobs_dir / job["id"]).exists()
    # the pool is free again: the next job runs to the end
    nxt = await (await client.post("/jobs", **_upload(_wav(0.5)))).get_json()
    assert (await _until_final(client, nxt["id"]))["state"] == "complete"


HEARTBEAT_WAIT = 2.5  # more than one heartbeat: the worker has seen the cancellation
