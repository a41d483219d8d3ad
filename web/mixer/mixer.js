// The in-browser mixer: drop a file, analyse it, hear it mixed and mastered on this device (the
// live preview runs the chain in the engine's worker), compare A/B, render the whole file offline
// and export it. On the WebAssembly path no request carries audio; the origin fallback says that
// it uploads. The controls are generated from the package's parameter declarations
// (`mixer.controls()` = aimixer_dsp.presets.controls()).
import { AIMixer } from "/wasm/aimixer.js";
import { canEncodeOpus, encodeOpus, encodeWav } from "/mixer/export.js";

/** The page's element with this id (any: the page knows which kind of element each id is). */
const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const SR = 48000;
const STORE_KEY = "aimixer.mixer.v1";
const MAX_SHARE = 4096;

const st = {
  mixer: null,
  controls: null,
  genre: "auto",
  overrides: {}, // the fields the user set: {gain, bypass, noiseGate: {...}, ...}
  target: { mode: "off", lufs: -14, ceiling: -1 },
  match: false,
  ab: "B",
  files: [], // {name, file}
  current: null, // {name, channels, sampleRate, sourceRate, buffer, analysis}
  render: null, // {channels, report, key}
  verdict: null, // {genre, confidence} (live or from the analysis)
  job: null, // AbortController of the running job
};

let ctx = null;
const audio = { src: null, live: null, gainA: null, gainB: null, anIn: null, anOut: null, delay: null, mic: null, startedAt: 0, offset: 0 };
const meters = { inPeak: -120, inRms: -120, outPeak: -120, outRms: -120, inHold: -120, outHold: -120, holdAt: [0, 0], gr: null, m: null };

// ---- formatting --------------------------------------------------------------------------------

const num = (v) => v !== null && v !== undefined && Number.isFinite(v);
function fmt(v, unit = "", digits = 1) {
  return num(v) ? `${v.toFixed(digits)}${unit ? ` ${unit}` : ""}` : "–";
}
function status(text, cls = "") {
  const el = $("status");
  el.textContent = text;
  el.className = `status ${cls}`;
}
function errText(e) {
  return `${e && e.code ? e.code + ": " : ""}${(e && e.message) || e}`;
}

// ---- settings: preset <- user fields, persistence, sharing -----------------------------------

function presetSettings() {
  const c = st.controls;
  const g = st.genre === "auto" ? st.verdict && st.verdict.genre : st.genre;
  return (g && c.presets[g]) || c.defaults;
}

function effective() {
  const base = structuredClone(presetSettings());
  for (const [k, v] of Object.entries(st.overrides)) {
    if (v && typeof v === "object") base[k] = { ...base[k], ...v };
    else base[k] = v;
  }
  return base;
}

/** The /process-audio config: genre + only what the user changed (the preset fills the rest). */
function config() {
  const c = structuredClone(st.overrides);
  if (st.genre) c.genre = st.genre;
  return c;
}

function targetOpts() {
  const t = st.target;
  if (t.mode === "off") return { targetLufs: null, truePeak: null };
  return { targetLufs: t.mode === "custom" ? Number(t.lufs) : t.mode, truePeak: Number(t.ceiling) };
}

function saved() {
  return { genre: st.genre, overrides: st.overrides, target: st.target, match: st.match };
}

function persist() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(saved()));
  } catch {
    /* private mode: nothing to keep */
  }
}

function restore() {
  let data = null;
  const frag = new URLSearchParams(location.hash.slice(1)).get("s");
  try {
    if (frag && frag.length <= MAX_SHARE) {
      data = JSON.parse(atob(frag.replace(/-/g, "+").replace(/_/g, "/")));
    } else {
      const raw = localStorage.getItem(STORE_KEY);
      if (raw && raw.length <= MAX_SHARE) data = JSON.parse(raw);
    }
  } catch {
    data = null;
  }
  if (!data || typeof data !== "object") return;
  // only known shapes are taken; the engine validates every value again
  if (typeof data.genre === "string" && data.genre.length < 20) st.genre = data.genre;
  if (data.overrides && typeof data.overrides === "object") st.overrides = sanitize(data.overrides);
  if (data.target && typeof data.target === "object") {
    const t = data.target;
    st.target = {
      mode: typeof t.mode === "string" ? t.mode.slice(0, 20) : "off",
      lufs: num(t.lufs) ? t.lufs : -14,
      ceiling: num(t.ceiling) ? t.ceiling : -1,
    };
  }
  st.match = data.match === true;
}

