// processFile / analyzeFile / controls of the JS SDK in Node, on the wasm path (Pyodide in-process)
// and on the origin path. Driven by tests/parity/test_files_node.py: argv[2] is a JSON job
// {raw, channels, frames, sampleRate, runs: [{name, path, config, targetLufs, truePeak}], out}.
// Planar float32 in (raw file), planar float32 + a JSON summary out.
import { readFileSync, writeFileSync } from "node:fs";
import { AIMixer } from "../../wasm/js/aimixer.js";

const job = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const raw = new Float32Array(readFileSync(job.raw).buffer.slice(0));
const chans = [];
for (let c = 0; c < job.channels; c++) chans.push(raw.slice(c * job.frames, (c + 1) * job.frames));

const mixers = {};
async function mixer(path) {
  if (!mixers[path]) {
    mixers[path] = await AIMixer.create({
      baseUrl: process.env.AIMIXER_BASE_URL,
      apiKey: process.env.AIMIXER_API_KEY,
      prefer: path,
      fallback: false,
    });
  }
  return mixers[path];
}

const summary = {};
for (const run of job.runs) {
  const m = await mixer(run.path);
  const progress = [];
  const picked = run.channels ? chans.slice(0, run.channels) : chans;
  const input = run.frames ? picked.map((c) => c.slice(0, run.frames)) : picked;
  if (run.kind === "analyze") {
    summary[run.name] = await m.analyzeFile(input, job.sampleRate, { onProgress: (p) => progress.push(p) });
  } else if (run.kind === "cancel") {
    const ac = new AbortController();
    let err = null;
    try {
      await m.processFile(input, job.sampleRate, run.config, {
        onProgress: (p) => {
          progress.push(p);
          ac.abort();
        },
        signal: ac.signal,
      });
    } catch (e) {
      err = { code: e.code, message: e.message };
    }
    // the engine still works after a cancelled job
    const after = await m.processFile([chans[0].slice(0, 4800)], job.sampleRate, { genre: "rock" });
    summary[run.name] = { error: err, afterFrames: after.channels[0].length };
  } else if (run.kind === "error") {
    try {
      await m.processFile(run.bad === "nan" ? [Float32Array.of(0, NaN, 0)] : input, job.sampleRate, run.config, {
        targetLufs: run.targetLufs,
      });
      summary[run.name] = { error: null };
    } catch (e) {
      summary[run.name] = { error: { code: e.code, message: e.message } };
    }
  } else if (run.kind === "controls") {
    summary[run.name] = await m.controls();
  } else {
    const res = await m.processFile(input, job.sampleRate, run.config, {
      targetLufs: run.targetLufs,
      truePeak: run.truePeak,
      block: run.block,
      onProgress: (p) => progress.push(p),
    });
    const frames = res.channels[0].length;
    const flat = new Float32Array(res.channels.length * frames);
    res.channels.forEach((c, i) => flat.set(c, i * frames));
    writeFileSync(`${job.out}/${run.name}.f32`, Buffer.from(flat.buffer));
    summary[run.name] = { report: res.report, channels: res.channels.length, frames: res.channels[0].length };
  }
  summary[run.name].progress = progress.length;
  summary[run.name].phases = [...new Set(progress.map((p) => p.phase))];
  summary[run.name].lastFraction = progress.length ? progress[progress.length - 1].fraction : null;
}
for (const m of Object.values(mixers)) await m.close();
writeFileSync(`${job.out}/summary.json`, JSON.stringify(summary));
process.exit(0);
