// Whole files in the SDK, outside the worker: the waveform overview and the origin-path twins of
// processFile / analyzeFile.
//
// The twins use the origin's file jobs (POST /jobs, GET /jobs/{id}, GET /jobs/{id}/result,
// DELETE /jobs/{id}) where the origin has them: the planar channels are uploaded as one float32
// WAV (lossless) with the config and the loudness target (`target` / `targetLufs` /
// `truePeakCeiling`), the job is polled (its progress goes to onProgress; an aborted `signal`
// deletes it), the float32 WAV result is decoded and the job is deleted. The job renders as
// `aimixer process` does — linked detection across channels, the one-pass loudness
// normalisation with the true-peak limiter, genre "auto" over the whole file — so the result
// equals the wasm path's. Its report has the wasm path's shape; what the job does not measure
// is null (momentaryMax / shortTermMax of a processed file, the loudness curve of an analysis)
// and a processed file's genre comes without the window timeline.
//
// An origin without /jobs (404) gets the older path: each channel streamed through
// POST /stream-audio (48 kHz, whole 960-sample frames) and "auto" classified through
// POST /classify-genre. Differences from the wasm path, by construction: channels are processed
// one by one (no linked detection across channels), the loudness of several channels is combined
// from the per-channel 100 ms readings (momentary and short-term exactly; the integrated value
// and LRA are gated from those readings), a target is a second pass of gain + sample-peak limiter,
// and "auto" classifies at most 8 windows of 3 s.
//
// On both paths the audio is uploaded to the origin.

import { AIMixerError } from "./protocol.js";

/**
 * @typedef {{phase: string, done: number, total: number, fraction: number}} FileProgress
 * @typedef {{targetLufs?: number | string | null, truePeak?: number | null,
 *   onProgress?: (p: FileProgress) => void, signal?: AbortSignal}} FileOptions
 * @typedef {{genre?: boolean, onProgress?: (p: FileProgress) => void, signal?: AbortSignal}} AnalyzeOptions
 */

const SR = 48000;
const FRAME = 960;
const MAX_CHANNELS = 8;
/** Longest file of the twins, s (the wasm path's bound: aimixer_dsp.render.MAX_SECONDS). */
const MAX_SECONDS = 3600;

function checkChannels(channels) {
  if (!Array.isArray(channels) || channels.length < 1 || channels.length > MAX_CHANNELS) {
    throw new AIMixerError("INVALID_BUFFER_SIZE", `channels must be an array of 1..${MAX_CHANNELS} Float32Arrays`, {
      field: "channels",
    });
  }
  const n = channels[0].length;
  for (const c of channels) {
    if (!(c instanceof Float32Array) || c.length !== n) {
      throw new AIMixerError("INVALID_BUFFER_SIZE", "channels must be Float32Arrays of one length", { field: "channels" });
    }
  }
  return n;
}

