// The in-browser mixer page: file or microphone -> mixer.connect() -> speakers, with live metrics.
import { AIMixer } from "/wasm/aimixer.js";

const $ = (id) => document.getElementById(id);
let mixer = null;
let ctx = null;
let live = null;
let source = null;
let timer = null;

function fmt(v, unit = "") {
  return v === null || v === undefined || !Number.isFinite(v) ? "–" : `${v.toFixed(1)}${unit}`;
}

function config() {
  const c = {
    bypass: $("bypass").checked,
    gain: Number($("gain").value),
    noiseGate: { enabled: $("gate").checked },
    compressor: { enabled: $("comp").checked },
    eq: { enabled: $("eq").checked },
    limiter: { enabled: $("lim").checked },
  };
  if ($("genre").value) c.genre = $("genre").value;
  return c;
}

async function start() {
  if (mixer) await mixer.close();
  $("path").textContent = "loading…";
  $("path").className = "badge";
  for (const li of document.querySelectorAll("#phases li")) li.className = "";
  mixer = await AIMixer.create({
    apiKey: $("apikey").value || undefined,
    prefer: $("prefer-origin").checked ? "origin" : "wasm",
    lazyModel: true,
    onProgress: (p) => {
      const li = document.querySelector(`#phases li[data-phase="${p.phase}"]`);
      if (li) li.className = p.state === "done" ? "done" : "active";
      $("status").textContent = `${p.phase}: ${p.state} (${Math.round(p.elapsedMs)} ms)`;
    },
  });
  $("path").textContent = mixer.path;
  $("path").className = `badge ${mixer.path}`;
  $("status").textContent =
    mixer.path === "wasm"
      ? `Ready in ${Math.round(mixer.initTimings.total)} ms (WebAssembly in a worker)`
      : `Using the origin (${mixer.fallbackReason}); live audio needs WebAssembly`;
  $("mic").disabled = mixer.path !== "wasm";
  window.aimixer = mixer; // for tests and the console
}

async function stopLive() {
  if (timer) clearInterval(timer);
  timer = null;
  if (live) await live.stop();
  live = null;
  if (source && source.mediaStream) for (const t of source.mediaStream.getTracks()) t.stop();
  source = null;
  $("stop").disabled = true;
}

async function run(makeSource) {
  await stopLive();
  ctx = ctx || new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await ctx.resume();
  source = await makeSource(ctx);
  live = await mixer.connect(source, { config: config() });
  live.node.connect(ctx.destination);
  $("m-latency").textContent = `${live.latencyMs.toFixed(1)} ms`;
  live.onMetrics((m) => {
    if (!m.metrics) return;
    $("m-genre").textContent = m.metrics.genre ? `${m.metrics.genre} (${(m.metrics.confidence * 100).toFixed(0)}%)` : "–";
    $("m-peak").textContent = fmt(m.metrics.peak, " dBFS");
    $("m-rms").textContent = fmt(m.metrics.rms, " dBFS");
    $("m-lufs").textContent = fmt(m.metrics.lufs, " LUFS");
    $("m-mlufs").textContent = fmt(m.metrics.momentaryLufs, " LUFS");
    if (m.stats) {
      const dsp = m.stats.meanDspMs !== undefined ? ` (DSP ${m.stats.meanDspMs.toFixed(2)})` : "";
      $("m-frame").textContent = `${m.stats.meanFrameMs.toFixed(2)} ms${dsp}`;
    }
  });
  timer = setInterval(() => {
    if (live) {
      const late = live.metrics && live.metrics.lateFrames ? ` (${live.metrics.lateFrames} late frames)` : "";
      $("m-dropouts").textContent = `${live.stats().dropouts}${late}`;
    }
  }, 250);
  $("stop").disabled = false;
}

$("file").addEventListener("change", () => {
  const f = $("file").files[0];
  if (!f || !mixer || mixer.path !== "wasm") return;
  const player = $("player");
  player.src = URL.createObjectURL(f);
  run((c) => {
    const s = c.createMediaElementSource(player);
    player.play();
    return s;
  }).catch((e) => ($("status").textContent = `${e.code || "ERROR"}: ${e.message}`));
});
$("mic").addEventListener("click", () =>
  run(async (c) => c.createMediaStreamSource(await navigator.mediaDevices.getUserMedia({ audio: true }))).catch(
    (e) => ($("status").textContent = `${e.code || "ERROR"}: ${e.message}`),
  ),
);
$("stop").addEventListener("click", stopLive);
$("restart").addEventListener("click", () => stopLive().then(start));
for (const id of ["genre", "gain", "bypass", "gate", "comp", "eq", "lim"]) {
  $(id).addEventListener("change", () => live && live.setConfig(config()));
}
if (!new URLSearchParams(location.search).has("noinit")) {
  start().catch((e) => ($("status").textContent = `${e.code || "ERROR"}: ${e.message}`));
}
