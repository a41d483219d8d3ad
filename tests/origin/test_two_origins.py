"""Two real ``aimixer serve`` processes on one PostgreSQL database and one Redis: the exact rate
limit across both, a session alternating between them, config propagation, /stats totals, and
the studio leader killed with ``kill -9`` and taken over without overwriting a file."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from aimixer_dsp.mixer import MixerSession
from origins import Origin

from origin.cli import main

sys.path.insert(0, str(Path(__file__).parent / "studio"))
from studio_testutil import free_udp_port, unique_group, wait_for  # noqa: E402

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def _pair(tmp_path: Path, postgres_server, redis_server, **env: str) -> tuple[list[Origin], dict[str, str]]:
    db = postgres_server.create_database(f"o_{uuid.uuid4().hex[:12]}")
    n = int(uuid.uuid4().int % (redis_server.databases - 1)) + 1
    import redis

    rurl = f"{redis_server.url}/{n}"
    with redis.Redis.from_url(rurl) as r:
        r.flushdb()
    base = {
        "AIMIXER_DATABASE_URL": db,
        "AIMIXER_REDIS_URL": rurl,
        "AIMIXER_ARCHIVE_ROOT": str(tmp_path / "archive"),
        "AIMIXER_STUDIO_SAP": "false",
        "AIMIXER_LOG_LEVEL": "INFO",
        "AIMIXER_DEV_MODE": "true",
        **env,
    }
    origins = []
    try:
        for name in ("a", "b"):
            origins.append(Origin(base, tmp_path / name).start())
    except BaseException:
        for o in origins:
            o.stop()
        raise
    return origins, base


def _key(base: dict[str, str], tmp_path: Path, tier: str, capsys) -> str:
    capsys.readouterr()
    url = base["AIMIXER_DATABASE_URL"]
    assert (
        main(
            [
                "keys",
                "--data-dir",
                str(tmp_path),
                "--database-url",
                url,
                "create",
                "--name",
                tier,
                "--tier",
                tier,
            ]
        )
        == 0
    )
    return capsys.readouterr().out.splitlines()[0].strip()


def test_two_origins_share_limits_sessions_config_and_stats(tmp_path, postgres_server, redis_server, capsys):
    (a, b), base = _pair(tmp_path, postgres_server, redis_server, AIMIXER_RATE_LIMIT_STANDARD="6")
    try:
        std = {"Authorization": f"Bearer {_key(base, tmp_path, 'standard', capsys)}"}
        pre = {"Authorization": f"Bearer {_key(base, tmp_path, 'premium', capsys)}"}
        ca, cb = httpx.Client(base_url=a.url, timeout=30), httpx.Client(base_url=b.url, timeout=30)

        # exactly 6 requests a minute for the key, whichever origin answers
        codes = [(ca if i % 2 else cb).get("/config", headers=std).status_code for i in range(10)]
        if codes.count(200) < 6:  # a minute boundary fell inside the loop: the count restarted
            codes = [(ca if i % 2 else cb).get("/config", headers=std).status_code for i in range(10)]
        assert codes == [200] * 6 + [403] * 4

        # one session, frames alternating between the origins == one MixerSession
        rng = np.random.default_rng(11)
        ref = MixerSession()
        cfg = {"compressor": {"ratio": 3, "threshold": -20}, "genre": "speech"}
        for i in range(16):
            f = (rng.standard_normal(960) * 0.2).astype(np.float32)
            r = (ca if i % 2 else cb).post(
                "/process-audio",
                json={"audioBuffer": f.tolist(), "config": cfg, "sessionId": "two"},
                headers=pre,
            )
            assert r.status_code == 200, r.text
            want = ref.process(f, cfg)["processedBuffer"]
            np.testing.assert_allclose(r.json()["processedBuffer"], want, atol=1e-6)

        # PUT /config on a is what b uses next
        assert ca.put("/config", json={"dsp": {"eq": {"high": 4}}}, headers=pre).status_code == 200
        seen = wait_for(lambda: cb.get("/config", headers=pre).json()["dsp"]["eq"]["high"] == 4, timeout=10)
        assert seen

        # /stats adds up both origins' work (each flushes to the shared database every second)
        total = wait_for(
            lambda: (lambda s: s if s["processing"]["totalSamples"] == 16 * 960 else None)(
                ca.get("/stats", headers=pre).json()
            ),
            timeout=10,
        )
        assert total, ca.get("/stats", headers=pre).json()
    finally:
        for o in (a, b):
            o.stop()


def _digest(path: Path, n: int) -> str:
    """SHA-256 of the audio bytes up to offset ``n`` (the WAV header is rewritten as it grows)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        pos = 12
        while pos + 8 <= len(head):
            cid, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
            if cid == b"data":
                break
            pos += 8 + size + (size & 1)
        off = pos + 8
        fh.seek(off)
        return hashlib.sha256(fh.read(max(0, n - off))).hexdigest()


