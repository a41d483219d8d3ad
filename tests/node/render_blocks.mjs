// The render's array path (planar array('d') blocks, wasm/js/kernels_chain.js + the dynamics
// kernels) against its list path, inside Pyodide (Node) with the browser's kernels installed:
// (1) ChannelChain over mono, stereo and 3 channels, odd block sizes and blocks shorter than
// KERNEL_MIN, the tail; (2) whole FileJobs driven as wasm/js/filejobs.js drives them (JavaScript
// writes job.inp through getBuffer("f64"), calls job.analyse(k) / job.render(k) / job.finish() and
// reads job.out as float32) against aimixer_dsp.render.render() on lists with the same rounding
// between passes: genre "auto" with fixed probabilities, a loudness target, stereo and mono.
// Usage: node tests/node/render_blocks.mjs -> one JSON object {case: {n, out, state, equal}}.
import { bootDsp, runJobPass } from "./pyodide_lib.mjs";
import { jobBuffers } from "../../wasm/js/filejobs.js";
import { installKernels } from "../../wasm/js/kernels.js";

const { py } = await bootDsp();
const backend = py.pyimport("aimixer_dsp.backend");
installKernels(backend);
py.runPython(`
import math, random
from array import array
from aimixer_dsp import backend
from aimixer_dsp.presets import resolve_settings
from aimixer_dsp.render import ChannelChain, FileJob, render

CALLS = {}  # calls of the kernels that only the array path uses

def counting(name):
    fn = backend.kernel(name)
    def call(*a):
        CALLS[name] = CALLS.get(name, 0) + 1
        return fn(*a)
    backend.set_kernel(name, call)

for name in ("finite", "scale", "eqblock", "peaks"):
    counting(name)

def signal(n, seed, scale):
    """Transients, tones, digital silence and clipping (float32 values)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = i / 48000
        beat = t % 0.25
        v = 0.9 * math.exp(-beat / 0.03) * math.sin(2 * math.pi * 60 * beat)
        v += 0.2 * math.sin(2 * math.pi * (220 + 40 * seed) * t) + 0.05 * (rng.random() - 0.5)
        if 0.30 <= t < 0.42:
            v = 0.0
        out.append(max(-1.0, min(1.0, scale * v)))
    return array("f", out).tolist()

CONFIGS = {
    "rock": {"genre": "rock"},
    "all": {"gain": 6.0, "noiseGate": {"enabled": True, "threshold": -35.0, "hold": 2.0, "range": -40.0},
            "compressor": {"enabled": True, "threshold": -24.0, "ratio": 6.0, "knee": 6.0, "makeup": 3.0},
            "eq": {"enabled": True, "low": 4.0, "mid": -3.0, "high": 5.0},
            "limiter": {"enabled": True, "ceiling": -1.0, "lookahead": 3.0, "release": 20.0}},
    "open": {"noiseGate": {"enabled": True, "threshold": -60.0, "hold": 1000.0}, "eq": {"enabled": False},
             "limiter": {"enabled": True, "ceiling": -0.5, "lookahead": 20.0}},
}
SIZES = [3001, 256, 100, 4097, 255, 20000, 1000, 7, 32768, 513]

def run_chain(cfg, cols, as_block):
    ch = len(cols)
    s = {k: v for k, v in cfg.items() if k != "genre"}
    cc = ChannelChain(resolve_settings(s, cfg.get("genre")), ch)
    out = [[] for _ in cols]
    pos = 0
    for k in SIZES:
        part = [c[pos:pos + k] for c in cols]
        pos += k
        if as_block:
            blk = array("d")
            for p in part:
                blk += array("d", p)
            y = cc.process(blk)
            m = len(y) // ch
            y = [y[c * m:(c + 1) * m].tolist() for c in range(ch)]
        else:
            y = cc.process(part)
        for o, v in zip(out, y):
            o.extend(v)
    tail = cc.finish(as_block=as_block)
    if as_block:
        m = len(tail) // ch
        tail = [tail[c * m:(c + 1) * m].tolist() for c in range(ch)]
    for o, v in zip(out, tail):
        o.extend(v)
    state = [sorted((k, v) for k, v in vars(p).items() if isinstance(v, (int, float, list)))
             for p in [*cc.chain, *cc._eqs]]
    return out, [state, cc._dl, cc._dm]

def flat(v):
    if isinstance(v, (list, tuple)):
        for e in v:
            yield from flat(e)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        yield float(v)
    elif isinstance(v, str):
        yield float(len(v))

def compare(a, b, sa=None, sb=None):
    fa, fb = list(flat(a)), list(flat(b))
    d = max((abs(p - q) for p, q in zip(fa, fb)), default=0.0) if len(fa) == len(fb) else math.inf
    res = {"n": len(fa), "out": d, "equal": a == b, "peak": max(map(abs, fa), default=0.0)}
    if sa is not None:
        res["state_equal"] = sa == sb
    return res

RES = {}
TOTAL = sum(SIZES)
for channels in (1, 2, 3):
    cols = [signal(TOTAL, c, 1.4 + 0.3 * c) for c in range(channels)]
    for name, cfg in CONFIGS.items():
        a, sa = run_chain(cfg, cols, False)
        b, sb = run_chain(cfg, cols, True)
        RES[f"chain{channels}/{name}"] = compare(a, b, sa, sb)

PROBS = {"rock": 0.7, "pop": 0.2, "jazz": 0.1}
JOBS = {
    "stereo/auto/streaming/32768": (2, 6.0, 1 << 15, {"genre": "auto"}, "streaming"),
    "mono/auto/-20/3001": (1, 3.0, 3001, {"genre": "auto"}, -20.0),
    "stereo/all/podcast/4097": (2, 3.0, 4097, CONFIGS["all"], "podcast"),
}

def job_want(key):
    ch, secs, block, cfg, target = JOBS[key]
    n = int(48000 * secs) + 77
    cols = [signal(n, 10 + c, 1.2 + 0.2 * c) for c in range(ch)]
    out, rep = render(cols, 48000, cfg, target=target, predict=lambda v: PROBS, block=block, model_version="node")
    return cols, [array("f", o).tolist() for o in out], rep

def job_new(key, n):
    ch, secs, block, cfg, target = JOBS[key]
    return FileJob(ch, 48000, n, cfg, target=target, block=block)
`);

