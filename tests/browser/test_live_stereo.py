"""The stereo live preview in headless Chromium: a two-channel signal (different tones and levels
left and right) plays through ``mixer.connect(..., {channels: 2})``; both output channels come out
processed, distinct, and equal to CPython's linked session (``jsbridge.LinkedSession``, the file
render's linked detection) of what the worklet received, delayed by the ring latency."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.browser

FRAME = 960
SECONDS = 2.0
CONFIG = {"genre": "rock", "compressor": {"ratio": 6}}

LIVE_JS = """async ([left, right, config, seconds]) => {
  const { AIMixer } = await import("/wasm/aimixer.js");
  const mixer = await AIMixer.create({ fallback: false });
  const ctx = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await ctx.resume();
  const buf = ctx.createBuffer(2, left.length, 48000);
  buf.copyToChannel(Float32Array.from(left), 0);
  buf.copyToChannel(Float32Array.from(right), 1);
  const src = ctx.createBufferSource();
  src.buffer = buf;
  // a wide jitter margin: the test is about the samples, not the latency (machine load)
  const live = await mixer.connect(src, { config, capture: seconds + 1, channels: 2, maxLatencyMs: 250 });
  live.node.connect(ctx.destination);
  const metrics = [];
  live.onMetrics((m) => metrics.push(m));
  src.start();
  await new Promise((r) => setTimeout(r, (seconds + 0.6) * 1000));
  const cap = await live.getCapture();
  const stats = live.stats();
  const stopped = await live.stop();
  let bad = null;
  try { await mixer.connect(src, { channels: 3 }); } catch (e) { bad = e.code; }
  await ctx.close();
  return {
    inputs: cap.inputs.map((c) => Array.from(c)), outputs: cap.outputs.map((c) => Array.from(c)),
    stats, stopped, ring: live.ringLatencySamples, channels: live.channels, bad,
    metrics: metrics.length, lastMetrics: metrics.length ? metrics[metrics.length - 1].metrics : null,
  };
}"""


def _signal(n: int) -> tuple[list[float], list[float]]:
    from array import array

    left = array(
        "f",
        [0.8 * math.sin(2 * math.pi * 220 * i / 48000) * (0.3 + 0.7 * ((i // 4800) % 2)) for i in range(n)],
    )
    right = array("f", [0.25 * math.sin(2 * math.pi * 550 * i / 48000) for i in range(n)])
    return list(left), list(right)


def test_stereo_live_output_is_linked_and_matches_cpython(mixer_page) -> None:
    from aimixer_dsp.jsbridge import LinkedSession

    left, right = _signal(int(SECONDS * 48000))
    res = mixer_page.evaluate(LIVE_JS, [left, right, CONFIG, SECONDS])
    assert res["channels"] == 2 and res["bad"] == "INVALID_PARAMETER"
    assert res["metrics"] > 0 and res["lastMetrics"]["genre"] == "rock"
    (in_l, in_r), (out_l, out_r) = res["inputs"], res["outputs"]
    assert max(abs(x) for x in in_l) > 0.7 and 0.2 < max(abs(x) for x in in_r) < 0.3
    ring = res["ring"]
    n = (len(in_l) - ring) // FRAME * FRAME
    session = LinkedSession()
    exp_l: list[float] = []
    exp_r: list[float] = []
    for i in range(0, n, FRAME):
        y = session.process([in_l[i : i + FRAME], in_r[i : i + FRAME]], CONFIG)["processedBuffer"]
        exp_l.extend(y[0])
        exp_r.extend(y[1])
    dropouts = res["stats"]["dropouts"]
    silent, matched = 0, 0
    ok_l: list[float] = []  # the samples of matched quanta (a dropped quantum is silence)
    ok_r: list[float] = []
    ok_in_r: list[float] = []
    for q in range(ring // 128 + 1, (n + ring) // 128):
        lo, hi = q * 128, (q + 1) * 128
        got = out_l[lo:hi] + out_r[lo:hi]
        want = exp_l[lo - ring : hi - ring] + exp_r[lo - ring : hi - ring]
        d = max(abs(a - b) for a, b in zip(got, want, strict=True))
        if d <= 1e-5:
            matched += 1
            if lo - ring >= FRAME * 10:  # past the first frames (the gains settle)
                ok_l += out_l[lo:hi]
                ok_r += out_r[lo:hi]
                ok_in_r += in_r[lo - ring : hi - ring]
        elif all(v == 0.0 for v in got):
            silent += 1
        else:
            raise AssertionError(f"quantum {q}: output differs from CPython's linked session by {d:.3g}")
    assert silent <= dropouts
    assert matched > 0
    # both channels processed, and distinct: the right one is not a copy of the left
    assert len(ok_r) >= 128 * 8, "too few quanta came back in time to judge (machine load)"
    assert max(abs(v) for v in ok_r) > 0.01  # not silence (-40 dBFS)
    assert max(abs(a - b) for a, b in zip(ok_l, ok_r, strict=True)) > 0.05
    # processed: linked gain reduction moves the quiet right channel too (not its input level)
    gain_r = max(abs(v) for v in ok_r) / max(abs(v) for v in ok_in_r)
    assert abs(20 * math.log10(gain_r)) > 0.5