/** Waveform overview: `{min, max}` per bucket over all channels (Float32Arrays of `buckets`). */
export function overview(channels, buckets = 1000) {
  const n = channels.length ? channels[0].length : 0;
  const b = Math.max(1, Math.min(Math.floor(buckets) || 1000, 100000, Math.max(1, n)));
  const lo = new Float32Array(b);
  const hi = new Float32Array(b);
  for (let k = 0; k < b; k++) {
    const s = Math.floor((k * n) / b);
    const e = Math.max(s + 1, Math.floor(((k + 1) * n) / b));
    let mn = 0;
    let mx = 0;
    for (const c of channels) {
      for (let i = s; i < e && i < n; i++) {
        const v = c[i];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
    }
    lo[k] = mn;
    hi[k] = mx;
  }
  return { min: Array.from(lo), max: Array.from(hi), buckets: b };
}

// ---- loudness from 100 ms readings (BS.1770-4 gating, EBU Tech 3342 LRA) --------------------

const energy = (l) => (l === null || l === undefined || !Number.isFinite(l) ? 0 : 10 ** ((l + 0.691) / 10));
const lufs = (z) => (z > 0 ? -0.691 + 10 * Math.log10(z) : null);

function gated(zs, rel) {
  const abs = energy(-70);
  const a = zs.filter((z) => z > abs);
  if (!a.length) return { level: null, kept: [] };
  const mean = a.reduce((x, y) => x + y, 0) / a.length;
  const gate = mean * 10 ** (rel / 10);
  const kept = a.filter((z) => z > gate);
  return { level: kept.length ? lufs(kept.reduce((x, y) => x + y, 0) / kept.length) : null, kept };
}

/** Combine per-channel 100 ms readings (`[channel][block]` of LUFS or null) into one summary. */
export function combineReadings(momentary, shortTerm) {
  const blocks = Math.min(...momentary.map((m) => m.length));
  const mz = [];
  const sz = [];
  for (let k = 0; k < blocks; k++) {
    mz.push(momentary.reduce((acc, m) => acc + energy(m[k]), 0));
    sz.push(shortTerm.reduce((acc, s) => acc + energy(s[k]), 0));
  }
  const m = mz.map(lufs);
  const s = sz.map(lufs);
  const integrated = gated(mz, -10).level;
  const st = gated(sz.filter((z, i) => i >= 29 && z > 0), -20).kept.map(lufs).sort((a, b) => a - b);
  const pct = (p) => st[Math.min(st.length - 1, Math.max(0, Math.round((p / 100) * (st.length - 1))))];
  const finite = (a) => a.filter((v) => v !== null);
  return {
    lufs: integrated,
    momentaryMax: finite(m).length ? Math.max(...finite(m)) : null,
    shortTermMax: finite(s).length ? Math.max(...finite(s)) : null,
    lra: st.length ? pct(95) - pct(10) : 0,
    curve: { step: 0.1, momentary: m, shortTerm: s },
  };
}

function levels(channels) {
  let peak = 0;
  let ss = 0;
  let count = 0;
  for (const c of channels) {
    for (let i = 0; i < c.length; i++) {
      const v = c[i];
      const a = v < 0 ? -v : v;
      if (a > peak) peak = a;
      ss += v * v;
    }
    count += c.length;
  }
  return { peak: peak > 0 ? 20 * Math.log10(peak) : null, rms: ss > 0 ? 10 * Math.log10(ss / count) : null };
}

function b64floats(s) {
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/** One channel through /stream-audio, the limiter's look-ahead compensated. */
async function streamChannel(origin, x, config, signal) {
  const probe = await origin.processFrame(new Float32Array(FRAME), config);
  const L = (probe.metrics && probe.metrics.latencySamples) || 0;
  const frames = Math.ceil((x.length + L) / FRAME);
  const body = new Float32Array(frames * FRAME);
  body.set(x);
  const events = await origin.stream(body, config, { signal });
  const out = new Float32Array(frames * FRAME);
  const momentary = [];
  const shortTerm = [];
  for (const ev of events) {
    if (ev.type === "error") {
      const err = ev.data.error || {};
      throw new AIMixerError(err.code || "INTERNAL_ERROR", err.message || "stream error", err.details || {});
    }
    if (ev.type !== "audio") continue;
    out.set(b64floats(ev.data.audio), ev.data.index * FRAME);
    if (ev.data.index % 5 === 4) {
      momentary.push(ev.data.metrics.momentaryLufs);
      shortTerm.push(ev.data.metrics.shortTermLufs);
    }
  }
  return { audio: out.slice(L, L + x.length), momentary, shortTerm };
}

/** A sample rate a WAV header can carry (the origin decides what it processes) and at most
 * MAX_SECONDS of audio. */
function checkRate(sampleRate, n) {
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 768000) {
    throw new AIMixerError("INVALID_SAMPLE_RATE", `sampleRate=${String(sampleRate).slice(0, 40)} must be an integer in Hz`);
  }
  if (n > MAX_SECONDS * sampleRate) {
    throw new AIMixerError("INVALID_BUFFER_SIZE", `${(n / sampleRate).toFixed(0)} s of audio; at most ${MAX_SECONDS} s`, {
      field: "channels",
      maxSeconds: MAX_SECONDS,
    });
  }
}

function mono(channels) {
  const n = channels[0].length;
  const m = new Float32Array(n);
  for (const c of channels) for (let i = 0; i < n; i++) m[i] += c[i] / channels.length;
  return m;
}

/** Genre of a file on the origin: up to 8 windows of 3 s through /classify-genre, averaged. */
async function originClassify(origin, channels, signal) {
  const x = mono(channels);
  const win = 3 * SR;
  const count = Math.max(1, Math.min(8, Math.floor(x.length / SR) - 2));
  const timeline = [];
  const sum = {};
  for (let k = 0; k < count; k++) {
    if (signal && signal.aborted) throw new AIMixerError("CANCELLED", "the job was cancelled");
    const start = count === 1 ? 0 : Math.floor(((x.length - win) * k) / (count - 1));
    const part = x.subarray(Math.max(0, start), Math.max(0, start) + win);
    const r = await origin.classifyGenre(null, { audioBuffer: part, returnProbabilities: true });
    for (const [g, p] of Object.entries(r.probabilities)) sum[g] = (sum[g] || 0) + p;
    timeline.push({
      start: Math.round((start / SR) * 1000) / 1000,
      end: Math.round(((start + part.length) / SR) * 1000) / 1000,
      genre: r.genre,
      confidence: r.confidence,
      probabilities: r.probabilities,
    });
  }
  const probs = Object.fromEntries(Object.entries(sum).map(([g, v]) => [g, v / count]));
  const ranked = Object.keys(probs).sort((a, b) => probs[b] - probs[a] || (a < b ? -1 : 1));
  return {
    genre: ranked[0],
    confidence: probs[ranked[0]],
    probabilities: probs,
    secondaryGenre: ranked[1] || null,
    timeline,
    duration: x.length / SR,
    voiceActivity: null,
  };
}

function resolveTarget(controls, targetLufs, truePeak) {
  if ((targetLufs === null || targetLufs === undefined) && (truePeak === null || truePeak === undefined)) return null;
  let name = null;
  let lufsT = null;
  let ceiling = null;
  if (typeof targetLufs === "string") {
    const t = controls.loudnessTargets[targetLufs];
    if (!t) throw new AIMixerError("INVALID_PARAMETER", `targetLufs=${JSON.stringify(targetLufs).slice(0, 40)} is not a known target`);
    name = targetLufs;
    lufsT = t.lufs;
    ceiling = t.ceiling;
  } else if (targetLufs !== null && targetLufs !== undefined) {
    const [lo, hi] = controls.targetRange;
    if (typeof targetLufs !== "number" || !(targetLufs >= lo && targetLufs <= hi)) {
      throw new AIMixerError("INVALID_PARAMETER", `targetLufs=${targetLufs} is out of range [${lo}, ${hi}]`);
    }
    name = "custom";
    lufsT = targetLufs;
  }
  if (truePeak !== null && truePeak !== undefined) {
    const [lo, hi] = controls.ceilingRange;
    if (typeof truePeak !== "number" || !(truePeak >= lo && truePeak <= hi)) {
      throw new AIMixerError("INVALID_PARAMETER", `truePeak=${truePeak} is out of range [${lo}, ${hi}]`);
    }
    ceiling = truePeak;
  } else if (ceiling === null) {
    ceiling = -1;
  }
  return { name, lufs: lufsT, ceiling, gainRange: [controls.gain.min, controls.gain.max] };
}

/**
 * processFile through /stream-audio (origins without /jobs; see the module comment).
 * @param {any} origin
 * @param {Float32Array[]} channels
 * @param {number} sampleRate
 * @param {object | null} config
 * @param {FileOptions} [opts]
 */
async function streamProcessFile(origin, channels, sampleRate, config, { targetLufs, truePeak, onProgress, signal } = {}) {
  const n = checkChannels(channels);
  if (sampleRate !== SR) {
    throw new AIMixerError("INVALID_SAMPLE_RATE", `the origin path streams ${SR} Hz audio; got ${sampleRate} Hz (resample first)`);
  }
  const controls = targetLufs !== undefined && targetLufs !== null ? await origin.getJson("/config/controls") : null;
  const target = resolveTarget(controls || (await origin.getJson("/config/controls")), targetLufs, truePeak);
  const cfg = config ? JSON.parse(JSON.stringify(config)) : {};
  let classification = null;
  if (cfg.genre === "auto") {
    classification = await originClassify(origin, channels, signal);
    cfg.genre = classification.genre;
  }
  const steps = channels.length * (target ? 2 : 1);
  let done = 0;
  const pass = async (src, conf, phase) => {
    const res = [];
    for (const x of src) {
      res.push(await streamChannel(origin, x, conf, signal));
      done += 1;
      if (onProgress) onProgress({ phase, done, total: steps, fraction: done / steps });
    }
    return res;
  };
  let res = await pass(channels, cfg, "render");
  let out = combineReadings(
    res.map((r) => r.momentary),
    res.map((r) => r.shortTerm),
  );
  let targetInfo = null;
  if (target) {
    const gain = target.lufs !== null && out.lufs !== null ? target.lufs - out.lufs : 0;
    const g = Math.min(target.gainRange[1], Math.max(target.gainRange[0], gain));
    const conf2 = {
      gain: g,
      noiseGate: { enabled: false },
      compressor: { enabled: false },
      eq: { enabled: false },
      limiter: { enabled: true, ceiling: target.ceiling },
      bypass: false,
    };
    res = await pass(
      res.map((r) => r.audio),
      conf2,
      "loudness",
    );
    out = combineReadings(
      res.map((r) => r.momentary),
      res.map((r) => r.shortTerm),
    );
    targetInfo = { name: target.name, lufs: target.lufs, ceiling: target.ceiling, gainDb: g, truePeakLimiter: false };
  }
  const audio = res.map((r) => r.audio);
  const { curve, ...outLoud } = out;
  const report = {
    input: { ...levels(channels) },
    output: { ...levels(audio), ...outLoud },
    appliedSettings: null,
    genre: cfg.genre ?? null,
    sampleRate,
    channels: channels.length,
    duration: n / sampleRate,
    path: "origin",
    linked: channels.length === 1,
  };
  if (classification) {
    report.confidence = classification.confidence;
    report.classification = classification;
  }
  if (targetInfo) report.target = targetInfo;
  return { channels: audio, report };
}

/**
 * analyzeFile through /stream-audio: each channel streamed with the chain bypassed.
 * @param {any} origin
 * @param {Float32Array[]} channels
 * @param {number} sampleRate
 * @param {AnalyzeOptions} [opts]
 */
async function streamAnalyzeFile(origin, channels, sampleRate, { genre = true, onProgress, signal } = {}) {
  const n = checkChannels(channels);
  if (sampleRate !== SR) {
    throw new AIMixerError("INVALID_SAMPLE_RATE", `the origin path streams ${SR} Hz audio; got ${sampleRate} Hz (resample first)`);
  }
  const res = [];
  for (const x of channels) {
    res.push(await streamChannel(origin, x, { bypass: true }, signal));
    if (onProgress) onProgress({ phase: "analyse", done: res.length, total: channels.length, fraction: res.length / channels.length });
  }
  const loud = combineReadings(
    res.map((r) => r.momentary),
    res.map((r) => r.shortTerm),
  );
  let classification = null;
  let classificationError = null;
  if (genre !== false) {
    try {
      classification = await originClassify(origin, channels, signal);
    } catch (e) {
      if (e && e.code === "CANCELLED") throw e;
      classificationError = AIMixerError.from(e).toJSON();
    }
  }
  /** @type {Record<string, any>} */
  const out = {
    ...levels(channels),
    ...loud,
    duration: n / sampleRate,
    sampleRate,
    channels: channels.length,
    classification,
    voiceActivity: null,
    path: "origin",
  };
  if (classificationError) out.classificationError = classificationError;
  return out;
}

// ---- the file jobs API (POST /jobs ...) -------------------------------------------------------

/** Whether an origin has file jobs (asked once per origin backend). */
const jobsKnown = new WeakMap();
const POLL_MS = [50, 100, 200, 400, 700, 1000];
/** Longest wait for a job, ms (the origin's heartbeat keeps a live job's progress moving). */
const MAX_WAIT_MS = 6 * 3600 * 1000;

/** 32-bit float WAV (format 3) of planar channels, interleaved little-endian. */
export function encodeWavFloat32(channels, sampleRate) {
  const nc = channels.length;
  const n = channels[0].length;
  const dataBytes = 4 * nc * n;
  const buf = new ArrayBuffer(58 + dataBytes);
  const v = new DataView(buf);
  const tag = (at, s) => {
    for (let i = 0; i < 4; i++) v.setUint8(at + i, s.charCodeAt(i));
  };
  tag(0, "RIFF");
  v.setUint32(4, 50 + dataBytes, true);
  tag(8, "WAVE");
  tag(12, "fmt ");
  v.setUint32(16, 18, true);
  v.setUint16(20, 3, true); // WAVE_FORMAT_IEEE_FLOAT
  v.setUint16(22, nc, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * nc * 4, true);
  v.setUint16(32, nc * 4, true);
  v.setUint16(34, 32, true);
  v.setUint16(36, 0, true);
  tag(38, "fact");
  v.setUint32(42, 4, true);
  v.setUint32(46, n, true);
  tag(50, "data");
  v.setUint32(54, dataBytes, true);
  let at = 58;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < nc; c++) {
      v.setFloat32(at, channels[c][i], true);
      at += 4;
    }
  }
  return buf;
}

