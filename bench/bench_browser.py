"""Browser benchmarks of the wasm mixer, in headless Chromium against a real origin.

    python -m bench.bench_browser [--duration 60] [--frames 500]

Measures
--------
* cold start: page navigation to the first processed frame, empty HTTP cache (target <= 3 s);
* warm start: the same with the bundle in the HTTP cache (target <= 1 s);
* per-frame time in the worker (target <= 1 ms/frame): the engine's whole call per frame on the
  audio path, split into the DSP itself (``MixerSession.process``, timed in Python) and the SDK's
  overhead (buffer copies, the call, the metrics JSON); the work that runs after each frame has
  been handed back (the genre analysis + model, and the loudness meter's K-weighting of frames that
  complete no 100 ms block) is reported beside it, with the worker's total CPU time per frame; and the SDK round trip
  ``session.process`` as the page sees it;
* live mode: the added latency reported by ``mixer.connect`` and the dropouts/overruns (and the
  late frames that caused the dropouts) counted over ``--duration`` seconds of an oscillator through the AudioWorklet (target <= 50 ms, 0 dropouts).
* the product page live (``/mixer/``, Chromium's fake microphone, the rock preset) for ``--duration``
  seconds while it draws its meters and spectrum: dropouts, late frames and the worker's per-frame
  time at the 99th percentile (target 0 dropouts);
* ``extractFeatures`` in the worker, ms per second of audio (target <= 100), with the JavaScript FFT
  kernel (the default) and with the package's pure-Python FFT (``kernels: false``);
* ``processFile``: an offline render of a ``--file-seconds`` (180) stereo file with genre ``auto`` and
  the ``streaming`` loudness target (target >= 20x real time), per phase; the peer is CPython's
  ``aimixer_dsp.render`` (the same pure-Python code) and ``aimixer process`` (NumPy), same run.

Peer: the same SDK on its origin fallback path (``prefer: "origin"``, HTTP to the same server),
measured in the same run; the ratio is peer / ours for the per-frame round trip.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = "/mixer/?noinit"

START_JS = """async () => {
  const { AIMixer } = await import("/wasm/aimixer.js");
  const m = await AIMixer.create({ fallback: false, lazyModel: true });
  const f = new Float32Array(960);
  for (let i = 0; i < 960; i++) f[i] = 0.3 * Math.sin(i * 0.0576);
  await m.processFrame(f, { genre: "rock" });
  const t = performance.now();
  await m.modelReady();
  const phases = m.initTimings;
  window.__mixer = m;
  return { firstFrameMs: t, phases };
}"""

FRAMES_JS = """async ([n, prefer, config]) => {
  const { AIMixer } = await import("/wasm/aimixer.js");
  const m = prefer === "wasm" && window.__mixer ? window.__mixer : await AIMixer.create({ prefer });
  const before = await m.stats();
  const s = await m.createSession();
  const f = new Float32Array(960);
  const rt = [];
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < 960; i++) f[i] = 0.3 * Math.sin((k * 960 + i) * 0.0576) * (k % 50 < 25 ? 1 : 0.2);
    const t = performance.now();
    const r = await s.process(f, config);
    rt.push(performance.now() - t);
  }
  await s.close();
  const stats = await m.stats();
  rt.sort((a, b) => a - b);
  return { path: m.path, meanRoundTripMs: rt.reduce((a, b) => a + b, 0) / rt.length,
           p95RoundTripMs: rt[Math.floor(rt.length * 0.95)], worker: stats, before };
}"""

LIVE_JS = """async (seconds) => {
  const m = window.__mixer;
  const ctx = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await ctx.resume();
  const osc = ctx.createOscillator();
  osc.frequency.value = 330;
  const amp = ctx.createGain();
  amp.gain.value = 0.4;
  osc.connect(amp);
  osc.start();
  const live = await m.connect(amp, { config: { genre: "rock" } });
  live.node.connect(ctx.destination);
  let late = 0;
  live.onMetrics((ev) => { if (ev.lateFrames !== undefined) late = ev.lateFrames; });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const st = live.stats();
  const stopped = await live.stop();
  await ctx.close();
  return { latencyMs: live.latencyMs, ringLatencySamples: live.ringLatencySamples,
           dspLatencySamples: live.dspLatencySamples, baseLatencyMs: (ctx.baseLatency || 0) * 1000,
           dropouts: st.dropouts, overruns: st.overruns, quanta: st.quanta, frames: stopped.frames,
           lateFrames: stopped.lateFrames ?? late };
}"""


FEATURES_JS = """async (seconds) => {
  const { AIMixer } = await import("/wasm/aimixer.js");
  const n = Math.round(seconds * 48000);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.3 * Math.sin(i * 0.031) + 0.2 * Math.sin(i * 0.0077) * Math.sin(i * 0.5);
  const out = {};
  for (const kernels of [true, false]) {
    const m = kernels && window.__mixer ? window.__mixer : await AIMixer.create({ fallback: false, loadModel: false, kernels });
    await m.extractFeatures(x.subarray(0, 48000));
    const t = performance.now();
    await m.extractFeatures(x);
    out[kernels ? "js" : "python"] = (performance.now() - t) / seconds;
    if (m !== window.__mixer) await m.close();
  }
  return out;
}"""

FILE_JS = """async (seconds) => {
  const m = window.__mixer;
  await m.modelReady();
  const n = Math.round(seconds * 48000);
  const L = new Float32Array(n), R = new Float32Array(n);
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  for (let i = 0; i < n; i++) {
    const t = i / 48000, beat = t % 0.5;
    const kick = 0.6 * Math.exp(-beat / 0.08) * Math.sin(2 * Math.PI * 55 * beat);
    L[i] = kick + 0.15 * Math.sin(2 * Math.PI * 220 * t) + 0.03 * rnd();
    R[i] = kick + 0.12 * Math.sin(2 * Math.PI * 330 * t) + 0.03 * rnd();
  }
  const phases = {};
  let last = performance.now();
  const t0 = last;
  const res = await m.processFile([L, R], 48000, { genre: "auto" }, { targetLufs: "streaming", onProgress: (p) => {
    const now = performance.now();
    phases[p.phase] = (phases[p.phase] || 0) + (now - last);
    last = now;
  } });
  const ms = performance.now() - t0;
  return { ms, phases, genre: res.report.genre, lufs: res.report.output.lufs, seconds };
}"""

LIVE_PAGE_JS = """async (seconds) => {
  const p = window.mixerPage;
  document.getElementById("genre").value = "rock";
  document.getElementById("genre").dispatchEvent(new Event("change"));
  document.getElementById("mic").click();
  for (let i = 0; i < 100 && !p.audio.live; i++) await new Promise((r) => setTimeout(r, 100));
  const live = p.audio.live;
  const before = await window.aimixer.stats();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const st = live.stats();
  const stats = await window.aimixer.stats();
  const stopped = await live.stop();
  return { dropouts: st.dropouts, lateFrames: stopped.lateFrames, frames: stopped.frames,
           p50FrameMs: stats.p50FrameMs, p99FrameMs: stats.p99FrameMs, maxFrameMs: stats.maxFrameMs,
           meanFrameMs: stats.meanFrameMs,
           framesBefore: before.frames };
}"""


def _load(name: str, path: Path):
    """A module of this repository by path (``wasm/build_bundle.py``, ``tests/*.py``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the test suites' Chromium binary and flags and their live Hypercorn server: one copy of each
_browserenv = _load("aimixer_bench_browserenv", ROOT / "tests" / "browserenv.py")
CHROMIUM = _browserenv.CHROMIUM
ARGS = _browserenv.CHROMIUM_ARGS


def _start_origin(data_dir: Path):
    """The origin (dev mode) on Hypercorn in a thread, on a free port (``tests/liveserver.py``)."""
    from origin.app import create_app
    from origin.config import load_settings

    live = _load("aimixer_bench_liveserver", ROOT / "tests" / "liveserver.py")
    return live.LiveServer(create_app(load_settings(env={}, data_dir=data_dir, dev_mode=True))).start()


def _cpython_file(seconds: float, tmp: Path) -> dict:
    """The peers of the file render: CPython's ``aimixer_dsp.render`` and ``aimixer process``."""
    import time

    import numpy as np
    import soundfile as sf
    from aimixer_dsp.render import render

    import origin.genre as og
    from origin.commands.process import process_file

    n = int(seconds * 48000)
    t = np.arange(n) / 48000
    beat = t % 0.5
    kick = 0.6 * np.exp(-beat / 0.08) * np.sin(2 * np.pi * 55 * beat)
    rng = np.random.default_rng(1)
    x = np.stack(
        [kick + 0.15 * np.sin(2 * np.pi * 220 * t), kick + 0.12 * np.sin(2 * np.pi * 330 * t)], 1
    ) + 0.03 * (rng.random((n, 2)) - 0.5)
    x = x.astype(np.float32)
    model = og.load_default_model()
    t0 = time.perf_counter()
    render(
        [x[:, 0].tolist(), x[:, 1].tolist()],
        48000,
        {"genre": "auto"},
        target="streaming",
        predict=model.predict,
    )
    pure = time.perf_counter() - t0
    sf.write(tmp / "bench.wav", x, 48000, subtype="FLOAT")
    t0 = time.perf_counter()
    process_file(str(tmp / "bench.wav"), str(tmp / "bench-out.wav"), {}, "rock", progress=False)
    return {"pure": pure, "cli": time.perf_counter() - t0}


def _fmt(ok: bool) -> str:
    return "ok " if ok else "MISS"


def _delta(before: dict, after: dict) -> dict:
    """Per-frame means of the worker stats accumulated between two ``stats()`` snapshots: the
    frames of one measurement only (not the first frame after page load, which the cold/warm
    start figures cover, nor the frames of an earlier measurement)."""
    n = after["frames"] - before["frames"]
    out = {"frames": n}
    for k in ("meanFrameMs", "meanDeferredMeterMs", "meanGenreMs"):
        tot = after.get(k, 0.0) * after["frames"] - before.get(k, 0.0) * before["frames"]
        out[k] = tot / n if n else float("nan")
    nd = after.get("dspFrames", 0) - before.get("dspFrames", 0)
    if "meanDspMs" in after and nd == n:
        tot = after["meanDspMs"] * after["dspFrames"] - before.get("meanDspMs", 0.0) * before.get(
            "dspFrames", 0
        )
        out["meanDspMs"] = tot / n if n else float("nan")
        out["meanOverheadMs"] = out["meanFrameMs"] - out["meanDspMs"]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the browser benchmarks and print the figures."""
    ap = argparse.ArgumentParser(description="AI Mixer browser benchmarks (headless Chromium)")
    ap.add_argument("--duration", type=float, default=60.0, help="live run length in seconds (default 60)")
    ap.add_argument(
        "--frames", type=int, default=1500, help="frames for the per-frame figures (default 1500)"
    )
    ap.add_argument(
        "--file-seconds", type=float, default=180.0, help="length of the rendered file (default 180)"
    )
    ap.add_argument(
        "--feature-seconds", type=float, default=10.0, help="audio for extractFeatures (default 10)"
    )
    args = ap.parse_args(argv)

    builder = _load("aimixer_build_bundle", ROOT / "wasm" / "build_bundle.py")
    manifest = builder.build(builder.DEFAULT_OUT, log=lambda *_: None)
    t = manifest["totals"]

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = _start_origin(Path(tmp) / "data")
        try:
            with sync_playwright() as p:
                ctx = p.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
                )
                page = ctx.new_page()
                page.goto(server.url + PAGE)
                cold = page.evaluate(START_JS)
                page.goto("about:blank")
                page.goto(server.url + PAGE)
                warm = page.evaluate(START_JS)
                ours = page.evaluate(FRAMES_JS, [args.frames, "wasm", {"genre": "rock"}])
                auto = page.evaluate(FRAMES_JS, [args.frames, "wasm", {"genre": "auto"}])
                dflt = page.evaluate(FRAMES_JS, [args.frames, "wasm", {}])
                peer = page.evaluate(FRAMES_JS, [max(50, args.frames // 5), "origin", {"genre": "rock"}])
                live = page.evaluate(LIVE_JS, args.duration)
                feats = page.evaluate(FEATURES_JS, args.feature_seconds)
                filejob = page.evaluate(FILE_JS, args.file_seconds)
                ctx.close()
                ctx = p.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile2"),
                    executable_path=CHROMIUM,
                    headless=True,
                    args=[*ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
                )
                page = ctx.new_page()
                page.goto(server.url + "/mixer/")
                page.wait_for_function("document.body.dataset.ready === 'wasm'", timeout=120_000)
                live_page = page.evaluate(LIVE_PAGE_JS, args.duration)
                ctx.close()
        finally:
            server.stop()
        cpu = _cpython_file(args.file_seconds, Path(tmp))

    w = ours["worker"]
    print("AI Mixer browser benchmark (headless Chromium, localhost origin)")
    print(
        f"  bundle: {len(manifest['files'])} files, raw {t['raw'] / 1e6:.2f} MB, gzip {t['gzip'] / 1e6:.2f} MB, "
        f"brotli {t['br'] / 1e6:.2f} MB"
        if t.get("br")
        else ""
    )
    print(
        f"  [{_fmt(cold['firstFrameMs'] <= 3000)}] cold start (load -> first frame): {cold['firstFrameMs']:8.0f} ms  "
        f"(target <= 3000; phases {', '.join(f'{k} {v:.0f}' for k, v in cold['phases'].items())})"
    )
    print(
        f"  [{_fmt(warm['firstFrameMs'] <= 1000)}] warm start (bundle cached):        {warm['firstFrameMs']:8.0f} ms  "
        "(target <= 1000)"
    )
    m = _delta(ours["before"], w)  # the measured frames only
    dsp = m.get("meanDspMs", m["meanFrameMs"])
    print(
        f"  [{_fmt(m['meanFrameMs'] <= 1.0)}] worker time per frame (audio path): {m['meanFrameMs']:8.3f} ms  "
        f"(target <= 1; mean of {m['frames']} frames of a rock-preset session; max {w['maxFrameMs']:.2f} ms "
        f"over all {w['frames']} frames since page load)"
    )
    if w.get("warmup"):
        print(
            f"         (the worker ran {w['warmup']['frames']} synthetic frames in the background at init, "
            f"{w['warmup']['ms']:.0f} ms, so the browser's optimizing wasm tier is in place)"
        )
    if "meanDspMs" in m:
        ovh = m.get("meanOverheadMs")
        print(
            f"         of which DSP (MixerSession.process): {dsp:8.3f} ms  (max {w['maxDspMs']:.2f} ms); "
            f"SDK overhead (copies, call, metrics): {ovh if ovh is None else round(ovh, 3)} ms"
        )
        if "meanDeferredMeterMs" in w:
            print(
                f"         + deferred loudness metering:        {m['meanDeferredMeterMs']:8.3f} ms  "
                "(K-weighting of frames that complete no 100 ms block, after the frame is handed back)"
            )
            mixer_ms = m["meanFrameMs"] + m["meanDeferredMeterMs"]
            print(
                f"  [{_fmt(mixer_ms <= 1.0)}] mixer work per frame incl. deferred metering: {mixer_ms:8.3f} ms  "
                "(target <= 1; audio path + deferred K-weighting: chain, metering, peak/RMS, SDK overhead; "
                "the genre analysis is not included)"
            )
        print(
            f"         + deferred genre analysis/model:     {m['meanGenreMs']:8.3f} ms  (max {w['maxGenreMs']:.2f} ms, "
            f"after the frame is handed back); worker total "
            f"{m['meanFrameMs'] + m['meanDeferredMeterMs'] + m['meanGenreMs']:.3f} ms/frame"
        )
        d = _delta(dflt["before"], dflt["worker"])
        print(
            f"         a session with the default settings ({d['frames']} frames): audio path "
            f"{d['meanFrameMs']:.3f} ms + deferred metering {d['meanDeferredMeterMs']:.3f} ms = "
            f"{d['meanFrameMs'] + d['meanDeferredMeterMs']:.3f} ms"
        )
        a = _delta(auto["before"], auto["worker"])
        print(
            f'         a genre "auto" session ({a["frames"]} frames): audio path {a["meanFrameMs"]:.3f} ms, '
            f"deferred metering {a['meanDeferredMeterMs']:.3f} ms, genre analysis/model {a['meanGenreMs']:.3f} ms "
            f'after the hand-back (a session gets the classifier on its first "auto" frame, as on the origin)'
        )
    print(
        f"  [{_fmt(live['latencyMs'] <= 50)}] live added latency:                {live['latencyMs']:8.1f} ms  "
        f"(target <= 50; ring {live['ringLatencySamples']} + DSP {live['dspLatencySamples']} samples, "
        f"+ output device {live['baseLatencyMs']:.1f} ms)"
    )
    print(
        f"  [{_fmt(live['dropouts'] == 0)}] live dropouts over {args.duration:.0f} s:          "
        f"{live['dropouts']:8d}     (target 0; overruns {live['overruns']}, late frames {live['lateFrames']}, "
        f"{live['frames']} frames)"
    )
    lp = live_page
    print(
        f"  [{_fmt(lp['dropouts'] == 0)}] product page live, rock, meters drawn, {args.duration:.0f} s: "
        f"{lp['dropouts']} dropouts, {lp['lateFrames']} late of {lp['frames']} frames; worker per frame "
        f"p50 {lp.get('p50FrameMs') or float('nan'):.3f} ms, p99 {lp['p99FrameMs']:.2f} ms, "
        f"max {lp['maxFrameMs']:.2f} ms, mean {lp['meanFrameMs']:.3f} ms"
    )
    print(
        f"  [{_fmt(feats['js'] <= 100)}] extractFeatures in the worker:      {feats['js']:8.1f} ms per s of audio "
        f"(target <= 100; JavaScript FFT kernel; the package's Python FFT: {feats['python']:.1f} ms/s, "
        f"{feats['python'] / feats['js']:.2f}x slower)"
    )
    fj = filejob
    factor = fj["seconds"] * 1000 / fj["ms"]
    print(
        f"  [{_fmt(factor >= 20)}] processFile, {fj['seconds']:.0f} s stereo, auto + streaming target: "
        f"{fj['ms'] / 1000:.1f} s = {factor:.2f}x real time (target >= 20x; "
        + ", ".join(f"{k} {v / 1000:.1f} s" for k, v in fj["phases"].items())
        + f"; genre {fj['genre']}, output {fj['lufs']:.2f} LUFS)"
    )
    print(
        f"         peer, same run: CPython aimixer_dsp.render (pure path, same code) {cpu['pure']:.1f} s = "
        f"{args.file_seconds / cpu['pure']:.2f}x real time; aimixer process (NumPy, no target) "
        f"{cpu['cli']:.2f} s = {args.file_seconds / cpu['cli']:.1f}x"
    )
    ratio = peer["meanRoundTripMs"] / ours["meanRoundTripMs"] if ours["meanRoundTripMs"] else float("nan")
    print("  per-frame round trip as the page sees it (stateful session, 960 samples):")
    print(
        f"    ours (wasm worker): {ours['meanRoundTripMs']:.3f} ms mean, {ours['p95RoundTripMs']:.3f} ms p95"
    )
    print(
        f"    peer (origin HTTP): {peer['meanRoundTripMs']:.3f} ms mean, {peer['p95RoundTripMs']:.3f} ms p95"
    )
    print(f"    ratio peer/ours:    {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
