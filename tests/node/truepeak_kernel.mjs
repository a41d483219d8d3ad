// The "truepeak" kernel of wasm/js/kernels.js (one call per block: sample peak, the over-sampler's
// FIR by kernels_loudnorm.js's rowPeaks, WebAssembly SIMD or JavaScript loops) inside Pyodide,
// against a Python twin of the former per-sample kernel (the same sums in the same order: its
// readings bit for bit) and the pure path (no kernels), for the three filters, odd block sizes,
// a near-silent block and a silent one after a loud one. Prints one JSON line.
import { bootDsp } from "./pyodide_lib.mjs";
import { installKernels } from "../../wasm/js/kernels.js";
import { firEngine, useWasmFir } from "../../wasm/js/kernels_loudnorm.js";

const { py } = await bootDsp();
const backend = py.pyimport("aimixer_dsp.backend");
py.globals.set("install", () => installKernels(backend));
py.globals.set("use_wasm", (/** @type {boolean} */ on) => useWasmFir(on));
py.globals.set("engine", () => firEngine());
console.log(
  py.runPython(`
import json, math, random
from aimixer_dsp import backend
from aimixer_dsp.truepeak import TruePeakMeter, _filter_bank

rng = random.Random(5)
SIZES = [960, 257, 1024, 300, 960, 4000, 961]
def frames():
    out = [[1e-300 * (rng.random() - 0.5) for _ in range(300)]]  # history zero: no FIR
    for k, n in enumerate(SIZES):
        f = 0.001 + 0.4 * rng.random()
        out.append([0.9 * math.sin(math.pi * f * i + k) + 0.05 * (rng.random() - 0.5) for i in range(n)])
    out.append([1e-300 * (rng.random() - 0.5) for _ in range(400)])  # below the FIR's threshold
    out.append([0.7 * (-1) ** i for i in range(960)])  # at fs/2 (the sample peak wins at 4x)
    out.append([0.0] * 512)  # silence: the history still rings
    out.append([rng.uniform(-1.0, 1.0) for _ in range(960)])
    return out
FRAMES = frames()
FILTERS = [(4, False), (8, False), (4, True)]

def former(m, hist, col):
    """TruePeakMeter._channel_pure with the former "truepeak" kernel's loop, in Python floats."""
    T = m._taps
    g = list(_filter_bank(m.oversample, m.wideband)[3])
    buf = hist + col
    sp, sn = max(col), -min(col)
    peak = sp if sp > sn else sn
    if max(peak, max(hist), -min(hist)) > 1e-280:
        hi = 0.0
        for t in range(T - 1, len(buf)):
            for p in range(len(g) // T):
                acc = 0.0
                for j in range(T):
                    acc += g[p * T + j] * buf[t - j]
                a = -acc if acc < 0 else acc
                if a > hi:
                    hi = a
        if hi > peak:
            peak = hi
    return peak, buf[-(T - 1):]

def run(ov, wide, reference=False):
    m = TruePeakMeter(48000, 1, ov, wideband=wide)
    got = []
    for col in FRAMES:
        if reference:
            v, m._hist[0] = former(m, m._hist[0], col)
        else:
            v = m._channel_pure(0, col)
        got.append((v, list(m._hist[0])))
    return got

calls = {"truepeak": 0}
res = {"filters": {}}
pure = {f: run(*f) for f in FILTERS}
twin = {f: run(*f, reference=True) for f in FILTERS}
install()
kern = backend.kernel("truepeak")
def counted(buf):
    calls["truepeak"] += 1
    return kern(buf)
backend.set_kernel("truepeak", counted)
for on in (True, False):
    use_wasm(on)
    eng = engine()
    for f in FILTERS:
        got = run(*f)
        res["filters"][f"{eng} x{f[0]}{' wide' if f[1] else ''}"] = {
            "bit_equal_former": [repr(a[0]) for a in got] == [repr(b[0]) for b in twin[f]],
            "hist_equal": [a[1] for a in got] == [b[1] for b in pure[f]],
            "max_db_vs_pure": max(abs(20 * math.log10(a[0] / b[0])) if b[0] > 0 else float(a[0] != b[0])
                                  for a, b in zip(got, pure[f])),
        }
use_wasm(True)
m = TruePeakMeter(48000)
res["push_checked"] = [m.push_checked(col) for col in FRAMES] == [v for v, _ in twin[(4, False)]]
res["calls"] = calls
res["readings"] = [v for v, _ in twin[(4, False)]]
json.dumps(res)
`),
);
