// AI Mixer JS SDK: runs the DSP chain in the browser (Web Worker + Pyodide + onnxruntime-web) or,
// as a fallback, on the origin over HTTP, with the same API and the same results.
//
//   import { AIMixer } from "/wasm/aimixer.js";
//   const mixer = await AIMixer.create({ baseUrl, apiKey, prefer: "wasm", onProgress });
//   mixer.path                          // "wasm" | "origin"
//   await mixer.processFrame(float32Array960, config)   // {processedBuffer, metrics, appliedSettings}
//   await mixer.extractFeatures(samples, opts); await mixer.classifyGenre(features, opts)
//   const s = await mixer.createSession(); await s.process(frame, config); await s.close()
//   const live = await mixer.connect(audioNode, { config }); live.node.connect(ctx.destination)
//   const { channels, report } = await mixer.processFile([left, right], 48000, config, { targetLufs: "streaming", onProgress, signal })
//   const analysis = await mixer.analyzeFile([left, right], 48000, { onProgress, signal })
//
// Works unchanged in Node 20 (Pyodide runs in-process there; the bundle is read from disk).

import { originAnalyzeFile, originProcessFile, overview } from "./files.js";
import { AIMixerError, EVT, FRAME_SIZE, MSG, PHASES, RING, SAMPLE_RATE } from "./protocol.js";

export { AIMixerError, EVT, FRAME_SIZE, MSG, PHASES, SAMPLE_RATE };

const IS_NODE = typeof process !== "undefined" && !!(process.versions && process.versions.node) && typeof window === "undefined";

function trimSlash(u) {
  return u.endsWith("/") ? u.slice(0, -1) : u;
}

function copyChannels(channels) {
  if (!Array.isArray(channels)) throw new AIMixerError("INVALID_BUFFER_SIZE", "channels must be an array of Float32Arrays");
  return channels.map((c) => (c instanceof Float32Array ? c.slice() : Float32Array.from(c)));
}

function checkFrame(samples) {
  if (!(samples instanceof Float32Array || samples instanceof Float64Array || Array.isArray(samples))) {
    throw new AIMixerError("INVALID_BUFFER_SIZE", "audioBuffer must be a Float32Array or an array of numbers");
  }
}

// ---- transports to the wasm engine ----------------------------------------------------------

class Channel {
  constructor() {
    this.pending = new Map();
    this.nextId = 1;
    this.listeners = { [EVT.PROGRESS]: new Set(), [EVT.LIVE_METRICS]: new Set(), [EVT.JOB_PROGRESS]: new Set() };
  }

  _onMessage(msg) {
    if (!msg) return;
    if (msg.type === EVT.RESULT || msg.type === EVT.ERROR) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === EVT.RESULT) p.resolve(msg.result);
      else p.reject(AIMixerError.from(msg.error));
      return;
    }
    const ls = this.listeners[msg.type];
    if (ls) for (const fn of ls) fn(msg);
  }

  _failAll(err) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  on(type, fn) {
    this.listeners[type].add(fn);
    return () => this.listeners[type].delete(fn);
  }

  /**
   * Deliver a message to the engine (WorkerChannel, LocalChannel).
   * @param {object} msg
   * @param {Transferable[]} [transfer]
   */
  _post(msg, transfer) {
    throw new Error("Channel._post is abstract");
  }

  /**
   * @param {string} type a MSG type
   * @param {object} [payload]
   * @param {Transferable[]} [transfer]
   * @returns {Promise<any>}
   */
  request(type, payload = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this._post({ ...payload, type, id }, transfer);
    });
  }
}

/** Browser: the engine lives in a module Web Worker. */
class WorkerChannel extends Channel {
  constructor(workerUrl) {
    super();
    let url = workerUrl;
    if (typeof location !== "undefined" && new URL(workerUrl).origin !== location.origin) {
      // cross-origin bundle: a same-origin blob module that imports the worker
      const blob = new Blob([`import ${JSON.stringify(workerUrl)};`], { type: "text/javascript" });
      url = URL.createObjectURL(blob);
    }
    this.worker = new Worker(url, { type: "module", name: "aimixer-engine" });
    this.worker.onmessage = (ev) => this._onMessage(ev.data);
    this.worker.onerror = (ev) => {
      ev.preventDefault?.();
      this._failAll(new AIMixerError("SERVICE_UNAVAILABLE", `worker failed: ${ev.message || "load error"}`));
    };
    this.worker.onmessageerror = () => this._failAll(new AIMixerError("INTERNAL_ERROR", "worker message error"));
  }

