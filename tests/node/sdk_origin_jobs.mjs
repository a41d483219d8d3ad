// The origin twins of processFile / analyzeFile in Node, against a real origin: the file jobs
// path (POST /jobs ...) and, with the jobs routes answered 404 by the same server, the
// /stream-audio path. Driven by tests/parity/test_origin_file_jobs.py: argv[2] is a JSON job
// {raw, channels, frames, sampleRate, runs: [{name, kind, config, targetLufs, truePeak, channels,
// noJobs}], out}. Planar float32 in (raw file); planar float32 per run + summary.json out.
import { readFileSync, writeFileSync } from "node:fs";
import { AIMixer } from "../../wasm/js/aimixer.js";

const job = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const rb = readFileSync(job.raw);
const raw = new Float32Array(rb.buffer.slice(rb.byteOffset, rb.byteOffset + rb.byteLength));
const chans = [];
for (let c = 0; c < job.channels; c++) chans.push(raw.slice(c * job.frames, (c + 1) * job.frames));
const base = process.env.AIMIXER_BASE_URL;
const key = process.env.AIMIXER_API_KEY;

/** Every request the SDK makes: [method, path]; with noJobs, /jobs goes to a path the server lacks. */
function recorder(noJobs) {
  const seen = [];
  const impl = (url, init = {}) => {
    let u = String(url);
    const path = u.slice(base.length);
    seen.push([init.method || "GET", path]);
    if (noJobs && path.startsWith("/jobs")) u = base + "/no-such-route" + path;
    return fetch(u, init);
  };
  return { seen, impl };
}

async function jobStatus(id) {
  const r = await fetch(`${base}/jobs/${id}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  return r.status;
}

const summary = {};
for (const run of job.runs) {
  const rec = recorder(!!run.noJobs);
  const m = await AIMixer.create({ baseUrl: base, apiKey: key, prefer: "origin", fallback: false, fetch: rec.impl });
  const progress = [];
  const onProgress = (p) => progress.push(p);
  let input = run.channels ? chans.slice(0, run.channels) : chans;
  if (run.silent) input = input.map((c) => new Float32Array(c.length));
  const out = {};
  if (run.kind === "analyze") {
    out.result = await m.analyzeFile(input, job.sampleRate, { onProgress });
  } else if (run.kind === "cancel") {
    const ac = new AbortController();
    try {
      await m.processFile(input, job.sampleRate, run.config, {
        targetLufs: run.targetLufs,
        onProgress: (p) => {
          progress.push(p);
          ac.abort();
        },
        signal: ac.signal,
      });
      out.error = null;
    } catch (e) {
      out.error = { code: e.code, message: e.message, details: e.details };
    }
  } else if (run.kind === "error") {
    try {
      await m.processFile(input, job.sampleRate, run.config, { targetLufs: run.targetLufs, truePeak: run.truePeak });
      out.error = null;
    } catch (e) {
      out.error = { code: e.code, message: e.message, details: e.details, status: e.status };
    }
  } else {
    const res = await m.processFile(input, job.sampleRate, run.config, {
      targetLufs: run.targetLufs,
      truePeak: run.truePeak,
      onProgress,
    });
    const flat = new Float32Array(res.channels.length * job.frames);
    res.channels.forEach((c, i) => flat.set(c, i * job.frames));
    writeFileSync(`${job.out}/${run.name}.f32`, Buffer.from(flat.buffer));
    out.report = res.report;
    out.frames = res.channels[0].length;
  }
  const ids = [...new Set(rec.seen.map(([, p]) => (p.match(/^\/jobs\/(job_[0-9a-f]+)/) || [])[1]).filter(Boolean))];
  out.jobIds = ids;
  out.jobStatusAfter = await Promise.all(ids.map(jobStatus));
  out.requests = rec.seen;
  out.progress = progress;
  summary[run.name] = out;
  await m.close();
}
writeFileSync(`${job.out}/summary.json`, JSON.stringify(summary));
process.exit(0);
