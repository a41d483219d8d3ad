// Run the genre model on onnxruntime-web (WASM backend, single thread) in Node.
// Usage: node tests/node/ort_parity.mjs MODEL.onnx INPUT.json
// INPUT.json: {"inputName": "features", "vectors": [[48 floats], ...]}
// Prints {"probabilities": [[5 floats], ...], "labels": [...], "backend": "wasm"} on stdout.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-web';

const [modelPath, inputPath] = process.argv.slice(2);
if (!modelPath || !inputPath) {
  console.error('usage: node ort_parity.mjs MODEL.onnx INPUT.json');
  process.exit(2);
}
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

const input = JSON.parse(await readFile(inputPath, 'utf8'));
const vectors = input.vectors;
const n = vectors.length;
const width = vectors[0].length;
const data = new Float32Array(n * width);
vectors.forEach((v, i) => data.set(v, i * width));

const modelBytes = await readFile(modelPath);
const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'] });
const feeds = { [input.inputName || session.inputNames[0]]: new ort.Tensor('float32', data, [n, width]) };
const out = await session.run(feeds);
const probs = out.probabilities;
const k = probs.dims[1];
const rows = [];
for (let i = 0; i < n; i++) rows.push(Array.from(probs.data.slice(i * k, (i + 1) * k)));
const labels = out.label ? Array.from(out.label.data, (x) => Number(x)) : null;
process.stdout.write(JSON.stringify({ probabilities: rows, labels, backend: 'wasm' }));