  _post(msg, transfer) {
    this.worker.postMessage(msg, transfer);
  }

  close() {
    this.worker.terminate();
    this._failAll(new AIMixerError("SERVICE_UNAVAILABLE", "mixer closed"));
  }
}

/** Node: the same handler, in-process (requests still go through the typed protocol). */
class LocalChannel extends Channel {
  constructor(handle) {
    super();
    this.handle = handle;
    this.queue = Promise.resolve();
  }

  static async create() {
    const { createHandler } = await import("./engine.js");
    const ch = new LocalChannel(null);
    ch.handle = createHandler((msg) => ch._onMessage(msg));
    return ch;
  }

  _post(msg) {
    if (msg.type === MSG.CANCEL) {
      // like the worker: not queued behind the running job
      Promise.resolve(this.handle(msg)).then(
        (result) => this._onMessage({ type: EVT.RESULT, id: msg.id, result }),
        (e) => this._onMessage({ type: EVT.ERROR, id: msg.id, error: AIMixerError.from(e).toJSON() }),
      );
      return;
    }
    this.queue = this.queue.then(async () => {
      try {
        this._onMessage({ type: EVT.RESULT, id: msg.id, result: await this.handle(msg) });
      } catch (e) {
        this._onMessage({ type: EVT.ERROR, id: msg.id, error: AIMixerError.from(e).toJSON() });
      }
      // like the worker: deferred work (genre analysis) after the reply, before the next request
      await this.handle.idle?.();
    });
  }

  close() {
    this._failAll(new AIMixerError("SERVICE_UNAVAILABLE", "mixer closed"));
  }
}

async function loadManifest(bundleUrl) {
  if (IS_NODE && bundleUrl.startsWith("file:")) {
    const fs = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    try {
      return JSON.parse(await fs.readFile(fileURLToPath(new URL("manifest.json", bundleUrl)), "utf-8"));
    } catch (e) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", `wasm bundle not found at ${bundleUrl}: ${e.message}`);
    }
  }
  let r;
  try {
    r = await fetch(new URL("manifest.json", bundleUrl).href, { cache: "no-cache" });
  } catch (e) {
    throw new AIMixerError("SERVICE_UNAVAILABLE", `wasm bundle unreachable: ${e.message}`);
  }
  if (!r.ok) throw new AIMixerError("SERVICE_UNAVAILABLE", `wasm bundle unavailable (HTTP ${r.status})`);
  return r.json();
}

async function defaultNodeBundleUrl() {
  // next to this file (the built bundle) or ../dist/ (the source tree)
  const fs = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  for (const rel of ["./", "../dist/"]) {
    const u = new URL(rel, import.meta.url);
    if (fs.existsSync(fileURLToPath(new URL("manifest.json", u)))) return u.href;
  }
  return new URL("../dist/", import.meta.url).href;
}

// ---- the origin (fallback) ------------------------------------------------------------------

class OriginBackend {
  constructor({ baseUrl, apiKey, fetchImpl }) {
    if (!baseUrl) throw new AIMixerError("SERVICE_UNAVAILABLE", "no baseUrl for the origin fallback");
    this.baseUrl = trimSlash(baseUrl);
    this.apiKey = apiKey;
    this.fetch = fetchImpl || globalThis.fetch.bind(globalThis);
  }