def _parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def test_studio_leader_killed_and_taken_over(tmp_path, postgres_server, redis_server, start_sender):
    from websockets.sync.client import connect

    (a, b), _ = _pair(tmp_path, postgres_server, redis_server)
    try:
        group, port = unique_group(), free_udp_port()
        start_sender(group, port, "tone")
        cb = httpx.Client(base_url=b.url, timeout=30)
        r = cb.put(
            "/api/recorders/1/config", json={"multicast_addr": group, "port": port, "interface": "127.0.0.1"}
        )
        assert r.status_code == 200, r.text
        r = cb.post("/api/recorders/1/start")
        assert r.status_code == 200, r.text
        assert r.json()["recorder"]["state"] == "recording"

        # exactly one origin runs the worker; both show it
        def worker_pid() -> int | None:
            for e in cb.get("/api/recorders/1/events").json()["events"]:
                if e["kind"] == "worker_started":
                    return int(re.search(r"pid (\d+)", e["message"]).group(1))
            return None

        pid = wait_for(worker_pid, timeout=15)
        assert pid
        leader = {a.proc.pid: a, b.proc.pid: b}[_parent_pid(pid)]
        follower = b if leader is a else a
        cf = httpx.Client(base_url=follower.url, timeout=30)
        first = wait_for(lambda: cf.get("/api/recorders/1").json()["current_file"], timeout=15)
        assert first, cf.get("/api/recorders/1").json()

        # /ws/levels on the follower carries the leader's levels (Redis pub/sub)
        with connect(f"{follower.ws_url}/ws/levels", open_timeout=10) as ws:
            end = time.monotonic() + 15
            loud = False
            while time.monotonic() < end and not loud:
                msg = json.loads(ws.recv(timeout=5))
                rec = next((x for x in msg.get("recorders", []) if x["recorder_id"] == 1), None)
                loud = bool(rec and rec["channels"] and max(c["level_db"] for c in rec["channels"]) > -40)
        assert loud, "no levels on the follower's /ws/levels"

        first_path = Path(first)
        time.sleep(1.0)
        size = first_path.stat().st_size
        prefix = _digest(first_path, size)
        leader.kill9()

        # the follower takes over within a few seconds and records on (a new file, or the same
        # one appended to, per the archive rules) without overwriting what was written
        def recording_again():
            j = cf.get("/api/recorders/1").json()
            new = worker_pid()
            return j if j["state"] == "recording" and j["current_file"] and new not in (None, pid) else None

        again = wait_for(recording_again, timeout=30, step=0.2)
        assert again, follower.log()[-3000:]
        assert _parent_pid(worker_pid()) == follower.proc.pid
        current = Path(again["current_file"])
        grown = wait_for(
            lambda: current.stat().st_size > (size if current == first_path else 0) + 48000, timeout=15
        )
        assert grown, "nothing was recorded after the take-over"
        assert first_path.stat().st_size >= size
        assert _digest(first_path, size) == prefix, "the first file was overwritten"
        assert cf.post("/api/recorders/1/stop").status_code == 200
    finally:
        for o in (a, b):
            o.stop()


