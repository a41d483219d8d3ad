// Frame I/O: one frame through a session's MixerSession. A 960-sample Float32Array takes the
// buffer path (jsbridge.FrameIO: one typed-array copy in, one Python call, one copy out, the
// metrics' numbers in a float64 buffer); anything else the generic path (samples as a Python
// list, the result through to_json_safe). Same results and errors on both.

import { callPy, pySamples, toJs } from "./pycall.js";

/** @typedef {import("./protocol.js").PyModules} PyModules */
/** @typedef {import("./protocol.js").MixResult} MixResult */

/**
 * `io.values` -> the metrics object, for `values[0] === 1` (`FrameIO.NUMERIC` order, non-finite
 * -> null, as in the JSON); `head` holds the genre and the applied settings.
 * @param {Float64Array} v
 * @param {{genre: string | null, appliedSettings: object}} head
 * @returns {MixResult}
 */
function decodeValues(v, head) {
  const fin = (/** @type {number} */ x) => (Number.isFinite(x) ? x : null);
  return {
    metrics: {
      peak: fin(v[1]),
      rms: fin(v[2]),
      lufs: fin(v[3]),
      momentaryLufs: fin(v[4]),
      shortTermLufs: fin(v[5]),
      genre: head.genre,
      confidence: fin(v[6]),
      processingTime: fin(v[7]),
      latencySamples: fin(v[8]),
      truePeak: fin(v[9]),
      truePeakMax: fin(v[10]),
    },
    appliedSettings: head.appliedSettings,
  };
}

/**
 * The frame path over one `jsbridge.FrameIO` (mono: `frameSize` samples per call) or
 * `jsbridge.PlanarFrameIO` (`channels` planar channels of `frameSize` samples, back to back).
 */
export class FramePath {
  /**
   * @param {any} py the Pyodide instance
   * @param {PyModules} mods
   * @param {any} io a `jsbridge.FrameIO` proxy (owned: destroyed by `destroy()`)
   */
  constructor(py, mods, io) {
    this.py = py;
    this.mods = mods;
    this.io = io;
    this.frameSize = Number(io.frame_size);
    this.channels = io.channels === undefined ? 1 : Number(io.channels);
    /** samples per call on the buffer path */
    this.size = this.frameSize * this.channels;
    /** @type {Record<string, any>} buffer views of io.input, io.output, io.values */
    this.views = { input: null, output: null, values: null };
    this.ioRun = null; // one bound-method proxy of io.run, reused (no attribute lookup + new proxy per frame)
  }

  /**
   * Buffer view data of io.input / io.output (float32) and io.values (float64), re-taken if wasm
   * memory growth detached them (a detached view has length 0).
   * @param {"input" | "output" | "values"} name
   * @param {string} [format]
   */
  view(name, format = "f32") {
    let v = this.views[name];
    if (!v || v.data.length === 0) {
      if (v) v.release();
      v = this.io[name].getBuffer(format);
      this.views[name] = v;
    }
    return v.data;
  }

  /**
   * The result of `io.run`: with `values[0] === 1` the metrics' numbers are in `io.values` and
   * `text` holds the genre and the applied settings; else `text` is the whole result. Same
   * object as JSON.parse of `io.process`'s text (`FrameIO.decode` is the Python twin, tested
   * against it).
   * @param {string} text
   * @returns {MixResult}
   */
  decode(text) {
    const v = this.view("values", "f64");
    if (v[0] !== 1) return JSON.parse(text);
    return decodeValues(v, JSON.parse(text));
  }

  /**
   * Process `samples` (`size` floats, in `io.input`'s layout) with `session`, synchronously.
   * `out` (optional Float32Array) receives the processed samples. Returns the result object, or
   * null when `wantResult` is false (live audio between metrics).
   * @param {any} session a MixerSession proxy (or any session `io.run` accepts)
   * @param {Float32Array} samples
   * @param {string | undefined} configJson
   * @param {{wantResult?: boolean, out?: Float32Array | null}} [opts]
   * @returns {MixResult | null}
   */
  runBuffer(session, samples, configJson, { wantResult = true, out = null } = {}) {
    this.view("input").set(samples);
    const run = this.ioRun || (this.ioRun = this.io.run);
    const text = callPy(this.mods, () => run(session, configJson, wantResult));
    const data = this.view("output");
    if (out) out.set(data);
    if (!wantResult) return null;
    const res = this.decode(text);
    res.processedBuffer = out || data.slice();
    return res;
  }

  /**
   * One frame through `session`: the buffer path for a Float32Array of `size` samples, else the
   * generic path (mono; same results and errors).
   * @param {any} session
   * @param {unknown} samples
   * @param {string | undefined} configJson
   * @param {{wantResult?: boolean, out?: Float32Array | null}} [opts]
   * @returns {MixResult | null}
   */
  run(session, samples, configJson, opts = {}) {
    if (samples instanceof Float32Array && samples.length === this.size) {
      return this.runBuffer(session, samples, configJson, opts);
    }
    const res = this.runGeneric(session, samples, configJson);
    if (opts.out && res.processedBuffer) opts.out.set(res.processedBuffer);
    return res;
  }

  /**
   * @param {any} session
   * @param {unknown} samples
   * @param {string | undefined} configJson
   * @returns {MixResult}
   */
  runGeneric(session, samples, configJson) {
    const samplesPy = pySamples(this.py, samples);
    const pyConfig = configJson === undefined || configJson === null ? undefined : this.mods.json.loads(configJson);
    try {
      const res = callPy(this.mods, () => session.process(samplesPy, pyConfig));
      return callPy(this.mods, () => this.result(res));
    } finally {
      samplesPy.destroy?.();
      pyConfig?.destroy?.();
    }
  }

  /**
   * A MixerSession.process result dict as JS: the audio through a float32 array.array buffer (one
   * copy, no per-sample conversion), the small rest (metrics, settings) through to_json_safe
   * (-inf/nan -> null).
   * @param {any} res
   * @returns {MixResult}
   */
  result(res) {
    let audio = null;
    const buf = res.pop("processedBuffer", undefined);
    if (buf !== undefined && buf !== null) {
      const a = this.mods.array.array("f", buf);
      const view = a.getBuffer("f32");
      try {
        audio = Float32Array.from(view.data);
      } finally {
        view.release();
        a.destroy();
        buf.destroy?.();
      }
    }
    const out = toJs(this.mods, res);
    res.destroy?.();
    if (audio) out.processedBuffer = audio;
    return out;
  }

  /** @returns {{frames: number, dspMsTotal: number, dspMsMax: number}} the Python side's timing */
  pyStats() {
    return JSON.parse(this.io.stats());
  }

  destroy() {
    for (const v of Object.values(this.views)) v?.release();
    this.views = { input: null, output: null, values: null };
    this.ioRun?.destroy?.();
    this.ioRun = null;
    this.io.destroy?.();
  }
}