/**
 * Planar Float32Arrays of a WAV file (PCM 16/24/32-bit or float32, plain or extensible).
 * @param {ArrayBuffer} buf
 * @returns {{channels: Float32Array[], sampleRate: number}}
 */
export function decodeWav(buf) {
  const bad = (why) => new AIMixerError("INVALID_AUDIO", `the origin's result is not a WAV this SDK reads: ${why}`);
  const v = new DataView(buf);
  const tag = (at) => String.fromCharCode(v.getUint8(at), v.getUint8(at + 1), v.getUint8(at + 2), v.getUint8(at + 3));
  if (buf.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw bad("no RIFF/WAVE header");
  let fmt = null;
  let at = 12;
  while (at + 8 <= buf.byteLength) {
    const id = tag(at);
    const size = v.getUint32(at + 4, true);
    const body = at + 8;
    if (id === "fmt ") {
      if (size < 16 || body + size > buf.byteLength) throw bad("short fmt chunk");
      let format = v.getUint16(body, true);
      if (format === 0xfffe && size >= 26) format = v.getUint16(body + 24, true); // the sub-format GUID
      fmt = { format, nc: v.getUint16(body + 2, true), rate: v.getUint32(body + 4, true), bits: v.getUint16(body + 14, true) };
    } else if (id === "data") {
      if (!fmt) throw bad("data before fmt");
      const { format, nc, rate, bits } = fmt;
      const width = bits / 8;
      const ok = (format === 3 && bits === 32) || (format === 1 && (bits === 16 || bits === 24 || bits === 32));
      if (!ok || nc < 1 || nc > MAX_CHANNELS) throw bad(`format ${format}, ${bits} bits, ${nc} channels`);
      const bytes = Math.min(size, buf.byteLength - body);
      const n = Math.floor(bytes / (width * nc));
      const out = Array.from({ length: nc }, () => new Float32Array(n));
      let p = body;
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < nc; c++) {
          let x;
          if (format === 3) x = v.getFloat32(p, true);
          else if (bits === 16) x = v.getInt16(p, true) / 32768;
          else if (bits === 24) x = ((v.getUint8(p) | (v.getUint8(p + 1) << 8) | (v.getInt8(p + 2) << 16)) / 8388608);
          else x = v.getInt32(p, true) / 2147483648;
          out[c][i] = x;
          p += width;
        }
      }
      return { channels: out, sampleRate: rate };
    }
    at = body + size + (size & 1);
  }
  throw bad("no data chunk");
}

