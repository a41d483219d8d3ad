// Whole-file jobs of the engine: processFile (render: genre "auto" analysis, the mix pass, the
// loudness pass) and analyzeFile (loudness, the 100 ms loudness curve, the genre timeline).
// With a target (`targetLufs`: a name of presets.LOUDNESS_TARGETS or LUFS; `truePeak`: the ceiling
// in dBTP) the mix pass is also the analysis pass of aimixer_dsp.loudnorm and the loudness pass
// runs the mix through the solved gain and the true-peak limiter: the normalisation of
// `aimixer process --target` and of the origin's file jobs (POST /jobs target/targetLufs/truePeakCeiling).
// The work is aimixer_dsp.render.FileJob, driven block by block: each block's samples go
// through the job's planar float64 buffers (array('d'); one typed-array copy per channel each
// way, float32 -> float64 exactly in, float64 -> float32 rounded to nearest out, as array('f')
// rounded), the
// model runs on onnxruntime-web between the analysis and the mix. Between blocks the job yields
// to the event loop, posts progress and checks for cancellation.

import { AIMixerError, EVT } from "./protocol.js";

export const MAX_CHANNELS = 8;
const BLOCK = 1 << 15;

/** @returns {Promise<void>} */
function yieldTask() {
  if (typeof setImmediate === "function") return new Promise((r) => setImmediate(r));
  return new Promise((/** @type {(value?: void) => void} */ r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(0);
  });
}

/** Validate planar channels: 1..8 Float32Arrays of one length. */
export function checkChannels(channels) {
  if (!Array.isArray(channels) || channels.length < 1 || channels.length > MAX_CHANNELS) {
    throw new AIMixerError("INVALID_BUFFER_SIZE", `channels must be an array of 1..${MAX_CHANNELS} Float32Arrays`, {
      field: "channels",
    });
  }
  const n = channels[0]?.length;
  channels.forEach((c, i) => {
    if (!(c instanceof Float32Array)) {
      throw new AIMixerError("INVALID_BUFFER_SIZE", `channels[${i}] must be a Float32Array`, { field: "channels", index: i });
    }
    if (c.length !== n) {
      throw new AIMixerError("INVALID_BUFFER_SIZE", `channels[${i}] has ${c.length} samples; channels[0] has ${n}`, {
        field: "channels",
        index: i,
      });
    }
  });
  return n;
}


/**
 * The planar float64 buffers of a FileJob: `buf("inp")` / `buf("out")` is a view of `job.inp` /
 * `job.out`, taken again when the wasm heap grew (the old view is then detached); `release()`
 * lets go of the views. Also used by the Node tests and the trace bench, which drive jobs as the
 * worker does.
 * @param {any} job a PyProxy of aimixer_dsp.render.FileJob
 * @returns {{ buf: (name: string) => Float64Array, release: () => void }}
 */
export function jobBuffers(job) {
  /** @type {Record<string, any>} */
  const views = {};
  const buf = (name) => {
    let v = views[name];
    if (!v || v.data.length === 0) {
      if (v) v.release();
      const arr = job[name];
      v = arr.getBuffer("f64");
      arr.destroy();
      views[name] = v;
    }
    return v.data;
  };
  const release = () => {
    for (const v of Object.values(views)) v.release();
  };
  return { buf, release };
}

export class FileJobs {
  /** `engine`: the Engine (Pyodide, model); `post(msg)`: events to the SDK. */
  constructor(engine, post) {
    this.engine = engine;
    this.post = post;
    this.cancelled = new Set();
    this.render = null;
  }

  cancel(jobId) {
    this.cancelled.add(jobId);
    return {};
  }

  controls() {
    const eng = this.engine;
    const presets = eng.py.pyimport("aimixer_dsp.presets");
    try {
      return JSON.parse(eng._call(() => eng.mods.json.dumps(presets.controls())));
    } finally {
      presets.destroy();
    }
  }

  _module() {
    if (!this.render) this.render = this.engine._call(() => this.engine.py.pyimport("aimixer_dsp.render"));
    return this.render;
  }

  _job(channels, sampleRate, config, kw) {
    const n = checkChannels(channels);
    const eng = this.engine;
    const cfg = config === undefined || config === null ? undefined : JSON.stringify(config);
    const job = eng._call(() => this._module().FileJob.callKwargs(channels.length, sampleRate, n, cfg, kw));
    const { buf, release } = jobBuffers(job);
    const close = () => {
      release();
      job.destroy();
    };
    return { job, n, block: Number(job.block), buf, close };
  }

  async _step(jobId, phase, done, total) {
    this.post({ type: EVT.JOB_PROGRESS, jobId, phase, done, total });
    await yieldTask();
    if (this.cancelled.has(jobId)) {
      this.cancelled.delete(jobId);
      throw new AIMixerError("CANCELLED", "the job was cancelled", { jobId });
    }
  }

