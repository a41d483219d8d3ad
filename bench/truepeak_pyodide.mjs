// Time TruePeakMeter per 960-sample frame inside Pyodide (Node, no NumPy: the pure path).
// Usage: node bench/truepeak_pyodide.mjs [--frames N] [--rounds R]. Prints one JSON object.
import { bootDsp } from "../tests/node/pyodide_lib.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const { py } = await bootDsp();
py.globals.set("N_FRAMES", opt("--frames", 200));
py.globals.set("ROUNDS", opt("--rounds", 5));
const out = py.runPython(`
import json, math, sys, time
from aimixer_dsp.truepeak import TruePeakMeter
sig = [0.6 * math.sin(2 * math.pi * 220 * i / 48000) * (0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * i / 48000))
       for i in range(960 * (N_FRAMES + 10))]
frames = [sig[k * 960:(k + 1) * 960] for k in range(N_FRAMES + 10)]
res = {"python": sys.version.split()[0]}
for factor in (4, 8):
    best = []
    for _ in range(ROUNDS):
        m = TruePeakMeter(48000, 1, factor)
        for f in frames[:10]:
            m.push_checked(f)
        t = time.perf_counter()
        for f in frames[10:]:
            m.push_checked(f)
        best.append((time.perf_counter() - t) / N_FRAMES * 1e3)
    res[f"x{factor}_ms_per_frame"] = min(best)
json.dumps(res)
`);
console.log(out);
