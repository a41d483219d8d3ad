// The file meters and the genre rows on planar array('d') blocks with the meter kernels
// (wasm/js/kernels_meters.js: meter, mono, genrerows) against the list path, inside Pyodide (Node,
// pure path, every kernel of kernels.js installed for both): render.FileMeter (with and without
// the 100 ms curve) and render.GenreAnalysis fed the same audio in the same blocks, once as
// channel lists and once as planar arrays (or arrays and lists mixed), for 1, 2 and 6 channels
// and several block sizes.
// Usage: node tests/node/meters_rows.mjs -> one JSON object (see test_meters_rows_node.py).
import { bootDsp } from "./pyodide_lib.mjs";
import { installKernels } from "../../wasm/js/kernels.js";
import * as exactSums from "../../wasm/js/pysums.js";

const { py } = await bootDsp();
const backend = py.pyimport("aimixer_dsp.backend");
installKernels(backend);

// The exact sums against Python's math.fsum, math.sumprod and sum() on hard inputs: exact ties
// (round half to even), values just off a tie, huge dynamic ranges, cancellation.
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const cases = [
  [1.0, 2 ** -53],
  [1.0 + 2 ** -52, 2 ** -53],
  [1.0, 2 ** -53, 2 ** -140],
  [2 ** 60, 1.0, -(2 ** 60), 2 ** -30],
  [1e100, 1.0, -1e100, 1e-100],
  [0.1, 0.2, 0.3, -0.6],
  Array(10).fill(0.1),
];
for (let k = 0; k < 400; k++) {
  const n = 1 + Math.floor(rand() * 5000);
  const wide = k % 3;
  const a = [];
  for (let i = 0; i < n; i++) {
    const v = rand() ** (wide ? 40 : 2) * 2 ** (Math.floor(rand() * (wide === 2 ? 200 : 8)) - 4);
    a.push(k % 5 === 4 && rand() < 0.5 ? -v : v);
  }
  if (k % 7 === 0) a.push(2 ** 52, 0.5, -(2 ** 52)); // a tie deep inside
  cases.push(a);
}
const jsSums = cases.map((a) => {
  const x = Float64Array.from(a);
  return [exactSums.fsum(x, 0, x.length), exactSums.fsumExact(x, 0, x.length),
    exactSums.sumprod(x, 0, x, 0, x.length), exactSums.pysum(x.length, (i) => x[i])];
});
py.globals.set("SUM_CASES", py.toPy(cases));
py.globals.set("JS_SUMS", py.toPy(jsSums));
const out = py.runPython(`
import json, math, random
from array import array
from aimixer_dsp import backend
from aimixer_dsp.errors import NonFiniteInputError
from aimixer_dsp.processors.base import planar
from aimixer_dsp.render import FileMeter, GenreAnalysis

CALLS = {}
def counted(name):
    fn = backend.kernel(name)
    def call(*a):
        CALLS[name] = CALLS.get(name, 0) + 1
        return fn(*a)
    backend.set_kernel(name, call)
for name in ("meter", "mono", "genrerows"):
    counted(name)

def signal(n, channels, seed):
    """float32 audio: a beat with transients, a tone, noise, 0.7 s of digital silence, a
    clipped (flat at +-1) stretch; the channels differ."""
    rng = random.Random(seed)
    cols = []
    for c in range(channels):
        x = []
        for i in range(n):
            t = i / 48000
            beat = t % 0.5
            v = 0.7 * math.exp(-beat / 0.05) * math.sin(2 * math.pi * (60 + 20 * c) * beat)
            v += 0.2 * math.sin(2 * math.pi * (220 + 110 * c) * t) + 0.05 * (rng.random() - 0.5)
            if 2.0 <= t < 2.7:
                v = 0.0
            elif 4.0 <= t < 4.5:
                v = max(-1.0, min(1.0, 3.0 * v))
            x.append(v)
        cols.append(array("f", x).tolist())
    return cols

SIZES = {
    "32768": [32768],
    "4800": [4800],
    "odd": [1000, 4097, 257, 100, 9000, 33, 255, 20000, 1, 4799, 12345],
}

def blocks(n, sizes):
    s = 0
    k = 0
    while s < n:
        b = min(n - s, sizes[k % len(sizes)])
        yield s, s + b
        s += b
        k += 1

def meter_state(m):
    lm = m.meter
    return [m.peak, m.sumsq, m.frames, lm._fine_m, lm._fine_s, lm._states, list(lm._recent), lm._samples,
            lm._pos, lm._acc, sorted(lm._blocks.sums.items()), sorted(lm._st_blocks.sums.items())]

def report(m):
    return [m.summary(), m.curve]

def run(cols, sizes, arrays, curve, first_list=False, typecode="d"):
    ch = len(cols)
    n = len(cols[0])
    meter = FileMeter(48000, ch, curve=curve)
    genre = GenreAnalysis(ch, 48000)
    for i, (a, b) in enumerate(blocks(n, sizes)):
        part = [c[a:b] for c in cols]
        if arrays and not (first_list and i % 3 == 0):  # mixed: every third block as lists
            part = planar((), part)
            if typecode != "d":
                part = array(typecode, part)
        meter.push(part)
        genre.push(part)
    return meter, genre

res = {"cases": {}, "nonfinite": None}
bad_sums = []
for c, js in zip(SUM_CASES, JS_SUMS):
    x = [float(v) for v in c]
    want = [math.fsum(x), math.fsum(x), math.sumprod(x, x), sum(x)]
    if [float(v) for v in js] != want:
        bad_sums.append([x[:5], list(js), want])
res["sums"] = {"cases": len(SUM_CASES), "bad": bad_sums[:3], "nbad": len(bad_sums)}
SECONDS = 7.0
for ch in (1, 2, 6):
    cols = signal(int(SECONDS * 48000), ch, 10 + ch)
    for key, sizes in SIZES.items():
        for curve in (False, True):
            for first_list in (False, True):
                if first_list and key != "odd":
                    continue
                ml, gl = run(cols, sizes, False, curve)
                ma, ga = run(cols, sizes, True, curve, first_list)
                name = f"{ch}ch/{key}/{'curve' if curve else 'plain'}{'/mixed' if first_list else ''}"
                rows_equal = gl.rows == ga.rows and gl.frames == ga.frames
                vl, va = gl.vectors(), ga.vectors()
                probs = [{"rock": 0.25 + 0.5 * (math.tanh(v[0] / 100) + 1) / 2, "speech": 0.0} for v in vl]
                for p in probs:
                    p["speech"] = 1.0 - p["rock"]
                res["cases"][name] = {
                    "report_equal": repr(report(ml)) == repr(report(ma)),
                    "state_equal": repr(meter_state(ml)) == repr(meter_state(ma)),
                    "rows_equal": rows_equal,
                    "vectors_equal": vl == va,
                    "result_equal": gl.result(probs, "t") == ga.result(probs, "t"),
                    "rows": len(ga.rows),
                    "curve": len(ma.curve or []),
                    "summary": ma.summary(),
                }
# 44.1 kHz (another K-filter and 4410-sample steps), 3 channels, with the curve: the meter alone
cols = signal(int(5.5 * 44100), 3, 13)
same = []
for curve in (False, True):
    ml, ma = FileMeter(44100, 3, curve=curve), FileMeter(44100, 3, curve=curve)
    for a, b in blocks(len(cols[0]), SIZES["odd"]):
        ml.push([c[a:b] for c in cols])
        ma.push(planar((), [c[a:b] for c in cols]))
    same.append(repr(report(ml)) == repr(report(ma)) and repr(meter_state(ml)) == repr(meter_state(ma)))
res["44100"] = same
# float32 planar arrays (not the kernels' type): converted to lists, the same numbers
cols = signal(int(SECONDS * 48000), 2, 12)
ml, gl = run(cols, SIZES["odd"], False, True)
mf, gf = run(cols, SIZES["odd"], True, True, typecode="f")
res["float32"] = repr(report(ml)) == repr(report(mf)) and gl.rows == gf.rows and len(gf.rows) == 70
# a NaN in an array block: NonFiniteInputError, nothing metered
m = FileMeter(48000, 2)
m.push(planar((), [[0.1] * 3000, [0.2] * 3000]))
before = repr(meter_state(m))
bad = planar((), [[0.1] * 3000, [0.2] * 2999 + [float("nan")]])
try:
    m.push(bad)
    res["nonfinite"] = "no error"
except NonFiniteInputError as exc:
    res["nonfinite"] = {"index": exc.details.get("index") if hasattr(exc, "details") else None,
                        "unchanged": repr(meter_state(m)) == before}
res["calls"] = CALLS
json.dumps(res)
`);
console.log(out);
