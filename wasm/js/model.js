// The genre models on onnxruntime-web: the window model (genre.onnx, the live tracker's and the
// file jobs') and the MFCC-statistics model (genre_mfcc.onnx, the spec's extract -> classify
// flow). Downloads start with the engine; the window model loads in the background and is warmed
// up on a zero vector; the MFCC model is created on first use.

import { AIMixerError, GENRES } from "./protocol.js";
import { IS_NODE, fetchBytes, fetchJson, fileUrl, now, toPath } from "./startup.js";

/** @typedef {import("./protocol.js").Manifest} Manifest */
/** @typedef {Record<string, any>} ModelMeta the model's .json: labels, inputName, version, ... */

export class GenreModels {
  /**
   * Start the downloads (model bytes, metadata, onnxruntime-web) right away, in parallel with the
   * Pyodide boot. Nothing is fetched when `loadModel` is false or the bundle has no model.
   * @param {{bundleUrl: string, manifest: Manifest, loadModel: boolean}} opts
   */
  constructor({ bundleUrl, manifest, loadModel }) {
    const url = (/** @type {string} */ n) => fileUrl(bundleUrl, manifest, n);
    this.url = url;
    /** whether a model can answer (false when the bundle has none or loading failed) */
    this.available = loadModel && !!manifest.files["genre.onnx"] && !!manifest.files["ort.wasm.min.mjs"];
    const has = this.available;
    this.modelBytes = has ? fetchBytes(url("genre.onnx")) : null;
    this.metaP = has && manifest.files["genre.json"] ? fetchJson(url("genre.json")) : null;
    const hasMatrix = has && !!manifest.files["genre_mfcc.onnx"];
    this.matrixBytes = hasMatrix ? fetchBytes(url("genre_mfcc.onnx")) : null;
    this.matrixMetaP = hasMatrix && manifest.files["genre_mfcc.json"] ? fetchJson(url("genre_mfcc.json")) : null;
    this.ortMod = has ? import(url("ort.wasm.min.mjs")) : null;
    for (const p of [this.modelBytes, this.metaP, this.matrixBytes, this.matrixMetaP, this.ortMod]) if (p) p.catch(() => {});
    /** @type {any} the onnxruntime-web namespace */
    this.ort = null;
    /** @type {any} the window model's InferenceSession */
    this.model = null;
    /** @type {ModelMeta | null} */
    this.meta = null;
    /** @type {Promise<any> | null} */
    this.matrixSession = null;
    /** @type {ModelMeta | null} */
    this.matrixMeta = null;
    /** @type {string | null} */
    this.error = null;
    /** @type {number | undefined} the first (warm-up) run's time */
    this.warmupMs = undefined;
    /** @type {Promise<boolean>} resolves once the window model has loaded (true) or failed (false) */
    this.ready = Promise.resolve(false);
  }

  /**
   * Load the window model and run it once on a zero vector of `featureSize` values (onnxruntime-
   * web's first run is ~25x slower than the next ones: kernel set-up; its output is discarded).
   * Emits the "model" phase. Never throws: a failure sets `error` and `available = false`.
   * @param {number} featureSize
   * @param {(phase: string, state: string, extra?: object) => void} emit
   */
  async load(featureSize, emit) {
    emit("model", "start");
    try {
      if (this.available) {
        const ort = await this.ortMod;
        const ortNs = ort.default && ort.default.InferenceSession ? ort.default : ort;
        ortNs.env.wasm.numThreads = 1;
        const url = this.url;
        ortNs.env.wasm.wasmPaths = IS_NODE
          ? { mjs: url("ort-wasm-simd-threaded.mjs"), wasm: toPath(url("ort-wasm-simd-threaded.wasm")) }
          : { mjs: url("ort-wasm-simd-threaded.mjs"), wasm: url("ort-wasm-simd-threaded.wasm") };
        ortNs.env.logLevel = "error";
        this.ort = ortNs;
        this.model = await ortNs.InferenceSession.create(await this.modelBytes, { executionProviders: ["wasm"] });
        this.meta = this.metaP ? await this.metaP : {};
        // do the slow first run now, so that the first genre window of a live stream does not
        // stall the worker for tens of ms (later runs are unaffected)
        if (featureSize > 0) {
          const name = this.meta?.inputName || this.model.inputNames[0];
          const t = now();
          await this.model.run({ [name]: new ortNs.Tensor("float32", new Float32Array(featureSize), [1, featureSize]) });
          this.warmupMs = now() - t;
        }
      }
      emit("model", "done", { model: !!this.model });
    } catch (e) {
      this.available = false;
      this.error = String((e && e.message) || e);
      emit("model", "error", { error: this.error });
    }
    return !!this.model;
  }

  /** @returns {string[]} the model's class labels */
  labels() {
    const m = this.meta || {};
    return m.labels || m.classes || m.genres || GENRES;
  }

  /**
   * Run `model` (default: the window model) on one input vector; the probabilities per label.
   * @param {ArrayLike<number>} vec
   * @param {any} [model]
   * @returns {Promise<Record<string, number>>}
   */
  async run(vec, model = this.model) {
    if (!(await this.ready)) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", `Genre classification is unavailable: ${this.error || "no model"}`, {
        component: "ai",
      });
    }
    const ort = this.ort;
    const inputName = (this.meta && this.meta.inputName) || model.inputNames[0];
    const tensor = new ort.Tensor("float32", Float32Array.from(vec), [1, vec.length]);
    const out = await model.run({ [inputName]: tensor });
    const labels = this.labels();
    let probsName = (this.meta && this.meta.probabilitiesOutput) || null;
    if (!probsName && model.outputNames.includes("probabilities")) probsName = "probabilities";
    if (!probsName) {
      probsName = model.outputNames.find((/** @type {string} */ n) => out[n] && out[n].type === "float32" && out[n].size === labels.length);
    }
    if (!probsName) throw new AIMixerError("INTERNAL_ERROR", "genre model has no probabilities output");
    const data = out[probsName].data;
    /** @type {Record<string, number>} */
    const probs = {};
    labels.forEach((g, i) => {
      probs[g] = data[i];
    });
    return probs;
  }

  /** The MFCC-statistics model (`genre_mfcc.onnx`), created on first use. */
  async matrixModel() {
    if (!(await this.ready) || !this.matrixBytes) {
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
}