function sanitize(o) {
  const c = st.controls;
  const out = {};
  if (num(o.gain)) out.gain = clamp(o.gain, c.gain.min, c.gain.max);
  if (typeof o.bypass === "boolean") out.bypass = o.bypass;
  for (const s of c.stages) {
    const v = o[s.key];
    if (!v || typeof v !== "object") continue;
    const sec = {};
    if (typeof v.enabled === "boolean") sec.enabled = v.enabled;
    for (const p of s.params) if (num(v[p.key])) sec[p.key] = clamp(v[p.key], p.min, p.max);
    for (const p of s.switches || []) if (typeof v[p.key] === "boolean") sec[p.key] = v[p.key];
    if (Object.keys(sec).length) out[s.key] = sec;
  }
  return out;
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

function shareLink() {
  const b64 = btoa(JSON.stringify(saved())).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${location.origin}${location.pathname}#s=${b64}`;
}

// ---- generated controls -----------------------------------------------------------------------

function stepFor(p) {
  const span = p.max - p.min;
  if (p.unit === "ms") return span > 200 ? 1 : 0.1;
  if (p.unit === ":1") return 0.1;
  return span > 30 ? 0.5 : 0.1;
}

function paramRow(p, value, isUser, onInput) {
  const id = `p-${p.path.replace(".", "-")}`;
  const row = document.createElement("div");
  row.className = `param${isUser ? " user" : ""}`;
  row.innerHTML = `<label for="${id}"></label><input id="${id}" type="range"><output for="${id}"></output>`;
  row.querySelector("label").textContent = p.label;
  const input = row.querySelector("input");
  const out = row.querySelector("output");
  Object.assign(input, { min: p.min, max: p.max, step: stepFor(p), value });
  input.dataset.path = p.path;
  input.setAttribute("aria-valuetext", `${value} ${p.unit}`);
  const show = (v) => {
    out.textContent = `${Number(v).toFixed(p.unit === "ms" && p.max - p.min > 200 ? 0 : 1)} ${p.unit === ":1" ? ": 1" : p.unit}`;
    input.setAttribute("aria-valuetext", out.textContent);
  };
  show(value);
  input.title = `${p.label}: ${p.min} … ${p.max} ${p.unit} (default ${p.default})`;
  input.addEventListener("input", () => {
    show(input.value);
    row.classList.add("user");
    onInput(Number(input.value));
  });
  return row;
}

function buildControls() {
  const c = st.controls;
  const s = effective();
  const root = $("stages");
  root.textContent = "";
  const gainBox = document.createElement("div");
  gainBox.className = "stage";
  gainBox.appendChild(
    paramRow(c.gain, s.gain, "gain" in st.overrides, (v) => {
      st.overrides.gain = v;
      changed();
    }),
  );
  root.appendChild(gainBox);
  for (const stage of c.stages) {
    const box = document.createElement("div");
    box.className = `stage${s[stage.key].enabled ? "" : " off"}`;
    box.dataset.stage = stage.key;
    const head = document.createElement("header");
    const h = document.createElement("h4");
    h.textContent = stage.label;
    const lab = document.createElement("label");
    lab.className = "switch";
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.id = `on-${stage.key}`;
    cb.checked = !!s[stage.key].enabled;
    lab.append(cb, document.createTextNode(" on"));
    lab.title = `${stage.label} on / bypassed`;
    cb.addEventListener("change", () => {
      st.overrides[stage.key] = { ...(st.overrides[stage.key] || {}), enabled: cb.checked };
      box.classList.toggle("off", !cb.checked);
      changed();
    });
    head.append(h, lab);
    box.appendChild(head);
    for (const p of stage.switches || []) {
      const row = document.createElement("label");
      row.className = "param switch-row";
      const sw = document.createElement("input");
      sw.type = "checkbox";
      sw.id = `p-${p.path.replace(".", "-")}`;
      sw.checked = !!s[stage.key][p.key];
      row.append(sw, document.createTextNode(` ${p.label}`));
      sw.addEventListener("change", () => {
        st.overrides[stage.key] = { ...(st.overrides[stage.key] || {}), [p.key]: sw.checked };
        changed();
      });
      box.appendChild(row);
    }
    for (const p of stage.params) {
      const user = !!(st.overrides[stage.key] && p.key in st.overrides[stage.key]);
      box.appendChild(
        paramRow(p, s[stage.key][p.key], user, (v) => {
          st.overrides[stage.key] = { ...(st.overrides[stage.key] || {}), [p.key]: v };
          changed();
        }),
      );
    }
    root.appendChild(box);
  }
  $("bypass").checked = !!s.bypass;
}

function buildSelects() {
  const c = st.controls;
  const g = $("genre");
  for (const name of c.genres) g.add(new Option(name, name));
  g.value = st.genre;
  const t = $("target");
  for (const [name, v] of Object.entries(c.loudnessTargets)) t.add(new Option(`${name}  ${v.lufs} LUFS / ${v.ceiling} dBTP`, name));
  t.add(new Option("custom", "custom"));
  t.value = st.target.mode;
  Object.assign($("target-lufs"), { min: c.targetRange[0], max: c.targetRange[1], value: st.target.lufs });
  Object.assign($("target-ceiling"), { min: c.ceilingRange[0], max: c.ceilingRange[1], value: st.target.ceiling });
  $("match").checked = st.match;
  targetUi();
}

function targetUi() {
  const t = st.target;
  const named = st.controls.loudnessTargets[t.mode];
  $("target-lufs").disabled = t.mode !== "custom";
  $("target-ceiling").disabled = t.mode === "off";
  if (named && document.activeElement !== $("target-ceiling")) {
    $("target-ceiling").value = st.target.ceiling = named.ceiling;
  }
  $("target-note").textContent =
    t.mode === "off"
      ? "No loudness normalisation: the mix keeps its own level."
      : "Applied when rendering: one analysis pass, then gain and the limiter at the ceiling (sample peak until the true-peak limiter lands).";
}

let pushTimer = null;
function changed() {
  persist();
  st.render = st.render && { ...st.render, stale: true };
  renderStats();
  // heard within one frame: the live session takes the new config at its next 20 ms frame
  if (audio.live && !pushTimer) {
    pushTimer = setTimeout(() => {
      pushTimer = null;
      audio.live && audio.live.setConfig(config()).catch((e) => status(errText(e), "bad"));
    }, 0);
  }
}

// ---- engine ------------------------------------------------------------------------------------

async function start() {
  delete document.body.dataset.ready;
  if (st.mixer) await st.mixer.close();
  $("path").textContent = "loading…";
  $("path").className = "badge";
  for (const li of document.querySelectorAll("#phases li")) li.className = "";
  const phases = {};
  st.mixer = await AIMixer.create({
    apiKey: $("apikey").value || undefined,
    prefer: $("prefer-origin").checked ? "origin" : "wasm",
    lazyModel: true,
    onProgress: (p) => {
      const li = document.querySelector(`#phases li[data-phase="${p.phase}"]`);
      if (li) {
        li.className = p.state === "done" ? "done" : "active";
        if (p.state === "done") li.textContent = `${p.phase} ${Math.round(p.elapsedMs)} ms`;
      }
      if (p.state === "done") phases[p.phase] = Math.round(p.elapsedMs);
      $("e-phases").textContent = Object.entries(phases).map(([k, v]) => `${k} ${v} ms`).join(" · ") || "–";
      if (!document.body.dataset.ready) status(`Engine: ${p.phase} ${p.state} (${Math.round(p.elapsedMs)} ms)`);
    },
  });
  const m = st.mixer;
  /** @type {any} */ (window).aimixer = m; // for tests and the console
  $("path").textContent = m.path;
  $("path").className = `badge ${m.path}`;
  const priv = $("privacy");
  if (m.path === "wasm") {
    priv.textContent = "Private: your audio is processed on this device and never uploaded.";
    priv.className = "privacy local";
    status(`Ready in ${Math.round(m.initTimings.total)} ms — WebAssembly engine in a worker.`);
    $("e-path").textContent = `WebAssembly (Pyodide ${m.info?.pyodideVersion || ""}${m.info?.snapshot ? ", snapshot" : ""})`;
    $("render").textContent = "Render master";
    $("analyse").textContent = "Analyse again";
  } else {
    priv.textContent = "Server mode: your audio will be uploaded to this server for processing.";
    priv.className = "privacy upload";
    status(`Using the origin (${m.fallbackReason}); audio is uploaded; the live preview needs WebAssembly.`, "warn");
    $("e-path").textContent = `origin server (${m.fallbackReason})`;
    $("render").textContent = "Render on the server (uploads audio)";
    $("analyse").textContent = "Analyse on the server (uploads audio)";
  }
  $("mic").disabled = m.path !== "wasm";
  st.controls = await m.controls();
  if (!st.controlsBuilt) {
    restore();
    buildSelects();
    st.controlsBuilt = true;
  }
  buildControls();
  updateVerdict();
  if (typeof AudioEncoder === "undefined" || !(await canEncodeOpus(2))) {
    const o = $("format").querySelector('option[value="opus"]');
    o.disabled = true;
    o.textContent = "Opus (not available in this browser)";
  }
  if (st.current) enableFileActions();
  document.body.dataset.ready = m.path; // the engine is up and the controls are built
  m.modelReady().then(() => updateVerdict());
}

// ---- input -------------------------------------------------------------------------------------

function sourceRate(bytes) {
  const v = new DataView(bytes);
  const tag = (o) => String.fromCharCode(v.getUint8(o), v.getUint8(o + 1), v.getUint8(o + 2), v.getUint8(o + 3));
  try {
    if (tag(0) === "RIFF" && tag(8) === "WAVE") {
      for (let o = 12; o + 8 <= v.byteLength; ) {
        const size = v.getUint32(o + 4, true);
        if (tag(o) === "fmt ") return v.getUint32(o + 12, true);
        o += 8 + size + (size & 1);
      }
    }
    if (tag(0) === "fLaC") return (v.getUint32(18) >>> 12) & 0xfffff;
  } catch {
    return null;
  }
  return null;
}

async function addFiles(list) {
  for (const f of list) {
    if (!st.files.some((x) => x.file === f)) st.files.push({ name: f.name, file: f });
  }
  drawFileList();
  if (list.length) await loadFile(st.files.find((x) => x.file === list[0]));
}

function drawFileList() {
  const ul = $("files");
  ul.textContent = "";
  for (const f of st.files) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = f.name;
    b.setAttribute("aria-pressed", String(!!(st.current && st.current.name === f.name)));
    b.addEventListener("click", () => loadFile(f));
    li.appendChild(b);
    ul.appendChild(li);
  }
}

