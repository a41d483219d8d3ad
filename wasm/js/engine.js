// The AI Mixer engine: Pyodide + the aimixer_dsp wheel + onnxruntime-web.
// Runs inside the Web Worker (worker.js) in browsers and in-process in Node. It calls the Python
// package through pyimport / PyProxies only: no Python source is ever built from strings.
//
// This module holds the mixer API (sessions, their deferred work, features and classification)
// and the request handler; the other jobs live in their own modules:
//   startup.js  start-up (bundle files, Pyodide, the wheel, kernels) and the JIT warm-up
//   frames.js   frame I/O (jsbridge.FrameIO buffers <-> typed arrays, the generic path)
//   pycall.js   the Python boundary (exceptions -> AIMixerError, conversions)
//   model.js    the genre models on onnxruntime-web
//   live.js     the live SharedArrayBuffer loop
//   stats.js    the worker's timing statistics
//   filejobs.js whole files (processFile / analyzeFile)

import { FileJobs } from "./filejobs.js";
import { FramePath } from "./frames.js";
import { LiveLoop } from "./live.js";
import { GenreModels } from "./model.js";
import { AIMixerError, EVT, FRAME_SIZE, MSG, SAMPLE_RATE } from "./protocol.js";
import { callPy, pySamples, toJs } from "./pycall.js";
import { IS_NODE, bootPython, now, warmUp } from "./startup.js";
import { FrameStats } from "./stats.js";

/** @typedef {import("./protocol.js").Manifest} Manifest */
/** @typedef {import("./protocol.js").PyModules} PyModules */
/** @typedef {import("./protocol.js").Session} Session */
/** @typedef {import("./protocol.js").MixConfig} MixConfig */
/** @typedef {import("./protocol.js").MixResult} MixResult */

export class Engine {
  constructor() {
    /** @type {any} the Pyodide instance */
    this.py = null;
    /** @type {PyModules} */
    this.mods = /** @type {any} */ (null);
    /** @type {GenreModels} */
    this.models = /** @type {any} */ (null);
    /** @type {Promise<boolean>} the genre model has loaded (and the warm-up has ended) */
    this.modelReady = Promise.resolve(false);
    /** @type {Map<string, Session>} */
    this.sessions = new Map();
    this.nextSession = 1;
    this.stats = new FrameStats();
    /** @type {LiveLoop | null} */
    this.live = null;
    /** @type {FramePath} the frame path over jsbridge.FrameIO: fixed float32 input/output buffers */
    this.frames = /** @type {any} */ (null);
    /** @type {Set<Session>} sessions with deferred genre work or a pending reset */
    this._dirty = new Set();
    /** @type {Session | null} the stateless path's session */
    this._fresh = null;
    this._genreWarm = false;
    /** the Python-side timing of frame paths already destroyed (stereo live sessions) */
    this._retiredPy = { frames: 0, dspMsTotal: 0, dspMsMax: 0 };
    this.bootedFromSnapshot = false;
    /** @type {string | null} */
    this.snapshotError = null;
  }

  // what FileJobs (filejobs.js) and the handler read of the model
  get hasModel() {
    return this.models.available;
  }

  get modelError() {
    return this.models.error;
  }

  get modelMeta() {
    return this.models.meta;
  }

  get warmup() {
    return this.stats.warmup;
  }