  /** Feed every block of `src` to `job[method](k)`; with `dst`, copy the job's output there. */
  async _loop(h, jobId, phase, method, src, dst) {
    const { job, n, block, buf } = h;
    const eng = this.engine;
    const fn = job[method];
    let w = 0;
    try {
      for (let s = 0; s < n; s += block) {
        const k = Math.min(block, n - s);
        const inp = buf("inp");
        for (let c = 0; c < src.length; c++) inp.set(src[c].subarray(s, s + k), c * block);
        const got = eng._call(() => fn(k));
        if (dst) w = this._copyOut(h, dst, got, w);
        await this._step(jobId, phase, s + k, n);
      }
      if (dst) {
        // the pass's tail, at most a block per call (a block shorter than the latency: several)
        for (let got = eng._call(() => job.finish()); got > 0; got = eng._call(() => job.finish())) {
          w = this._copyOut(h, dst, got, w);
        }
        if (w !== n) throw new AIMixerError("INTERNAL_ERROR", `rendered ${w} of ${n} frames`);
      }
    } finally {
      fn.destroy();
    }
  }

  _copyOut(h, dst, got, w) {
    if (!got) return w;
    const out = h.buf("out");
    for (let c = 0; c < dst.length; c++) dst[c].set(out.subarray(c * h.block, c * h.block + got), w);
    return w + got;
  }

  async _classify(h, jobId) {
    const eng = this.engine;
    if (!eng.hasModel || !(await eng.modelReady)) {
      throw new AIMixerError("SERVICE_UNAVAILABLE", `genre "auto" needs the genre model: ${eng.modelError || "not in the bundle"}`, {
        component: "ai",
      });
    }
    const pv = eng._call(() => h.job.genre_vectors());
    const vectors = pv.toJs();
    pv.destroy();
    const probs = [];
    for (let i = 0; i < vectors.length; i++) {
      probs.push(await eng._runModel(Array.from(vectors[i])));
      if (i % 8 === 7) await this._step(jobId, "classify", i + 1, vectors.length);
    }
    const version = String((eng.modelMeta && (eng.modelMeta.version ?? eng.modelMeta.modelVersion)) ?? "unknown");
    const pyProbs = eng.py.toPy(probs);
    try {
      eng._call(() => h.job.set_genre(pyProbs, version)).destroy?.();
    } finally {
      pyProbs.destroy();
    }
  }

  _report(h) {
    return JSON.parse(this.engine._call(() => h.job.report_json()));
  }

  /**
   * Render a file: `{jobId, channels: Float32Array[], sampleRate, config, targetLufs, truePeak}`
   * -> `{channels, report}` (see aimixer_dsp.render).
   */
  async processFile({ jobId, channels, sampleRate, config, targetLufs, truePeak, block }) {
    const kw = {};
    if (targetLufs !== undefined && targetLufs !== null) kw.target = targetLufs;
    if (truePeak !== undefined && truePeak !== null) kw.true_peak = truePeak;
    if (block !== undefined) kw.block = block;
    else kw.block = BLOCK;
    const h = this._job(channels, sampleRate, config, kw);
    try {
      const wantsGenre = !!h.job.wants_genre;
      if (wantsGenre) {
        await this._loop(h, jobId, "analyse", "analyse", channels, null);
        await this._classify(h, jobId);
      }
      const out = channels.map(() => new Float32Array(h.n));
      const passes = Number(h.job.pass_count);
      for (let p = 0; p < passes; p++) {
        this.engine._call(() => h.job.begin(p));
        await this._loop(h, jobId, p === 0 ? "render" : "loudness", "render", p === 0 ? channels : out, out);
      }
      return { channels: out, report: this._report(h) };
    } finally {
      h.close();
      this.cancelled.delete(jobId);
    }
  }

  /**
   * Analyse a file: loudness (integrated, LRA, max momentary / short-term, peak, RMS), the
   * momentary and short-term loudness every 100 ms and, at 48 kHz with the model, the genre
   * timeline and verdict. `{jobId, channels, sampleRate, genre = true}` -> report.
   */
  async analyzeFile({ jobId, channels, sampleRate, genre = true, block }) {
    const useGenre = genre !== false && sampleRate === 48000 && this.engine.hasModel;
    const h = this._job(channels, sampleRate, useGenre ? { genre: "auto" } : null, { block: block ?? BLOCK, curve: true });
    try {
      await this._loop(h, jobId, "analyse", "analyse", channels, null);
      let genreError = null;
      if (useGenre) {
        try {
          await this._classify(h, jobId);
        } catch (e) {
          if (e && e.code === "CANCELLED") throw e;
          genreError = AIMixerError.from(e).toJSON();
        }
      }
      const rep = this._report(h);
      const out = {
        ...rep.input,
        duration: rep.duration,
        sampleRate: rep.sampleRate,
        channels: rep.channels,
        curve: rep.curve,
        classification: rep.classification || null,
        voiceActivity: null,
      };
      if (genreError) out.classificationError = genreError;
      return out;
    } finally {
      h.close();
      this.cancelled.delete(jobId);
    }
  }
}