  async post(path, body, headers = {}) {
    /** @type {Record<string, string>} */
    const h = { "Content-Type": "application/json", Accept: "application/json", ...headers };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    let r;
    try {
      r = await this.fetch(this.baseUrl + path, { method: "POST", headers: h, body: JSON.stringify(body) });
    } catch (e) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", `origin unreachable: ${e.message}`);
    }
    let data = null;
    try {
      data = await r.json();
    } catch {
      data = null;
    }
    if (!r.ok) {
      const err = data && data.error ? data.error : { code: "HTTP_ERROR", message: `HTTP ${r.status}` };
      throw new AIMixerError(err.code, err.message, err.details || {}, r.status);
    }
    return data;
  }

  static mixResult(data) {
    if (data && Array.isArray(data.processedBuffer)) data.processedBuffer = Float32Array.from(data.processedBuffer);
    return data;
  }

  async processFrame(samples, config, sessionId) {
    const body = { audioBuffer: Array.from(samples) };
    if (config !== undefined && config !== null) body.config = config;
    const headers = {};
    if (sessionId) {
      body.sessionId = sessionId;
      headers["X-Session-Id"] = sessionId;
    }
    return OriginBackend.mixResult(await this.post("/process-audio", body, headers));
  }

  extractFeatures(samples, opts = {}) {
    return this.post("/extract-features", { audioBuffer: Array.from(samples), ...opts });
  }

  /** Origin sessions are keyed by a client-chosen id (body `sessionId` + `X-Session-Id`). */
  async createSession() {
    const rnd =
      typeof crypto !== "undefined" && crypto.randomUUID
        ? crypto.randomUUID()
        : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    return `js-${rnd}`;
  }

  async getJson(path) {
    const h = { Accept: "application/json" };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    let r;
    try {
      r = await this.fetch(this.baseUrl + path, { headers: h });
    } catch (e) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", `origin unreachable: ${e.message}`);
    }
    const data = await r.json().catch(() => null);
    if (!r.ok) {
      const err = data && data.error ? data.error : { code: "HTTP_ERROR", message: `HTTP ${r.status}` };
      throw new AIMixerError(err.code, err.message, err.details || {}, r.status);
    }
    return data;
  }

  /** `POST /stream-audio` of float32 samples (whole frames); resolves to the SSE events, parsed. */
  /**
   * @param {Float32Array} samples
   * @param {object | null | undefined} config
   * @param {{signal?: AbortSignal}} [opts]
   */
  async stream(samples, config, { signal } = {}) {
    /** @type {Record<string, string>} */
    const h = { "Content-Type": "application/octet-stream", Accept: "text/event-stream" };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    if (config !== undefined && config !== null) h["X-Config"] = JSON.stringify(config);
    let r;
    try {
      r = await this.fetch(this.baseUrl + "/stream-audio", { method: "POST", headers: h, body: samples, signal });
    } catch (e) {
      if (e && e.name === "AbortError") throw new AIMixerError("CANCELLED", "the job was cancelled");
      throw new AIMixerError("SERVICE_UNAVAILABLE", `origin unreachable: ${e.message}`);
    }
    if (!r.ok) {
      const data = await r.json().catch(() => null);
      const err = data && data.error ? data.error : { code: "HTTP_ERROR", message: `HTTP ${r.status}` };
      throw new AIMixerError(err.code, err.message, err.details || {}, r.status);
    }
    const text = await r.text();
    const events = [];
    for (const block of text.split("\n\n")) {
      let type = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) events.push({ type, data: JSON.parse(data) });
    }
    return events;
  }

  /**
   * @param {import("./protocol.js").ClassifyGenreRequest["features"]} features
   * @param {import("./protocol.js").ClassifyGenreRequest["opts"]} [opts]
   */
  classifyGenre(features, opts = {}) {
    /** @type {Record<string, any>} */
    const body = { ...opts };
    if (features !== undefined && features !== null) {
      body.features = Array.isArray(features) ? features.map((r) => (ArrayBuffer.isView(r) ? Array.from(/** @type {Float32Array} */ (r)) : r)) : features;
    }
    if (body.audioBuffer) body.audioBuffer = Array.from(body.audioBuffer);
    return this.post("/classify-genre", body);
  }
}

// ---- sessions and live audio ----------------------------------------------------------------

/** A stateful stream: the chain's state (and the genre tracker) carry across frames. */
export class MixerSession {
  constructor(mixer, sessionId) {
    this.mixer = mixer;
    this.sessionId = sessionId;
    this.closed = false;
  }

  async process(samples, config) {
    checkFrame(samples);
    if (this.mixer.path === "origin") return this.mixer._origin.processFrame(samples, config, this.sessionId);
    const copy = Float32Array.from(samples);
    return this.mixer._ch.request(
      MSG.SESSION_PROCESS,
      { sessionId: this.sessionId, samples: copy, config },
      [copy.buffer],
    );
  }

  async reset() {
    if (this.mixer.path === "origin") {
      this.sessionId = await this.mixer._origin.createSession();
      return;
    }
    await this.mixer._ch.request(MSG.SESSION_RESET, { sessionId: this.sessionId });
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    if (this.mixer.path === "wasm") await this.mixer._ch.request(MSG.SESSION_CLOSE, { sessionId: this.sessionId });
  }
}

