"""The spec's own examples, run against a real Hypercorn server: the Python SDK example (requests
API, through httpx) and the cURL examples with the real curl binary."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import numpy as np
import pytest

from origin.app import create_app
from origin.auth.apikeys import create_key


@pytest.fixture
def keyed_server(make_settings, serve_app):
    app = create_app(make_settings(dev_mode=False), packages=("origin.mixer_api",))
    _, key = create_key(app.extensions["storage"], "spec", "standard")
    return serve_app(app), key


def test_python_sdk_example(keyed_server):
    srv, API_KEY = keyed_server
    API_URL = srv.url
    requests = httpx  # the spec uses `requests`; httpx has the same call shape

    # Process audio
    audio_buffer = np.random.randn(960).astype(np.float32)
    response = requests.post(
        f"{API_URL}/process-audio",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"audioBuffer": audio_buffer.tolist()},
    )
    result = response.json()
    print(f"Genre: {result['metrics']['genre']}")
    assert response.status_code == 200
    assert "genre" in result["metrics"] and len(result["processedBuffer"]) == 960


curl = shutil.which("curl")


@pytest.mark.skipif(curl is None, reason="curl binary not installed")
def test_curl_examples(keyed_server, tmp_path):
    srv, key = keyed_server
    # Health check
    out = subprocess.run(
        [curl, "-sS", f"{srv.url}/health"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out)["components"]["database"] == "healthy"
    # Process audio with API key (-d @audio_data.json)
    (tmp_path / "audio_data.json").write_text(json.dumps({"audioBuffer": [0.1, -0.2, 0.15] * 320}))
    out = subprocess.run(
        [
            curl,
            "-sS",
            "-X",
            "POST",
            f"{srv.url}/process-audio",
            "-H",
            f"Authorization: Bearer {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            "@audio_data.json",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    body = json.loads(out)
    assert len(body["processedBuffer"]) == 960
    # the request example with genre auto and compressor settings
    out = subprocess.run(
        [
            curl,
            "-sS",
            "-X",
            "POST",
            f"{srv.url}/process-audio",
            "-H",
            f"Authorization: Bearer {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(
                {
                    "audioBuffer": [0.1, -0.2, 0.15] * 320,
                    "config": {"genre": "auto", "compressor": {"ratio": 4, "threshold": -20}},
                }
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    body = json.loads(out)
    assert body["appliedSettings"]["compressor"]["ratio"] == 4
    assert body["metrics"]["genre"] is None  # no verdict before 3 s of audio in this (fresh) chain
    # without the key: 401 in the spec's error shape, with the request id header
    res = subprocess.run(
        [curl, "-sS", "-i", "-X", "POST", f"{srv.url}/process-audio", "-d", "{}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    head, _, body_text = res.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 401")
    assert json.loads(body_text)["error"]["code"] == "UNAUTHORIZED"
    assert "x-request-id:" in head.lower()