@pytest.fixture
def start_sender():
    import signal
    import subprocess

    procs: list[subprocess.Popen] = []

    def _start(group: str, port: int, program: str = "tone") -> subprocess.Popen:
        p = subprocess.Popen(
            [sys.executable, "-m", "origin.cli", "sender", "--dest", f"{group}:{port}", "--interface", "127.0.0.1",
             "--program", program],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        procs.append(p)
        return p

    yield _start
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def _worker(base: dict[str, str], log_path: Path, *extra: str):
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
    env.update(base)
    log = open(log_path, "ab")  # noqa: SIM115 - closed right after the start
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "origin.cli", "worker", *extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()


def test_job_runs_on_a_worker_and_survives_a_killed_worker(
    tmp_path, postgres_server, redis_server, serve_app
):
    import io
    import signal

    import soundfile as sf

    sys.path.insert(0, str(Path(__file__).parent / "mixer_api"))
    from test_webhooks_api import receiver

    jobs_dir = tmp_path / "jobs"
    (a, b), base = _pair(
        tmp_path,
        postgres_server,
        redis_server,
        AIMIXER_JOBS_DIR=str(jobs_dir),
        AIMIXER_JOB_HEARTBEAT_TIMEOUT="3",
    )
    rapp, got = receiver()
    rsrv = serve_app(rapp)
    workers = []
    try:
        ca, cb = httpx.Client(base_url=a.url, timeout=60), httpx.Client(base_url=b.url, timeout=60)
        assert (
            cb.post("/webhooks", json={"url": f"{rsrv.url}/hook", "events": ["job.complete"]}).status_code
            == 201
        )
        buf = io.BytesIO()  # two minutes of near-silence: a small FLAC, seconds of work
        sf.write(
            buf, np.full((48000 * 120, 1), 1e-4, dtype=np.float32), 48000, format="FLAC", subtype="PCM_16"
        )
        r = ca.post("/jobs", files={"file": ("long.flac", buf.getvalue())}, data={"format": "flac"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]

        # the first worker takes the job; it is killed (with its work horse) while it runs
        workers.append(_worker(base, tmp_path / "worker1.log"))
        running = wait_for(
            lambda: cb.get(f"/jobs/{job_id}").json()["state"] == "running", timeout=60, step=0.05
        )
        assert running, (tmp_path / "worker1.log").read_text()
        pid = workers[0].pid  # RQ's work horse runs in its own session: kill it by pid too
        horses = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for p in [pid, *map(int, horses)]:
            os.kill(p, signal.SIGKILL)
        workers[0].wait(10)
        requeued = wait_for(
            lambda: (lambda j: j if j["state"] == "queued" else None)(ca.get(f"/jobs/{job_id}").json()),
            timeout=30,
        )
        assert requeued and "lost" in requeued["error"], ca.get(f"/jobs/{job_id}").json()

        # a second worker finishes it
        workers.append(_worker(base, tmp_path / "worker2.log"))
        done = wait_for(
            lambda: (lambda j: j if j["state"] in ("complete", "failed") else None)(
                cb.get(f"/jobs/{job_id}").json()
            ),
            timeout=120,
            step=0.2,
        )
        assert done and done["state"] == "complete" and done["attempts"] == 2, (
            done,
            (tmp_path / "worker2.log").read_text()[-2000:],
        )
        audio = cb.get(f"/jobs/{job_id}/result")
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/flac"
        assert sf.info(io.BytesIO(audio.content)).frames == 48000 * 120
        assert wait_for(lambda: got, timeout=15), "no job.complete webhook"
        payload = json.loads(got[0]["body"])
        assert payload["event"] == "job.complete" and payload["data"]["jobId"] == job_id
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
                try:
                    w.wait(15)
                except Exception:
                    os.killpg(w.pid, signal.SIGKILL)
        for o in (a, b):
            o.stop()


def test_studio_with_several_workers_in_one_origin(tmp_path, postgres_server, redis_server):
    """``--workers 2`` with Redis: both worker processes serve the studio API, one runs recorders."""
    env = {
        "AIMIXER_DATABASE_URL": postgres_server.create_database(f"w_{uuid.uuid4().hex[:12]}"),
        "AIMIXER_REDIS_URL": f"{redis_server.url}/{int(uuid.uuid4().int % (redis_server.databases - 1)) + 1}",
        "AIMIXER_DEV_MODE": "true",
        "AIMIXER_STUDIO_SAP": "false",
        "AIMIXER_ARCHIVE_ROOT": str(tmp_path / "archive"),
    }
    o = Origin(env, tmp_path / "w", "--workers", "2").start()
    try:
        c = httpx.Client(base_url=o.url, timeout=30)
        cfg = {"multicast_addr": unique_group(), "port": free_udp_port(), "interface": "127.0.0.1"}
        assert c.put("/api/recorders/1/config", json=cfg).status_code == 200
        r = c.post("/api/recorders/1/start")
        assert r.status_code == 200, r.text
        # new connections spread over both worker processes: every one shows the same recorder
        time.sleep(0.5)  # one levels tick: the leader's report is everywhere
        states = [httpx.get(f"{o.url}/api/recorders/1", timeout=30).json()["state"] for _ in range(8)]
        assert states == ["recording"] * 8
        kinds = [e["kind"] for e in c.get("/api/recorders/1/events").json()["events"]]
        assert kinds.count("worker_started") == 1
        assert c.post("/api/recorders/1/stop").status_code == 200
        stopped = wait_for(
            lambda: all(
                httpx.get(f"{o.url}/api/recorders/1", timeout=30).json()["state"] == "stopped"
                for _ in range(4)
            ),
            timeout=10,
        )
        assert stopped  # the leader's report reaches every worker within a levels tick
    finally:
        o.stop()
