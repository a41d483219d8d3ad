// The Python boundary: calls into the package with its exceptions turned into AIMixerError (with
// the package's `.code`), and conversions of samples and results across Pyodide's proxies.

import { AIMixerError, PY_ERROR_CODES } from "./protocol.js";

/** @typedef {import("./protocol.js").PyModules} PyModules */

/**
 * Python None arrives as undefined; the API (like JSON) says null.
 * @param {any} v
 * @returns {any}
 */
export function nullify(v) {
  if (v === undefined) return null;
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === "number") {
      for (let i = 0; i < v.length; i++) if (v[i] === undefined) v[i] = null;
      return v;
    }
    for (let i = 0; i < v.length; i++) v[i] = nullify(v[i]);
    return v;
  }
  if (v && typeof v === "object" && !ArrayBuffer.isView(v)) {
    for (const k of Object.keys(v)) v[k] = nullify(v[k]);
  }
  return v;
}

/**
 * Samples (a Float32Array, Float64Array or array of numbers) as a Python list.
 * @param {any} py the Pyodide instance
 * @param {unknown} samples
 */
export function pySamples(py, samples) {
  if (samples instanceof Float32Array || samples instanceof Float64Array || Array.isArray(samples)) {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i];
      if (typeof v !== "number") {
        throw new AIMixerError("INVALID_BUFFER_SIZE", `audioBuffer[${i}] is not a number`, { index: i });
      }
    }
    return py.toPy(Array.from(samples));
  }
  throw new AIMixerError("INVALID_BUFFER_SIZE", "audioBuffer must be a Float32Array or an array of numbers");
}

/**
 * A Python result as plain JS (through `to_json_safe`: -inf/nan -> null, None -> null).
 * @param {PyModules} mods
 * @param {any} proxy
 */
export function toJs(mods, proxy) {
  const safe = mods.mixer.to_json_safe(proxy);
  try {
    return nullify(
      typeof safe?.toJs === "function" ? safe.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false }) : safe,
    );
  } finally {
    if (safe && typeof safe.destroy === "function") safe.destroy();
  }
}

/**
 * Run `fn`, turning Python exceptions into AIMixerError with the package's `.code`.
 * @template T
 * @param {PyModules} mods
 * @param {() => T} fn
 * @returns {T}
 */
export function callPy(mods, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AIMixerError) throw e;
    if (e && e.constructor && e.constructor.name === "PythonError") {
      let exc = null;
      try {
        exc = mods.sys.last_exc;
      } catch {
        exc = null;
      }
      const code = exc && typeof exc.code === "string" ? exc.code : PY_ERROR_CODES[e.type] || "INTERNAL_ERROR";
      let details = {};
      let message = "";
      try {
        if (exc && exc.details && typeof exc.details.toJs === "function") {
          details = exc.details.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
        }
        message = exc && exc.message !== undefined ? String(exc.message) : String(exc);
      } catch {
        message = String(e.message).trim().split("\n").pop();
      }
      if (code === "INTERNAL_ERROR") message = `${e.type}: ${message}`;
      if (exc && typeof exc.destroy === "function") exc.destroy();
      throw new AIMixerError(code, message, details);
    }
    throw new AIMixerError("INTERNAL_ERROR", String((e && e.message) || e));
  }
}