/**
 * One request to the origin's jobs API; a non-2xx answer is thrown as the API's error.
 * @param {any} origin
 * @param {string} method
 * @param {string} path
 * @param {{body?: any, accept?: string, signal?: AbortSignal}} [opts]
 * @returns {Promise<Response>}
 */
async function jobsFetch(origin, method, path, { body, accept = "application/json", signal } = {}) {
  /** @type {Record<string, string>} */
  const h = { Accept: accept };
  if (origin.apiKey) h.Authorization = `Bearer ${origin.apiKey}`;
  let r;
  try {
    r = await origin.fetch(origin.baseUrl + path, { method, headers: h, body, signal });
  } catch (e) {
    if (e && e.name === "AbortError") throw new AIMixerError("CANCELLED", "the job was cancelled");
    throw new AIMixerError("SERVICE_UNAVAILABLE", `origin unreachable: ${e && e.message}`);
  }
  if (!r.ok) {
    const data = await r.json().catch(() => null);
    const err = data && data.error ? data.error : { code: "HTTP_ERROR", message: `HTTP ${r.status}` };
    throw new AIMixerError(err.code, err.message, err.details || {}, r.status);
  }
  return r;
}

/** Sleep `ms`, waking early when `signal` aborts. */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      if (signal) signal.removeEventListener("abort", done);
      resolve(undefined);
    }
    if (signal) signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Whether the origin has file jobs: an empty non-multipart POST /jobs is answered 415 (or 400,
 * 401, ...) by an origin with the route and 404/405 by one without. Asked before the upload
 * because an origin without the route may answer a large upload's 404 by closing the connection.
 * @param {any} origin
 * @param {AbortSignal} [signal]
 * @returns {Promise<boolean>}
 */
