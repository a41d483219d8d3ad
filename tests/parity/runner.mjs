// Runs the parity vectors (tests/parity/vectors.py, as JSON) through an AIMixer instance.
// Shared by the Node runtime (tests/node/sdk_parity.mjs) and headless Chromium (the page imports it).

const FRAME = 960;

function plain(result) {
  if (result && result.processedBuffer) result.processedBuffer = Array.from(result.processedBuffer);
  return result;
}

async function capture(fn) {
  try {
    return { ok: true, result: await fn() };
  } catch (e) {
    return { ok: false, error: { code: e.code || "JS_ERROR", message: String(e.message || e), name: e.name } };
  }
}

export async function runVectors(mixer, vectors) {
  const out = { path: mixer.path, frames: [], streams: [], features: [], classify: [], errors: [] };
  for (const v of vectors.frames) {
    const r = await capture(async () => plain(await mixer.processFrame(Float32Array.from(v.samples), v.config)));
    out.frames.push({ name: v.name, ...r });
  }
  for (const v of vectors.streams) {
    const session = await mixer.createSession();
    const results = [];
    let error = null;
    for (let i = 0; i + FRAME <= v.samples.length; i += FRAME) {
      const frame = Float32Array.from(v.samples.slice(i, i + FRAME));
      const k = i / FRAME;
      const cfg = v.switchAt !== undefined && k >= v.switchAt ? v.switchConfig : v.config;
      const r = await capture(async () => plain(await session.process(frame, cfg)));
      if (!r.ok) {
        error = r.error;
        break;
      }
      results.push(r.result);
    }
    await session.close();
    out.streams.push({ name: v.name, ok: !error, error, results });
  }
  for (const v of vectors.features) {
    const r = await capture(() => mixer.extractFeatures(Float32Array.from(v.samples), v.opts));
    out.features.push({ name: v.name, ...r });
  }
  for (const v of vectors.classify) {
    const r = await capture(() => mixer.classifyGenre(v.features, { returnProbabilities: true }));
    out.classify.push({ name: v.name, ...r });
  }
  for (const v of vectors.errors) {
    const r = await capture(() => mixer.processFrame(Float32Array.from(v.samples), v.config));
    out.errors.push({ name: v.name, code: r.ok ? null : r.error.code, message: r.ok ? null : r.error.message });
  }
  if (mixer.stats) out.stats = await mixer.stats();
  return out;
}