async function loadFile(entry) {
  await stopPlayback();
  if (st.job) st.job.abort();
  const bytes = await entry.file.arrayBuffer();
  const rate = sourceRate(bytes);
  let buffer;
  try {
    // an OfflineAudioContext at 48 kHz decodes and resamples in the browser
    buffer = await new OfflineAudioContext(1, 1, SR).decodeAudioData(bytes.slice(0));
  } catch (e) {
    $("file-info").textContent = `${entry.name}: this browser cannot decode it (${(e && e.message) || e}).`;
    return;
  }
  if (buffer.numberOfChannels > 8) {
    $("file-info").textContent = `${entry.name}: ${buffer.numberOfChannels} channels; up to 8 are supported.`;
    return;
  }
  const channels = [];
  for (let c = 0; c < buffer.numberOfChannels; c++) channels.push(buffer.getChannelData(c).slice());
  st.current = { name: entry.name, channels, sampleRate: SR, sourceRate: rate, buffer, analysis: null };
  st.render = null;
  drawFileList();
  const resampled = rate && rate !== SR ? ` Resampled from ${(rate / 1000).toFixed(1)} kHz to 48 kHz in your browser.` : rate ? "" : " Decoded and resampled to 48 kHz by your browser where needed.";
  $("file-info").textContent = `${entry.name}: ${buffer.numberOfChannels} ch, ${buffer.duration.toFixed(2)} s.${resampled}`;
  enableFileActions();
  renderStats();
  if (st.mixer.path === "wasm") {
    await analyse();
  } else {
    // nothing leaves the machine without a click on the server path
    $("an-status").textContent = "Analysis on the server uploads the audio: press the button to go ahead.";
  }
}

function enableFileActions() {
  const has = !!st.current;
  $("analyse").disabled = !has || !st.mixer;
  $("play").disabled = !has || !st.mixer;
  $("render").disabled = !has || !st.mixer;
}