async function hasJobs(origin, signal) {
  if (jobsKnown.has(origin)) return jobsKnown.get(origin);
  let ok = true;
  try {
    await jobsFetch(origin, "POST", "/jobs", { body: "", signal });
  } catch (e) {
    if (e.code === "CANCELLED" || e.status === undefined) throw e; // cancelled, or no origin at all
    ok = e.status !== 404 && e.status !== 405;
  }
  jobsKnown.set(origin, ok);
  return ok;
}

/**
 * Run one file job: upload, poll, and hand back `{id, metrics, audio}` (audio: the result file's
 * bytes, for process jobs), or `null` when the origin has no /jobs. The job is deleted at the end
 * (done, failed or cancelled).
 * @param {any} origin
 * @param {Float32Array[]} channels
 * @param {number} sampleRate
 * @param {Record<string, string>} fields   form fields besides `file`
 * @param {{analysis: boolean, phase: (fraction: number) => string, onProgress?: (p: FileProgress) => void,
 *   signal?: AbortSignal}} opts
 * @returns {Promise<{id: string, metrics: any, audio: ArrayBuffer | null} | null>}
 */
async function runJob(origin, channels, sampleRate, fields, { analysis, phase, onProgress, signal }) {
  const cancelled = () => new AIMixerError("CANCELLED", "the job was cancelled");
  if (signal && signal.aborted) throw cancelled();
  if (!(await hasJobs(origin, signal))) return null;
  const form = new FormData();
  form.append("file", new Blob([encodeWavFloat32(channels, sampleRate)], { type: "audio/wav" }), "input.wav");
  for (const [k, val] of Object.entries(fields)) form.append(k, val);
  let job;
  try {
    job = await (await jobsFetch(origin, "POST", "/jobs", { body: form, signal })).json();
  } catch (e) {
    if (e && (e.status === 404 || e.status === 405)) {
      jobsKnown.set(origin, false);
      return null;
    }
    throw e;
  }
  const id = String(job.id);
  if (!/^job_[0-9a-f]{1,64}$/.test(id)) throw new AIMixerError("INTERNAL_ERROR", "the origin answered POST /jobs without a job id");
  const path = `/jobs/${id}`;
  const remove = () => jobsFetch(origin, "DELETE", path).catch(() => {});
  const report = (f) => {
    if (onProgress) onProgress({ phase: phase(f), done: f, total: 1, fraction: f });
  };
  try {
    const started = Date.now();
    let last = -1;
    for (let k = 0; ; k++) {
      if (signal && signal.aborted) throw cancelled();
      if (job.state === "complete") break;
      if (job.state === "failed" || job.state === "cancelled") {
        throw new AIMixerError("JOB_FAILED", `the origin's job ${job.state}: ${job.error || "no reason given"}`, { jobId: id, state: job.state });
      }
      const f = Math.max(0, Math.min(1, Number(job.progress) || 0));
      if (f > last) {
        report(f);
        last = f;
      }
      if (Date.now() - started > MAX_WAIT_MS) throw new AIMixerError("TIMEOUT", `the origin's job ${id} did not finish`, { jobId: id });
      await sleep(POLL_MS[Math.min(k, POLL_MS.length - 1)], signal);
      if (signal && signal.aborted) throw cancelled();
      job = await (await jobsFetch(origin, "GET", path, { signal })).json();
    }
    const metrics = await (await jobsFetch(origin, "GET", `${path}/result`, { signal })).json();
    const audio = analysis ? null : await (await jobsFetch(origin, "GET", `${path}/result`, { accept: "audio/wav", signal })).arrayBuffer();
    report(1);
    return { id, metrics, audio };
  } finally {
    await remove();
  }
}

