"""The ``/mixer/`` product page in Chromium: a generated file is dropped in, analysed, mixed with
changed settings, compared A/B, rendered and exported; the exported WAV equals ``aimixer process``
with the same settings; no request carries audio on the WebAssembly path; settings persist and
travel in a link; the page works on a phone-sized viewport and falls back to the origin (saying
that audio is uploaded) when the bundle is blocked."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile as sf

from origin.commands.analyze import analyze_file
from origin.commands.process import process_file

pytestmark = pytest.mark.browser

SR = 48000
AUDIO_PATHS = ("/process-audio", "/stream-audio", "/classify-genre", "/extract-features", "/jobs", "/ws")


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> object:
    """3.5 s of stereo float32 at 48 kHz: kick-like bursts, two tones, a little noise."""
    d = tmp_path_factory.mktemp("song")
    rng = np.random.default_rng(5)
    n = int(SR * 3.5)
    t = np.arange(n) / SR
    kick = np.zeros(n)
    for b in range(7):
        i0 = int(b * 0.5 * SR)
        m = min(n - i0, int(0.3 * SR))
        tt = np.arange(m) / SR
        kick[i0 : i0 + m] += 0.6 * np.exp(-tt / 0.1) * np.sin(2 * np.pi * 55 * tt)
    left = kick + 0.2 * np.sin(2 * np.pi * 220 * t) + 0.02 * rng.standard_normal(n)
    right = kick + 0.15 * np.sin(2 * np.pi * 330 * t + 1) + 0.02 * rng.standard_normal(n)
    path = d / "song.wav"
    sf.write(path, (np.stack([left, right], 1) * 0.7).astype(np.float32), SR, subtype="FLOAT")
    return path


def _open(chromium, url: str, **ctx_kw):
    ctx = chromium.new_context(accept_downloads=True, **ctx_kw)
    page = ctx.new_page()
    requests: list = []
    ctx.on("request", lambda r: requests.append(r))  # page and worker requests
    page.goto(url)
    return ctx, page, requests


def _ready(page, path: str) -> None:
    """The engine is up on ``path`` and the page has built its controls."""
    page.wait_for_function("p => document.body.dataset.ready === p", arg=path, timeout=120_000)


def _wait_text(page, sel: str, prefix: str, timeout: float = 180_000) -> str:
    page.wait_for_function(
        "([s, p]) => { const t = document.querySelector(s).textContent; return t.startsWith(p) || t.includes('failed'); }",
        arg=[sel, prefix],
        timeout=timeout,
    )
    text = page.text_content(sel)
    assert text.startswith(prefix), text
    return text


def _set_range(page, path: str, value: float) -> None:
    page.eval_on_selector(
        f'input[data-path="{path}"]',
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


def test_file_to_export_equals_cli_and_stays_private(chromium, wasm_origin, song, tmp_path) -> None:
    ctx, page, requests = _open(chromium, wasm_origin.url + "/mixer/")
    try:
        _ready(page, "wasm")
        assert "never uploaded" in page.text_content("#privacy")
        # the controls come from the package's declarations: one range per numeric parameter
        from aimixer_dsp.presets import controls

        c = controls()
        want_paths = {c["gain"]["path"]} | {p["path"] for s in c["stages"] for p in s["params"]}
        got = page.eval_on_selector_all(
            "#stages input[type=range]", "els => els.map(e => [e.dataset.path, +e.min, +e.max])"
        )
        assert {g[0] for g in got} == want_paths
        for path, lo, hi in got:
            spec = (
                c["gain"]
                if path == "gain"
                else next(p for s in c["stages"] for p in s["params"] if p["path"] == path)
            )
            assert (lo, hi) == (spec["min"], spec["max"])

        page.set_input_files("#file", str(song))
        _wait_text(page, "#an-status", "Analysed")
        cli_an = analyze_file(str(song))
        shown = page.evaluate("() => window.mixerPage.st.current.analysis")
        for k in ("lufs", "lra", "momentaryMax", "shortTermMax", "peak"):
            assert shown[k] == pytest.approx(cli_an[k], abs=1e-4), k
        assert page.text_content("#a-lufs") == f"{cli_an['lufs']:.1f} LUFS"
        assert page.locator("#timeline span").count() >= 1

        # change settings: the rock preset, a harder compressor, EQ bypassed
        page.select_option("#genre", "rock")
        _set_range(page, "compressor.ratio", 7.5)
        _set_range(page, "compressor.threshold", -22)
        page.uncheck("#on-eq")
        cfg = page.evaluate("() => window.mixerPage.config()")
        assert cfg == {
            "genre": "rock",
            "compressor": {"ratio": 7.5, "threshold": -22},
            "eq": {"enabled": False},
        }

        # A/B while playing: the live chain runs, the switch only moves the two gains
        page.click("#play")
        page.wait_for_function("document.getElementById('m-i').textContent !== '–'", timeout=30_000)
        page.click("#ab-a")
        time.sleep(0.3)
        gains = page.evaluate(
            "() => [window.mixerPage.audio.gainA.gain.value, window.mixerPage.audio.gainB.gain.value]"
        )
        assert gains[0] == pytest.approx(1.0, abs=0.02) and gains[1] == pytest.approx(0.0, abs=0.02)
        page.check("#match")
        time.sleep(0.3)
        matched = page.evaluate("() => window.mixerPage.audio.gainA.gain.value")
        assert matched != pytest.approx(1.0, abs=0.01)  # the original is scaled to the mix's loudness
        page.click("#ab-b")
        time.sleep(0.3)
        gains = page.evaluate(
            "() => [window.mixerPage.audio.gainA.gain.value, window.mixerPage.audio.gainB.gain.value]"
        )
        assert gains[0] == pytest.approx(0.0, abs=0.02) and gains[1] == pytest.approx(1.0, abs=0.02)
        page.click("#play")  # pause

        # render offline + export float WAV
        page.click("#render")
        _wait_text(page, "#r-status", "Rendered")
        page.select_option("#format", "wavf")
        with page.expect_download() as dl:
            page.click("#export")
        out = tmp_path / "browser.wav"
        dl.value.save_as(out)
        with page.expect_download() as dl2:
            page.click("#report")
        report = json.loads(open(dl2.value.path()).read())

        # the CLI with the same settings
        cli_out = tmp_path / "cli.wav"
        cli = process_file(
            str(song),
            str(cli_out),
            {"compressor": {"ratio": 7.5, "threshold": -22}, "eq": {"enabled": False}},
            "rock",
        )
        got_audio, sr = sf.read(out, dtype="float64", always_2d=True)
        want_audio, _ = sf.read(cli_out, dtype="float64", always_2d=True)
        assert sr == SR and got_audio.shape == want_audio.shape
        assert np.abs(got_audio - want_audio).max() <= 1e-5
        assert report["after"]["lufs"] == pytest.approx(cli["output"]["lufs"], abs=1e-4)
        assert report["before"]["lufs"] == pytest.approx(cli["input"]["lufs"], abs=1e-4)
        assert report["genre"]["chosen"] == "rock"
        assert report["settings"]["appliedSettings"]["compressor"]["ratio"] == 7.5

        # 16-bit export: the same audio, quantised
        page.select_option("#format", "wav16")
        with page.expect_download() as dl3:
            page.click("#export")
        q, _ = sf.read(dl3.value.path(), dtype="float64", always_2d=True)
        assert np.abs(q - np.clip(want_audio, -1, 1)).max() <= 1.0 / 32767 + 1e-9

        # Opus through WebCodecs where this Chromium has an encoder: a valid Ogg Opus file of the mix
        if page.evaluate("() => !document.querySelector('#format option[value=opus]').disabled"):
            page.select_option("#format", "opus")
            with page.expect_download() as dl4:
                page.click("#export")
            ogg = tmp_path / "browser.opus"
            dl4.value.save_as(ogg)
            dec, dsr = sf.read(ogg, dtype="float64", always_2d=True)
            assert dsr == SR and dec.shape[1] == 2
            assert abs(dec.shape[0] - want_audio.shape[0]) <= 2 * 960 + 312
            m = min(dec.shape[0], want_audio.shape[0]) - 4800
            best = max(float(np.corrcoef(dec[d : d + m, 0], want_audio[:m, 0])[0, 1]) for d in (0, 312, 624))
            assert best > 0.9

        # privacy: on the wasm path nothing was sent with a body, and no audio endpoint was called
        sent = [(r.method, r.url, len(r.post_data_buffer or b"")) for r in requests]
        assert all(m == "GET" and n == 0 for m, _, n in sent), [s for s in sent if s[0] != "GET" or s[2]]
        assert not any(any(p in u for p in AUDIO_PATHS) for _, u, _ in sent)
    finally:
        ctx.close()


def test_settings_persist_and_travel_in_a_link(chromium, wasm_origin) -> None:
    ctx, page, _ = _open(chromium, wasm_origin.url + "/mixer/")
    try:
        _ready(page, "wasm")
        page.select_option("#genre", "jazz")
        _set_range(page, "limiter.ceiling", -2.5)
        page.select_option("#target", "podcast")
        page.click("#share")
        link = page.url
        assert "#s=" in link
        page.reload()
        _ready(page, "wasm")
        assert page.input_value("#genre") == "jazz"
        assert page.input_value('input[data-path="limiter.ceiling"]') == "-2.5"
        assert page.input_value("#target") == "podcast"
    finally:
        ctx.close()
    # a fresh browser profile (no localStorage) gets the settings from the link alone
    ctx, page, _ = _open(chromium, link, viewport={"width": 390, "height": 844})
    try:
        _ready(page, "wasm")
        assert page.input_value("#genre") == "jazz"
        assert page.input_value('input[data-path="limiter.ceiling"]') == "-2.5"
        assert page.evaluate("() => window.mixerPage.config()") == {
            "genre": "jazz",
            "limiter": {"ceiling": -2.5},
        }
        # phone-sized: nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        # every control has an accessible name
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('input, select, button')].filter(el => {
                 if (el.type === 'file') return false;
                 const lab = el.labels && [...el.labels].map(l => l.textContent.trim()).join('');
                 return !(lab || el.getAttribute('aria-label') || el.textContent.trim() || el.title);
               }).map(el => el.id || el.outerHTML.slice(0, 60))"""
        )
        assert unnamed == []
        # keyboard: the drop zone is focusable and the first control is reachable
        page.focus("#drop")
        assert page.evaluate("document.activeElement.id") == "drop"
    finally:
        ctx.close()