// ---- analysis ----------------------------------------------------------------------------------

async function analyse() {
  const cur = st.current;
  const ac = new AbortController();
  st.job = ac;
  $("an-status").textContent = "Analysing…";
  const t0 = performance.now();
  try {
    const a = await st.mixer.analyzeFile(cur.channels, SR, {
      signal: ac.signal,
      onProgress: (p) => {
        $("an-bar").style.width = `${Math.round(p.fraction * 100)}%`;
        $("an-status").textContent = `Analysing: ${p.phase} ${Math.round(p.fraction * 100)} %`;
      },
    });
    if (st.current !== cur) return;
    cur.analysis = a;
    $("an-bar").style.width = "100%";
    $("an-status").textContent = `Analysed in ${((performance.now() - t0) / 1000).toFixed(1)} s${st.mixer.path === "wasm" ? " on this device" : " on the server"}.`;
    showAnalysis();
  } catch (e) {
    $("an-status").textContent = e.code === "CANCELLED" ? "Analysis cancelled." : `Analysis failed: ${errText(e)}`;
  } finally {
    if (st.job === ac) st.job = null;
  }
}

function showAnalysis() {
  const a = st.current && st.current.analysis;
  if (!a) return;
  $("a-lufs").textContent = fmt(a.lufs, "LUFS");
  $("a-lra").textContent = fmt(a.lra, "LU");
  $("a-mmax").textContent = fmt(a.momentaryMax, "LUFS");
  $("a-smax").textContent = fmt(a.shortTermMax, "LUFS");
  $("a-peak").textContent = fmt(a.peak, "dBFS");
  if (num(a.truePeakMax ?? a.truePeak)) {
    $("a-tp-row").hidden = false;
    $("a-tp").textContent = fmt(a.truePeakMax ?? a.truePeak, "dBTP");
  }
  const c = a.classification;
  $("a-genre").textContent = c ? `${c.genre} ${(c.confidence * 100).toFixed(0)} %` : a.classificationError ? "unavailable" : "–";
  if (c && st.genre === "auto") st.verdict = { genre: c.genre, confidence: c.confidence, from: "file" };
  const tl = $("timeline");
  tl.textContent = "";
  for (const w of (c && c.timeline) || []) {
    const s = document.createElement("span");
    s.className = `g-${w.genre}`;
    s.textContent = w.genre;
    s.title = `${w.start.toFixed(1)}–${w.end.toFixed(1)} s: ${w.genre} ${(w.confidence * 100).toFixed(0)} %`;
    tl.appendChild(s);
  }
  updateVerdict();
  buildControls();
  drawWave();
}

function drawWave() {
  const cv = $("wave");
  const a = st.current && st.current.analysis;
  const dpr = window.devicePixelRatio || 1;
  cv.width = cv.clientWidth * dpr;
  cv.height = cv.clientHeight * dpr;
  const g = cv.getContext("2d");
  const W = cv.width;
  const H = cv.height;
  g.clearRect(0, 0, W, H);
  if (!a) return;
  const { min, max } = a.overview;
  g.fillStyle = "#2f6f64";
  for (let x = 0; x < W; x++) {
    const k = Math.floor((x / W) * min.length);
    const y0 = H / 2 - (max[k] * H) / 2;
    const y1 = H / 2 - (min[k] * H) / 2;
    g.fillRect(x, y0, 1, Math.max(1, y1 - y0));
  }
  // short-term loudness (-60..0 LUFS) over the waveform
  const sterm = a.curve ? a.curve.shortTerm : [];
  g.strokeStyle = "#f2b544";
  g.lineWidth = 2 * dpr;
  g.beginPath();
  let started = false;
  sterm.forEach((v, i) => {
    if (!num(v)) return;
    const x = ((i + 1) / sterm.length) * W;
    const y = H - ((Math.max(-60, v) + 60) / 60) * H;
    if (!started) g.moveTo(x, y);
    else g.lineTo(x, y);
    started = true;
  });
  g.stroke();
  g.fillStyle = "#a9b1bd";
  g.font = `${11 * dpr}px system-ui`;
  g.fillText("short-term LUFS", 6 * dpr, 14 * dpr);
  if (audio.src && ctx) {
    const t = position();
    g.fillStyle = "#ffffff";
    g.fillRect((t / st.current.buffer.duration) * W, 0, 2 * dpr, H);
  }
}

function updateVerdict() {
  const v = $("verdict");
  if (st.genre !== "auto") {
    v.textContent = st.genre ? `preset: ${st.genre}` : "neutral settings";
  } else if (st.verdict && st.verdict.genre) {
    v.textContent = `auto → ${st.verdict.genre} (${(st.verdict.confidence * 100).toFixed(0)} % ${st.verdict.from === "live" ? "live" : "file"})`;
  } else {
    v.textContent = "auto: listening…";
  }
}

// ---- playback, A/B -----------------------------------------------------------------------------

function position() {
  if (!audio.src) return audio.offset;
  return Math.min(st.current.buffer.duration, audio.offset + (ctx.currentTime - audio.startedAt));
}

async function ensureCtx() {
  ctx = ctx || new AudioContext({ sampleRate: SR, latencyHint: "interactive" });
  await ctx.resume();
  return ctx;
}

