"""Live audio in headless Chromium: a generated signal plays through ``mixer.connect`` (AudioWorklet
-> SharedArrayBuffer rings -> the worker) in a real AudioContext, and the processed output equals
CPython's processing of the same input, delayed by the reported ring latency."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.browser

FRAME = 960
SECONDS = 2.0
CONFIG = {"genre": "rock", "compressor": {"ratio": 6}}

LIVE_JS = """async ([signal, config, seconds]) => {
  const { AIMixer } = await import("/wasm/aimixer.js");
  const mixer = await AIMixer.create({ fallback: false });
  const ctx = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await ctx.resume();
  const buf = ctx.createBuffer(1, signal.length, 48000);
  buf.copyToChannel(Float32Array.from(signal), 0);
  const src = ctx.createBufferSource();
  src.buffer = buf;
  const live = await mixer.connect(src, { config, capture: seconds + 1 });
  live.node.connect(ctx.destination);
  const metrics = [];
  live.onMetrics((m) => metrics.push(m));
  src.start();
  await new Promise((r) => setTimeout(r, (seconds + 0.6) * 1000));
  const cap = await live.getCapture();
  const stats = live.stats();
  const stopped = await live.stop();
  await ctx.close();
  return {
    input: Array.from(cap.input), output: Array.from(cap.output), stats, stopped,
    latencyMs: live.latencyMs, ring: live.ringLatencySamples, dsp: live.dspLatencySamples,
    metrics: metrics.length, lastMetrics: metrics.length ? metrics[metrics.length - 1].metrics : null,
    isolated: self.crossOriginIsolated, path: mixer.path,
  };
}"""


def _signal(n: int) -> list[float]:
    from array import array

    return list(
        array(
            "f",
            [
                0.5 * math.sin(2 * math.pi * 220 * i / 48000) * (0.3 + 0.7 * ((i // 4800) % 2))
                for i in range(n)
            ],
        )
    )


def test_connect_output_matches_cpython(mixer_page) -> None:
    from aimixer_dsp.mixer import MixerSession

    sig = _signal(int(SECONDS * 48000))
    res = mixer_page.evaluate(LIVE_JS, [sig, CONFIG, SECONDS])
    assert res["isolated"] is True and res["path"] == "wasm"
    ring, dsp = res["ring"], res["dsp"]
    assert res["latencyMs"] == pytest.approx((ring + dsp) / 48.0)
    assert res["metrics"] > 0 and res["lastMetrics"]["genre"] == "rock"
    inp, out = res["input"], res["output"]
    assert len(inp) == len(out) >= len(sig)
    assert max(abs(x) for x in inp) > 0.4, "the source never reached the worklet"
    # CPython processes what the worklet received, frame by frame, in one session
    n = (len(inp) - ring) // FRAME * FRAME
    session = MixerSession()
    expected: list[float] = []
    for i in range(0, n, FRAME):
        expected.extend(session.process(inp[i : i + FRAME], CONFIG)["processedBuffer"])
    # output[k + ring] == expected[k]; a dropped quantum is silence and is counted
    dropouts = res["stats"]["dropouts"]
    silent_mismatch, matched, worst = 0, 0, 0.0
    for q in range(ring // 128 + 1, (n + ring) // 128):
        lo, hi = q * 128, (q + 1) * 128
        got = out[lo:hi]
        want = expected[lo - ring : hi - ring]
        d = max(abs(a - b) for a, b in zip(got, want, strict=True))
        if d <= 1e-5:
            matched += 1
            worst = max(worst, d)
        elif all(v == 0.0 for v in got):
            silent_mismatch += 1
        else:
            raise AssertionError(f"quantum {q}: output differs from CPython by {d:.3g} and is not a dropout")
    assert silent_mismatch <= dropouts
    assert matched > 0
    assert res["stopped"]["frames"] >= n // FRAME
