// The dynamics kernels (wasm/js/kernels_dynamics.js) against the package's Python loops, inside
// Pyodide (Node, pure path): every case runs once on the Python loops and once with the kernels
// installed, from fresh state, and the outputs and carried states are compared in Python.
// Usage: node tests/node/dynamics_kernels.mjs -> one JSON object {case: max abs difference}.
import { bootDsp } from "./pyodide_lib.mjs";
import { installKernels } from "../../wasm/js/kernels.js";

const { py } = await bootDsp();
py.runPython(`
import json, math, random
from aimixer_dsp import backend
from aimixer_dsp.presets import build_chain
from aimixer_dsp.render import ChannelChain

def signal(n, seed, scale=1.0):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = i / 48000
        env = 0.5 + 0.5 * math.sin(2 * math.pi * 0.7 * t)
        gap = 0.001 if 0.6 <= t < 0.9 else 1.0
        out.append(scale * gap * (env * 0.8 * math.sin(2 * math.pi * 220 * t + seed) + 0.05 * (rng.random() - 0.5)))
    return out

CONFIGS = {
    "default": {},
    "rock": {"noiseGate": {"enabled": True, "threshold": -40.0, "hold": 5.0},
             "compressor": {"enabled": True, "threshold": -16.0, "ratio": 4.0, "knee": 3.0, "makeup": 2.0},
             "eq": {"enabled": True, "low": 2.0, "mid": -1.0, "high": 2.0}},
    "hard": {"gain": 12.0, "noiseGate": {"enabled": True, "threshold": -30.0, "hold": 0.0, "range": -40.0},
             "compressor": {"enabled": True, "threshold": -30.0, "ratio": 20.0, "knee": 0.0, "attack": 0.1},
             "eq": {"enabled": False}, "limiter": {"enabled": True, "ceiling": -3.0, "lookahead": 0.0}},
    "ratio1": {"compressor": {"enabled": True, "ratio": 1.0, "makeup": 6.0},
               "limiter": {"enabled": True, "ceiling": -0.5, "lookahead": 20.0, "release": 1.0}},
    "limit": {"gain": 12.0, "compressor": {"enabled": False}, "noiseGate": {"enabled": False},
              "limiter": {"enabled": True, "ceiling": -1.0, "lookahead": 5.0, "release": 20.0}},
    "truepeak": {"gain": 9.0, "compressor": {"enabled": False},
                 "limiter": {"enabled": True, "ceiling": -1.0, "truePeak": True}},
    "nolimit": {"gain": 10.0, "limiter": {"enabled": False}, "compressor": {"enabled": True, "knee": 24.0}},
}

def run(kind):
    res = {}
    for name, cfg in CONFIGS.items():
        for sizes in ([960] * 12, [256, 1000, 4097, 300, 9000, 257]):
            total = sum(sizes)
            x = signal(total, 3, 1.5)
            chain = build_chain(cfg)
            out = []
            pos = 0
            for k in sizes:
                out.extend(chain.process(x[pos:pos + k]))
                pos += k
            state = [(type(p).__name__, {k: v for k, v in vars(p).items() if isinstance(v, (int, float, list))})
                     for p in chain]
            res[f"mono/{name}/{len(sizes)}"] = (out, state)
        for channels in (2, 3):
            cols = [signal(70000, 5 + c, 1.2 + 0.3 * c) for c in range(channels)]
            cc = ChannelChain(build_chain(cfg).settings(), channels)
            outs = [[] for _ in cols]
            for s in range(0, 70000, 32768):
                for o, y in zip(outs, cc.process([c[s:s + 32768] for c in cols])):
                    o.extend(y)
            for o, y in zip(outs, cc.finish()):
                o.extend(y)
            res[f"linked{channels}/{name}"] = (outs, None)
    return res

PY = run("python")
`);
const backend = py.pyimport("aimixer_dsp.backend");
installKernels(backend);
// the true-peak rows (kernel "tprows") differ from the Python loop's by float rounding (~1e-11,
// tests/node/test_meter_kernels_node.py): this script compares the dynamics kernels only
backend.set_kernel("tprows", undefined);
const out = py.runPython(`
JS = run("js")
def flat(v):
    if isinstance(v, (list, tuple)):
        for e in v:
            yield from flat(e)
    elif isinstance(v, dict):
        for k in sorted(v):
            yield from flat(v[k])
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        yield float(v)
diff = {}
for key, (a, sa) in PY.items():
    b, sb = JS[key]
    fa, fb = list(flat(a)), list(flat(b))
    sfa, sfb = list(flat(sa)), list(flat(sb))
    d = max((abs(p - q) for p, q in zip(fa, fb)), default=0.0) if len(fa) == len(fb) else math.inf
    ds = max((abs(p - q) for p, q in zip(sfa, sfb)), default=0.0) if len(sfa) == len(sfb) else math.inf
    diff[key] = {"out": d, "state": ds, "n": len(fa), "peak": max(map(abs, fa), default=0.0)}
diff["kernels"] = sorted(backend._kernels)
json.dumps(diff)
`);
console.log(out);
