// Whole files in the SDK, outside the worker: the waveform overview and the origin-path twins of
// processFile / analyzeFile. The origin has no file-job API, so the twins stream each channel
// through POST /stream-audio (48 kHz, whole 960-sample frames) and classify through
// POST /classify-genre. Differences from the wasm path, by construction: channels are processed
// one by one (no linked detection across channels), the loudness of several channels is combined
// from the per-channel 100 ms readings (momentary and short-term exactly; the integrated value
// and LRA are gated from those readings), and "auto" classifies at most 8 windows of 3 s.
// The audio is uploaded to the origin on this path.

import { AIMixerError } from "./protocol.js";

const SR = 48000;
const FRAME = 960;
const MAX_CHANNELS = 8;

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

/** The origin twin of processFile (see the module comment for how it differs). */
export async function originProcessFile(origin, channels, sampleRate, config, { targetLufs, truePeak, onProgress, signal } = {}) {
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

/** The origin twin of analyzeFile: each channel streamed with the chain bypassed. */
export async function originAnalyzeFile(origin, channels, sampleRate, { genre = true, onProgress, signal } = {}) {
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
