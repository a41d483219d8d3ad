// Driven by bench/bench_origin_twin.py: the SDK's origin twin of processFile on a real origin, over
// file jobs and (the jobs routes sent to a path the server lacks) over /stream-audio.
// argv: baseUrl apiKey seconds. Prints one JSON line per path.
import { AIMixer } from "../wasm/js/aimixer.js";

const [base, key, secs] = process.argv.slice(2);
const SR = 48000;
const n = Math.round(SR * Number(secs));
let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
const chans = [0, 1].map((c) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const env = 0.5 + 0.5 * Math.sin((2 * Math.PI * 0.5 * i) / SR);
    a[i] = (0.4 - 0.1 * c) * Math.sin((2 * Math.PI * 220 * (c + 1) * i) / SR) * env + 0.02 * rnd();
  }
  return a;
});
for (const path of ["jobs", "stream-audio"]) {
  const impl = (u, init) => fetch(path === "jobs" ? u : String(u).replace("/jobs", "/no-jobs"), init);
  const m = await AIMixer.create({ baseUrl: base, apiKey: key, prefer: "origin", fallback: false, fetch: impl });
  const t = performance.now();
  const r = await m.processFile(chans, SR, { genre: "rock" }, { targetLufs: "streaming" });
  const s = (performance.now() - t) / 1000;
  console.log(JSON.stringify({ path, seconds: s, realtime: n / SR / s, outputLufs: r.report.output.lufs }));
  await m.close();
}
