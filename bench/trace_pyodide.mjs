// Where the time goes in Pyodide (Node, pure path, the browser's JavaScript kernels installed):
// (1) a stereo FileJob render (genre rows, "auto" resolved to rock, the `streaming` target), each
//     phase split into the loudness meters, the chain and its stages; (2) the live frame path
//     (`FrameIO.run`, rock preset, 960 samples) per stage, the minimum over 5 passes per frame.
// Usage: node bench/trace_pyodide.mjs [--seconds 10] [--no-dynamics] [--no-kernels]
// Prints one JSON object (seconds per phase / ms per frame: mean, p50, p99).
import { bootDsp } from "../tests/node/pyodide_lib.mjs";
import { installKernels } from "../wasm/js/kernels.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const { py } = await bootDsp();
const backend = py.pyimport("aimixer_dsp.backend");
if (!args.includes("--no-kernels")) installKernels(backend);
if (args.includes("--no-dynamics")) for (const k of ["gate", "compressor", "limiter"]) backend.set_kernel(k, undefined);
py.globals.set("SECS", opt("--seconds", 10));
console.log(
  py.runPython(`
import json, math, random, time
from array import array
from aimixer_dsp import backend
from aimixer_dsp import render as R_
from aimixer_dsp.jsbridge import FrameIO
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.mixer import MixerSession
from aimixer_dsp.processors import Chain, Equalizer, Limiter, NoiseGate
from aimixer_dsp.processors import chain as chain_mod
from aimixer_dsp.truepeak import TruePeakMeter

T = {}
def wrap(obj, meth, name):
    f = getattr(obj, meth)
    def g(*a, **k):
        t = time.perf_counter()
        r = f(*a, **k)
        T.setdefault(name, []).append(time.perf_counter() - t)
        return r
    setattr(obj, meth, g)
    return f

res = {"kernels": sorted(backend._kernels)}
# -- (1) the render --------------------------------------------------------------------------
undo = [(R_.FileMeter, "push", wrap(R_.FileMeter, "push", "meters")),
        (R_.ChannelChain, "_run", wrap(R_.ChannelChain, "_run", "chain")),
        (R_.GenreAnalysis, "push", wrap(R_.GenreAnalysis, "push", "genre rows")),
        (Equalizer, "_run_py", wrap(Equalizer, "_run_py", "eq"))]
n = int(SECS * 48000)
rng = random.Random(1)
L, R = [], []
for i in range(n):
    t = i / 48000
    beat = t % 0.5
    kick = 0.6 * math.exp(-beat / 0.08) * math.sin(2 * math.pi * 55 * beat)
    L.append(kick + 0.15 * math.sin(2 * math.pi * 220 * t) + 0.03 * (rng.random() - 0.5))
    R.append(kick + 0.12 * math.sin(2 * math.pi * 330 * t) + 0.03 * (rng.random() - 0.5))
src = [array("f", L).tolist(), array("f", R).tolist()]
B = 1 << 15
job = R_.FileJob(2, 48000, n, {"genre": "auto"}, target="streaming", block=B)
t0 = time.perf_counter()
for s in range(0, n, B):
    job.analyse_cols([c[s:s + B] for c in src])
phases = {"analyse": {"total": time.perf_counter() - t0, **{k: sum(v) for k, v in T.items()}}}
T.clear()
job.set_genre([{"rock": 0.9, "pop": 0.1} for _ in job.genre_vectors()], "trace")
for p in range(job.pass_count):
    job.begin(p)
    t0 = time.perf_counter()
    out = [[], []]
    for s in range(0, n, B):
        for o, y in zip(out, job.render_cols([c[s:s + B] for c in src])):
            o.extend(y)
    for o, y in zip(out, job.finish_cols()):
        o.extend(y)
    phases["mix" if p == 0 else "loudness"] = {"total": time.perf_counter() - t0, **{k: sum(v) for k, v in T.items()}}
    T.clear()
    src = [array("f", o).tolist() for o in out]
total = sum(v["total"] for v in phases.values())
res["render"] = {"seconds": SECS, "phases_s": phases, "total_s": total, "real_time_factor": SECS / total}
for obj, meth, f in undo:
    setattr(obj, meth, f)
# -- (2) the live frame ----------------------------------------------------------------------
wrap(Chain, "_run_py", "chain")
wrap(NoiseGate, "_run_py", "gate")
wrap(Limiter, "_run_py", "limiter")
wrap(chain_mod, "_fused_compressor_eq", "compressor+eq")
wrap(TruePeakMeter, "push_checked", "true peak")
wrap(LoudnessMeter, "push_validated", "loudness meter")
wrap(Chain, "settings", "settings()")
wrap(FrameIO, "run", "FrameIO.run (whole frame)")
s = MixerSession()
io_ = FrameIO(960)
frames = [array("f", [0.3 * math.sin((k * 960 + i) * 0.0576) * (1 if k % 50 < 25 else 0.2) for i in range(960)])
          for k in range(300)]
cfg = '{"genre": "rock"}'
for A in frames[:50]:
    io_.input[:] = A
    io_.run(s, cfg, True)
best = {}
for r in range(5):
    T.clear()
    for A in frames:
        io_.input[:] = A
        io_.run(s, cfg, True)
    for k, v in T.items():
        best[k] = [min(a, b) for a, b in zip(best.get(k, [1e9] * len(v)), v)]
live = {}
for k, v in best.items():
    v = sorted(x * 1e3 for x in v)
    live[k] = {"mean": round(sum(v) / len(v), 4), "p50": round(v[len(v) // 2], 4), "p99": round(v[int(len(v) * 0.99)], 4)}
res["live_ms_per_frame"] = live
json.dumps(res, indent=1)
`),
);
