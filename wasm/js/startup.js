// Start-up and warm-up of the engine: fetch the bundle's files, boot Pyodide (from the build's
// interpreter snapshot when it fits), load our wheel, install the JavaScript kernels, and run the
// audio path's Python on synthetic frames in the background so the browser's optimizing wasm tier
// is in place before the first real frames.

import { installKernels } from "./kernels.js";
import { AIMixerError, FRAME_SIZE } from "./protocol.js";

/** @typedef {import("./protocol.js").Manifest} Manifest */
/** @typedef {import("./protocol.js").PyModules} PyModules */
/** @typedef {import("./protocol.js").Progress} Progress */

export const IS_NODE = typeof process !== "undefined" && !!(process.versions && process.versions.node);

/** Yield to the event loop (a macrotask: queued messages run first; no timer clamping). */
export function yieldTask() {
  if (typeof setImmediate === "function") return new Promise((r) => setImmediate(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r(undefined);
    };
    ch.port2.postMessage(0);
  });
}

/** @returns {number} a monotonic time in ms */
export function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/**
 * Resolve a manifest logical name to a URL (browser) or a path/URL string (Node).
 * @param {string} bundleUrl
 * @param {Manifest} manifest
 * @param {string} logical
 * @returns {string}
 */
export function fileUrl(bundleUrl, manifest, logical) {
  const entry = manifest.files[logical];
  if (!entry) throw new AIMixerError("SERVICE_UNAVAILABLE", `bundle has no ${logical}`);
  return new URL(entry.file, bundleUrl).href;
}

/**
 * @param {string} url
 * @returns {Promise<Uint8Array>}
 */