/** A running live graph: `node` is the AudioWorkletNode to connect to the output. */
export class LiveConnection {
  /**
   * @param {{mixer: AIMixer, node: AudioWorkletNode, source: AudioNode, header: Int32Array,
   *   config: object | null, channels: number, ringLatencySamples: number, dspLatencySamples: number,
   *   latencyMs: number}} fields
   */
  constructor(fields) {
    this.mixer = fields.mixer;
    this.node = fields.node;
    this.source = fields.source;
    this.header = fields.header;
    this.config = fields.config;
    /** 1 (mono) or 2 (stereo, linked detection) */
    this.channels = fields.channels;
    this.ringLatencySamples = fields.ringLatencySamples;
    this.dspLatencySamples = fields.dspLatencySamples;
    /** added latency = ring latency (frame accumulation + jitter margin) + the chain's own latency */
    this.latencyMs = fields.latencyMs;
    /** @type {import("./protocol.js").LiveMetricsEvent | null} */
    this.metrics = null;
    /** @type {Set<(m: import("./protocol.js").LiveMetricsEvent) => void>} */
    this.listeners = new Set();
    /** @type {() => void} */
    this.unsubscribe = () => {};
  }

  /** @param {(m: import("./protocol.js").LiveMetricsEvent) => void} fn */
  onMetrics(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** @param {import("./protocol.js").LiveMetricsEvent} m */
  _emit(m) {
    this.metrics = m;
    for (const fn of this.listeners) fn(m);
  }

  /** {frames, dropouts, overruns, quanta, latencyMs, ringLatencySamples} read from the shared header. */
  stats() {
    const h = this.header;
    return {
      quanta: Atomics.load(h, RING.QUANTA),
      samplesIn: Atomics.load(h, RING.IN_WRITE),
      samplesOut: Atomics.load(h, RING.OUT_WRITE),
      dropouts: Atomics.load(h, RING.DROPOUTS),
      overruns: Atomics.load(h, RING.OVERRUNS),
      latencyMs: this.latencyMs,
      ringLatencySamples: this.ringLatencySamples,
    };
  }

  async setConfig(config) {
    this.config = config;
    await this.mixer._ch.request(MSG.LIVE_CONFIG, { config });
  }

  /**
   * What the worklet received and played when connect() was given `capture` seconds: `input` and
   * `output` (channel 0) and `inputs` / `outputs` (every channel), Float32Arrays.
   * @returns {Promise<{input: Float32Array, output: Float32Array, inputs: Float32Array[], outputs: Float32Array[]}>}
   */
  getCapture() {
    return new Promise((resolve) => {
      this.node.port.onmessage = (ev) => {
        if (ev.data && ev.data.type === "capture") {
          const { inputs, outputs } = ev.data;
          resolve({ input: inputs[0], output: outputs[0], inputs, outputs });
        }
      };
      this.node.port.postMessage({ type: "getCapture" });
    });
  }

  async stop() {
    Atomics.store(this.header, RING.STATE, 0);
    try {
      this.source.disconnect(this.node);
    } catch {
      /* already disconnected */
    }
    this.node.disconnect();
    this.unsubscribe();
    return this.mixer._ch.request(MSG.LIVE_STOP, {});
  }
}

// ---- the public entry point ------------------------------------------------------------------

let jobCounter = 0; // file jobs started by this module (ids job-1, job-2, ...)
/** @type {WeakSet<BaseAudioContext>} contexts that have loaded the worklet module */
const workletContexts = new WeakSet();

/** @typedef {{jobId?: string, phase: string, done: number, total: number, fraction?: number}} JobProgress */

export class AIMixer {
  constructor() {
    /** @type {"wasm" | "origin" | null} */
    this.path = null;
    /** @type {string | null} */
    this.fallbackReason = null;
    /** @type {Record<string, number>} */
    this.initTimings = {};
    /** @type {import("./protocol.js").Manifest | null} */
    this.manifest = null;
    /** @type {string | null} */
    this.baseUrl = null;
    /** @type {string | null} */
    this.apiKey = null;
    /** @type {string | null} */
    this.bundleUrl = null;
    /** @type {import("./protocol.js").InitReply | null} */
    this.info = null;
    /** @type {any} the engine channel (WorkerChannel or LocalChannel) */
    this._ch = null;
    /** @type {OriginBackend | null} */
    this._origin = null;
  }

