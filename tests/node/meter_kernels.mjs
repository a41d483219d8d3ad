// The loudness kernels of wasm/js/kernels.js (kweight, tprows, tplimit) inside Pyodide against the
// package's Python loops (no kernels): the exact-maximum meter, the normalisation analysis and
// the true-peak normaliser over a stereo signal in odd block sizes. Prints one JSON line.
import { bootDsp } from "./pyodide_lib.mjs";
import { installKernels } from "../../wasm/js/kernels.js";

const { py } = await bootDsp();
const backend = py.pyimport("aimixer_dsp.backend");
py.globals.set("install", () => installKernels(backend));
console.log(
  py.runPython(`
import json, math, random
from aimixer_dsp import backend
from aimixer_dsp.loudnorm import NormalizationAnalysis, Normalizer
from aimixer_dsp.meters import LoudnessMeter

SR = 16000
rng = random.Random(3)
n = SR * 8
cols = [[(1.0 if (i // 3000) % 5 == 2 else 0.15) * (0.6 * math.sin(i * (0.05 + 0.02 * c)) + 0.2 * (rng.random() - 0.5))
         for i in range(n)] for c in range(2)]
BLOCKS = [300, 5000, 17, 256, 3333, 128, 9000, 1024, 40000]

def run():
    m = LoudnessMeter(SR, channels=2, exact_max=True)
    a = NormalizationAnalysis(SR, 2)
    z = Normalizer(9.0, -1.0, SR)
    out = [[], []]
    s = k = 0
    while s < n:
        blk = [c[s:s + BLOCKS[k % 9]] for c in cols]
        m.push_planar(blk)
        a.push(blk)
        for o, y in zip(out, z.process(blk)):
            o.extend(y)
        s += BLOCKS[k % 9]
        k += 1
    return m, a, out

for name in list(backend._kernels):
    backend.set_kernel(name, None)
m0, a0, o0 = run()
install()
calls = {}
for name in ("kweight", "tprows", "tplimit"):
    f = backend.kernel(name)
    def counted(*args, f=f, name=name):
        calls[name] = calls.get(name, 0) + 1
        return f(*args)
    backend.set_kernel(name, counted)
m1, a1, o1 = run()
tplimit = backend.kernel("tplimit")
for name in list(backend._kernels):
    backend.set_kernel(name, None)
backend.set_kernel("tplimit", tplimit)  # alone: no exp/log in it, so the output is exact
m2, a2, o2 = run()
res = {
    "calls": calls,
    "meter_equal": m1.summary() == m0.summary() and m1._states == m0._states
                   and m1._fine_m == m0._fine_m and m1._fine_s == m0._fine_s,
    "summary": m1.summary(),
    "energy": max(abs(x - y) / max(y, 1e-12) for x, y in zip(a1.energy, a0.energy)),
    "peak": max(abs(x - y) for x, y in zip(a1.peak, a0.peak)),
    "chunks": len(a1.energy),
    "measured": [a1.measured(), a0.measured()],
    "out": max(abs(x - y) for a, b in zip(o1, o0) for x, y in zip(a, b)),
    "outPeak": max(max(map(abs, c)) for c in o0),
    "tplimitExact": o2 == o0,
}
json.dumps(res)
`),
);
