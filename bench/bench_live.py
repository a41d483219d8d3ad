"""The live path alone, in headless Chromium: the worker's per-frame time while a stereo signal
plays through ``mixer.connect`` (AudioWorklet -> SharedArrayBuffer rings -> the worker).

    python -m bench.bench_live [--duration 30] [--channels 1 2]

A two-channel source (different tones left and right) plays for ``--duration`` seconds with the
rock preset; the figures are the worker's per-frame time on the audio path (the engine's whole
call per frame: copies in and out, the Python call with the DSP) at the 50th and 99th percentile
and the mean, the late frames and dropouts, and the added latency. ``--channels 1`` runs the mono
preview (the source downmixed, as the product page did before the stereo preview); the modes run
one after the other in the same page, each with a fresh engine (its own worker and statistics),
so that both see the same machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.bench_browser import ARGS, CHROMIUM, ROOT, _load, _start_origin

LIVE_JS = """async ([seconds, channels]) => {
  const { AIMixer } = await import("/wasm/aimixer.js");
  const m = await AIMixer.create({ fallback: false });
  const ctx = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await ctx.resume();
  const merge = ctx.createChannelMerger(2);
  for (const [f, ch] of [[220, 0], [330, 1]]) {
    const osc = ctx.createOscillator();
    osc.frequency.value = f;
    const amp = ctx.createGain();
    amp.gain.value = 0.4;
    osc.connect(amp).connect(merge, 0, ch);
    osc.start();
  }
  const before = await m.stats();
  const live = await m.connect(merge, { config: { genre: "rock" }, channels });
  live.node.connect(ctx.destination);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const st = live.stats();
  const stopped = await live.stop();
  const stats = await m.stats();
  await ctx.close();
  await m.close();
  return { latencyMs: live.latencyMs, channels: live.channels || 1, dropouts: st.dropouts,
           lateFrames: stopped.lateFrames, frames: stopped.frames, framesBefore: before.frames,
           p50FrameMs: stats.p50FrameMs, p99FrameMs: stats.p99FrameMs, meanFrameMs: stats.meanFrameMs,
           maxFrameMs: stats.maxFrameMs };
}"""


def main(argv: list[str] | None = None) -> int:
    """Run the live benchmark and print the figures."""
    ap = argparse.ArgumentParser(description="AI Mixer live-path benchmark (headless Chromium)")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of live audio (default 30)")
    ap.add_argument(
        "--channels", type=int, nargs="+", default=[1, 2], choices=(1, 2), help="modes (default: 1 2)"
    )
    args = ap.parse_args(argv)
    builder = _load("aimixer_build_bundle", ROOT / "wasm" / "build_bundle.py")
    builder.build(builder.DEFAULT_OUT, log=lambda *_: None)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = _start_origin(Path(tmp) / "data")
        try:
            with sync_playwright() as p:
                ctx = p.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
                )
                page = ctx.new_page()
                page.goto(server.url + "/mixer/?noinit")
                runs = [page.evaluate(LIVE_JS, [args.duration, ch]) for ch in args.channels]
                ctx.close()
        finally:
            server.stop()
    print("AI Mixer live-path benchmark (headless Chromium, localhost origin, rock preset)")
    for r in runs:
        _report(r, args.duration)
    return 0


def _report(r: dict, duration: float) -> None:
    print(
        f"  {r['channels']} channel(s), {duration:.0f} s, {r['frames']} frames: worker per frame "
        f"p50 {r['p50FrameMs']:.3f} ms, p99 {r['p99FrameMs']:.3f} ms, mean {r['meanFrameMs']:.3f} ms, "
        f"max {r['maxFrameMs']:.2f} ms (budget 20 ms)"
    )
    print(
        f"    dropouts {r['dropouts']}, late frames {r['lateFrames']}, added latency {r['latencyMs']:.1f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