  /**
   * Create a mixer.
   *
   * @param {object} opts
   * @param {string} [opts.baseUrl]   origin URL (default: the page's origin); used for the fallback
   *                                  and, in browsers, for the bundle (`${baseUrl}/wasm/`).
   * @param {string} [opts.apiKey]    sent as `Authorization: Bearer` to the origin.
   * @param {"wasm"|"origin"} [opts.prefer="wasm"]
   * @param {boolean} [opts.fallback=true]  fall back to the origin when wasm is unavailable.
   * @param {string} [opts.bundleUrl] where manifest.json lives (default `${baseUrl}/wasm/`; in Node
   *                                  the local `wasm/dist/`).
   * @param {boolean} [opts.loadModel=true]  load onnxruntime-web + the genre model.
   * @param {boolean} [opts.snapshot=true]  boot Pyodide from the bundle's memory snapshot when present.
   * @param {boolean} [opts.kernels=true]  let the package run its hottest pure-Python loops (the
   *                                  feature FFT, the K-weighting, the EQ) in JavaScript
   *                                  (kernels.js; same results; false measures the Python path).
   * @param {boolean} [opts.lazyModel=false] resolve as soon as the DSP is ready and keep loading
   *                                  the model in the background (faster first frame; genre
   *                                  classification waits for it). See `modelReady()`.
   * @param {number} [opts.warmupFrames]  synthetic frames the worker runs through the DSP in the
   *                                  background after the package phase, so the browser has
   *                                  optimized the interpreter's wasm before real frames arrive
   *                                  (default 200 in browsers, 0 in Node; results unaffected);
   *                                  `modelReady()` also waits for it.
   * @param {typeof fetch} [opts.fetch]  the fetch of the origin fallback (default: globalThis.fetch)
   * @param {(ev: {phase: string, state: string, elapsedMs: number, reason?: string}) => void} [opts.onProgress]  init phases
   *                                  runtime -> package -> model (plus "origin" on fallback).
   */
  static async create(opts = {}) {
    const m = new AIMixer();
    const onProgress = opts.onProgress || (() => {});
    const t0 = typeof performance !== "undefined" ? performance.now() : Date.now();
    let baseUrl = opts.baseUrl;
    if (!baseUrl && typeof location !== "undefined" && location.origin && location.origin !== "null") {
      baseUrl = location.origin;
    }
    m.baseUrl = baseUrl ? trimSlash(baseUrl) : null;
    m.apiKey = opts.apiKey || null;
    const useOrigin = async (reason) => {
      m.fallbackReason = reason;
      onProgress({ phase: "origin", state: "start", elapsedMs: 0, reason });
      m._origin = new OriginBackend({ baseUrl: m.baseUrl, apiKey: m.apiKey, fetchImpl: opts.fetch });
      m.path = "origin";
      onProgress({ phase: "origin", state: "done", elapsedMs: 0 });
      return m;
    };
    if (opts.prefer === "origin") return useOrigin("prefer: origin");
    try {
      if (typeof WebAssembly === "undefined") throw new AIMixerError("SERVICE_UNAVAILABLE", "no WebAssembly");
      let bundleUrl = opts.bundleUrl;
      if (!bundleUrl) {
        bundleUrl = IS_NODE ? await defaultNodeBundleUrl() : `${m.baseUrl}/wasm/`;
      }
      if (!bundleUrl.endsWith("/")) bundleUrl += "/";
      m.bundleUrl = bundleUrl;
      m.manifest = await loadManifest(bundleUrl);
      if (IS_NODE) {
        if (!bundleUrl.startsWith("file:")) {
          throw new AIMixerError("SERVICE_UNAVAILABLE", "in Node the bundle must be a local directory (file: URL)");
        }
        m._ch = await LocalChannel.create();
      } else {
        if (typeof Worker === "undefined") throw new AIMixerError("SERVICE_UNAVAILABLE", "no Web Worker");
        const entry = m.manifest.files["worker.js"];
        if (!entry) throw new AIMixerError("SERVICE_UNAVAILABLE", "bundle has no worker.js");
        m._ch = new WorkerChannel(new URL(entry.file, bundleUrl).href);
      }
      const off = m._ch.on(EVT.PROGRESS, (p) => {
        if (p.state === "done") m.initTimings[p.phase] = p.elapsedMs;
        onProgress({ phase: p.phase, state: p.state, elapsedMs: p.elapsedMs });
        if (p.phase === "model" && p.state !== "start") off();
      });
      const info = await m._ch.request(MSG.INIT, {
        bundleUrl,
        manifest: m.manifest,
        options: {
          loadModel: opts.loadModel !== false,
          lazyModel: !!opts.lazyModel,
          snapshot: opts.snapshot !== false,
          kernels: opts.kernels !== false,
          warmupFrames: opts.warmupFrames,
        },
      });
      m.info = info;
      m.path = "wasm";
      m.initTimings.total = (typeof performance !== "undefined" ? performance.now() : Date.now()) - t0;
      return m;
    } catch (e) {
      if (m._ch) {
        m._ch.close();
        m._ch = null;
      }
      if (opts.fallback === false || !m.baseUrl) throw AIMixerError.from(e);
      return useOrigin(AIMixerError.from(e).message);
    }
  }

