// Node runtime of the parity suite: the SDK in Node (Pyodide in-process + onnxruntime-web).
//   node tests/node/sdk_parity.mjs <vectors.json> <results.json> [--prefer wasm|origin] [--base-url URL] [--api-key K]
import { readFile, writeFile } from "node:fs/promises";
import { AIMixer } from "../../wasm/js/aimixer.js";
import { runVectors } from "../parity/runner.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const [vectorsPath, outPath] = args;
const phases = [];
const t0 = performance.now();
const mixer = await AIMixer.create({
  prefer: opt("--prefer", "wasm"),
  baseUrl: opt("--base-url", undefined),
  bundleUrl: opt("--bundle-url", undefined),
  apiKey: opt("--api-key", undefined),
  fallback: false,
  onProgress: (p) => phases.push(p),
});
const initMs = performance.now() - t0;
const vectors = JSON.parse(await readFile(vectorsPath, "utf-8"));
const results = await runVectors(mixer, vectors);
results.phases = phases;
results.initMs = initMs;
results.info = mixer.info || null;
await writeFile(outPath, JSON.stringify(results));
await mixer.close();
process.exit(0);