async function play() {
  if (audio.src) return pause();
  const c = await ensureCtx();
  const cur = st.current;
  const src = c.createBufferSource();
  src.buffer = cur.buffer;
  // B: the live chain in the worker (stereo, linked like the render; a mono file stays mono,
  // more channels are mixed down to stereo); A: the original, delayed by the same latency
  const liveChannels = $("stereo-preview").checked ? Math.min(2, cur.buffer.numberOfChannels) : 1;
  audio.gainA = c.createGain();
  audio.gainB = c.createGain();
  audio.anIn = c.createAnalyser();
  audio.anOut = c.createAnalyser();
  audio.anOut.fftSize = 4096;
  audio.anIn.fftSize = 2048;
  src.connect(audio.anIn);
  let live = null;
  if (st.mixer.path === "wasm") {
    live = await st.mixer.connect(src, { config: config(), channels: liveChannels });
    live.node.connect(audio.gainB);
    live.onMetrics(onLiveMetrics);
    $("m-latency").textContent = `${live.latencyMs.toFixed(1)} ms`;
  } else if (st.render && !st.render.stale) {
    const rb = c.createBuffer(st.render.channels.length, st.render.channels[0].length, SR);
    st.render.channels.forEach((ch, i) => rb.copyToChannel(ch, i));
    const rs = c.createBufferSource();
    rs.buffer = rb;
    rs.connect(audio.gainB);
    audio.rendered = rs;
  }
  audio.delay = c.createDelay(1);
  audio.delay.delayTime.value = live ? live.latencyMs / 1000 : 0;
  src.connect(audio.delay).connect(audio.gainA);
  for (const gnode of [audio.gainA, audio.gainB]) gnode.connect(c.destination);
  audio.gainA.connect(audio.anOut);
  audio.gainB.connect(audio.anOut);
  audio.live = live;
  audio.src = src;
  applyAB(true);
  audio.startedAt = c.currentTime;
  src.start(0, audio.offset);
  if (audio.rendered) audio.rendered.start(0, audio.offset);
  src.onended = () => {
    if (audio.src === src) stopPlayback(true);
  };
  $("play").textContent = "|| Pause";
  $("stop").disabled = false;
}

async function pause() {
  audio.offset = position();
  await stopPlayback(false);
}

async function stopPlayback(rewind = true) {
  const { src, live } = audio;
  audio.src = null;
  if (src) {
    src.onended = null;
    try {
      src.stop();
    } catch {
      /* not started */
    }
  }
  if (audio.rendered) {
    try {
      audio.rendered.stop();
    } catch {
      /* not started */
    }
    audio.rendered = null;
  }
  audio.live = null;
  if (live) {
    const s = await live.stop().catch(() => null);
    if (s) noteLive(s);
  }
  if (audio.mic) {
    for (const t of audio.mic.mediaStream.getTracks()) t.stop();
    audio.mic = null;
  }
  if (rewind) audio.offset = 0;
  $("play").textContent = "▶ Play";
  $("stop").disabled = true;
}

/** The A/B gains: a 10 ms ramp on the same clock (no gap); loudness-matched when asked. */
function applyAB(now = false) {
  $("ab-a").setAttribute("aria-pressed", String(st.ab === "A"));
  $("ab-b").setAttribute("aria-pressed", String(st.ab === "B"));
  if (!audio.gainA || !ctx) return;
  let a = st.ab === "A" ? 1 : 0;
  const b = st.ab === "B" ? 1 : 0;
  if (st.match && a) a *= 10 ** (matchDb() / 20);
  const t = ctx.currentTime;
  for (const [node, v] of [
    [audio.gainA, a],
    [audio.gainB, b],
  ]) {
    node.gain.cancelScheduledValues(t);
    if (now) node.gain.setValueAtTime(v, t);
    else node.gain.setTargetAtTime(v, t, 0.01);
  }
}

/** dB to add to the original so that it is as loud as the processed sound. */
function matchDb() {
  const a = st.current && st.current.analysis;
  if (!a || !num(a.lufs)) return 0;
  if (st.render && !st.render.stale && num(st.render.report.output?.lufs)) return st.render.report.output.lufs - a.lufs;
  const m = meters.m;
  if (m && num(m.lufs)) {
    // a stereo preview plays the file's channels as the analysis measured them; the mono
    // preview is the mix played on every speaker: +3 dB for a stereo file
    const mono = !audio.live || audio.live.channels === 1;
    const chans = st.current.channels.length;
    return m.lufs + (mono ? 10 * Math.log10(Math.min(2, chans)) : 0) - a.lufs;
  }
  return 0;
}

function onLiveMetrics(ev) {
  if (ev.error) {
    status(errText(ev.error), "bad");
    return;
  }
  const m = ev.metrics;
  meters.m = m;
  meters.gr = ev.gainReduction || null;
  $("m-m").textContent = fmt(m.momentaryLufs, "LUFS");
  $("m-s").textContent = fmt(m.shortTermLufs, "LUFS");
  $("m-i").textContent = fmt(m.lufs, "LUFS");
  if (num(m.truePeak)) {
    $("m-tp-row").hidden = false;
    $("m-tp").textContent = fmt(m.truePeak, "dBTP");
  }
  if (m.genre) {
    $("m-genre").textContent = `${m.genre} ${(m.confidence * 100).toFixed(0)} %`;
    if (st.genre === "auto") {
      const before = st.verdict && st.verdict.genre;
      st.verdict = { genre: m.genre, confidence: m.confidence, from: "live" };
      updateVerdict();
      if (before !== m.genre) buildControls();
    }
  }
  if (ev.stats) $("m-frame").textContent = `${ev.stats.meanFrameMs.toFixed(2)} ms (max ${ev.stats.maxFrameMs.toFixed(1)}) of 20 ms`;
  health(ev);
  if (st.match) applyAB();
}

let hiddenSince = null;
document.addEventListener("visibilitychange", () => {
  if (document.hidden) hiddenSince = performance.now();
});