  /** `POST /process-audio` semantics: a fresh chain for every call. */
  async processFrame(samples, config) {
    checkFrame(samples);
    if (this.path === "origin") return this._origin.processFrame(samples, config);
    const copy = Float32Array.from(samples);
    return this._ch.request(MSG.PROCESS_FRAME, { samples: copy, config }, [copy.buffer]);
  }

  /** `POST /extract-features`: opts = {numCoefficients, numFilters, fftSize, hopSize, windowType}. */
  async extractFeatures(samples, opts = {}) {
    checkFrame(samples);
    if (this.path === "origin") return this._origin.extractFeatures(samples, opts);
    const copy = Float32Array.from(samples);
    return this._ch.request(MSG.EXTRACT_FEATURES, { samples: copy, opts }, [copy.buffer]);
  }

  /**
   * `POST /classify-genre`: features = the MFCC matrix of extractFeatures ([frames][coefficients],
   * default settings, >= 3 s) or 48-value window vectors; opts = {returnProbabilities, audioBuffer,
   * numFilters, fftSize, hopSize, sampleRate, windowType}.
   */
  async classifyGenre(features, opts = {}) {
    if (this.path === "origin") return this._origin.classifyGenre(features, opts);
    return this._ch.request(MSG.CLASSIFY_GENRE, { features, opts });
  }

  /** A stateful streaming session (the chain state and the genre tracker carry across frames). */
  async createSession() {
    if (this.path === "origin") return new MixerSession(this, await this._origin.createSession());
    const { sessionId } = await this._ch.request(MSG.SESSION_CREATE, {});
    return new MixerSession(this, sessionId);
  }

  /**
   * Process a whole file: every channel through the chain (linked detection, like `aimixer
   * process`; the limiter's look-ahead compensated, so the output has the input's length), with
   * genre "auto" classifying the file first, and an optional loudness target: a second pass of
   * gain + limiter at the ceiling. In the worker on the wasm path: no audio leaves the machine.
   * On the origin path the file is uploaded as a file job (`POST /jobs`; see files.js).
   *
   * @param {Float32Array[]} channels  planar audio, 1..8 channels of one length
   * @param {number} sampleRate        Hz (genre "auto" needs 48000)
   * @param {object} [config]          the /process-audio config (genre, gain, stages, bypass)
   * @param {{targetLufs?: number | "streaming" | "podcast" | "ebu-r128" | "atsc-a85" | null,
   *   truePeak?: number | null, onProgress?: (p: JobProgress) => void, signal?: AbortSignal,
   *   block?: number}} [opts] `truePeak`: the ceiling in dB; `signal` rejects with code CANCELLED
   * @returns {Promise<{channels: Float32Array[], report: object}>}
   */
  async processFile(channels, sampleRate, config = null, opts = {}) {
    const { targetLufs = null, truePeak = null, onProgress, signal, block } = opts;
    if (this.path === "origin") {
      return originProcessFile(this._origin, channels, sampleRate, config, { targetLufs, truePeak, onProgress, signal });
    }
    const copies = copyChannels(channels);
    return this._job(
      MSG.PROCESS_FILE,
      { channels: copies, sampleRate, config, targetLufs, truePeak, block },
      copies.map((c) => c.buffer),
      { onProgress, signal },
    );
  }

