// The loudness pass's two stages in Pyodide (Node, the browser's kernels installed): the
// normalisation analysis (NormalizationAnalysis.push) and the true-peak normaliser
// (Normalizer.process) fed the same stereo signal (kick, two tones, noise; float32 values) as
// channel lists (the list path: kweight, tprows and tplimit kernels) and as planar array('d')
// blocks (the array path: one normanalysis / normalize call per block), alternately in one
// process so both see the same load; the block conversions are not timed.
// Usage: node bench/loudnorm_pyodide.mjs [--seconds 10] [--block 32768] [--repeats 3]
// Prints one JSON object: seconds per pass (first run: cold JIT; best of the repeats) and the
// real-time factor of the two stages together.
import { bootDsp, MUSIC_PY } from "../tests/node/pyodide_lib.mjs";
import { installKernels } from "../wasm/js/kernels.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const { py } = await bootDsp();
py.runPython(MUSIC_PY); // music(n): the test programme
installKernels(py.pyimport("aimixer_dsp.backend"));
py.globals.set("SECS", opt("--seconds", 10));
py.globals.set("B", opt("--block", 32768));
py.globals.set("REPEATS", opt("--repeats", 3));
console.log(
  py.runPython(`
import json, math, random, time
from array import array
from aimixer_dsp.loudnorm import NormalizationAnalysis, Normalizer
from aimixer_dsp.processors.base import planar

n = int(SECS * 48000)
L, R = music(n)
src = [array("f", L).tolist(), array("f", R).tolist()]
blocks = [[c[s:s + B] for c in src] for s in range(0, n, B)]
arrays = [planar((), b) for b in blocks]

def run(feed):
    a = NormalizationAnalysis(48000, 2)
    t0 = time.perf_counter()
    for b in feed:
        a.push(b)
    t1 = time.perf_counter()
    gain = a.gain_for(-14.0, -1.0)[0]
    z = Normalizer(gain, -1.0, 48000, 2)
    t2 = time.perf_counter()
    for b in feed:
        z.process(b)
    t3 = time.perf_counter()
    return t1 - t0, t3 - t2, gain

res = {"seconds": SECS, "block": B, "blocks": len(blocks)}
runs = {"lists": [], "arrays": []}
for r in range(REPEATS):
    for name, feed in (("arrays", arrays), ("lists", blocks)):
        runs[name].append(run(feed))
for name, v in runs.items():
    best_a = min(x[0] for x in v)
    best_z = min(x[1] for x in v)
    res[name] = {"first": {"analysis_s": round(v[0][0], 4), "normalizer_s": round(v[0][1], 4)},
                 "best": {"analysis_s": round(best_a, 4), "normalizer_s": round(best_z, 4)},
                 "real_time_factor_best": round(SECS / (best_a + best_z), 1), "gain_db": v[0][2]}
json.dumps(res, indent=1)
`),
);
