"""File jobs with a loudness target (``POST /jobs`` ``target`` / ``targetLufs`` /
``truePeakCeiling``) against a real server: the job's output is ``aimixer process --target``'s,
its result carries the loudness before and after, and bad targets are 400s naming the field."""

from __future__ import annotations

import io
import time

import httpx
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from origin.commands.process import make_demo_clip, process_file

pytestmark = pytest.mark.timeout(180)

SR = 48000


@pytest.fixture(scope="module")
def demo_wav(tmp_path_factory) -> bytes:
    """Music with drum transients: reaching -14 LUFS under -1 dBTP needs the limiter."""
    path = make_demo_clip(tmp_path_factory.mktemp("demo") / "demo.wav", seconds=6.0)
    return path.read_bytes()


def _submit(client: httpx.Client, data: bytes, **fields: str) -> httpx.Response:
    return client.post("/jobs", files={"file": ("song.wav", data, "audio/wav")}, data=fields)


def _wait(client: httpx.Client, job_id: str, timeout: float = 150.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("complete", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_job_normalises_like_the_cli(live_server, demo_wav, tmp_path) -> None:
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        r = _submit(c, demo_wav, target="streaming", config='{"genre": "rock"}')
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["target"] == {"target": "streaming", "targetLufs": -14.0, "truePeakCeiling": -1.0}
        done = _wait(c, job["id"])
        assert done["state"] == "complete", done
        res = c.get(f"/jobs/{job['id']}/result", headers={"Accept": "application/json"}).json()
        audio = c.get(f"/jobs/{job['id']}/result")
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    norm = res["normalization"]
    assert norm["target"] == "streaming" and norm["targetLufs"] == -14.0 and norm["truePeakCeiling"] == -1.0
    assert norm["analysisPasses"] == 1
    # before/after loudness; the limiter took loudness away and the gain made up for it
    assert res["input"]["lufs"] < -20.0 and abs(res["output"]["lufs"] + 14.0) <= 0.5
    assert res["output"]["truePeak"] <= -1.0
    assert norm["gainDb"] - (-14.0 - norm["measuredLufs"]) > 0.5
    y, sr = sf.read(io.BytesIO(audio.content), always_2d=True)
    assert abs(pyloudnorm.Meter(sr).integrated_loudness(y) + 14.0) <= 0.5  # an independent meter
    # the same result as the CLI with the same settings
    src = tmp_path / "in.wav"
    src.write_bytes(demo_wav)
    cli = process_file(
        str(src), str(tmp_path / "cli.wav"), {}, "rock", progress=False, normalize=(-14.0, -1.0)
    )
    want, _ = sf.read(tmp_path / "cli.wav", always_2d=True)
    assert y.shape == want.shape and np.abs(y - want).max() <= 1e-5
    assert norm["gainDb"] == pytest.approx(cli["normalization"]["gainDb"], abs=1e-9)


def test_job_custom_target_and_ceiling(live_server, demo_wav) -> None:
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        r = _submit(c, demo_wav, targetLufs="-20", truePeakCeiling="-2.5", format="flac")
        assert r.status_code == 202, r.text
        assert r.json()["target"] == {"target": "custom", "targetLufs": -20.0, "truePeakCeiling": -2.5}
        done = _wait(c, r.json()["id"])
        assert done["state"] == "complete", done
        res = c.get(f"/jobs/{done['id']}/result?format=json").json()
        y, _ = sf.read(io.BytesIO(c.get(f"/jobs/{done['id']}/result").content), always_2d=True)
    assert abs(res["output"]["lufs"] + 20.0) <= 0.5 and res["output"]["truePeak"] <= -2.5
    assert np.abs(y).max() <= 10 ** (-2.5 / 20)
    # no target: no normalisation (and the job says so)
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        plain = _submit(c, demo_wav).json()
        assert plain["target"] is None
        done = _wait(c, plain["id"])
        assert "normalization" not in c.get(f"/jobs/{done['id']}/result?format=json").json()


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"target": "loud"}, "target", "not one of"),
        ({"target": "x" * 5000}, "target", "longer than"),
        ({"targetLufs": "nan"}, "targetLufs", "out of range"),
        ({"targetLufs": "1e999"}, "targetLufs", "out of range"),
        ({"targetLufs": "-3"}, "targetLufs", "out of range [-40, -5]"),
        ({"targetLufs": "loud"}, "targetLufs", "not a number"),
        ({"targetLufs": "1" * 10000}, "targetLufs", "longer than"),
        ({"targetLufs": "-23", "truePeakCeiling": "-9"}, "truePeakCeiling", "out of range [-3, 0]"),
        ({"truePeakCeiling": "-1"}, "truePeakCeiling", "needs target or targetLufs"),
        ({"target": "podcast", "targetLufs": "-16"}, "target", "exclusive"),
        ({"target": "podcast", "analysis": "true"}, "target", "process jobs"),
    ],
)
def test_bad_targets_are_400_naming_the_field(live_server, make_settings, fields, field, needle) -> None:
    data = io.BytesIO()
    sf.write(data, np.zeros((SR // 2, 1)), SR, format="WAV")
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        r = _submit(c, data.getvalue(), **fields)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["details"]["field"] == field and needle in err["message"], err
    assert err["code"] in ("INVALID_PARAMETER", "INVALID_REQUEST")
    jobs_dir = make_settings().jobs_dir
    assert not jobs_dir.exists() or list(jobs_dir.iterdir()) == []  # nothing stored


def test_silent_file_with_a_target_fails_with_the_reason(live_server) -> None:
    data = io.BytesIO()
    sf.write(data, np.zeros((SR, 2)), SR, format="WAV")
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        r = _submit(c, data.getvalue(), target="ebu-r128")
        assert r.status_code == 202, r.text
        done = _wait(c, r.json()["id"])
    assert done["state"] == "failed" and "silent" in done["error"], done
