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