function health(ev) {
  const live = audio.live;
  if (!live) return;
  const s = live.stats();
  const late = ev.lateFrames || 0;
  $("m-dropouts").textContent = `${s.dropouts} dropouts, ${late} late frames`;
  const adv = $("e-advice");
  if (s.dropouts > 0 || late > 0) {
    const slow = ev.stats && ev.stats.maxFrameMs > 15;
    const reason = hiddenSince !== null ? "the tab lost focus (the browser slowed it down)" : slow ? "the worker was too slow for some frames" : "the worker was stalled (machine load)";
    const mono = live.channels > 1 ? "switch the preview to mono, " : "";
    adv.textContent = `Dropouts: ${reason}. Try ${mono}fewer stages (bypass the gate or EQ), close other tabs, or render offline instead.`;
    adv.className = "hint warn";
  } else {
    adv.textContent = "No dropouts.";
    adv.className = "hint";
  }
}

function noteLive(stopped) {
  if (stopped && (stopped.dropouts || stopped.lateFrames)) {
    $("m-dropouts").textContent = `${stopped.dropouts} dropouts, ${stopped.lateFrames} late frames (last run)`;
  }
}

async function startMic() {
  await stopPlayback();
  const c = await ensureCtx();
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  const srcNode = c.createMediaStreamSource(stream);
  const track = stream.getAudioTracks()[0];
  const micChannels = Math.min(2, Math.max(1, (track && track.getSettings().channelCount) || 1));
  audio.mic = srcNode;
  audio.gainA = c.createGain();
  audio.gainB = c.createGain();
  audio.anIn = c.createAnalyser();
  audio.anOut = c.createAnalyser();
  audio.anOut.fftSize = 4096;
  srcNode.connect(audio.anIn);
  const live = await st.mixer.connect(srcNode, { config: config(), channels: micChannels });
  live.node.connect(audio.gainB).connect(c.destination);
  audio.gainB.connect(audio.anOut);
  live.onMetrics(onLiveMetrics);
  audio.live = live;
  $("m-latency").textContent = `${live.latencyMs.toFixed(1)} ms`;
  $("stop").disabled = false;
  applyAB(true);
  status("Microphone / line in: processed live on this device.");
}

// ---- meters ------------------------------------------------------------------------------------

const buf = new Float32Array(4096);
function levels(an) {
  if (!an) return [-120, -120];
  const n = an.fftSize;
  const x = buf.subarray(0, n);
  an.getFloatTimeDomainData(x);
  let p = 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(x[i]);
    if (v > p) p = v;
    s += x[i] * x[i];
  }
  return [p > 0 ? 20 * Math.log10(p) : -120, s > 0 ? 10 * Math.log10(s / n) : -120];
}

function drawMeters() {
  const cv = $("lvl");
  const dpr = window.devicePixelRatio || 1;
  if (cv.width !== cv.clientWidth * dpr) {
    cv.width = cv.clientWidth * dpr;
    cv.height = cv.clientHeight * dpr;
  }
  const g = cv.getContext("2d");
  const W = cv.width;
  const H = cv.height;
  g.clearRect(0, 0, W, H);
  const now = performance.now();
  const [ip, ir] = levels(audio.anIn);
  const [op, or] = levels(audio.anOut);
  const fall = (old, v) => Math.max(v, old - 1.2);
  meters.inPeak = fall(meters.inPeak, ip);
  meters.inRms = fall(meters.inRms, ir);
  meters.outPeak = fall(meters.outPeak, op);
  meters.outRms = fall(meters.outRms, or);
  if (ip >= meters.inHold || now - meters.holdAt[0] > 1500) [meters.inHold, meters.holdAt[0]] = [ip, now];
  if (op >= meters.outHold || now - meters.holdAt[1] > 1500) [meters.outHold, meters.holdAt[1]] = [op, now];
  const gr = meters.gr || { noiseGate: 0, compressor: 0, limiter: 0 };
  /** @type {[string, number, number | null, number | null, boolean][]} label, peak, rms, hold, gain reduction */
  const bars = [
    ["IN", meters.inPeak, meters.inRms, meters.inHold, false],
    ["OUT", meters.outPeak, meters.outRms, meters.outHold, false],
    ["GATE", -Math.min(40, gr.noiseGate), null, null, true],
    ["COMP", -Math.min(40, gr.compressor), null, null, true],
    ["LIM", -Math.min(40, gr.limiter), null, null, true],
  ];
  const bw = W / bars.length;
  const top = 14 * dpr;
  const bot = H - 16 * dpr;
  g.font = `${10 * dpr}px system-ui`;
  g.textAlign = "center";
  bars.forEach(([label, peak, rms, hold, isGr], i) => {
    const x = i * bw + bw * 0.22;
    const w = bw * 0.56;
    g.fillStyle = "#1c2027";
    g.fillRect(x, top, w, bot - top);
    if (isGr) {
      // gain reduction grows down from the top, 0..40 dB
      const h = ((-peak) / 40) * (bot - top);
      g.fillStyle = "#f2b544";
      g.fillRect(x, top, w, h);
      g.fillStyle = "#e9ecf1";
      g.fillText(`${(-peak).toFixed(1)}`, x + w / 2, H - 3 * dpr);
    } else {
      const y = (db) => bot - ((Math.max(-60, Math.min(0, db)) + 60) / 60) * (bot - top);
      g.fillStyle = "#2a8f7c";
      g.fillRect(x, y(rms), w, bot - y(rms));
      g.fillStyle = peak > -1 ? "#ff6b6b" : "#36d1b7";
      g.fillRect(x + w * 0.3, y(peak), w * 0.4, bot - y(peak));
      g.fillStyle = "#ffffff";
      g.fillRect(x, y(hold), w, 2 * dpr);
      g.fillStyle = "#e9ecf1";
      g.fillText(hold > -100 ? hold.toFixed(1) : "-∞", x + w / 2, H - 3 * dpr);
    }
    g.fillStyle = "#a9b1bd";
    g.fillText(label, x + w / 2, 10 * dpr);
  });
}