/** The loudness target as /jobs form fields (the origin validates them and names the field). */
function targetFields(targetLufs, truePeak) {
  /** @type {Record<string, string>} */
  const f = {};
  if (typeof targetLufs === "string") f.target = targetLufs;
  else if (targetLufs !== null && targetLufs !== undefined) f.targetLufs = String(targetLufs);
  if (truePeak !== null && truePeak !== undefined) f.truePeakCeiling = String(truePeak);
  return f;
}

/** A loudness summary of the job in the wasm report's shape (what the job lacks is null). */
function side(s) {
  if (!s) return null;
  const keys = ["peak", "rms", "lufs", "momentaryMax", "shortTermMax", "lra", "truePeak"];
  return Object.fromEntries(keys.map((k) => [k, s[k] ?? null]));
}

/**
 * The origin twin of processFile: a /jobs process job where the origin has one, else
 * /stream-audio (see the module comment).
 * @param {any} origin
 * @param {Float32Array[]} channels
 * @param {number} sampleRate
 * @param {object | null} config
 * @param {FileOptions} [opts]
 * @returns {Promise<{channels: Float32Array[], report: Record<string, any>}>}
 */
export async function originProcessFile(origin, channels, sampleRate, config, opts = {}) {
  const { targetLufs, truePeak, onProgress, signal } = opts;
  const n = checkChannels(channels);
  checkRate(sampleRate, n);
  if ((targetLufs === null || targetLufs === undefined) && truePeak !== null && truePeak !== undefined) {
    // the jobs API normalises only towards a target; a bare ceiling is the streamed path's pass
    return streamProcessFile(origin, channels, sampleRate, config, opts);
  }
  /** @type {Record<string, string>} */
  const fields = { ...targetFields(targetLufs, truePeak), format: "wav" };
  if (config) fields.config = JSON.stringify(config);
  const normalizing = fields.target !== undefined || fields.targetLufs !== undefined;
  const phase = (f) => (normalizing && f >= 0.5 ? "loudness" : "render");
  const job = await runJob(origin, channels, sampleRate, fields, { analysis: false, phase, onProgress, signal });
  if (job === null) return streamProcessFile(origin, channels, sampleRate, config, opts);
  const wav = decodeWav(/** @type {ArrayBuffer} */ (job.audio));
  if (wav.channels.length !== channels.length || wav.channels[0].length !== n) {
    throw new AIMixerError("INTERNAL_ERROR", `the origin returned ${wav.channels.length} x ${wav.channels[0].length} samples for ${channels.length} x ${n}`);
  }
  const m = job.metrics;
  /** @type {Record<string, any>} */
  const report = {
    input: side(m.input),
    output: side(m.output),
    appliedSettings: m.appliedSettings ?? null,
    genre: m.genre ?? null,
    latencySamples: m.latencySamples ?? null,
    sampleRate,
    channels: channels.length,
    duration: n / sampleRate,
    path: "origin",
    linked: true,
    jobId: job.id,
  };
  if (m.confidence !== undefined && m.confidence !== null) report.confidence = m.confidence;
  const norm = m.normalization;
  if (norm) {
    report.target = {
      name: norm.target ?? null,
      lufs: norm.targetLufs,
      ceiling: norm.truePeakCeiling,
      gainDb: norm.gainDb,
      measuredLufs: norm.measuredLufs ?? null,
      predictedLufs: norm.predictedLufs ?? null,
      truePeakLimiter: true,
    };
  }
  return { channels: wav.channels, report };
}

