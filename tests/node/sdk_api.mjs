// API tests of the JS SDK in Node (node:test). Driven by tests/parity/test_sdk_node.py, which
// passes a running origin in AIMIXER_BASE_URL / AIMIXER_API_KEY.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AIMixer, AIMixerError, PHASES } from "../../wasm/js/aimixer.js";

const BASE = process.env.AIMIXER_BASE_URL;
const KEY = process.env.AIMIXER_API_KEY;
let mixer;
const progress = [];

function tone(n = 960, amp = 0.4, offset = 0) {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = amp * Math.sin(((offset + i) * 2 * Math.PI * 440) / 48000);
  return f;
}

function maxDiff(a, b) {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

before(async () => {
  mixer = await AIMixer.create({ baseUrl: BASE, apiKey: KEY, fallback: false, onProgress: (p) => progress.push(p) });
});

after(async () => {
  await mixer.close();
});

test("init phases run in order runtime -> package -> model, path is wasm", () => {
  assert.equal(mixer.path, "wasm");
  const done = progress.filter((p) => p.state === "done").map((p) => p.phase);
  assert.deepEqual(done, PHASES);
  const starts = progress.filter((p) => p.state === "start").map((p) => p.phase);
  assert.deepEqual(starts, PHASES);
});

test("processFrame returns the /process-audio shape", async () => {
  const r = await mixer.processFrame(tone(), { genre: "rock" });
  assert.ok(r.processedBuffer instanceof Float32Array);
  assert.equal(r.processedBuffer.length, 960);
  for (const k of ["peak", "rms", "lufs", "genre", "confidence", "processingTime", "latencySamples"]) {
    assert.ok(k in r.metrics, k);
  }
  assert.equal(r.metrics.genre, "rock");
  for (const k of ["noiseGate", "compressor", "eq", "limiter"]) assert.ok(k in r.appliedSettings, k);
});

test("typed errors mirror the origin's codes", async () => {
  await assert.rejects(mixer.processFrame(new Float32Array(959)), (e) => {
    assert.ok(e instanceof AIMixerError);
    assert.equal(e.code, "INVALID_BUFFER_SIZE");
    assert.match(e.message, /960/);
    return true;
  });
  await assert.rejects(mixer.processFrame(tone(), { compressor: { ratio: 25 } }), (e) => {
    assert.equal(e.code, "INVALID_PARAMETER");
    assert.match(e.message, /compressor\.ratio=25 is out of range \[1, 20\]/);
    assert.equal(e.details.parameter, "compressor.ratio");
    return true;
  });
  const nan = tone();
  nan[5] = NaN;
  await assert.rejects(mixer.processFrame(nan), { code: "INVALID_AUDIO" });
  await assert.rejects(mixer.processFrame("not audio"), { code: "INVALID_BUFFER_SIZE" });
  await assert.rejects(mixer.classifyGenre([]), { code: "MISSING_FEATURES" });
  await assert.rejects(mixer.classifyGenre([new Array(13).fill(0)]), (e) => {
    assert.equal(e.code, "MISSING_FEATURES");
    assert.match(e.message, /the MFCC matrix has 1 frames; the genre model needs 282/);
    return true;
  });
  const matrix = Array.from({ length: 300 }, () => new Array(13).fill(0.5));
  await assert.rejects(mixer.classifyGenre(matrix, { numFilters: 64, fftSize: 2048 }), (e) => {
    assert.equal(e.code, "UNSUPPORTED_FEATURE_SETTINGS");
    assert.deepEqual(e.details.fields, ["numFilters"]);
    return true;
  });
});

test("stateless calls use a fresh chain; a session keeps state and reset() clears it", async () => {
  const f = tone(960, 0.9);
  const a = await mixer.processFrame(f, { genre: "rock" });
  const b = await mixer.processFrame(f, { genre: "rock" });
  assert.equal(maxDiff(a.processedBuffer, b.processedBuffer), 0);
  const s = await mixer.createSession();
  const first = await s.process(f, { genre: "rock" });
  assert.equal(maxDiff(first.processedBuffer, a.processedBuffer), 0);
  const second = await s.process(f, { genre: "rock" });
  assert.ok(maxDiff(second.processedBuffer, first.processedBuffer) > 1e-6, "state did not carry over");
  await s.reset();
  const again = await s.process(f, { genre: "rock" });
  assert.equal(maxDiff(again.processedBuffer, first.processedBuffer), 0);
  await s.close();
  await assert.rejects(s.mixer._ch.request("sessionProcess", { sessionId: s.sessionId, samples: f }), {
    code: "SESSION_NOT_FOUND",
  });
});

test("extractFeatures and classifyGenre (raw audio extension) answer", async () => {
  const feats = await mixer.extractFeatures(tone(48000 * 0.2), { fftSize: 1024, hopSize: 512 });
  assert.ok(feats.frameCount > 0);
  assert.equal(feats.features[0].length, 13);
  const c = await mixer.classifyGenre(null, { audioBuffer: tone(48000 * 3), returnProbabilities: true });
  assert.ok(["speech", "rock", "jazz", "electronic", "classical"].includes(c.genre));
  assert.equal(c.inputKind, "audioBuffer");
  const total = Object.values(c.probabilities).reduce((x, y) => x + y, 0);
  assert.ok(Math.abs(total - 1) < 1e-4);
  // the spec's flow: extract, then classify the matrix (Float32Array rows work too)
  const m = await mixer.extractFeatures(tone(48000 * 3));
  const byMatrix = await mixer.classifyGenre(m.features, { returnProbabilities: true });
  assert.equal(byMatrix.inputKind, "mfccMatrix");
  assert.deepEqual(byMatrix.probabilities, c.probabilities);
  const typed = await mixer.classifyGenre(m.features.map((r) => Float64Array.from(r)), { returnProbabilities: true });
  assert.deepEqual(typed.probabilities, c.probabilities);
});

test("origin path: same results, same errors, API key sent", { skip: !BASE }, async () => {
  const origin = await AIMixer.create({ baseUrl: BASE, apiKey: KEY, prefer: "origin" });
  assert.equal(origin.path, "origin");
  const f = tone(960, 0.7, 123);
  const [w, o] = await Promise.all([mixer.processFrame(f, { genre: "jazz" }), origin.processFrame(f, { genre: "jazz" })]);
  assert.ok(maxDiff(w.processedBuffer, o.processedBuffer) <= 1e-5);
  assert.ok(Math.abs(w.metrics.rms - o.metrics.rms) <= 1e-5);
  assert.deepEqual(w.appliedSettings, o.appliedSettings);
  await assert.rejects(origin.processFrame(new Float32Array(959)), { code: "INVALID_BUFFER_SIZE" });
  const s = await origin.createSession();
  const r1 = await s.process(f, {});
  const r2 = await s.process(f, {});
  assert.ok(r1.sessionId && r1.sessionId === r2.sessionId);
  const bad = await AIMixer.create({ baseUrl: BASE, apiKey: "wrong-key", prefer: "origin" });
  await assert.rejects(bad.processFrame(f), (e) => {
    assert.equal(e.code, "UNAUTHORIZED");
    assert.equal(e.status, 401);
    return true;
  });
});

test("a missing bundle falls back to the origin (or fails typed with fallback: false)", { skip: !BASE }, async () => {
  const m = await AIMixer.create({ baseUrl: BASE, apiKey: KEY, bundleUrl: "file:///nonexistent-aimixer-bundle/" });
  assert.equal(m.path, "origin");
  assert.match(m.fallbackReason, /bundle/);
  await assert.rejects(
    AIMixer.create({ baseUrl: BASE, bundleUrl: "file:///nonexistent-aimixer-bundle/", fallback: false }),
    { code: "SERVICE_UNAVAILABLE" },
  );
});