const spec = new Float32Array(2048);
function drawSpectrum() {
  const cv = $("spectrum");
  const dpr = window.devicePixelRatio || 1;
  if (cv.width !== cv.clientWidth * dpr) {
    cv.width = cv.clientWidth * dpr;
    cv.height = cv.clientHeight * dpr;
  }
  const g = cv.getContext("2d");
  const W = cv.width;
  const H = cv.height;
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#a9b1bd";
  g.font = `${10 * dpr}px system-ui`;
  for (const f of [100, 1000, 10000]) {
    const x = (Math.log10(f / 20) / Math.log10(24000 / 20)) * W;
    g.fillRect(x, 0, 1, H);
    g.fillText(f >= 1000 ? `${f / 1000}k` : `${f}`, x + 3, H - 4);
  }
  const an = audio.anOut;
  if (!an) return;
  an.getFloatFrequencyData(spec);
  const bins = an.frequencyBinCount;
  g.strokeStyle = st.ab === "A" ? "#f2b544" : "#36d1b7";
  g.lineWidth = 1.5 * dpr;
  g.beginPath();
  for (let x = 0; x < W; x++) {
    const f = 20 * (24000 / 20) ** (x / W);
    const k = Math.min(bins - 1, Math.round((f / 24000) * bins));
    const db = Math.max(-110, spec[k]);
    const y = H - ((db + 110) / 100) * H;
    if (x === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  }
  g.stroke();
}

function frame() {
  drawMeters();
  drawSpectrum();
  if (audio.src) drawWave();
  requestAnimationFrame(frame);
}

// ---- render + export ---------------------------------------------------------------------------

async function renderFile() {
  const cur = st.current;
  const ac = new AbortController();
  st.job = ac;
  $("render").disabled = true;
  $("cancel").disabled = false;
  $("r-status").textContent = "Rendering…";
  const t0 = performance.now();
  try {
    const opts = targetOpts();
    const res = await st.mixer.processFile(cur.channels, SR, config(), {
      ...opts,
      signal: ac.signal,
      onProgress: (p) => {
        $("r-bar").style.width = `${Math.round(p.fraction * 100)}%`;
        $("r-status").textContent = `Rendering: ${p.phase} ${Math.round(p.fraction * 100)} %`;
      },
    });
    const secs = (performance.now() - t0) / 1000;
    st.render = { channels: res.channels, report: res.report, seconds: secs, settings: saved(), stale: false };
    $("r-bar").style.width = "100%";
    const short = res.report.target && num(res.report.target.lufs) && num(res.report.output?.lufs) && res.report.target.lufs - res.report.output.lufs > 0.5;
    $("r-status").textContent =
      `Rendered ${cur.buffer.duration.toFixed(1)} s in ${secs.toFixed(1)} s (${(cur.buffer.duration / secs).toFixed(1)}× real time)` +
      `${st.mixer.path === "wasm" ? " on this device" : " on the server"}.` +
      (short ? " The limiter kept it below the target: compress more or choose a lower target." : "");
    renderStats();
  } catch (e) {
    $("r-status").textContent = e.code === "CANCELLED" ? "Render cancelled." : `Render failed: ${errText(e)}`;
  } finally {
    if (st.job === ac) st.job = null;
    $("render").disabled = !st.current;
    $("cancel").disabled = true;
  }
}

function renderStats() {
  const r = st.render;
  const dl = $("r-stats");
  dl.textContent = "";
  $("export").disabled = !r;
  $("report").disabled = !r;
  if (!r) return;
  const rep = r.report;
  const rows = [
    ["Before", fmt(rep.input?.lufs, "LUFS")],
    ["After", fmt(rep.output?.lufs, "LUFS")],
    ["Peak after", fmt(rep.output?.peak, "dBFS")],
    ["LRA after", fmt(rep.output?.lra, "LU")],
  ];
  if (rep.target) rows.push(["Target gain", fmt(rep.target.gainDb, "dB")]);
  if (rep.target && num(rep.target.lufs) && num(rep.output?.lufs) && Math.abs(rep.output.lufs - rep.target.lufs) > 0.5) {
    rows.push([
      "Target missed by",
      `${(rep.target.lufs - rep.output.lufs).toFixed(1)} LU (limiter)`,
    ]);
  }
  if (rep.genre) rows.push(["Preset", `${rep.genre}${num(rep.confidence) ? ` ${(rep.confidence * 100).toFixed(0)} %` : ""}`]);
  if (num(rep.output?.truePeak)) rows.push(["True peak", fmt(rep.output.truePeak, "dBTP")]);
  if (r.stale) rows.push(["Note", "settings changed since"]);
  for (const [k, v] of rows) {
    const d = document.createElement("div");
    d.innerHTML = "<dt></dt><dd></dd>";
    d.firstChild.textContent = k;
    d.lastChild.textContent = v;
    dl.appendChild(d);
  }
}

function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function baseName() {
  return (st.current ? st.current.name.replace(/\.[^.]+$/, "") : "mix").replace(/[^\w.-]+/g, "_").slice(0, 80);
}

async function exportAudio() {
  const r = st.render;
  if (!r) return;
  const fmtSel = $("format").value;
  try {
    if (fmtSel === "opus") {
      $("r-status").textContent = "Encoding Opus…";
      const bytes = await encodeOpus(r.channels, SR, { onProgress: (f) => ($("r-bar").style.width = `${Math.round(f * 100)}%`) });
      download(bytes, `${baseName()}-mixed.opus`, "audio/ogg");
      $("r-status").textContent = `Opus file ready (${(bytes.length / 1e6).toFixed(2)} MB), encoded in your browser.`;
      return;
    }
    const bits = fmtSel === "wav16" ? 16 : fmtSel === "wav24" ? 24 : 32;
    download(encodeWav(r.channels, SR, bits), `${baseName()}-mixed-${bits === 32 ? "float" : bits}.wav`, "audio/wav");
  } catch (e) {
    $("r-status").textContent = `Export failed: ${errText(e)}`;
  }
}

function exportReport() {
  const r = st.render;
  const a = st.current && st.current.analysis;
  const doc = {
    file: st.current && { name: st.current.name, sourceSampleRate: st.current.sourceRate, sampleRate: SR, channels: st.current.channels.length },
    engine: st.mixer.path,
    settings: { genre: st.genre, config: config(), target: st.target, appliedSettings: r.report.appliedSettings },
    before: a ? { lufs: a.lufs, lra: a.lra, momentaryMax: a.momentaryMax, shortTermMax: a.shortTermMax, peak: a.peak } : r.report.input,
    after: r.report.output,
    target: r.report.target || null,
    genre: { chosen: r.report.genre, confidence: r.report.confidence ?? null, timeline: (a && a.classification && a.classification.timeline) || r.report.classification?.timeline || [] },
    render: { seconds: r.seconds, latencySamples: r.report.latencySamples },
  };
  download(JSON.stringify(doc, null, 1), `${baseName()}-report.json`, "application/json");
}

// ---- wiring ------------------------------------------------------------------------------------

function wire() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles([...e.dataTransfer.files]);
  });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("file").click();
    }
  });
  drop.addEventListener("click", (e) => {
    if (e.target === drop) $("file").click();
  });
  $("file").addEventListener("change", () => addFiles([...$("file").files]));
  $("mic").addEventListener("click", () => startMic().catch((e) => status(errText(e), "bad")));
  $("stop").addEventListener("click", () => stopPlayback(true));
  $("play").addEventListener("click", () => play().catch((e) => status(errText(e), "bad")));
  $("ab-a").addEventListener("click", () => {
    st.ab = "A";
    applyAB();
  });
  $("ab-b").addEventListener("click", () => {
    st.ab = "B";
    applyAB();
  });
  $("match").addEventListener("change", () => {
    st.match = $("match").checked;
    persist();
    applyAB();
  });
  $("stereo-preview").addEventListener("change", async () => {
    // takes effect at once: a file playing restarts its live chain where it is
    if (!audio.src || !st.current) return;
    const at = position();
    await stopPlayback(false);
    audio.offset = at;
    await play();
  });
  $("genre").addEventListener("change", () => {
    st.genre = $("genre").value;
    if (st.genre === "auto" && st.current && st.current.analysis && st.current.analysis.classification) {
      const c = st.current.analysis.classification;
      st.verdict = { genre: c.genre, confidence: c.confidence, from: "file" };
    }
    updateVerdict();
    buildControls();
    changed();
  });
  $("reset").addEventListener("click", () => {
    st.overrides = {};
    buildControls();
    changed();
  });
  $("bypass").addEventListener("change", () => {
    st.overrides.bypass = $("bypass").checked;
    changed();
  });
  $("target").addEventListener("change", () => {
    st.target.mode = $("target").value;
    targetUi();
    changed();
  });
  $("target-lufs").addEventListener("change", () => {
    st.target.lufs = Number($("target-lufs").value);
    changed();
  });
  $("target-ceiling").addEventListener("change", () => {
    st.target.ceiling = Number($("target-ceiling").value);
    changed();
  });
  $("render").addEventListener("click", renderFile);
  $("analyse").addEventListener("click", () => st.current && analyse());
  $("cancel").addEventListener("click", () => st.job && st.job.abort());
  $("export").addEventListener("click", exportAudio);
  $("report").addEventListener("click", exportReport);
  $("share").addEventListener("click", async () => {
    const link = shareLink();
    history.replaceState(null, "", link);
    try {
      await navigator.clipboard.writeText(link);
      status("Link with these settings copied (settings only, never audio).");
    } catch {
      status(`Link: ${link}`);
    }
  });
  $("restart").addEventListener("click", () => stopPlayback().then(start).catch((e) => status(errText(e), "bad")));
  $("wave").addEventListener("click", (e) => {
    if (!st.current) return;
    const r = $("wave").getBoundingClientRect();
    const t = ((e.clientX - r.left) / r.width) * st.current.buffer.duration;
    const playing = !!audio.src;
    stopPlayback(false).then(() => {
      audio.offset = t;
      drawWave();
      if (playing) play();
    });
  });
  document.addEventListener("keydown", (e) => {
    const tag = (e.target instanceof Element && e.target.tagName) || "";
    if (["INPUT", "SELECT", "TEXTAREA", "BUTTON"].includes(tag) && e.key !== "Escape") return;
    if (e.key === " " && !$("play").disabled) {
      e.preventDefault();
      $("play").click();
    } else if (e.key === "a" || e.key === "A") {
      $("ab-a").click();
    } else if (e.key === "b" || e.key === "B") {
      $("ab-b").click();
    } else if (e.key === "Escape" && st.job) {
      st.job.abort();
    }
  });
  window.addEventListener("resize", () => drawWave());
}

wire();
requestAnimationFrame(frame);
if (!new URLSearchParams(location.search).has("noinit")) {
  start().catch((e) => status(errText(e), "bad"));
}
// for tests and the console
/** @type {any} */ (window).mixerPage = { st, audio, addFiles, renderFile, exportAudio, config, effective, shareLink, applyAB, encodeWav };
