// The AI Mixer engine: Pyodide + the aimixer_dsp wheel + onnxruntime-web.
// Runs inside the Web Worker (worker.js) in browsers and in-process in Node. It calls the Python
// package through pyimport / PyProxies only: no Python source is ever built from strings.

import { FileJobs } from "./filejobs.js";
import { installKernels } from "./kernels.js";
import { AIMixerError, EVT, FRAME_SIZE, GENRES, MSG, PY_ERROR_CODES, RING, SAMPLE_RATE } from "./protocol.js";

const IS_NODE = typeof process !== "undefined" && !!(process.versions && process.versions.node);

/** Yield to the event loop (a macrotask: queued messages run first; no timer clamping). */
function yieldTask() {
  if (typeof setImmediate === "function") return new Promise((r) => setImmediate(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(0);
  });
}

function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/** Resolve a manifest logical name to a URL (browser) or a path/URL string (Node). */
export function fileUrl(bundleUrl, manifest, logical) {
  const entry = manifest.files[logical];
  if (!entry) throw new AIMixerError("SERVICE_UNAVAILABLE", `bundle has no ${logical}`);
  return new URL(entry.file, bundleUrl).href;
}

async function fetchBytes(url) {
  if (IS_NODE && url.startsWith("file:")) {
    const fs = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    return new Uint8Array(await fs.readFile(fileURLToPath(url)));
  }
  const r = await fetch(url);
  if (!r.ok) throw new AIMixerError("SERVICE_UNAVAILABLE", `GET ${url} -> ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function fetchJson(url) {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
}

function toPath(url) {
  // Pyodide under Node wants filesystem paths for indexURL / lockFileURL / packageCacheDir
  return url.startsWith("file:") ? decodeURIComponent(new URL(url).pathname) : url;
}


/** Python None arrives as undefined; the API (like JSON) says null. */
function nullify(v) {
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

export class Engine {
  constructor() {
    this.py = null;
    this.mods = null;
    this.ort = null;
    this.model = null;
    this.modelMeta = null;
    this.sessions = new Map();
    this.nextSession = 1;
    // frameMs: the engine's whole call for a frame on the audio path (input copy, Python call
    // incl. the DSP, output copy, metrics JSON); genreMs: the deferred genre analysis + model
    // (after the frame has been handed back); meterMs: the deferred loudness-meter work (the
    // K-weighting of frames that complete no 100 ms block, see MixerSession.defer_metering).
    // The pure DSP time is counted on the Python side.
    this.stats = { frames: 0, totalMs: 0, maxMs: 0, genreMs: 0, genreMaxMs: 0, genreRuns: 0, meterMs: 0 };
    this.recent = new Float32Array(4096); // the last frames' times (ms), a ring
    this.live = null;
    this.io = null; // jsbridge.FrameIO: fixed float32 input/output buffers
    this._views = { input: null, output: null, values: null };
    this._dirty = new Set(); // sessions with deferred genre work or a pending reset
    this.warmup = null; // {frames, ms} of the background JIT warm-up (see _warmUp)
  }

  /**
   * Boot the runtime (Pyodide) -> package (our wheel) -> model (onnxruntime-web + genre.onnx).
   * `onProgress({phase, state, elapsedMs})` is called at the start and end of every phase.
   */
  static async create({
    bundleUrl,
    manifest,
    onProgress = () => {},
    loadModel = true,
    lazyModel = false,
    useSnapshot = true,
    warmupFrames = IS_NODE ? 0 : 200,
    useKernels = true,
  }) {
    const eng = new Engine();
    const t0 = now();
    const emit = (phase, state, extra = {}) => onProgress({ phase, state, elapsedMs: now() - t0, ...extra });
    const url = (n) => fileUrl(bundleUrl, manifest, n);
    const hasModel = loadModel && !!manifest.files["genre.onnx"] && !!manifest.files["ort.wasm.min.mjs"];

    // start the model downloads right away, in parallel with the Pyodide boot
    const modelBytes = hasModel ? fetchBytes(url("genre.onnx")) : null;
    const modelMeta = hasModel && manifest.files["genre.json"] ? fetchJson(url("genre.json")) : null;
    // the MFCC-statistics model (the spec's extract -> classify flow): created on first use
    const hasMatrix = hasModel && !!manifest.files["genre_mfcc.onnx"];
    eng.matrixBytes = hasMatrix ? fetchBytes(url("genre_mfcc.onnx")) : null;
    eng.matrixMetaP = hasMatrix && manifest.files["genre_mfcc.json"] ? fetchJson(url("genre_mfcc.json")) : null;
    for (const p of [eng.matrixBytes, eng.matrixMetaP]) if (p) p.catch(() => {});
    const ortMod = hasModel ? import(url("ort.wasm.min.mjs")) : null;
    // the snapshot has our wheel imported from `${wheelDir}/${wheel}`; it only fits this bundle's wheel
    const snapInfo = manifest.snapshot;
    const snapOk =
      useSnapshot && snapInfo && manifest.files["pyodide.snapshot"] && snapInfo.wheel === manifest.files["aimixer_dsp.whl"]?.file;
    const snapshot = snapOk ? fetchBytes(url("pyodide.snapshot")) : null;
    const wheelBytes = snapOk ? fetchBytes(url("aimixer_dsp.whl")) : null;
    for (const p of [modelBytes, modelMeta, ortMod, snapshot, wheelBytes]) if (p) p.catch(() => {});

    emit("runtime", "start");
    const pyodideUrl = url("pyodide.mjs");
    const { loadPyodide } = await import(pyodideUrl);
    const indexURL = new URL("./", url("pyodide.asm.wasm")).href;
    const lockFileURL = url("pyodide-lock.json");
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
    if (snapshot) {
      // boot from the interpreter snapshot made at build time; a normal boot if it cannot be used
      try {
        py = await loadPyodide({ ...cfg, _loadSnapshot: await snapshot });
        eng.bootedFromSnapshot = true;
      } catch (e) {
        eng.snapshotError = String((e && e.message) || e);
        py = null;
      }
    }
    if (!py) py = await loadPyodide(cfg);
    eng.py = py;
    emit("runtime", "done", { pyodideVersion: py.version, snapshot: !!eng.bootedFromSnapshot });

    emit("package", "start");
    if (eng.bootedFromSnapshot) {
      // already imported in the snapshot; put the wheel back where its modules were imported from
      py.FS.mkdirTree(snapInfo.wheelDir);
      py.FS.writeFile(`${snapInfo.wheelDir}/${snapInfo.wheel}`, await wheelBytes);
    } else {
      await py.loadPackage("aimixer-dsp", { messageCallback: () => {}, errorCallback: () => {} });
    }
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
    eng.mods = mods;
    // the pure path's hottest loops in JavaScript (kernels.js, aimixer_dsp.backend.KERNEL_NAMES):
    // the feature FFT (equal up to rounding), the K-weighting and the EQ (bit-identical)
    if (useKernels) {
      const backend = py.pyimport("aimixer_dsp.backend");
      installKernels(backend);
      backend.destroy();
    }
    eng.io = mods.bridge.FrameIO(FRAME_SIZE);
    emit("package", "done", { packageVersion: String(mods.dsp.__version__) });

    // the model loads in the background: the first frame does not wait for it. When the bundle
    // has a model, a session gets the real genre tracker on its first "auto" frame (the origin's
    // rule, see _trackIfAuto); a classification awaits `modelReady`. The DSP warm-up (see _warmUp) runs beside it, and
    // `modelReady` also waits for it.
    eng.hasModel = hasModel;
    const warm = warmupFrames > 0 ? eng._warmUp(warmupFrames).catch(() => {}) : null;
    eng.modelReady = (async () => {
      emit("model", "start");
      try {
        if (hasModel) {
          const ort = await ortMod;
          const ortNs = ort.default && ort.default.InferenceSession ? ort.default : ort;
          ortNs.env.wasm.numThreads = 1;
          ortNs.env.wasm.wasmPaths = IS_NODE
            ? { mjs: url("ort-wasm-simd-threaded.mjs"), wasm: toPath(url("ort-wasm-simd-threaded.wasm")) }
            : { mjs: url("ort-wasm-simd-threaded.mjs"), wasm: url("ort-wasm-simd-threaded.wasm") };
          ortNs.env.logLevel = "error";
          eng.ort = ortNs;
          eng.model = await ortNs.InferenceSession.create(await modelBytes, { executionProviders: ["wasm"] });
          eng.modelMeta = modelMeta ? await modelMeta : {};
          // onnxruntime-web's first run is ~25x slower than the next ones (kernel set-up): do it
          // now on a zero vector, so that the first genre window of a live stream does not stall
          // the worker for tens of ms (its output is discarded; later runs are unaffected)
          const size = mods.genre ? Number(mods.genre.FEATURE_SPEC.get("size")) : 0;
          if (size > 0) {
            const name = eng.modelMeta.inputName || eng.model.inputNames[0];
            const t = now();
            await eng.model.run({ [name]: new ortNs.Tensor("float32", new Float32Array(size), [1, size]) });
            eng.modelWarmupMs = now() - t;
          }
        }
        emit("model", "done", { model: !!eng.model });
      } catch (e) {
        eng.hasModel = false;
        eng.modelError = String((e && e.message) || e);
        emit("model", "error", { error: eng.modelError });
      }
      if (warm) await warm;
      return !!eng.model;
    })();
    if (!lazyModel) await eng.modelReady;
    return eng;
  }

  /**
   * JIT warm-up, in the background after the package phase: run the audio path's Python
   * (FrameIO -> a scratch MixerSession, rock preset) on `frames` synthetic frames, yielding to the
   * event loop after each one (real requests that arrive meanwhile go first). Browsers run wasm in
   * a baseline tier first and compile hot functions (here: the Python interpreter's) with their
   * optimizing tier in the background only after they have run for a while; without this, the
   * first ~100 real frames after page load took up to twice as long. Touches no user session,
   * statistic or state (own FrameIO, own session, no genre tracker); results are unaffected.
   */
  async _warmUp(frames) {
    await yieldTask(); // start after create() has returned
    const io = this.mods.bridge.FrameIO(FRAME_SIZE);
    const input = io.input;
    const process = io.run;
    const { session } = this._newSession(false);
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
        this.warmup = { frames: k + 1, ms: now() - t0 };
        await yieldTask();
      }
    } finally {
      for (const p of [process, input, session, io]) p.destroy?.();
    }
  }

  // ---- conversions -------------------------------------------------------------------------

  _pySamples(samples) {
    if (samples instanceof Float32Array || samples instanceof Float64Array || Array.isArray(samples)) {
      for (let i = 0; i < samples.length; i++) {
        const v = samples[i];
        if (typeof v !== "number") {
          throw new AIMixerError("INVALID_BUFFER_SIZE", `audioBuffer[${i}] is not a number`, { index: i });
        }
      }
      return this.py.toPy(Array.from(samples));
    }
    throw new AIMixerError("INVALID_BUFFER_SIZE", "audioBuffer must be a Float32Array or an array of numbers");
  }

  _toJs(proxy) {
    const safe = this.mods.mixer.to_json_safe(proxy);
    try {
      return nullify(
        typeof safe?.toJs === "function" ? safe.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false }) : safe,
      );
    } finally {
      if (safe && typeof safe.destroy === "function") safe.destroy();
    }
  }

  /** Run `fn`, turning Python exceptions into AIMixerError with the package's `.code`. */
  _call(fn) {
    try {
      return fn();
    } catch (e) {
      if (e instanceof AIMixerError) throw e;
      if (e && e.constructor && e.constructor.name === "PythonError") {
        let exc = null;
        try {
          exc = this.mods.sys.last_exc;
        } catch {
          exc = null;
        }
        let code = exc && typeof exc.code === "string" ? exc.code : PY_ERROR_CODES[e.type] || "INTERNAL_ERROR";
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

  _result(res) {
    // the audio goes through a float32 array.array buffer (one copy, no per-sample conversion);
    // the small rest (metrics, settings) through to_json_safe (-inf/nan -> null)
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
    const out = this._toJs(res);
    res.destroy?.();
    if (audio) out.processedBuffer = audio;
    return out;
  }

  // ---- the mixer API -----------------------------------------------------------------------

  _newSession(tracked = true) {
    // Like the origin: a session starts with the null tracker ("auto" runs on the defaults with
    // genre null) and gets the real genre tracker on its first frame whose config asks for
    // genre "auto", when the bundle has a model (see _trackIfAuto). Sessions that never use
    // "auto" skip the analysis, and verdicts after a switch to "auto" match the origin's.
    // defer_metering: the meter's work on a frame that completes no 100 ms block runs in
    // _settle too (identical metrics; a frame that completes one still meters synchronously)
    const bridge = this.mods.bridge;
    const nullTracker = bridge.NullTracker();
    const kwargs = {
      sample_rate: SAMPLE_RATE,
      frame_size: FRAME_SIZE,
      strict_frames: true,
      genre_tracker: nullTracker,
      defer_metering: true,
    };
    const session = this.mods.mixer.MixerSession.callKwargs(kwargs);
    nullTracker.destroy();
    const trackable = !!(tracked && this.mods.genre && this.hasModel);
    return { session, tracker: null, trackable, needsReset: false };
  }

  /**
   * Attach the real genre tracker to session `s` before a frame with `config`, if that frame asks
   * for genre "auto" and `s` has none yet (the origin's rule). It sits behind a
   * jsbridge.DeferredTracker: its analysis of a frame's input runs after the processed frame is
   * handed back (see _settle), before the next frame. It stays attached, like the origin's.
   */
  _trackIfAuto(s, config) {
    if (s.tracker || !s.trackable || !config || config.genre !== "auto") return;
    const tracker = this.mods.bridge.DeferredTracker(this.mods.genre.StreamingGenreClassifier());
    s.session.genre_tracker = tracker;
    s.tracker = tracker;
  }

  /**
   * Buffer views of io.input / io.output (float32) and io.values (float64), re-taken if wasm
   * memory growth detached them (a detached view has length 0).
   */
  _view(name, format = "f32") {
    let v = this._views[name];
    if (!v || v.data.length === 0) {
      if (v) v.release();
      v = this.io[name].getBuffer(format);
      this._views[name] = v;
    }
    return v.data;
  }

  /**
   * The result of `io.run`: with `values[0] === 1` the metrics' numbers are in `io.values`
   * (`FrameIO.NUMERIC` order, non-finite -> null, as in the JSON) and `text` holds the genre and
   * the applied settings; else `text` is the whole result. Same object as JSON.parse of
   * `io.process`'s text (`FrameIO.decode` is the Python twin, tested against it).
   */
  _decode(text) {
    const v = this._view("values", "f64");
    if (v[0] !== 1) return JSON.parse(text);
    const head = JSON.parse(text);
    const fin = (x) => (Number.isFinite(x) ? x : null);
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

  _record(ms) {
    this.stats.frames += 1;
    this.stats.totalMs += ms;
    if (ms > this.stats.maxMs) this.stats.maxMs = ms;
    this.recent[this.stats.frames % this.recent.length] = ms; // for the percentiles in getStats
  }

  /**
   * One frame through `s.session`, synchronously. A 960-sample Float32Array takes the buffer path
   * (one typed-array copy in, one call, one copy out, metrics as JSON); anything else the generic
   * path (same results and errors). `out` (optional Float32Array) receives the processed samples.
   * Returns the result object, or null when `wantResult` is false (live audio between metrics).
   */
  _run(s, samples, configJson, { wantResult = true, out = null } = {}) {
    const t = now();
    let res = null;
    if (samples instanceof Float32Array && samples.length === FRAME_SIZE) {
      this._view("input").set(samples);
      // one bound-method proxy of io.run, reused (no attribute lookup + new proxy per frame)
      const run = this._ioRun || (this._ioRun = this.io.run);
      const text = this._call(() => run(s.session, configJson, wantResult));
      const data = this._view("output");
      if (out) out.set(data);
      if (wantResult) {
        res = this._decode(text);
        res.processedBuffer = out || data.slice();
      }
    } else {
      res = this._runGeneric(s, samples, configJson);
      if (out) out.set(res.processedBuffer);
    }
    this._record(now() - t);
    this._dirty.add(s);
    return res;
  }

  _runGeneric(s, samples, configJson) {
    const pySamples = this._pySamples(samples);
    const pyConfig = configJson === undefined || configJson === null ? undefined : this.mods.json.loads(configJson);
    try {
      const res = this._call(() => s.session.process(pySamples, pyConfig));
      return this._call(() => this._result(res));
    } finally {
      pySamples.destroy?.();
      pyConfig?.destroy?.();
    }
  }

  /**
   * The work a session owes before its next frame: the deferred genre analysis of the frames it
   * processed (tracker.push), the model on every due window and `apply` — so a verdict produced
   * while processing frame N still affects frame N+1, as the contract requires — and the reset of
   * the stateless chain. Normally run right after a result has been posted (idle()).
   */
  async _settle(s) {
    if (s.needsReset) {
      s.needsReset = false;
      this._call(() => s.session.reset());
    }
    const t0 = now();
    this._call(() => s.session.flush_deferred());
    this.stats.meterMs += now() - t0;
    const tr = s.tracker;
    if (!tr) return;
    const t = now();
    while (this._call(() => tr.flush())) {
      if (!this.hasModel) break; // as before: without a model a window stays pending
      await this._classifyPendingAsync(tr);
    }
    const ms = now() - t;
    this.stats.genreMs += ms;
    this.stats.genreRuns += 1;
    if (ms > this.stats.genreMaxMs) this.stats.genreMaxMs = ms;
  }

  /** Settle every session that processed a frame since the last call (errors wait for its next frame). */
  async idle() {
    const todo = [...this._dirty];
    this._dirty.clear();
    for (const s of todo) {
      try {
        await this._settle(s);
      } catch {
        this._dirty.add(s); // retried before that session's next frame, which reports the error
      }
    }
  }

  _configJson(config) {
    // the same dict the origin gets from json.loads (null -> None, ints stay ints)
    // (undefined, not null: Pyodide passes undefined as None, null as JsNull)
    return config === undefined || config === null ? undefined : JSON.stringify(config);
  }

  _labels() {
    const m = this.modelMeta || {};
    return m.labels || m.classes || m.genres || GENRES;
  }

  async _runModel(vec, model = this.model) {
    if (!(await this.modelReady)) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", `Genre classification is unavailable: ${this.modelError || "no model"}`, {
        component: "ai",
      });
    }
    const ort = this.ort;
    const inputName = (this.modelMeta && this.modelMeta.inputName) || model.inputNames[0];
    const tensor = new ort.Tensor("float32", Float32Array.from(vec), [1, vec.length]);
    const out = await model.run({ [inputName]: tensor });
    const labels = this._labels();
    let probsName = (this.modelMeta && this.modelMeta.probabilitiesOutput) || null;
    if (!probsName && model.outputNames.includes("probabilities")) probsName = "probabilities";
    if (!probsName) {
      probsName = model.outputNames.find((n) => out[n] && out[n].type === "float32" && out[n].size === labels.length);
    }
    if (!probsName) throw new AIMixerError("INTERNAL_ERROR", "genre model has no probabilities output");
    const data = out[probsName].data;
    const probs = {};
    labels.forEach((g, i) => {
      probs[g] = data[i];
    });
    return probs;
  }

  /** One session frame: first what the session owes from its previous frame, then the frame. */
  async _processSession(s, samples, config) {
    if (this._dirty.has(s) || s.needsReset) {
      this._dirty.delete(s);
      await this._settle(s);
    }
    this._trackIfAuto(s, config);
    return this._run(s, samples, this._configJson(config));
  }

  async _classifyPendingAsync(tracker) {
    if (!tracker || !this.hasModel) return;
    const pending = tracker.pending_features;
    if (pending === undefined || pending === null) return;
    const vec = Array.from(typeof pending.toJs === "function" ? pending.toJs() : pending);
    pending.destroy?.();
    const probs = await this._runModel(vec);
    const pyProbs = this.py.toPy(probs);
    try {
      this._call(() => tracker.apply(pyProbs));
    } finally {
      pyProbs.destroy();
    }
  }

  /** Stateless `POST /process-audio`: a fresh (reset) chain per call, like the origin without a session. */
  async processFrame(samples, config) {
    if (!this._fresh) this._fresh = this._call(() => this._newSession(false));
    const s = this._fresh;
    try {
      return await this._processSession(s, samples, config);
    } finally {
      s.needsReset = true; // reset in idle(), after the result is on its way (or before the next call)
      this._dirty.add(s);
    }
  }

  createSession() {
    const s = this._call(() => this._newSession());
    const id = `wasm-${this.nextSession++}`;
    this.sessions.set(id, s);
    return { sessionId: id };
  }

  _session(id) {
    const s = this.sessions.get(id);
    if (!s) throw new AIMixerError("SESSION_NOT_FOUND", `unknown session ${id}`, { sessionId: id });
    return s;
  }

  async sessionProcess(id, samples, config) {
    const out = await this._processSession(this._session(id), samples, config);
    out.sessionId = id; // like the origin's session responses
    return out;
  }

  sessionReset(id) {
    const s = this._session(id);
    this._dirty.delete(s); // the deferred work of the old stream is dropped with it
    this._call(() => s.session.reset()); // resets the tracker (and its queue) too
    return {};
  }

  sessionClose(id) {
    const s = this.sessions.get(id);
    if (s) {
      this.sessions.delete(id);
      this._dirty.delete(s);
      s.session.destroy();
      s.tracker?.destroy();
    }
    return {};
  }

  extractFeatures(samples, opts = {}) {
    return this._call(() => {
      const pySamples = this._pySamples(samples);
      const kw = {};
      for (const k of ["sampleRate", "numCoefficients", "numFilters", "fftSize", "hopSize", "windowType"]) {
        if (opts[k] !== undefined && opts[k] !== null) kw[k === "sampleRate" ? "sample_rate" : k] = opts[k];
      }
      try {
        const res = this.mods.features.extract_features.callKwargs(pySamples, kw);
        const out = this._toJs(res);
        res.destroy?.();
        return out;
      } finally {
        pySamples.destroy?.();
      }
    });
  }

  /** The MFCC-statistics model (`genre_mfcc.onnx`), created on first use. */
  async _matrixModel() {
    if (!(await this.modelReady) || !this.matrixBytes) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", "Genre classification is unavailable: no MFCC model in the bundle", {
        component: "ai",
      });
    }
    if (!this.matrixSession) {
      this.matrixSession = this.ort.InferenceSession.create(await this.matrixBytes, { executionProviders: ["wasm"] });
      this.matrixMeta = this.matrixMetaP ? await this.matrixMetaP : {};
    }
    return this.matrixSession;
  }

  /**
   * `POST /classify-genre` with the origin's Python: `aimixer_dsp.genre.parse_features` validates
   * `features` (the MFCC matrix of extractFeatures, or 48-value window vectors) and computes the
   * model inputs, onnxruntime-web runs the model, `aimixer_dsp.genre.verdict` ranks. `{audioBuffer}`
   * (>= 3 s) may be passed instead of features: the package extracts the MFCC matrix itself.
   * Declared settings (`numFilters`, `fftSize`, `hopSize`, `sampleRate`, `windowType`) go in `opts`.
   */
  async classifyGenre(features, opts = {}) {
    const { returnProbabilities = false, audioBuffer = undefined } = opts;
    const settings = {};
    for (const k of ["numFilters", "fftSize", "hopSize", "sampleRate", "windowType"]) {
      if (opts[k] !== undefined && opts[k] !== null) settings[k] = opts[k];
    }
    const g = this.mods.genre;
    const [kind, vectors] = this._call(() => {
      if ((features === undefined || features === null) && audioBuffer !== undefined && audioBuffer !== null) {
        const spec = g.MFCC_SPEC;
        const need = (Number(spec.get("minFrames")) - 1) * Number(spec.get("hopSize"));
        spec.destroy?.();
        if (audioBuffer.length < need) {
          throw new AIMixerError(
            "INVALID_BUFFER_SIZE",
            `audioBuffer has ${audioBuffer.length} samples (${(audioBuffer.length / SAMPLE_RATE).toFixed(3)} s); classification needs at least ${need} (${need / SAMPLE_RATE} s)`,
            { field: "audioBuffer", min: need },
          );
        }
        if (settings.sampleRate !== undefined) g.check_feature_settings(this.py.toPy({ sampleRate: settings.sampleRate }));
        const pySamples = this._pySamples(audioBuffer);
        try {
          const v = g.matrix_vectors(g.audio_matrix(pySamples));
          const arr = v.toJs({ create_pyproxies: false });
          v.destroy?.();
          return ["audioBuffer", arr];
        } finally {
          pySamples.destroy?.();
        }
      }
      // typed-array rows (e.g. a Float32Array per frame) go to Python as lists, like JSON rows
      const rows = Array.isArray(features) ? features.map((r) => (ArrayBuffer.isView(r) ? Array.from(r) : r)) : features;
      const pyFeatures = this.py.toPy(rows === undefined ? null : rows);
      const pySettings = this.py.toPy(settings);
      try {
        const res = g.parse_features(pyFeatures, pySettings);
        const out = res.toJs({ create_pyproxies: false });
        res.destroy?.();
        return out;
      } finally {
        pyFeatures?.destroy?.();
        pySettings.destroy();
      }
    });
    if (!this.hasModel) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", "Genre classification is unavailable: no model in the bundle", {
        component: "ai",
      });
    }
    const windowModel = kind === "windowVectors";
    const model = windowModel ? this.model : await this._matrixModel();
    const meta = (windowModel ? this.modelMeta : this.matrixMeta) || {};
    const probs = [];
    for (const v of vectors) probs.push(await this._runModel(v, model));
    const version = String(meta.version ?? meta.modelVersion ?? "unknown");
    return this._call(() => {
      const pyProbs = this.py.toPy(probs);
      try {
        const res = g.verdict.callKwargs(pyProbs, {
          model_version: version,
          input_kind: kind,
          return_probabilities: !!returnProbabilities,
        });
        const out = this._toJs(res);
        res.destroy?.();
        return out;
      } finally {
        pyProbs.destroy();
      }
    });
  }

  /** A percentile of the last (up to 4096) frames' times on the audio path, in ms. */
  _percentile(q) {
    const n = Math.min(this.stats.frames, this.recent.length);
    if (!n) return 0;
    const v = (n === this.recent.length ? this.recent.slice() : this.recent.slice(1, n + 1)).sort();
    return v[Math.min(n - 1, Math.floor(q * n))];
  }

  /**
   * Worker-side timing. `meanFrameMs`/`maxFrameMs`: the engine's whole call per frame on the audio
   * path; `meanDspMs`/`maxDspMs`: the DSP alone (`MixerSession.process`, timed in Python);
   * `meanOverheadMs` = the difference (copies, the call, metrics JSON); `meanGenreMs`: the deferred
   * genre analysis + model per frame, run after the frame has been handed back;
   * `meanDeferredMeterMs`: the deferred loudness-meter work per frame (also after the hand-back);
   * `meanWorkerMs` = frame + genre + deferred meter: the worker's whole CPU time per frame.
   */
  getStats() {
    const { frames, totalMs, maxMs, genreMs, genreMaxMs, meterMs } = this.stats;
    const py = JSON.parse(this.io.stats());
    const meanFrameMs = frames ? totalMs / frames : 0;
    const meanDspMs = py.frames ? py.dspMsTotal / py.frames : 0;
    const meanGenreMs = frames ? genreMs / frames : 0;
    return {
      frames,
      meanFrameMs,
      maxFrameMs: maxMs,
      p50FrameMs: this._percentile(0.5),
      p99FrameMs: this._percentile(0.99),
      dspFrames: py.frames,
      meanDspMs,
      maxDspMs: py.dspMsMax,
      meanOverheadMs: frames && py.frames === frames ? meanFrameMs - meanDspMs : null,
      meanGenreMs,
      maxGenreMs: genreMaxMs,
      meanDeferredMeterMs: frames ? meterMs / frames : 0,
      warmup: this.warmup || null,
      meanWorkerMs: meanFrameMs + meanGenreMs + (frames ? meterMs / frames : 0),
    };
  }

  // ---- live audio: SharedArrayBuffer rings <-> 960-sample frames -----------------------------

  /**
   * Start consuming the worklet's input ring. `rings = {header: SAB(Int32), input: SAB(Float32),
   * output: SAB(Float32)}`. Frames are processed in a session with the given config; metrics are
   * posted through `postMetrics(obj)` (throttled to every `metricsEvery` frames).
   */
  liveStart({ rings, config, postMetrics = () => {}, metricsEvery = 5 }) {
    this.liveStop();
    const header = new Int32Array(rings.header);
    const input = new Float32Array(rings.input);
    const output = new Float32Array(rings.output);
    const s = this._call(() => this._newSession());
    this._call(() => this._trackIfAuto(s, config));
    if (s.tracker && !this._genreWarm) {
      // the first analysis frame of the engine fills the feature code's caches (windows, FFT
      // tables: ~25 ms once); do it now on a throwaway tracker, not in the first live frames
      this._genreWarm = true;
      const tone = this.py.toPy(Array.from({ length: FRAME_SIZE }, (_, i) => 0.25 * Math.sin(i * 0.0576)));
      const warm = this.mods.genre.StreamingGenreClassifier();
      try {
        this._call(() => warm.push(tone));
      } finally {
        warm.destroy();
        tone.destroy();
      }
    }
    const live = {
      s,
      header,
      input,
      output,
      config,
      configJson: this._configJson(config),
      running: true,
      frames: 0,
      late: 0,
      lateLog: [], // {frame, backlogSamples, frameMs, prevSettleMs, sinceLastFrameMs} of late frames
      lastSettleMs: 0,
      lastFrameAt: 0,
      frame: new Float32Array(FRAME_SIZE),
      processed: new Float32Array(FRAME_SIZE),
    };
    this.live = live;
    const latency = Atomics.load(header, RING.LATENCY);
    // one frame: ring -> buffer -> DSP -> ring. The output is published before the genre work.
    const frameOnce = (read) => {
      const t0 = now();
      // samples that arrived after this frame was complete: how late the worker picked it up
      const backlog = Atomics.load(header, RING.IN_WRITE) - (read + FRAME_SIZE);
      const cap = input.length;
      const at = read % cap;
      if (at + FRAME_SIZE <= cap) live.frame.set(input.subarray(at, at + FRAME_SIZE));
      else for (let i = 0; i < FRAME_SIZE; i++) live.frame[i] = input[(read + i) % cap];
      Atomics.store(header, RING.IN_READ, read + FRAME_SIZE);
      const want = (live.frames + 1) % metricsEvery === 0;
      let res = null;
      try {
        res = this._run(s, live.frame, live.configJson, { wantResult: want, out: live.processed });
      } catch (e) {
        postMetrics({ error: AIMixerError.from(e).toJSON() });
        live.processed.fill(0);
      }
      const ow = Atomics.load(header, RING.OUT_WRITE);
      const ocap = output.length;
      const oat = ow % ocap;
      if (oat + FRAME_SIZE <= ocap) output.set(live.processed, oat);
      else for (let i = 0; i < FRAME_SIZE; i++) output[(ow + i) % ocap] = live.processed[i];
      Atomics.store(header, RING.OUT_WRITE, ow + FRAME_SIZE);
      // late: the worklet already had to play (silence) where this frame's first samples go
      if (Atomics.load(header, RING.IN_WRITE) - latency > ow) {
        live.late += 1;
        if (live.lateLog.length < 100) {
          live.lateLog.push({
            frame: live.frames,
            backlogSamples: backlog,
            frameMs: now() - t0,
            prevSettleMs: live.lastSettleMs,
            sinceLastFrameMs: t0 - live.lastFrameAt,
          });
        }
      }
      live.lastFrameAt = t0;
      live.frames += 1;
      if (res && res.metrics) {
        let gr = null;
        try {
          const py = this.mods.bridge.gain_reduction(s.session);
          gr = py.toJs();
          py.destroy();
        } catch {
          gr = null;
        }
        postMetrics({
          metrics: res.metrics,
          gainReduction: gr && { noiseGate: gr[0], compressor: gr[1], limiter: gr[2] },
          frames: live.frames,
          lateFrames: live.late,
          dropouts: Atomics.load(header, RING.DROPOUTS),
          overruns: Atomics.load(header, RING.OVERRUNS),
          stats: this.getStats(),
        });
      }
    };
    const loop = async () => {
      while (live.running) {
        const read = Atomics.load(header, RING.IN_READ);
        const v = Atomics.load(header, RING.IN_WRITE);
        if (v - read >= FRAME_SIZE) {
          frameOnce(read);
          // the genre analysis of this frame (and the model when a window is due) runs now,
          // after its output is in the ring, and before the next frame. Catching up after a
          // stall (another frame already waiting) with a fixed genre, it waits until the worker
          // is idle: the verdict cannot change such frames, and flush() replays the queued
          // blocks window by window, so the tracker ends up exactly where it would have been.
          const behind = Atomics.load(header, RING.IN_WRITE) - (read + FRAME_SIZE) >= FRAME_SIZE;
          if (behind && !(live.config && live.config.genre === "auto")) continue;
          const t = now();
          try {
            await this._settle(s);
            this._dirty.delete(s);
          } catch (e) {
            postMetrics({ error: AIMixerError.from(e).toJSON() });
          }
          live.lastSettleMs = now() - t;
          continue;
        }
        if (typeof Atomics.waitAsync === "function") {
          const w = Atomics.waitAsync(header, RING.IN_WRITE, v, 50);
          if (w.async) await w.value;
        } else {
          await new Promise((r) => setTimeout(r, 2));
        }
      }
    };
    live.done = loop();
    return { ok: true };
  }

  liveConfig(config) {
    if (this.live) {
      this.live.config = config;
      this.live.configJson = this._configJson(config);
    }
    return {};
  }

  liveStop() {
    const live = this.live;
    if (!live) return { frames: 0 };
    live.running = false;
    this.live = null;
    const out = {
      frames: live.frames,
      lateFrames: live.late,
      lateLog: live.lateLog,
      dropouts: Atomics.load(live.header, RING.DROPOUTS),
      overruns: Atomics.load(live.header, RING.OVERRUNS),
    };
    const s = live.s;
    Promise.resolve(live.done).finally(() => {
      this._dirty.delete(s);
      s.session.destroy();
      s.tracker?.destroy();
    });
    return out;
  }
}

/**
 * The request handler shared by the Web Worker and the Node in-process transport.
 * `post(msg)` delivers events (progress, live metrics) to the SDK.
 */
export function createHandler(post) {
  let engine = null;
  let files = null; // FileJobs (processFile / analyzeFile), see filejobs.js
  function needFiles() {
    if (!files) files = new FileJobs(needEngine(), post);
    return files;
  }
  function needEngine() {
    if (!engine) throw new AIMixerError("SERVICE_UNAVAILABLE", "engine not initialised");
    return engine;
  }

  async function handle(msg) {
    const d = msg;
    switch (d.type) {
      case MSG.INIT: {
        engine = await Engine.create({
          bundleUrl: d.bundleUrl,
          manifest: d.manifest,
          loadModel: d.options?.loadModel !== false,
          lazyModel: !!d.options?.lazyModel,
          useSnapshot: d.options?.snapshot !== false,
          useKernels: d.options?.kernels !== false,
          ...(d.options?.warmupFrames !== undefined ? { warmupFrames: Number(d.options.warmupFrames) } : {}),
          onProgress: (p) => post({ type: EVT.PROGRESS, ...p }),
        });
        return {
          pyodideVersion: engine.py.version,
          model: engine.hasModel,
          snapshot: !!engine.bootedFromSnapshot,
          snapshotError: engine.snapshotError || null,
        };
      }
      case MSG.MODEL_READY: {
        return { model: await needEngine().modelReady };
      }
      case MSG.PROCESS_FRAME:
        return needEngine().processFrame(d.samples, d.config);
      case MSG.EXTRACT_FEATURES:
        return needEngine().extractFeatures(d.samples, d.opts || {});
      case MSG.CLASSIFY_GENRE:
        return needEngine().classifyGenre(d.features, d.opts || {});
      case MSG.SESSION_CREATE:
        return needEngine().createSession();
      case MSG.SESSION_PROCESS:
        return needEngine().sessionProcess(d.sessionId, d.samples, d.config);
      case MSG.SESSION_RESET:
        return needEngine().sessionReset(d.sessionId);
      case MSG.SESSION_CLOSE:
        return needEngine().sessionClose(d.sessionId);
      case MSG.LIVE_START:
        return needEngine().liveStart({
          rings: d.rings,
          config: d.config,
          metricsEvery: d.metricsEvery || 5,
          postMetrics: (m) => post({ type: EVT.LIVE_METRICS, ...m }),
        });
      case MSG.LIVE_CONFIG:
        return needEngine().liveConfig(d.config);
      case MSG.LIVE_STOP:
        return needEngine().liveStop();
      case MSG.STATS:
        return needEngine().getStats();
      case MSG.PROCESS_FILE:
        return needFiles().processFile(d);
      case MSG.ANALYZE_FILE:
        return needFiles().analyzeFile(d);
      case MSG.CANCEL:
        return needFiles().cancel(d.jobId);
      case MSG.CONTROLS:
        return needFiles().controls();
      default:
        throw new AIMixerError("INVALID_MESSAGE", `unknown message type ${d.type}`);
    }
  }

  /** The engine's deferred work (call after each reply is on its way; never throws). */
  handle.idle = async () => {
    if (engine) await engine.idle();
  };
  return handle;
}
