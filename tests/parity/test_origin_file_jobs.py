"""The origin twins of the JS SDK's ``processFile`` / ``analyzeFile`` (Node, a real origin): where
the origin has file jobs they run as ``POST /jobs`` and equal ``aimixer process`` and the wasm
path's renderer (``aimixer_dsp.render``) within 1e-5 — stereo, linked, with a loudness target and
with genre ``auto``; progress arrives; an aborted signal deletes the job; finished jobs are
deleted too. With the jobs routes answering 404 (the same real server, the SDK's fetch pointed
at a path it does not have) the twin streams through ``/stream-audio``."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import soundfile as sf
from aimixer_dsp.render import render

from origin.commands.analyze import analyze_file
from origin.commands.process import process_file

pytestmark = pytest.mark.node

SR = 48000
SECONDS = 4.0

RUNS = [
    {"name": "target", "config": {"genre": "jazz", "compressor": {"ratio": 5}}, "targetLufs": "streaming"},
    {"name": "custom", "config": None, "targetLufs": -20, "truePeak": -2},
    {"name": "auto", "config": {"genre": "auto"}, "targetLufs": -16},
    {"name": "analyze", "kind": "analyze"},
    {"name": "cancel", "kind": "cancel", "config": {"genre": "rock"}, "targetLufs": -14},
    {"name": "bad_target", "kind": "error", "config": None, "targetLufs": "loud"},
    {"name": "bad_ratio", "kind": "error", "config": {"compressor": {"ratio": 99}}},
    {"name": "silent", "kind": "error", "silent": True, "config": None, "targetLufs": -14},
    {"name": "stream_mono", "channels": 1, "noJobs": True, "config": {"genre": "speech", "eq": {"high": 4}}},
]


def _signal(channels: int, seconds: float, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    cols = []
    for c in range(channels):
        burst = 0.3 + 0.7 * (np.sin(2 * np.pi * 0.7 * t + c) > 0)
        cols.append(
            (0.5 - 0.15 * c) * np.sin(2 * np.pi * 140 * (c + 1) * t) * burst + 0.03 * rng.standard_normal(n)
        )
    return np.stack(cols, 1).astype(np.float32)


@pytest.fixture(scope="module")
def node_run(support, origin_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("origin-jobs")
    x = _signal(2, SECONDS)
    x.T.copy().tofile(tmp / "in.f32")
    sf.write(tmp / "in.wav", x, SR, subtype="FLOAT")
    sf.write(tmp / "mono.wav", x[:, :1], SR, subtype="FLOAT")
    job = {"raw": str(tmp / "in.f32"), "channels": 2, "frames": x.shape[0], "sampleRate": SR,
           "runs": RUNS, "out": str(tmp)}  # fmt: skip
    (tmp / "job.json").write_text(json.dumps(job))
    env = {
        **os.environ,
        "AIMIXER_BASE_URL": origin_server.url,
        "AIMIXER_API_KEY": origin_server.api_key or "",
    }
    proc = subprocess.run(
        ["node", str(support.ROOT / "tests" / "node" / "sdk_origin_jobs.mjs"), str(tmp / "job.json")],
        cwd=support.ROOT, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp / "summary.json").read_text())

    def audio(name: str, channels: int = 2) -> np.ndarray:
        return np.fromfile(tmp / f"{name}.f32", dtype=np.float32).reshape(channels, -1).T.astype(np.float64)

    return {"x": x, "tmp": tmp, "summary": summary, "audio": audio, "server": origin_server}


def _paths(run: dict, method: str) -> list:
    return [p for m, p in run["requests"] if m == method]


def _cli(tmp, src: str, name: str, config: dict, genre, normalize) -> tuple:
    dst = tmp / f"cli-{name}.wav"
    res = process_file(str(tmp / src), str(dst), config, genre, progress=False, normalize=normalize)
    y, _ = sf.read(dst, dtype="float64", always_2d=True)
    return y, res


@pytest.mark.parametrize(
    ("name", "config", "genre", "normalize", "target", "peak"),
    [
        ("target", {"compressor": {"ratio": 5}}, "jazz", (-14.0, -1.0), "streaming", None),
        ("custom", {}, None, (-20.0, -2.0), -20, -2),
    ],
)
def test_jobs_process_file_equals_cli_and_wasm_renderer(
    node_run, name, config, genre, normalize, target, peak
):
    run = node_run["summary"][name]
    # the probe (does the origin have /jobs?) and the upload; nothing streamed
    assert _paths(run, "POST") == ["/jobs", "/jobs"] and not any(
        "/stream-audio" in p for _, p in run["requests"]
    )
    got = node_run["audio"](name)
    want, cli = _cli(node_run["tmp"], "in.wav", name, config, genre, normalize)
    assert got.shape == want.shape == node_run["x"].shape
    assert np.abs(got - want).max() <= 1e-5
    x = node_run["x"]
    spec = next(r for r in RUNS if r["name"] == name)
    wasm, wrep = render(
        [x[:, 0].tolist(), x[:, 1].tolist()], SR, spec["config"], target=target, true_peak=peak
    )
    assert np.abs(got - np.array(wasm).T).max() <= 1e-5
    rep = run["report"]
    assert rep["path"] == "origin" and rep["linked"] is True
    assert rep["target"]["gainDb"] == pytest.approx(wrep["target"]["gainDb"], abs=1e-4)
    assert (
        rep["target"]["ceiling"] == wrep["target"]["ceiling"]
        and rep["target"]["lufs"] == wrep["target"]["lufs"]
    )
    assert rep["target"]["name"] == wrep["target"]["name"]
    for side in ("input", "output"):
        for k in ("peak", "rms", "lufs", "lra"):
            assert rep[side][k] == pytest.approx(wrep[side][k], abs=1e-4), (side, k)
    assert rep["appliedSettings"] == json.loads(json.dumps(wrep["appliedSettings"]))


def test_jobs_auto_genre_equals_cli(node_run) -> None:
    run = node_run["summary"]["auto"]
    want, cli = _cli(node_run["tmp"], "in.wav", "auto", {}, "auto", (-16.0, -1.0))
    assert run["report"]["genre"] == cli["genre"]
    assert run["report"]["confidence"] == pytest.approx(cli["confidence"], abs=1e-6)
    assert np.abs(node_run["audio"]("auto") - want).max() <= 1e-5


def test_progress_arrives_and_finished_jobs_are_deleted(node_run) -> None:
    for name in ("target", "custom", "auto", "analyze"):
        run = node_run["summary"][name]
        fr = [p["fraction"] for p in run["progress"]]
        assert len(fr) >= 2 and fr == sorted(fr) and fr[-1] == 1, (name, fr)
        assert {p["phase"] for p in run["progress"]} <= {"render", "loudness", "analyse"}
        assert len(run["jobIds"]) == 1 and run["jobStatusAfter"] == [404], name
        assert _paths(run, "DELETE") == [f"/jobs/{run['jobIds'][0]}"]
    jobs_dir = node_run["server"].settings.jobs_dir
    left = [p.name for p in jobs_dir.iterdir()] if jobs_dir.exists() else []
    assert left == []


def test_abort_deletes_the_job(node_run) -> None:
    run = node_run["summary"]["cancel"]
    assert run["error"]["code"] == "CANCELLED"
    assert len(run["jobIds"]) == 1
    job_id = run["jobIds"][0]
    assert f"/jobs/{job_id}" in _paths(run, "DELETE")
    assert run["jobStatusAfter"] == [404]
    assert not (node_run["server"].settings.jobs_dir / job_id).exists()


def test_bad_input_is_the_apis_error(node_run) -> None:
    s = node_run["summary"]
    assert (
        s["bad_target"]["error"]["code"] == "INVALID_PARAMETER" and s["bad_target"]["error"]["status"] == 400
    )
    assert "loud" in s["bad_target"]["error"]["message"]
    assert s["bad_ratio"]["error"]["code"] == "INVALID_PARAMETER"
    assert "ratio" in s["bad_ratio"]["error"]["message"]


def test_jobs_analyze_file_equals_cli(node_run) -> None:
    run = node_run["summary"]["analyze"]
    a = run["result"]
    cli = analyze_file(str(node_run["tmp"] / "in.wav"))
    for k in ("peak", "rms", "lufs", "momentaryMax", "shortTermMax", "lra", "truePeak"):
        assert a[k] == pytest.approx(cli[k], abs=1e-5), k
    assert a["path"] == "origin" and a["curve"] is None and a["channels"] == 2
    assert a["overview"]["buckets"] == 1000
    assert a["classification"]["genre"] and len(a["classification"]["timeline"]) >= 2


def test_origin_without_jobs_streams(node_run) -> None:
    run = node_run["summary"]["stream_mono"]
    posts = _paths(run, "POST")
    assert posts[0] == "/jobs" and "/stream-audio" in posts
    want, cli = _cli(node_run["tmp"], "mono.wav", "stream", {"eq": {"high": 4}}, "speech", None)
    got = node_run["audio"]("stream_mono", 1)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5
    assert run["report"]["path"] == "origin" and "jobId" not in run["report"]


def test_a_failed_job_rejects_with_its_reason_and_is_deleted(node_run) -> None:
    run = node_run["summary"]["silent"]
    assert run["error"]["code"] == "JOB_FAILED" and "silent" in run["error"]["message"]
    assert run["error"]["details"]["state"] == "failed"
    assert len(run["jobIds"]) == 1 and run["jobStatusAfter"] == [404]
