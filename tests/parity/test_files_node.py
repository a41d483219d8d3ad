"""``mixer.processFile`` / ``analyzeFile`` / ``controls`` of the JS SDK in Node: the wasm path
(Pyodide in-process) equals ``aimixer process`` / ``aimixer analyze`` and CPython's
``aimixer_dsp.render`` within 1e-5; the origin path (file jobs: test_origin_file_jobs.py) equals
the CLI for mono; cancellation, bad input and the controls from the one declaration."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import soundfile as sf
from aimixer_dsp.presets import controls
from aimixer_dsp.render import render

from origin.commands.analyze import analyze_file
from origin.commands.process import process_file

pytestmark = pytest.mark.node

SR = 48000
SECONDS = 4.0


def _signal(channels: int, seconds: float, seed: int = 7) -> np.ndarray:
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


RUNS = [
    {"name": "rock", "path": "wasm", "config": {"genre": "rock", "compressor": {"ratio": 6}}},
    {"name": "target", "path": "wasm", "config": {"genre": "jazz"}, "targetLufs": "streaming"},
    {"name": "custom", "path": "wasm", "config": None, "targetLufs": -20, "truePeak": -2},
    # blocks shorter than the loudness pass's latency (104 frames): its tail takes two finish() calls
    {
        "name": "small_block",
        "path": "wasm",
        "config": {"genre": "jazz"},
        "targetLufs": "streaming",
        "block": 100,
        "frames": 9600,
    },
    {"name": "auto", "path": "wasm", "config": {"genre": "auto"}},
    {"name": "analyze", "path": "wasm", "kind": "analyze"},
    {"name": "cancel", "path": "wasm", "kind": "cancel", "config": {"genre": "rock"}},
    {"name": "bad_target", "path": "wasm", "kind": "error", "config": None, "targetLufs": "loud"},
    {"name": "bad_ratio", "path": "wasm", "kind": "error", "config": {"compressor": {"ratio": 99}}},
    {"name": "nan", "path": "wasm", "kind": "error", "bad": "nan", "config": None},
    {"name": "controls", "path": "wasm", "kind": "controls"},
    {
        "name": "origin_mono",
        "path": "origin",
        "channels": 1,
        "config": {"genre": "speech", "eq": {"high": 4}},
    },
    {"name": "origin_controls", "path": "origin", "kind": "controls"},
]


@pytest.fixture(scope="module")
def node_run(support, origin_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("files")
    x = _signal(2, SECONDS)
    x.T.copy().tofile(tmp / "in.f32")
    sf.write(tmp / "in.wav", x, SR, subtype="FLOAT")
    sf.write(tmp / "mono.wav", x[:, :1], SR, subtype="FLOAT")
    job = {
        "raw": str(tmp / "in.f32"),
        "channels": 2,
        "frames": x.shape[0],
        "sampleRate": SR,
        "runs": RUNS,
        "out": str(tmp),
    }
    (tmp / "job.json").write_text(json.dumps(job))
    env = {
        **os.environ,
        "AIMIXER_BASE_URL": origin_server.url,
        "AIMIXER_API_KEY": origin_server.api_key or "",
    }
    proc = subprocess.run(
        ["node", str(support.ROOT / "tests" / "node" / "sdk_files.mjs"), str(tmp / "job.json")],
        cwd=support.ROOT, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp / "summary.json").read_text())

    def audio(name: str, channels: int = 2) -> np.ndarray:
        return np.fromfile(tmp / f"{name}.f32", dtype=np.float32).reshape(channels, -1).T.astype(np.float64)

    return {"x": x, "tmp": tmp, "summary": summary, "audio": audio}


def _cli(tmp, src: str, config: dict, genre: str | None) -> tuple:
    dst = tmp / f"cli-{genre}-{len(config)}.wav"
    res = process_file(str(tmp / src), str(dst), config, genre, progress=False)
    y, _ = sf.read(dst, dtype="float64", always_2d=True)
    return y, res


def test_wasm_process_file_equals_cli(node_run) -> None:
    want, cli = _cli(node_run["tmp"], "in.wav", {"compressor": {"ratio": 6}}, "rock")
    got = node_run["audio"]("rock")
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5
    s = node_run["summary"]["rock"]
    rep = s["report"]
    for side in ("input", "output"):
        for k in ("peak", "rms", "lufs", "lra"):
            assert rep[side][k] == pytest.approx(cli[side][k], abs=1e-5), (side, k)
    assert rep["appliedSettings"] == json.loads(json.dumps(cli["appliedSettings"]))
    assert s["phases"] == ["render"] and s["lastFraction"] == 1


@pytest.mark.parametrize(
    ("name", "target", "peak"),
    [("target", "streaming", None), ("custom", -20, -2), ("small_block", "streaming", None)],
)
def test_wasm_loudness_target_equals_cpython(node_run, name: str, target, peak) -> None:
    run = next(r for r in RUNS if r["name"] == name)
    x = node_run["x"][: run.get("frames")]
    want, rep = render(
        [x[:, 0].tolist(), x[:, 1].tolist()],
        SR,
        run["config"],
        target=target,
        true_peak=peak,
        block=run.get("block", 1 << 15),
    )
    got = node_run["audio"](name)
    assert np.abs(got - np.array(want).T).max() <= 1e-5
    s = node_run["summary"][name]
    assert s["report"]["target"]["gainDb"] == pytest.approx(rep["target"]["gainDb"], abs=1e-6)
    assert s["report"]["output"]["lufs"] == pytest.approx(rep["output"]["lufs"], abs=1e-4)
    assert s["phases"] == ["render", "loudness"]


def test_wasm_auto_genre_matches_cli(node_run) -> None:
    want, cli = _cli(node_run["tmp"], "in.wav", {}, "auto")
    s = node_run["summary"]["auto"]
    assert s["report"]["genre"] == cli["genre"]
    assert s["report"]["confidence"] == pytest.approx(cli["confidence"], abs=1e-4)
    assert len(s["report"]["classification"]["timeline"]) >= 2
    assert s["phases"][0] == "analyse" and "render" in s["phases"]
    assert np.abs(node_run["audio"]("auto") - want).max() <= 1e-5


def test_wasm_analyze_file_equals_cli(node_run) -> None:
    cli = analyze_file(str(node_run["tmp"] / "in.wav"))
    a = node_run["summary"]["analyze"]
    for k in ("peak", "rms", "lufs", "momentaryMax", "shortTermMax", "lra"):
        assert a[k] == pytest.approx(cli[k], abs=1e-5), k
    assert len(a["curve"]["shortTerm"]) == int(SECONDS * 10)
    assert a["overview"]["buckets"] == 1000 and len(a["overview"]["max"]) == 1000
    assert max(a["overview"]["max"]) == pytest.approx(float(node_run["x"].max()), abs=1e-6)
    assert a["classification"]["genre"] in controls()["genres"]
    assert a["voiceActivity"] is None


def test_cancel_and_bad_input(node_run) -> None:
    s = node_run["summary"]
    assert s["cancel"]["error"]["code"] == "CANCELLED"
    assert s["cancel"]["afterFrames"] == 4800
    assert (
        s["bad_target"]["error"]["code"] == "INVALID_PARAMETER"
        and "targetLufs" in s["bad_target"]["error"]["message"]
    )
    assert (
        s["bad_ratio"]["error"]["code"] == "INVALID_PARAMETER"
        and "compressor.ratio" in s["bad_ratio"]["error"]["message"]
    )
    assert s["nan"]["error"]["code"] == "INVALID_AUDIO"


def test_controls_come_from_the_package(node_run) -> None:
    s = node_run["summary"]
    want = json.loads(json.dumps(controls()))
    for name in ("controls", "origin_controls"):
        got = {k: v for k, v in s[name].items() if k not in ("progress", "phases", "lastFraction")}
        assert got == want


def test_origin_process_file_equals_cli_for_mono(node_run) -> None:
    want, cli = _cli(node_run["tmp"], "mono.wav", {"eq": {"high": 4}}, "speech")
    got = node_run["audio"]("origin_mono", 1)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5
    rep = node_run["summary"]["origin_mono"]["report"]
    assert rep["path"] == "origin"
    assert rep["output"]["lufs"] == pytest.approx(cli["output"]["lufs"], abs=0.05)
