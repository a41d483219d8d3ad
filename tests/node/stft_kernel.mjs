// The feature kernel of wasm/js/kernels.js ("stft") inside Pyodide: run feature calls on the pure
// path, then with the JavaScript kernels installed, and print both as one JSON object.
// Usage: node tests/node/stft_kernel.mjs JOB.json
// JOB: {cases: [{fn: "extract_features" | "mfcc" | "frame_features", samples: [float], kwargs: {...}}]}
// Package functions are called through pyodide.pyimport proxies; no Python source is built.
import fs from "node:fs";
import { installKernels } from "../../wasm/js/kernels.js";
import { bootDsp, toJs, toPyFloats } from "./pyodide_lib.mjs";

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { py, builtins } = await bootDsp();
const features = py.pyimport("aimixer_dsp.features");
const backend = py.pyimport("aimixer_dsp.backend");

function runAll() {
  return job.cases.map((c) => {
    const samples = toPyFloats(py, builtins, c.samples);
    try {
      return toJs(features[c.fn].callKwargs(samples, c.kwargs));
    } finally {
      samples.destroy();
    }
  });
}

const calls = [];
const pure = runAll();
installKernels(backend);
const stft = backend.kernel("stft");
backend.set_kernel("stft", (...args) => {
  calls.push(Number(args[4]));
  return stft(...args);
});
const kernel = runAll();
console.log(JSON.stringify({ pure, kernel, calls }));
