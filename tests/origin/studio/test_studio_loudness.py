"""Loudness history and R128 reports on a real server (dev mode): /api/recorders/{id}/loudness,
/api/assets/loudness/{path}, /api/assets/report/{path} — shapes, numbers and hostile input."""

from __future__ import annotations

import datetime as dt

import httpx
import numpy as np
import pytest
import soundfile as sf

from origin.app import create_app
from origin.recorder.loudness_log import LoudnessLogger

pytestmark = pytest.mark.timeout(120)

SR = 48000
T0 = dt.datetime(2026, 1, 10, 14, 0, tzinfo=dt.UTC).timestamp()


def write_recording(root, rel: str, levels_db: list[float], t0: float = T0) -> None:
    """A WAV (1 kHz stereo, one level per 5 s) and the log the recorder would have written."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [10 ** (db / 20) * np.sin(2 * np.pi * 1000 * np.arange(5 * SR) / SR) for db in levels_db]
    x = np.concatenate(parts)
    x2 = np.stack([x, x], axis=1)
    sf.write(str(path), x2, SR, subtype="PCM_24")
    log = LoudnessLogger(2, SR)
    log.file_opened(str(path), 0, t0)
    for i in range(0, len(x2), 2400):
        log.push(x2[i : i + 2400], i)
    log.close()


@pytest.fixture
def server(settings, serve_app):
    root = settings.archive_root
    write_recording(root, "recorder1/2026-01-10/2026-01-10-14.wav", [-23.0] * 4)
    write_recording(root, "recorder1/2026-01-10/2026-01-10-15.wav", [-16.0, -16.0, -30.0, -0.05], T0 + 3600)
    srv = serve_app(create_app(settings))
    return httpx.Client(base_url=srv.url, timeout=20)


def test_asset_summary_and_series(server):
    r = server.get("/api/assets/loudness/recorder1/2026-01-10/2026-01-10-14.wav", params={"step": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["log"] == "recorder1/2026-01-10/2026-01-10-14.loudness.jsonl"
    s = body["summary"]
    assert s["seconds"] == 20
    assert s["integrated"] == pytest.approx(-23.0, abs=0.1)
    assert s["truePeakMax"] == pytest.approx(-23.0, abs=0.2)
    assert s["momentaryMax"] == pytest.approx(-23.0, abs=0.1)
    assert s["aboveTargetShare"] == 1.0  # -22.99 LUFS: strictly above -23
    loose = server.get(
        "/api/assets/loudness/recorder1/2026-01-10/2026-01-10-14.wav", params={"target": "-22"}
    )
    assert loose.json()["summary"]["aboveTargetShare"] == 0.0 and loose.json()["target"]["name"] == "custom"
    assert len(body["series"]) == 4 and body["series"][-1]["t"] == "2026-01-10T14:00:20.000Z"


def test_r128_report_json_and_printable_html(server):
    ok = server.get(
        "/api/assets/report/recorder1/2026-01-10/2026-01-10-14.wav", params={"target": "ebu-r128"}
    )
    assert ok.status_code == 200 and ok.json()["compliant"] is True
    bad = server.get("/api/assets/report/recorder1/2026-01-10/2026-01-10-15.wav").json()
    assert bad["compliant"] is False
    checks = {c["name"]: c for c in bad["checks"]}
    assert checks["truePeak"]["pass"] is False and checks["truePeak"]["value"] > -1.0
    assert bad["measured"]["clippingSeconds"] >= 4
    assert bad["measured"]["aboveTargetShare"] > 0.4
    page = server.get(
        "/api/assets/report/recorder1/2026-01-10/2026-01-10-15.wav", headers={"Accept": "text/html"}
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "NOT COMPLIANT" in page.text and "2026-01-10-15.wav" in page.text
    podcast = server.get(
        "/api/assets/report/recorder1/2026-01-10/2026-01-10-14.wav",
        params={"target": "podcast", "format": "json"},
    ).json()
    assert podcast["target"]["integrated"] == -16.0 and podcast["compliant"] is False


def test_recorder_series_across_files(server):
    r = server.get(
        "/api/recorders/1/loudness",
        params={"from": "2026-01-10T14:00:00Z", "to": "2026-01-10T15:00:30Z", "step": 10},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["recorder_id"] == 1 and body["step"] == 10
    series = body["series"]
    assert len(series) == 4  # 20 s of each file, in 10 s buckets
    assert series[0]["t"] < series[2]["t"]
    assert series[1]["M"] == pytest.approx(-23.0, abs=0.1)
    assert series[-1]["clip"] is True
    empty = server.get("/api/recorders/2/loudness").json()
    assert empty["series"] == []


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/recorders/1/loudness?step=0", 400),
        ("/api/recorders/1/loudness?step=abc", 400),
        ("/api/recorders/1/loudness?from=yesterday", 400),
        ("/api/recorders/1/loudness?from=2026-01-10T15:00:00Z&to=2026-01-10T14:00:00Z", 400),
        ("/api/recorders/1/loudness?from=1970-01-01T00:00:00Z&step=1", 400),
        ("/api/recorders/1/loudness?from=" + "9" * 100, 400),
        ("/api/recorders/99/loudness", 404),
        ("/api/assets/loudness/recorder1/2026-01-10/2026-01-10-14.wav?target=loud", 400),
        ("/api/assets/loudness/recorder1/2026-01-10/2026-01-10-14.wav?target=5", 400),
        ("/api/assets/report/recorder1/2026-01-10/2026-01-10-14.wav?format=pdf", 400),
        ("/api/assets/loudness/recorder1/2026-01-10/nothing.wav", 404),
        ("/api/assets/loudness/recorder1/..%2F..%2Fetc/passwd", 400),
        ("/api/assets/loudness/recorder1/2026-01-10/2026-01-10-14.loudness.jsonl", 404),
    ],
)
def test_hostile_queries_get_the_error_shape(server, url, status):
    r = server.get(url)
    assert r.status_code == status, r.text
    assert isinstance(r.json()["detail"], str)