  /**
   * Analyse a whole file before processing: peak, RMS, integrated loudness, LRA, max momentary
   * and short-term loudness, the momentary / short-term loudness every 100 ms (`curve`), a
   * waveform overview (`overview`: min/max per bucket) and, at 48 kHz, the genre timeline and
   * verdict (`classification`). `voiceActivity` is null (no VAD in the browser).
   *
   * @param {Float32Array[]} channels
   * @param {number} sampleRate
   * @param {{genre?: boolean, buckets?: number, onProgress?: (p: JobProgress) => void, signal?: AbortSignal,
   *   block?: number}} [opts]
   */
  async analyzeFile(channels, sampleRate, opts = {}) {
    const { genre = true, buckets = 1000, onProgress, signal, block } = opts;
    let out;
    if (this.path === "origin") {
      out = await originAnalyzeFile(this._origin, channels, sampleRate, { genre, onProgress, signal });
    } else {
      const copies = copyChannels(channels);
      out = await this._job(
        MSG.ANALYZE_FILE,
        { channels: copies, sampleRate, genre, block },
        copies.map((c) => c.buffer),
        { onProgress, signal },
      );
    }
    out.overview = overview(channels, buckets);
    return out;
  }

  /** Every DSP parameter (unit, range, default), the genre presets and the loudness targets,
   * from the package's one declaration (`aimixer_dsp.presets.controls`). */
  async controls() {
    if (this.path === "origin") return this._origin.getJson("/config/controls");
    return this._ch.request(MSG.CONTROLS, {});
  }

  /**
   * @param {string} type
   * @param {object} payload
   * @param {Transferable[]} transfer
   * @param {{onProgress?: (p: JobProgress) => void, signal?: AbortSignal}} [opts]
   */
  async _job(type, payload, transfer, { onProgress, signal } = {}) {
    if (signal && signal.aborted) throw new AIMixerError("CANCELLED", "the job was cancelled");
    const jobId = `job-${(jobCounter += 1)}`;
    const off = this._ch.on(EVT.JOB_PROGRESS, (p) => {
      if (p.jobId === jobId && onProgress) {
        onProgress({ phase: p.phase, done: p.done, total: p.total, fraction: p.total ? p.done / p.total : 0 });
      }
    });
    const abort = () => this._ch.request(MSG.CANCEL, { jobId }).catch(() => {});
    if (signal) signal.addEventListener("abort", abort, { once: true });
    try {
      return await this._ch.request(type, { ...payload, jobId }, transfer);
    } finally {
      off();
      if (signal) signal.removeEventListener("abort", abort);
    }
  }

  /** Resolves to true once the genre model is loaded (false if unavailable). */
  async modelReady() {
    if (this.path !== "wasm") return true;
    return (await this._ch.request(MSG.MODEL_READY, {})).model;
  }

  /** Worker-side timing: {frames, meanFrameMs, maxFrameMs} (wasm path only). */
  async stats() {
    if (this.path !== "wasm") return null;
    return this._ch.request(MSG.STATS, {});
  }