/**
 * The origin twin of analyzeFile: a /jobs analysis job where the origin has one (no loudness
 * curve: `curve` is null), else each channel streamed through /stream-audio.
 * @param {any} origin
 * @param {Float32Array[]} channels
 * @param {number} sampleRate
 * @param {AnalyzeOptions} [opts]
 * @returns {Promise<Record<string, any>>}
 */
export async function originAnalyzeFile(origin, channels, sampleRate, opts = {}) {
  const { genre = true, onProgress, signal } = opts;
  const n = checkChannels(channels);
  checkRate(sampleRate, n);
  const job = await runJob(origin, channels, sampleRate, { analysis: "true" }, { analysis: true, phase: () => "analyse", onProgress, signal });
  if (job === null) return streamAnalyzeFile(origin, channels, sampleRate, opts);
  const m = job.metrics || {};
  const loud = side(m.loudness) || {};
  /** @type {Record<string, any>} */
  const out = {
    ...loud,
    duration: n / sampleRate,
    sampleRate,
    channels: channels.length,
    curve: null,
    classification: genre !== false ? (m.genre ?? null) : null,
    voiceActivity: null,
    path: "origin",
  };
  if (genre !== false && !m.genre) {
    out.classificationError = { code: "SERVICE_UNAVAILABLE", message: String(m.genreError || "the origin did not classify the file"), details: { component: "ai" } };
  }
  return out;
}