def test_hostile_link_is_ignored(chromium, wasm_origin) -> None:
    ctx, page, _ = _open(chromium, wasm_origin.url + "/mixer/#s=" + "A" * 5000)
    try:
        _ready(page, "wasm")
        assert page.input_value("#genre") == "auto"
        bad = "eyJnZW5yZSI6InJvY2siLCJvdmVycmlkZXMiOnsiY29tcHJlc3NvciI6eyJyYXRpbyI6OTk5fX19"  # ratio 999
        page.goto(wasm_origin.url + "/mixer/#s=" + bad)
        page.reload()
        _ready(page, "wasm")
        assert page.evaluate("() => window.mixerPage.config()") == {
            "genre": "rock",
            "compressor": {"ratio": 20},
        }
    finally:
        ctx.close()


def test_fallback_says_audio_is_uploaded_and_renders_on_the_origin(
    chromium, wasm_origin, support, song
) -> None:
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        sdk = support.ROOT / "wasm" / "js"

        def route(r):
            if r.request.url.endswith("/wasm/aimixer.js"):
                body = (sdk / "aimixer.js").read_text().replace('"./', '"/__sdk__/')
                return r.fulfill(status=200, body=body, headers={"Content-Type": "text/javascript"})
            return r.abort()

        page.route(f"{wasm_origin.url}/wasm/**", route)
        page.route(
            f"{wasm_origin.url}/__sdk__/*.js",
            lambda r: r.fulfill(
                status=200,
                body=(sdk / r.request.url.rsplit("/", 1)[-1]).read_text(),
                headers={"Content-Type": "text/javascript"},
            ),
        )
        uploads: list = []
        page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" else None)
        page.goto(wasm_origin.url + "/mixer/")
        _ready(page, "origin")
        assert "uploaded" in page.text_content("#privacy")
        assert "uploads audio" in page.text_content("#render")
        assert page.locator("#stages input[type=range]").count() >= 17  # controls from GET /config/controls
        page.select_option("#genre", "speech")
        page.set_input_files("#file", str(song))
        page.wait_for_function("document.getElementById('an-status').textContent.includes('uploads')")
        assert not any(any(p in u for p in AUDIO_PATHS) for u in uploads)  # nothing uploaded before a click
        assert "uploads audio" in page.text_content("#analyse")
        page.click("#analyse")
        _wait_text(page, "#an-status", "Analysed")
        page.click("#render")
        text = _wait_text(page, "#r-status", "Rendered")
        assert "on the server" in text
        assert any(u.endswith("/jobs") for u in uploads)  # the origin's file jobs
    finally:
        ctx.close()