export async function fetchBytes(url) {
  if (IS_NODE && url.startsWith("file:")) {
    const fs = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    return new Uint8Array(await fs.readFile(fileURLToPath(url)));
  }
  const r = await fetch(url);
  if (!r.ok) throw new AIMixerError("SERVICE_UNAVAILABLE", `GET ${url} -> ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/**
 * @param {string} url
 * @returns {Promise<any>}
 */
export async function fetchJson(url) {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
}

/**
 * Pyodide under Node wants filesystem paths for indexURL / lockFileURL / packageCacheDir.
 * @param {string} url
 */
export function toPath(url) {
  return url.startsWith("file:") ? decodeURIComponent(new URL(url).pathname) : url;
}

/**
 * Boot the runtime (Pyodide, from the snapshot when `useSnapshot` and it fits this bundle's wheel)
 * and the package (our wheel, the kernels, one FrameIO). `emit(phase, state, extra)` reports the
 * "runtime" and "package" phases.
 *
 * @param {{bundleUrl: string, manifest: Manifest, useSnapshot: boolean, useKernels: boolean,
 *   emit: (phase: string, state: string, extra?: object) => void}} opts
 * @returns {Promise<{py: any, mods: PyModules, bootedFromSnapshot: boolean, snapshotError: string | null}>}
 */
export async function bootPython({ bundleUrl, manifest, useSnapshot, useKernels, emit }) {
  const url = (/** @type {string} */ n) => fileUrl(bundleUrl, manifest, n);
  // the snapshot has our wheel imported from `${wheelDir}/${wheel}`; it only fits this bundle's wheel
  const snapInfo = manifest.snapshot;
  const snapOk =
    useSnapshot && snapInfo && manifest.files["pyodide.snapshot"] && snapInfo.wheel === manifest.files["aimixer_dsp.whl"]?.file;
  const snapshot = snapOk ? fetchBytes(url("pyodide.snapshot")) : null;
  const wheelBytes = snapOk ? fetchBytes(url("aimixer_dsp.whl")) : null;
  for (const p of [snapshot, wheelBytes]) if (p) p.catch(() => {});

  emit("runtime", "start");
  const pyodideUrl = url("pyodide.mjs");
  const { loadPyodide } = await import(pyodideUrl);
  const indexURL = new URL("./", url("pyodide.asm.wasm")).href;
  const lockFileURL = url("pyodide-lock.json");
  /** @type {Record<string, any>} */
  const cfg = {
    indexURL: IS_NODE ? toPath(indexURL) : indexURL,
    lockFileURL: IS_NODE ? toPath(lockFileURL) : lockFileURL,
    stdLibURL: IS_NODE ? toPath(url("python_stdlib.zip")) : url("python_stdlib.zip"),
    packageBaseUrl: IS_NODE ? toPath(bundleUrl) : bundleUrl,
    fullStdLib: false,
    checkAPIVersion: true,
    stdout: () => {},
    stderr: () => {},
  };
  if (IS_NODE) cfg.packageCacheDir = toPath(bundleUrl);
  let py = null;
  let bootedFromSnapshot = false;
  let snapshotError = null;
  if (snapshot) {
    // boot from the interpreter snapshot made at build time; a normal boot if it cannot be used
    try {
      py = await loadPyodide({ ...cfg, _loadSnapshot: await snapshot });
      bootedFromSnapshot = true;
    } catch (e) {
      snapshotError = String((e && e.message) || e);
      py = null;
    }
  }
  if (!py) py = await loadPyodide(cfg);
  emit("runtime", "done", { pyodideVersion: py.version, snapshot: bootedFromSnapshot });

  emit("package", "start");
  if (bootedFromSnapshot && snapInfo) {
    // already imported in the snapshot; put the wheel back where its modules were imported from
    py.FS.mkdirTree(snapInfo.wheelDir);
    py.FS.writeFile(`${snapInfo.wheelDir}/${snapInfo.wheel}`, await wheelBytes);
  } else {
    await py.loadPackage("aimixer-dsp", { messageCallback: () => {}, errorCallback: () => {} });
  }
  /** @type {PyModules} */
  const mods = {
    json: py.pyimport("json"),
    array: py.pyimport("array"),
    sys: py.pyimport("sys"),
    dsp: py.pyimport("aimixer_dsp"),
    mixer: py.pyimport("aimixer_dsp.mixer"),
    features: py.pyimport("aimixer_dsp.features"),
    bridge: py.pyimport("aimixer_dsp.jsbridge"),
    genre: null,
  };
  try {
    mods.genre = py.pyimport("aimixer_dsp.genre");
  } catch {
    mods.genre = null; // genre module not shipped yet: "auto" never gets a verdict
  }
  // the pure path's hottest loops in JavaScript (kernels.js, aimixer_dsp.backend.KERNEL_NAMES):
  // the feature FFT (equal up to rounding), the K-weighting and the EQ (bit-identical)
  if (useKernels) {
    const backend = py.pyimport("aimixer_dsp.backend");
    installKernels(backend);
    backend.destroy();
  }
  emit("package", "done", { packageVersion: String(mods.dsp.__version__) });
  return { py, mods, bootedFromSnapshot, snapshotError };
}

/**
 * JIT warm-up, in the background after the package phase: run the audio path's Python
 * (FrameIO -> a scratch MixerSession, rock preset) on `frames` synthetic frames, yielding to the
 * event loop after each one (real requests that arrive meanwhile go first). Browsers run wasm in
 * a baseline tier first and compile hot functions (here: the Python interpreter's) with their
 * optimizing tier in the background only after they have run for a while; without this, the
 * first ~100 real frames after page load took up to twice as long. Touches no user session,
 * statistic or state (own FrameIO, own session, no genre tracker); results are unaffected.
 *
 * @param {{mods: PyModules, session: any, frames: number,
 *   onFrame: (w: {frames: number, ms: number}) => void}} opts `session`: a scratch
 *   MixerSession (destroyed at the end)
 */
export async function warmUp({ mods, session, frames, onFrame }) {
  await yieldTask(); // start after create() has returned
  const io = mods.bridge.FrameIO(FRAME_SIZE);
  const input = io.input;
  const process = io.run;
  const cfg = JSON.stringify({ genre: "rock" });
  const f = new Float32Array(FRAME_SIZE);
  const t0 = now();
  try {
    for (let k = 0; k < frames; k++) {
      for (let i = 0; i < FRAME_SIZE; i++) {
        const n = k * FRAME_SIZE + i;
        f[i] = (k % 10 < 5 ? 0.5 : 0.05) * Math.sin(n * 0.0576) + 0.01 * Math.sin(n * 1.3);
      }
      const view = input.getBuffer("f32");
      try {
        view.data.set(f);
      } finally {
        view.release();
      }
      process(session, cfg, true);
      session.flush_deferred();
      onFrame({ frames: k + 1, ms: now() - t0 });
      await yieldTask();
    }
  } finally {
    for (const p of [process, input, session, io]) p.destroy?.();
  }
}