  /**
   * Boot the runtime (Pyodide) -> package (our wheel) -> model (onnxruntime-web + genre.onnx).
   * `onProgress({phase, state, elapsedMs})` is called at the start and end of every phase.
   *
   * @param {{bundleUrl: string, manifest: Manifest, onProgress?: (p: import("./protocol.js").Progress) => void,
   *   loadModel?: boolean, lazyModel?: boolean, useSnapshot?: boolean, warmupFrames?: number,
   *   useKernels?: boolean}} opts
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
    const emit = (/** @type {string} */ phase, /** @type {"start" | "done" | "error"} */ state, extra = {}) =>
      onProgress({ phase, state, elapsedMs: now() - t0, ...extra });
    // the model downloads start right away, in parallel with the Pyodide boot
    eng.models = new GenreModels({ bundleUrl, manifest, loadModel });
    const boot = await bootPython({ bundleUrl, manifest, useSnapshot, useKernels, emit });
    eng.py = boot.py;
    eng.mods = boot.mods;
    eng.bootedFromSnapshot = boot.bootedFromSnapshot;
    eng.snapshotError = boot.snapshotError;
    eng.frames = new FramePath(eng.py, eng.mods, eng.mods.bridge.FrameIO(FRAME_SIZE));

    // the model loads in the background: the first frame does not wait for it. When the bundle
    // has a model, a session gets the real genre tracker on its first "auto" frame (the origin's
    // rule, see _trackIfAuto); a classification awaits `modelReady`. The DSP warm-up
    // (startup.js) runs beside it, and `modelReady` also waits for it.
    const warm =
      warmupFrames > 0
        ? warmUp({
            mods: eng.mods,
            session: eng._newSession(false).session,
            frames: warmupFrames,
            onFrame: (w) => {
              eng.stats.warmup = w;
            },
          }).catch(() => {})
        : null;
    const genre = eng.mods.genre;
    const featureSize = genre ? Number(genre.FEATURE_SPEC.get("size")) : 0;
    eng.modelReady = (async () => {
      const ok = await eng.models.load(featureSize, emit);
      if (warm) await warm;
      return ok;
    })();
    eng.models.ready = eng.modelReady;
    if (!lazyModel) await eng.modelReady;
    return eng;
  }

  // ---- the Python boundary (also used by filejobs.js) -------------------------------------

  /**
   * Run `fn`, turning Python exceptions into AIMixerError with the package's `.code`.
   * @template T
   * @param {() => T} fn
   * @returns {T}
   */
  _call(fn) {
    return callPy(this.mods, fn);
  }

  /** @param {any} proxy */
  _toJs(proxy) {
    return toJs(this.mods, proxy);
  }

  /**
   * The window model's probabilities for one vector (`model`: another InferenceSession).
   * @param {ArrayLike<number>} vec
   * @param {any} [model]
   */
  _runModel(vec, model = undefined) {
    return this.models.run(vec, model);
  }

  // ---- sessions -------------------------------------------------------------------------------

  /**
   * @param {boolean} [tracked]
   * @param {number} [channels] 2: a stereo live session (jsbridge.LinkedSession, its own
   *   PlanarFrameIO), linked as the file render links channels
   * @returns {Session}
   */
  _newSession(tracked = true, channels = 1) {
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
    const session =
      channels > 1
        ? bridge.LinkedSession.callKwargs({ ...kwargs, channels })
        : this.mods.mixer.MixerSession.callKwargs(kwargs);
    nullTracker.destroy();
    const trackable = !!(tracked && this.mods.genre && this.hasModel);
    /** @type {Session} */
    const s = { session, tracker: null, trackable, needsReset: false };
    if (channels > 1) s.frames = new FramePath(this.py, this.mods, bridge.PlanarFrameIO(FRAME_SIZE, channels));
    return s;
  }

  /**
   * Attach the real genre tracker to session `s` before a frame with `config`, if that frame asks
   * for genre "auto" and `s` has none yet (the origin's rule). It sits behind a
   * jsbridge.DeferredTracker: its analysis of a frame's input runs after the processed frame is
   * handed back (see _settle), before the next frame. It stays attached, like the origin's.
   * @param {Session} s
   * @param {MixConfig | null | undefined} config
   */
  _trackIfAuto(s, config) {
    if (s.tracker || !s.trackable || !config || config.genre !== "auto" || !this.mods.genre) return;
    const tracker = this.mods.bridge.DeferredTracker(this.mods.genre.StreamingGenreClassifier());
    s.session.genre_tracker = tracker;
    s.tracker = tracker;
  }

  /**
   * One frame through `s.session`, synchronously, timed into the stats (see FramePath.run).
   * @param {Session} s
   * @param {unknown} samples
   * @param {string | undefined} configJson
   * @param {{wantResult?: boolean, out?: Float32Array | null}} [opts]
   * @returns {MixResult | null}
   */
  _run(s, samples, configJson, opts = {}) {
    const t = now();
    const res = (s.frames || this.frames).run(s.session, samples, configJson, opts);
    this.stats.record(now() - t);
    this._dirty.add(s);
    return res;
  }

  /**
   * The work a session owes before its next frame: the deferred genre analysis of the frames it
   * processed (tracker.push), the model on every due window and `apply` — so a verdict produced
   * while processing frame N still affects frame N+1, as the contract requires — and the reset of
   * the stateless chain. Normally run right after a result has been posted (idle()).
   * @param {Session} s
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
    this.stats.recordGenre(now() - t);
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

  /**
   * The same dict the origin gets from json.loads (null -> None, ints stay ints); undefined, not
   * null, for no config: Pyodide passes undefined as None, null as JsNull.
   * @param {MixConfig | null | undefined} config
   */
  _configJson(config) {
    return config === undefined || config === null ? undefined : JSON.stringify(config);
  }

  /**
   * One session frame: first what the session owes from its previous frame, then the frame.
   * @param {Session} s
   * @param {unknown} samples
   * @param {MixConfig | null | undefined} config
   * @returns {Promise<MixResult>}
   */
  async _processSession(s, samples, config) {
    if (this._dirty.has(s) || s.needsReset) {
      this._dirty.delete(s);
      await this._settle(s);
    }
    this._trackIfAuto(s, config);
    return /** @type {MixResult} */ (this._run(s, samples, this._configJson(config)));
  }

  /** @param {any} tracker a jsbridge.DeferredTracker with a pending window */
  async _classifyPendingAsync(tracker) {
    if (!tracker || !this.hasModel) return;
    const pending = tracker.pending_features;
    if (pending === undefined || pending === null) return;
    const vec = Array.from(typeof pending.toJs === "function" ? pending.toJs() : pending);
    pending.destroy?.();
    const probs = await this._runModel(/** @type {number[]} */ (vec));
    const pyProbs = this.py.toPy(probs);
    try {
      this._call(() => tracker.apply(pyProbs));
    } finally {
      pyProbs.destroy();
    }
  }

  // ---- the mixer API -----------------------------------------------------------------------

  /**
   * Stateless `POST /process-audio`: a fresh (reset) chain per call, like the origin without a session.
   * @param {unknown} samples
   * @param {MixConfig | null | undefined} config
   */
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

  /** @param {string} id */
  _session(id) {
    const s = this.sessions.get(id);
    if (!s) throw new AIMixerError("SESSION_NOT_FOUND", `unknown session ${id}`, { sessionId: id });
    return s;
  }

  /**
   * @param {string} id
   * @param {unknown} samples
   * @param {MixConfig | null | undefined} config
   */
  async sessionProcess(id, samples, config) {
    const out = await this._processSession(this._session(id), samples, config);
    out.sessionId = id; // like the origin's session responses
    return out;
  }

  /** @param {string} id */
  sessionReset(id) {
    const s = this._session(id);
    this._dirty.delete(s); // the deferred work of the old stream is dropped with it
    this._call(() => s.session.reset()); // resets the tracker (and its queue) too
    return {};
  }

  /** @param {string} id */
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

  /**
   * @param {unknown} samples
   * @param {Record<string, any>} [opts]
   */
  extractFeatures(samples, opts = {}) {
    return this._call(() => {
      const samplesPy = pySamples(this.py, samples);
      /** @type {Record<string, any>} */
      const kw = {};
      for (const k of ["sampleRate", "numCoefficients", "numFilters", "fftSize", "hopSize", "windowType"]) {
        if (opts[k] !== undefined && opts[k] !== null) kw[k === "sampleRate" ? "sample_rate" : k] = opts[k];
      }
      try {
        const res = this.mods.features.extract_features.callKwargs(samplesPy, kw);
        const out = this._toJs(res);
        res.destroy?.();
        return out;
      } finally {
        samplesPy.destroy?.();
      }
    });
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
        const samplesPy = pySamples(this.py, audioBuffer);
        try {
          const v = g.matrix_vectors(g.audio_matrix(samplesPy));
          const arr = v.toJs({ create_pyproxies: false });
          v.destroy?.();
          return ["audioBuffer", arr];
        } finally {
          samplesPy.destroy?.();
        }
      }
      // typed-array rows (e.g. a Float32Array per frame) go to Python as lists, like JSON rows
      const rows = Array.isArray(features) ? features.map((r) => (ArrayBuffer.isView(r) ? Array.from(/** @type {Float32Array} */ (r)) : r)) : features;
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
    const model = windowModel ? this.models.model : await this.models.matrixModel();
    const meta = (windowModel ? this.models.meta : this.models.matrixMeta) || {};
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

  /** Worker-side timing (see FrameStats.report), over every frame path (mono, live stereo). */
  getStats() {
    const py = { ...this._retiredPy };
    for (const path of [this.frames, this.live?.s.frames]) {
      if (!path) continue;
      const p = path.pyStats();
      py.frames += p.frames;
      py.dspMsTotal += p.dspMsTotal;
      py.dspMsMax = Math.max(py.dspMsMax, p.dspMsMax);
    }
    return this.stats.report(py);
  }

  // ---- live audio: SharedArrayBuffer rings <-> 960-sample frames (live.js) ------------------

  /**
   * Start consuming the worklet's input ring. `rings = {header: SAB(Int32), input: SAB(Float32),
   * output: SAB(Float32)}`. Frames are processed in a session with the given config; metrics are
   * posted through `postMetrics(obj)` (throttled to every `metricsEvery` frames).
   * `channels` = 2: stereo (planar rings, a linked session).
   * @param {{rings: import("./protocol.js").LiveRings, config: MixConfig | null,
   *   postMetrics?: (m: object) => void, metricsEvery?: number, channels?: number}} opts
   * @returns {import("./protocol.js").LiveStartReply}
   */
  liveStart({ rings, config, postMetrics = () => {}, metricsEvery = 5, channels = 1 }) {
    if (channels !== 1 && channels !== 2) {
      throw new AIMixerError("INVALID_PARAMETER", `channels=${channels}: live audio takes 1 or 2 channels`, {
        field: "channels",
        value: channels,
      });
    }
    this.liveStop();
    const s = this._call(() => this._newSession(true, channels));
    this._call(() => this._trackIfAuto(s, config));
    if (s.tracker && !this._genreWarm && this.mods.genre) {
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
    this.live = new LiveLoop({
      host: this._liveHost(),
      session: s,
      rings,
      config,
      configJson: this._configJson(config),
      postMetrics,
      metricsEvery,
      channels,
    });
    return { ok: true, channels };
  }

  /** @returns {import("./live.js").LiveHost} */
  _liveHost() {
    return {
      runFrame: (s, samples, configJson, opts) => this._run(s, samples, configJson, opts),
      settle: (s) => this._settle(s),
      forget: (s) => {
        this._dirty.delete(s);
      },
      release: (s) => {
        this._dirty.delete(s);
        if (s.frames) {
          const p = s.frames.pyStats();
          this._retiredPy.frames += p.frames;
          this._retiredPy.dspMsTotal += p.dspMsTotal;
          this._retiredPy.dspMsMax = Math.max(this._retiredPy.dspMsMax, p.dspMsMax);
          s.frames.destroy();
        }
        s.session.destroy();
        s.tracker?.destroy();
      },
      gainReduction: (s) => {
        try {
          const py = this.mods.bridge.gain_reduction(s.session);
          const gr = py.toJs();
          py.destroy();
          return gr;
        } catch {
          return null;
        }
      },
      stats: () => this.getStats(),
    };
  }

  /** @param {MixConfig | null} config */
  liveConfig(config) {
    if (this.live) this.live.setConfig(config, this._configJson(config));
    return {};
  }

  /** @returns {import("./protocol.js").LiveStopReply} */
  liveStop() {
    const live = this.live;
    if (!live) return { frames: 0 };
    this.live = null;
    return live.stop();
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
          channels: d.channels ?? 1,
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
