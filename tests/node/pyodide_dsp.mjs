// Run a fixed DSP job inside Pyodide (pure-Python aimixer_dsp, no NumPy) and print the results
// as one JSON object on stdout. Usage: node tests/node/pyodide_dsp.mjs JOB.json
//
// JOB: {sample_rate, frame_size, signal: [float], chain_config: {...} | null,
//       mfcc_signal: [float], mfcc: {n_mfcc, n_mels, n_fft, hop_length, window}}
// Package functions are called through pyodide.pyimport proxies; no Python source is built
// from data. -inf readings come out as null (JSON has no infinities).
import fs from "node:fs";
import { bootDsp, toJs, toPyFloats } from "./pyodide_lib.mjs";

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { py, builtins, bootMs } = await bootDsp();
const dsp = py.pyimport("aimixer_dsp");
const meters = py.pyimport("aimixer_dsp.meters");
const features = py.pyimport("aimixer_dsp.features");
const backend = py.pyimport("aimixer_dsp.backend");

const sr = job.sample_rate;
const n = job.frame_size;
const frames = [];
for (let i = 0; i < job.signal.length; i += n) frames.push(toPyFloats(py, builtins, job.signal.slice(i, i + n)));

const result = { bootMs, haveNumpy: backend.HAVE_NUMPY, backend: backend.get_backend(), version: dsp.__version__ };

// Chain: every stage on, fed in frame_size frames.
if (job.chain_config) {
  const presets = py.pyimport("aimixer_dsp.presets");
  const cfg = py.toPy(job.chain_config);
  const chain = presets.build_chain(cfg, sr);
  cfg.destroy();
  const out = [];
  for (const f of frames) for (const v of toJs(chain.process(f))) out.push(v);
  result.chain = out;
  result.latencySamples = chain.latency_samples;
  chain.destroy();
}

// Meters fed the same frames; momentary recorded after every frame.
const meter = meters.LoudnessMeter(sr);
const momentary = [];
for (const f of frames) {
  meter.push(f);
  momentary.push(meter.momentary);
}
result.meters = {
  momentary: meter.momentary,
  short_term: meter.short_term,
  integrated: meter.integrated,
  loudness_range: meter.loudness_range,
  momentary_max: meter.momentary_max,
  short_term_max: meter.short_term_max,
  peak: meters.peak_db(frames[0]),
  rms: meters.rms_db(frames[0]),
};
result.momentaryTrace = momentary;
meter.destroy();

// MFCC (pure path) and the /extract-features summary.
const msig = toPyFloats(py, builtins, job.mfcc_signal);
const o = job.mfcc;
result.mfcc = toJs(
  features.mfcc.callKwargs(msig, {
    sample_rate: sr, n_mfcc: o.n_mfcc, n_mels: o.n_mels, n_fft: o.n_fft, hop_length: o.hop_length, window: o.window,
  }),
);
const ex = toJs(features.extract_features.callKwargs(msig, { sample_rate: sr }));
delete ex.features;
result.extract = ex;

for (const f of frames) f.destroy();
msig.destroy();
process.stdout.write(JSON.stringify(result) + "\n");