  /**
   * Run live audio from `audioNode` through the chain (wasm path, browsers).
   * An AudioWorklet moves 128-frame quanta through SharedArrayBuffer rings to the worker, which
   * processes 960-sample frames and writes them back. Output = input delayed by
   * `ringLatencySamples` (constant) and processed; a quantum whose samples are not back in time
   * is played as silence and counted as a dropout (`stats().dropouts`; `lateFrames` in the
   * metrics events counts the frames that caused them).
   *
   * The ring latency is one frame (960 samples: a frame must be complete before it is processed)
   * plus a jitter margin that absorbs worker stalls. By default the margin is as large as the
   * latency budget allows: ring + the chain's own latency = `maxLatencyMs` (50 ms).
   *
   * @param {AudioNode} audioNode   source (mic, media element, buffer source); its context must run at 48 kHz.
   * @param {{config?: object | null, maxLatencyMs?: number, latencyFrames?: number, marginSamples?: number,
   *   capture?: number, metricsEvery?: number, channels?: 1 | 2}} [opts] `maxLatencyMs` = 50,
   *   `latencyFrames` = 1, `marginSamples` (overrides maxLatencyMs), `capture` = 0 (seconds of
   *   input and output kept for getCapture), `metricsEvery` = 5 (frames), `channels` = 1 (2: stereo
   *   with linked detection, as processFile renders files; the source is up/down-mixed to it)
   * @returns {Promise<LiveConnection>} `.node` (connect it to a destination), `.latencyMs`, `.stats()`, `.stop()`
   */
  async connect(audioNode, opts = {}) {
    if (this.path !== "wasm") {
      throw new AIMixerError("SERVICE_UNAVAILABLE", "live audio needs the wasm path (the origin path has no live I/O)");
    }
    if (typeof SharedArrayBuffer === "undefined" || (typeof crossOriginIsolated !== "undefined" && !crossOriginIsolated)) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", "live audio needs SharedArrayBuffer (a cross-origin isolated page)");
    }
    const ctx = audioNode.context;
    if (ctx.sampleRate !== SAMPLE_RATE) {
      throw new AIMixerError("INVALID_SAMPLE_RATE", `AudioContext runs at ${ctx.sampleRate} Hz; create it with { sampleRate: 48000 }`, {
        sampleRate: ctx.sampleRate,
      });
    }
    const entry = this.manifest.files["worklet.js"];
    if (!entry) throw new AIMixerError("SERVICE_UNAVAILABLE", "bundle has no worklet.js");
    if (!workletContexts.has(ctx)) {
      await ctx.audioWorklet.addModule(new URL(entry.file, this.bundleUrl).href);
      workletContexts.add(ctx);
    }
    const config = opts.config || null;
    const channels = opts.channels ?? 1;
    if (channels !== 1 && channels !== 2) {
      throw new AIMixerError("INVALID_PARAMETER", `channels=${channels}: live audio takes 1 or 2 channels`, {
        field: "channels",
        value: channels,
      });
    }
    // the chain's own latency under this config (limiter look-ahead), to size the ring
    const probe = await this.processFrame(new Float32Array(FRAME_SIZE), config);
    const dsp = (probe.metrics && probe.metrics.latencySamples) || 0;
    const latencyFrames = Math.max(1, Math.floor(opts.latencyFrames ?? 1));
    const maxLatencyMs = opts.maxLatencyMs ?? 50;
    const budget = Math.floor((maxLatencyMs * SAMPLE_RATE) / 1000) - dsp - latencyFrames * FRAME_SIZE;
    const margin = Math.max(0, Math.floor(opts.marginSamples ?? budget));
    const ringLatency = latencyFrames * FRAME_SIZE + margin;
    const cap = SAMPLE_RATE * 2; // 2 s rings (a whole number of frames and of quanta), one per channel
    const rings = {
      header: new SharedArrayBuffer(RING.HEADER_INTS * 4),
      input: new SharedArrayBuffer(channels * cap * 4),
      output: new SharedArrayBuffer(channels * cap * 4),
    };
    const header = new Int32Array(rings.header);
    Atomics.store(header, RING.LATENCY, ringLatency);
    Atomics.store(header, RING.STATE, 1);
    // the worker first (it sets up the session), then the worklet: the worklet's clock starts
    // when its node exists, so the worker must already be waiting for the first frame
    let live = null;
    const unsubscribe = this._ch.on(EVT.LIVE_METRICS, (m) => live && live._emit(m));
    let node;
    try {
      await this._ch.request(MSG.LIVE_START, { rings, config, metricsEvery: opts.metricsEvery || 5, channels });
      node = new AudioWorkletNode(ctx, "aimixer-processor", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [channels],
        channelCount: channels,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
        processorOptions: {
          rings,
          channels,
          captureSamples: Math.round((opts.capture || 0) * SAMPLE_RATE),
          frameSize: FRAME_SIZE,
        },
      });
    } catch (e) {
      unsubscribe();
      Atomics.store(header, RING.STATE, 0);
      await this._ch.request(MSG.LIVE_STOP, {}).catch(() => {});
      throw AIMixerError.from(e);
    }
    live = new LiveConnection({
      mixer: this,
      node,
      source: audioNode,
      header,
      config,
      channels,
      ringLatencySamples: ringLatency,
      dspLatencySamples: dsp,
      // added latency = ring latency (frame accumulation + jitter margin) + the chain's own latency
      latencyMs: ((ringLatency + dsp) / SAMPLE_RATE) * 1000,
    });
    live.unsubscribe = unsubscribe;
    audioNode.connect(node);
    return live;
  }

  async close() {
    if (this._ch) this._ch.close();
    this._ch = null;
  }
}

export default AIMixer;
