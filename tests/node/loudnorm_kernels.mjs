// The loudness pass on planar array('d') blocks (aimixer_dsp.loudnorm: NormalizationAnalysis.push
// and Normalizer.process, kernels "normanalysis" and "normalize" of wasm/js/kernels_loudnorm.js)
// inside Pyodide against the list path: with the browser's kernels installed both ways (the list
// path then runs kweight, tprows and tplimit; the array path must give its results bit for bit)
// and against the pure-Python list path (no kernels: equal within float rounding). Mono, stereo
// and 5.1 (a zero channel weight) with transients, silence and clipping, in steady and odd block
// sizes (some shorter than KERNEL_MIN; the pure-Python comparison in stereo); the true-peak rows'
// FIR in WebAssembly SIMD and in its JavaScript fallback. Prints one JSON line.
import { bootDsp } from "./pyodide_lib.mjs";
import { installKernels } from "../../wasm/js/kernels.js";
import { firEngine, useWasmFir } from "../../wasm/js/kernels_loudnorm.js";

const { py } = await bootDsp();
const backend = py.pyimport("aimixer_dsp.backend");
py.globals.set("install", () => installKernels(backend));
py.globals.set("use_wasm_fir", (on) => useWasmFir(on));
py.globals.set("fir_engine", () => firEngine());
console.log(
  py.runPython(`
import json, math, random
from array import array
from aimixer_dsp import backend
from aimixer_dsp.loudnorm import NormalizationAnalysis, Normalizer
from aimixer_dsp.processors.base import planar, unplanar

SR = 48000
N = SR * 2

def signal(ch, seed):
    rng = random.Random(seed)
    cols = []
    for c in range(ch):
        col = []
        for i in range(N):
            t = i / SR
            if 0.9 <= t < 1.3:  # digital silence (longer than a block: the rows' zero branch)
                col.append(0.0)
                continue
            v = 0.5 * math.sin(2 * math.pi * (180 + 70 * c) * t) + 0.1 * (rng.random() - 0.5)
            if int(t * 4) % 3 == 1:
                v *= 0.02  # quiet stretches
            if i % 12000 < 40:
                v += 0.9 * (1 if (i // 7) % 2 else -1)  # transients (square bursts)
            if 1.8 <= t < 2.0:
                v = max(-1.0, min(1.0, 3.0 * v))  # clipped
            col.append(v)
        cols.append(array("f", col).tolist())  # float32 values, as a decoded file
    return cols

BLOCKS = {
    "steady": [4096],
    "odd": [300, 5000, 17, 256, 3333, 128, 9000, 1024, 255, 40000, 257, 1, 7777],
}

def run(cols, sizes, arrays):
    ch = len(cols)
    a = NormalizationAnalysis(SR, ch)
    z = Normalizer(7.5, -1.0, SR, ch)
    out = [[] for _ in range(ch)]
    s = k = 0
    long = 0
    while s < N:
        m = min(sizes[k % len(sizes)], N - s)
        long += m >= backend.KERNEL_MIN
        blk = [c[s:s + m] for c in cols]
        if arrays:
            p = planar((), blk)
            a.push(p)
            y = z.process(p)
            assert isinstance(y, array) and len(y) == len(p)
            y = unplanar(y, ch, 0)
        else:
            a.push(blk)
            y = z.process(blk)
        for o, v in zip(out, y):
            o.extend(v)
        s += m
        k += 1
    return a, z, out, long

def analysis_state(a):
    return (list(a.energy), list(a.peak), a._acc_e, a._acc_p, a.frames, a._kstate, a._tp._hist,
            a._rows_hist, a.measured(), a.gain_for(-14.0, -1.0))

def limiter_state(z):
    st = z.limiter._tp
    core = st["core"]
    return ({k: st[k] for k in ("ha", "hr", "hx", "de", "dx")}, core._u, core._uh, core._delay,
            [m._hist for m in st["meters"]])

calls = {}
def counting():
    for name in list(backend._kernels):
        f = backend.kernel(name)
        def counted(*args, f=f, name=name):
            calls[name] = calls.get(name, 0) + 1
            return f(*args)
        backend.set_kernel(name, counted)

res = {"cases": {}, "fir": fir_engine()}
for ch in (1, 2, 6):
    cols = signal(ch, 10 + ch)
    for bname, sizes in BLOCKS.items():
        install()
        a1, z1, o1, _ = run(cols, sizes, False)  # the list path with the kernels
        counting()
        calls.clear()
        a2, z2, o2, long = run(cols, sizes, True)  # the array path with the kernels
        array_calls = dict(calls)
        use_wasm_fir(False)  # the rows' FIR in JavaScript (where WebAssembly SIMD is missing)
        a3, z3, o3, _ = run(cols, sizes, True)
        use_wasm_fir(True)
        res["cases"][f"{ch}/{bname}"] = d = {
            "array_calls": array_calls,
            "long_blocks": long,
            "analysis_exact": analysis_state(a2) == analysis_state(a1),
            "out_exact": o2 == o1,
            "limiter_exact": limiter_state(z2) == limiter_state(z1),
            "js_fir_exact": analysis_state(a3) == analysis_state(a1) and o3 == o1
                            and limiter_state(z3) == limiter_state(z1),
            "chunks": len(a2.energy),
            "out_peak": max(max(map(abs, c)) for c in o2),
            "frames": [len(o2[0]), N],
        }
        if ch == 2:  # and the pure-Python list path (no kernels): within float rounding
            for name in list(backend._kernels):
                backend.set_kernel(name, None)
            a0, z0, o0, _ = run(cols, sizes, False)
            d["energy_vs_pure"] = max(abs(x - y) / max(y, 1e-12) for x, y in zip(a2.energy, a0.energy))
            d["peak_vs_pure"] = max(abs(x - y) for x, y in zip(a2.peak, a0.peak))
            d["measured"] = [a2.measured(), a0.measured()]
            d["out_vs_pure"] = max(abs(x - y) for p, q in zip(o2, o0) for x, y in zip(p, q))
json.dumps(res)
`),
);
