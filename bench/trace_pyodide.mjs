// Where the time goes in Pyodide (Node, pure path, the browser's JavaScript kernels installed):
// (1) a stereo FileJob render (genre rows, "auto" resolved to rock, the `streaming` target) driven
//     as wasm/js/filejobs.js drives it: JavaScript writes each block's float32 samples into
//     job.inp (getBuffer("f64")), calls job.analyse(k) / job.render(k) / job.finish() and copies
//     job.out out as float32; each phase split into the loudness meters, the genre rows, the
//     chain (its EQ), the loudness analysis and pass, the block I/O (read + finite check, write)
//     and the conversions of planar blocks to channel lists for the stages that take lists;
//     with --lists the job runs its list path instead (render_cols on Python lists, as before
//     the array path; no worker I/O); (2) the live frame path (`FrameIO.run`, rock preset, 960
//     samples) per stage, the minimum over 5 passes per frame.
// Usage: node bench/trace_pyodide.mjs [--seconds 10] [--no-dynamics] [--no-kernels] [--lists]
// Prints one JSON object (seconds per phase / ms per frame: mean, p50, p99).
import { bootDsp, runJobPass, MUSIC_PY } from "../tests/node/pyodide_lib.mjs";
import { jobBuffers } from "../wasm/js/filejobs.js";
import { installKernels } from "../wasm/js/kernels.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const { py } = await bootDsp();
py.runPython(MUSIC_PY); // music(n): the test programme
const backend = py.pyimport("aimixer_dsp.backend");
if (!args.includes("--no-kernels")) installKernels(backend);
if (args.includes("--no-dynamics")) for (const k of ["gate", "compressor", "limiter"]) backend.set_kernel(k, undefined);
py.globals.set("SECS", opt("--seconds", 10));
py.globals.set("LISTS", args.includes("--lists"));
py.runPython(`
import json, math, random, time
from array import array
from aimixer_dsp import backend, loudnorm
from aimixer_dsp import render as R_
from aimixer_dsp.jsbridge import FrameIO
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.mixer import MixerSession
from aimixer_dsp.processors import Chain, Equalizer, Limiter, NoiseGate
from aimixer_dsp.processors import chain as chain_mod
from aimixer_dsp.truepeak import TruePeakMeter

T = {}
DEPTH = {}
def wrap(obj, meth, name):
    f = getattr(obj, meth)
    def g(*a, **k):
        if DEPTH.get(name):  # nested (the array path falling back to the list path): counted once
            return f(*a, **k)
        DEPTH[name] = 1
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            T.setdefault(name, []).append(time.perf_counter() - t)
            DEPTH[name] = 0
    setattr(obj, meth, g)
    return f

res = {"kernels": sorted(backend._kernels), "driver": "lists (render_cols)" if LISTS else "worker (job.inp / job.render)"}
# -- (1) the render --------------------------------------------------------------------------
UNDO = [(o, m, wrap(o, m, k)) for o, m, k in [
    (R_.FileMeter, "push", "meters"),
    (R_.ChannelChain, "_run", "chain"),
    (R_.ChannelChain, "_run_block", "chain"),
    (R_.GenreAnalysis, "push", "genre rows"),
    (Equalizer, "_run_py", "eq"),
    (Equalizer, "run_block_at", "eq"),
    (loudnorm.NormalizationAnalysis, "push", "loudness analysis"),
    (loudnorm.Normalizer, "process", "loudness pass"),
    (R_.FileJob, "_read", "read + finite check"),
    (R_.FileJob, "_write", "write"),
    (R_, "unplanar", "block -> lists"),
    (R_, "planar", "lists -> block"),
]]
n = int(SECS * 48000)
L, R = music(n)
SRC = [array("f", L), array("f", R)]
B = 1 << 15
job = R_.FileJob(2, 48000, n, {"genre": "auto"}, target="streaming", block=B)
phases = {}

def phase(name, total):
    phases[name] = {"total": total, **{k: sum(v) for k, v in T.items()}}
    T.clear()

def set_genre():
    job.set_genre([{"rock": 0.9, "pop": 0.1} for _ in job.genre_vectors()], "trace")

def list_passes():
    t0 = time.perf_counter()
    src = [c.tolist() for c in SRC]
    for s in range(0, n, B):
        job.analyse_cols([c[s:s + B] for c in src])
    phase("analyse", time.perf_counter() - t0)
    set_genre()
    for p in range(job.pass_count):
        job.begin(p)
        t0 = time.perf_counter()
        out = [[], []]
        for s in range(0, n, B):
            for o, y in zip(out, job.render_cols([c[s:s + B] for c in src])):
                o.extend(y)
        for o, y in zip(out, job.finish_cols()):
            o.extend(y)
        phase("mix" if p == 0 else "loudness", time.perf_counter() - t0)
        src = [array("f", o).tolist() for o in out]
`);

// the worker's loop (wasm/js/filejobs.js): float32 channels in and out through job.inp / job.out
function workerPasses() {
  const job = py.globals.get("job");
  const n = Number(py.globals.get("n"));
  const src = py.globals.get("SRC").toJs().map((a) => Float32Array.from(a));
  const { buf, release } = jobBuffers(job);
  const phase = py.globals.get("phase");
  const loop = (method, from, to) => runJobPass(job, buf, method, from, to);
  try {
    let t0 = performance.now();
    loop("analyse", src, null);
    phase("analyse", (performance.now() - t0) / 1e3);
    py.globals.get("set_genre")();
    const result = src.map(() => new Float32Array(n));
    const passes = Number(job.pass_count);
    for (let p = 0; p < passes; p++) {
      job.begin(p);
      t0 = performance.now();
      loop("render", p === 0 ? src : result, result);
      phase(p === 0 ? "mix" : "loudness", (performance.now() - t0) / 1e3);
    }
  } finally {
    release();
  }
}

if (args.includes("--lists")) py.globals.get("list_passes")();
else workerPasses();
console.log(
  py.runPython(`
total = sum(v["total"] for v in phases.values())
res["render"] = {"seconds": SECS, "phases_s": phases, "total_s": total, "real_time_factor": SECS / total}
for obj, meth, f in UNDO:
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
