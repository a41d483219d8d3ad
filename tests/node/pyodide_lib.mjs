// Shared helpers: boot Pyodide in Node and load the pure-Python aimixer_dsp package into it.
// Used by tests/node/pyodide_dsp.mjs and bench/pyodide_bench.mjs.
// No NumPy is loaded: the package runs its pure-Python path, as in the browser.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PYODIDE_DIR = process.env.PYODIDE_DIR || path.join(ROOT, "node_modules", "pyodide");
const PKG_SRC = path.join(ROOT, "wasm", "aimixer_dsp");
const PKG_MOUNT = "/aimixer_pkg";

function copyTree(py, src, dst) {
  py.FS.mkdirTree(dst);
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, entry.name);
    const d = `${dst}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") copyTree(py, s, d);
    } else if (entry.name.endsWith(".py")) {
      py.FS.writeFile(d, fs.readFileSync(s));
    }
  }
}

/** Boot Pyodide and make `aimixer_dsp` importable. Returns {py, builtins, bootMs}. */
export async function bootDsp() {
  const t0 = performance.now();
  const { loadPyodide } = await import(pathToFileURL(path.join(PYODIDE_DIR, "pyodide.mjs")).href);
  const py = await loadPyodide({ indexURL: PYODIDE_DIR + path.sep });
  copyTree(py, PKG_SRC, `${PKG_MOUNT}/aimixer_dsp`);
  const sys = py.pyimport("sys");
  sys.path.insert(0, PKG_MOUNT);
  const builtins = py.pyimport("builtins");
  return { py, builtins, bootMs: performance.now() - t0 };
}

/** A JS array / typed array of numbers -> a Python list of floats. */
export function toPyFloats(py, builtins, values) {
  const mv = py.toPy(Float64Array.from(values));
  const list = builtins.list(mv);
  mv.destroy();
  return list;
}

/** A Python object -> plain JS (lists -> arrays, dicts -> objects); destroys the proxy. */
export function toJs(proxy) {
  if (proxy === null || proxy === undefined || typeof proxy !== "object" || !proxy.toJs) return proxy;
  const out = proxy.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
  proxy.destroy();
  return out;
}

/**
 * One pass of a FileJob as the worker (wasm/js/filejobs.js) drives it, synchronously: each block
 * of `src` (float32 channels) into job.inp, `job[method](k)`, and with `dst` the block's output
 * and then the pass's tail (job.finish()) copied from job.out. Returns the frames written.
 * @param {any} job a PyProxy of aimixer_dsp.render.FileJob
 * @param {(name: string) => Float64Array} buf jobBuffers(job).buf
 */
export function runJobPass(job, buf, method, src, dst) {
  const n = src[0].length;
  const block = Number(job.block);
  const fn = job[method];
  let w = 0;
  const copyOut = (got) => {
    for (let c = 0; c < dst.length; c++) dst[c].set(buf("out").subarray(c * block, c * block + got), w);
    w += got;
  };
  try {
    for (let s = 0; s < n; s += block) {
      const k = Math.min(block, n - s);
      for (let c = 0; c < src.length; c++) buf("inp").set(src[c].subarray(s, s + k), c * block);
      const got = fn(k);
      if (dst) copyOut(got);
    }
    if (dst) for (let got = job.finish(); got > 0; got = job.finish()) copyOut(got);
  } finally {
    fn.destroy();
  }
  return w;
}

/**
 * Python source defining `music(n)`: a stereo 48 kHz test programme (a 120 bpm kick, a tone per
 * channel, a little noise; seeded) as two lists of floats. Shared by the Pyodide benches.
 */
export const MUSIC_PY = `
import math, random

def music(n):
    rng = random.Random(1)
    L, R = [], []
    for i in range(n):
        t = i / 48000
        beat = t % 0.5
        kick = 0.6 * math.exp(-beat / 0.08) * math.sin(2 * math.pi * 55 * beat)
        L.append(kick + 0.15 * math.sin(2 * math.pi * 220 * t) + 0.03 * (rng.random() - 0.5))
        R.append(kick + 0.12 * math.sin(2 * math.pi * 330 * t) + 0.03 * (rng.random() - 0.5))
    return L, R
`;