// filejobs.js's loop, in JavaScript: float32 channels in, float32 channels out
function driveJob(job, channels) {
  const n = channels[0].length;
  const { buf, release } = jobBuffers(job);
  try {
    const loop = (method, src, dst) => {
      const w = runJobPass(job, buf, method, src, dst);
      if (dst && w !== n) throw new Error(`rendered ${w} of ${n}`);
    };
    if (job.wants_genre) {
      loop("analyse", channels, null);
      const vecs = job.genre_vectors();
      const probs = py.toPy(Array.from({ length: vecs.length }, () => ({ rock: 0.7, pop: 0.2, jazz: 0.1 })));
      job.set_genre(probs, "node").destroy();
      probs.destroy();
      vecs.destroy();
    }
    const result = channels.map(() => new Float32Array(n));
    const passes = Number(job.pass_count);
    for (let p = 0; p < passes; p++) {
      job.begin(p);
      loop("render", p === 0 ? channels : result, result);
    }
    return result;
  } finally {
    release();
  }
}

const jobKeys = py.globals.get("JOBS").keys().toJs();
for (const key of jobKeys) {
  const want = py.globals.get("job_want")(key);
  const cols = want.get(0).toJs().map((c) => Float32Array.from(c));
  const job = py.globals.get("job_new")(key, cols[0].length);
  const got = driveJob(job, cols);
  py.globals.set("GOT", py.toPy(got.map((c) => Array.from(c))));
  py.globals.set("WANT", want);
  py.globals.set("JOB", job);
  py.globals.set("KEY", key);
  py.runPython(`
r = compare(WANT[1], GOT)
r["report_equal"] = JOB.report() == WANT[2]
r["genre"] = JOB.genre
RES[KEY] = r
`);
  job.destroy();
}
console.log(
  py.runPython(`
import json
RES["kernels"] = sorted(backend._kernels)
RES["calls"] = CALLS
json.dumps(RES)
`),
);
