"""The ``/mixer/`` page previews a stereo file in stereo (the engine's linked live session) and
switches to the mono preview when asked, during playback."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.browser

SR = 48000


def test_stereo_file_plays_through_the_stereo_live_chain(chromium, wasm_origin, tmp_path) -> None:
    n = SR * 3
    t = np.arange(n) / SR
    left = 0.5 * np.sin(2 * np.pi * 220 * t)
    right = 0.2 * np.sin(2 * np.pi * 330 * t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], 1).astype(np.float32), SR, subtype="FLOAT")
    ctx = chromium.new_context()
    page = ctx.new_page()
    try:
        page.goto(wasm_origin.url + "/mixer/")
        page.wait_for_function("document.body.dataset.ready === 'wasm'", timeout=120_000)
        page.set_input_files("#file", str(path))
        page.wait_for_function(
            "document.querySelector('#an-status').textContent.startsWith('Analysed')", timeout=180_000
        )
        assert page.is_checked("#stereo-preview")
        page.click("#play")
        page.wait_for_function("document.getElementById('m-i').textContent !== '–'", timeout=30_000)
        live = page.evaluate(
            "() => { const l = window.mixerPage.audio.live; return [l.channels, l.node.channelCount,"
            " l.node.numberOfOutputs, l.metrics && l.metrics.metrics.lufs]; }"
        )
        assert live[0] == 2 and live[1] == 2 and live[3] is not None
        # the switch restarts the live chain in mono where the playback is
        page.uncheck("#stereo-preview")
        page.wait_for_function(
            "() => { const l = window.mixerPage.audio.live; return l && l.channels === 1; }", timeout=30_000
        )
        page.click("#play")  # pause
    finally:
        ctx.close()
