// The studio app's views beyond the monitor: recorder detail, archive, sources.
// Plain ES modules and DOM APIs, no framework and no CDN (everything is served by the origin).
// Panels whose endpoint answers 404 (features another part of the server adds later: loudness
// history, per-file loudness) are hidden rather than shown broken.
import { api, ApiError, fileUrl } from "./api.js";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function fmtBytes(n) {
  if (!n) return "0 B";
  const u = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${u[i]}`;
}

export function fmtDuration(s) {
  if (!isFinite(s) || s < 0) return "–";
  s = Math.floor(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}

/** GET that answers null on 404 (a feature not on this server yet). */
async function optional(path) {
  try {
    return await api(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

// ------------------------------------------------------------------------------ recorder detail
const FIELDS = [
  // key, label, kind, options
  ["multicast_addr", "Multicast address", "text"],
  ["port", "Port", "number"],
  ["channels", "Channels", "number"],
  ["channel_offset", "First channel", "number"],
  ["stream_channels", "Channels in stream", "number"],
  ["format", "Format", "select", ["wav", "flac", "opus"]],
  ["bits", "Bits", "select", ["16", "24", "32f"]],
  ["bitrate", "Opus bitrate (bit/s)", "number"],
  ["flac_compression", "FLAC level", "number"],
  ["archive_layout", "Layout", "select", ["dailydir", "hierarchy", "combo", "flat", "accurate"]],
  ["archive_period", "Period (s)", "number"],
  ["archive_clock", "Clock", "select", ["localtime", "utc"]],
  ["vox_enabled", "Voice-activated (VOX)", "checkbox"],
  ["vox_threshold_db", "VOX threshold (dBFS)", "number"],
  ["vox_hangover_ms", "VOX hangover (ms)", "number"],
  ["vox_preroll_ms", "VOX pre-roll (ms)", "number"],
];

//: what the recorder uses when a field is not set (the worker's defaults)
const DEFAULTS = {
  format: "wav", bits: "24", bitrate: 128000, archive_layout: "dailydir", archive_period: 3600,
  archive_clock: "localtime", channel_offset: 0, flac_compression: 5, vox_threshold_db: -30,
  vox_hangover_ms: 2000, vox_preroll_ms: 500,
};

export async function renderRecorderDetail(root, rid, { isAdmin, onError }) {
  root.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  const [rec, sources, events] = await Promise.all([
    api(`/api/recorders/${rid}`),
    api("/api/sources/"),
    optional(`/api/recorders/${rid}/events?limit=50`),
  ]);
  const cfg = { ...DEFAULTS, ...(rec.config || {}) };
  const form = el("form", { class: "cfg", "aria-label": `Recorder ${rid} configuration` });
  const srcSel = el(
    "select",
    { id: "cfg-source_id", name: "source_id", disabled: !isAdmin },
    el("option", { value: "", text: "— typed in below —" }),
    sources.map((s) =>
      el("option", { value: s.id, selected: s.id === cfg.source_id, text: `${s.name} (${s.multicast_addr}:${s.port})` }),
    ),
  );
  form.append(el("label", { for: "cfg-source_id" }, "Source"), srcSel);
  for (const [key, label, kind, options] of FIELDS) {
    const id = `cfg-${key}`;
    let input;
    if (kind === "select") {
      input = el("select", { id, name: key }, options.map((o) => el("option", { value: o, selected: String(cfg[key] ?? "") === o, text: o })));
    } else if (kind === "checkbox") {
      input = el("input", { id, name: key, type: "checkbox", checked: !!cfg[key] });
    } else {
      input = el("input", { id, name: key, type: kind, value: cfg[key] ?? "", step: kind === "number" ? "any" : undefined });
    }
    if (!isAdmin) input.disabled = true;
    form.append(el("label", { for: id }, label), input);
  }
  const msg = el("p", { id: "cfg-message", class: "msg", role: "status", "aria-live": "polite" });
  const save = el("button", { class: "btn", type: "submit", disabled: !isAdmin || rec.state === "recording" }, "Save configuration");
  form.append(el("div", { class: "cfg-actions" }, save, rec.state === "recording" ? el("span", { class: "muted", text: "Stop the recorder to change its configuration." }) : null), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [key, , kind] of FIELDS) {
      const input = form.elements[key];
      if (kind === "checkbox") body[key] = input.checked;
      else if (input.value === "") continue;
      else body[key] = kind === "number" ? Number(input.value) : input.value;
    }
    if (body.stream_channels === undefined) delete body.stream_channels;
    body.source_id = srcSel.value || null;
    msg.className = "msg";
    msg.textContent = "Saving…";
    try {
      await api(`/api/recorders/${rid}/config`, { method: "PUT", body });
      msg.className = "msg ok";
      msg.textContent = "Saved.";
    } catch (err) {
      msg.className = "msg error";
      msg.textContent = `Not saved: ${err.message}`; // the server's validation message
    }
  });

  const st = rec.stats || {};
  const counters = el(
    "dl",
    { class: "counters", id: "stream-counters" },
    ["received", "lost", "late", "reordered", "duplicate", "foreign", "malformed", "relocks", "silence_frames", "seconds"].flatMap((k) => [
      el("dt", { text: k.replace("_", " ") }),
      el("dd", { text: st[k] === undefined ? "–" : String(st[k]) }),
    ]),
  );
  const evList = el(
    "ol",
    { class: "events", id: "events" },
    ((events && events.events) || []).map((e) =>
      el("li", {}, el("time", { text: new Date(e.timestamp * 1000).toLocaleString() }), " ", el("b", { text: e.kind }), " ", e.message),
    ),
  );
  const loud = el("section", { class: "panel hidden", id: "loudness-panel", "aria-label": "Loudness history" },
    el("h3", { text: "Loudness (last 3 hours)" }), el("canvas", { id: "loudness-chart", width: 900, height: 180 }));
  root.replaceChildren(
    el("div", { class: "panel-head" }, el("h2", { text: `${rec.name}` }), el("span", { class: `state state-${rec.state}`, text: rec.state }), el("span", { class: "spacer" }),
      el("a", { class: "btn btn-ghost", href: "#/" }, "Back to monitor")),
    el("div", { class: "detail-grid" },
      el("section", { class: "panel" }, el("h3", { text: "Configuration" }), form),
      el("div", {},
        el("section", { class: "panel" }, el("h3", { text: "Stream counters" }), counters,
          el("p", { class: "muted", text: rec.current_file ? `Writing ${rec.current_file}` : "Not writing a file." })),
        el("section", { class: "panel" }, el("h3", { text: "Events" }), evList.children.length ? evList : el("p", { class: "muted", id: "events-empty", text: "No events yet." })))),
    loud,
  );
  // events pushed on the levels WebSocket ({"type": "event", ...}) appear at the top at once
  const onEvent = (ev) => {
    const e = ev.detail;
    if (e.recorder_id !== rid || !document.body.contains(evList)) return;
    const t = e.timestamp ? new Date(e.timestamp * 1000) : new Date();
    evList.prepend(el("li", { class: "new" }, el("time", { text: t.toLocaleString() }), " ", el("b", { text: e.kind || e.event || "event" }), " ", e.message || ""));
    if (!evList.isConnected) document.querySelector("#events-empty")?.replaceWith(evList);
  };
  document.addEventListener("studio-event", onEvent);
  window.addEventListener("hashchange", () => document.removeEventListener("studio-event", onEvent), { once: true });
  // loudness history (GET /api/recorders/{id}/loudness): drawn when the server has it
  const now = Date.now() / 1000;
  optional(`/api/recorders/${rid}/loudness?from=${Math.floor(now - 3 * 3600)}&to=${Math.floor(now)}&step=10`)
    .then((data) => {
      if (!data) return;
      loud.classList.remove("hidden");
      drawLoudness($("loudness-chart"), data);
    })
    .catch((err) => onError(err));
}

/** Momentary / short-term LUFS over time with the -23 LUFS target line. */
export function drawLoudness(canvas, data) {
  const pts = data.points || data.series || [];
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const lo = -50;
  const hi = -5;
  const y = (v) => h - ((Math.max(lo, Math.min(hi, v)) - lo) / (hi - lo)) * h;
  const target = data.target_lufs ?? -23;
  ctx.strokeStyle = "#ffb300";
  ctx.setLineDash([6, 4]);
  ctx.beginPath();
  ctx.moveTo(0, y(target));
  ctx.lineTo(w, y(target));
  ctx.stroke();
  ctx.setLineDash([]);
  if (!pts.length) return;
  const t0 = pts[0].t ?? pts[0].time;
  const t1 = pts[pts.length - 1].t ?? pts[pts.length - 1].time;
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * w;
  for (const [key, color] of [["momentary_lufs", "rgba(144,202,249,0.5)"], ["short_term_lufs", "#4caf50"]]) {
    ctx.strokeStyle = color;
    ctx.beginPath();
    let started = false;
    for (const p of pts) {
      const v = p[key];
      if (typeof v !== "number" || !isFinite(v)) { started = false; continue; }
      const px = x(p.t ?? p.time);
      if (started) ctx.lineTo(px, y(v)); else ctx.moveTo(px, y(v));
      started = true;
    }
    ctx.stroke();
  }
}

// ------------------------------------------------------------------------------ archive
export async function renderArchive(root, { studios, isAdmin, onError, query = {} }) {
  const filters = el("form", { class: "row filters", id: "archive-filters", "aria-label": "Search the archive" },
    el("label", { for: "f-query", class: "sr-only", text: "Name contains" }),
    el("input", { id: "f-query", name: "query", placeholder: "Name contains…", value: query.query || "" }),
    el("label", { for: "f-studio", class: "sr-only", text: "Studio" }),
    el("select", { id: "f-studio", name: "studio_id" }, el("option", { value: "", text: "All studios" }),
      studios.map((s) => el("option", { value: s.id, text: s.name, selected: s.id === query.studio_id }))),
    el("label", { for: "f-from" }, "From"), el("input", { id: "f-from", name: "date_from", type: "date", value: query.date_from || "" }),
    el("label", { for: "f-to" }, "to"), el("input", { id: "f-to", name: "date_to", type: "date", value: query.date_to || "" }),
    el("button", { class: "btn", type: "submit" }, "Search"));
  const bulk = el("div", { class: "row bulk" },
    el("span", { id: "sel-count", class: "muted", text: "0 selected" }),
    el("button", { id: "bulk-download", class: "btn btn-ghost", type: "button", disabled: true }, "Download selected"),
    isAdmin ? el("button", { id: "bulk-delete", class: "btn btn-danger", type: "button", disabled: true }, "Delete selected") : null);
  const tbody = el("tbody", { id: "archive-rows" });
  const table = el("table", { class: "recordings" },
    el("thead", {}, el("tr", {}, el("th", {}, el("input", { type: "checkbox", id: "sel-all", "aria-label": "Select all" })),
      el("th", { text: "File" }), el("th", { text: "Size" }), el("th", { text: "Modified" }), el("th", { text: "" }))),
    tbody);
  const player = el("section", { class: "panel hidden", id: "archive-player", "aria-label": "Player" });
  const timeline = el("section", { class: "timeline", id: "archive-timeline", "aria-label": "Hours with recordings" });
  const status = el("p", { class: "muted", id: "archive-status" });
  root.replaceChildren(el("div", { class: "panel-head" }, el("h2", { text: "Archive" })), filters, timeline, bulk, player, table, status);

  const selected = new Set();
  let files = [];
  const updateSel = () => {
    $("sel-count").textContent = `${selected.size} selected`;
    $("bulk-download").disabled = selected.size === 0;
    if ($("bulk-delete")) $("bulk-delete").disabled = selected.size === 0;
  };
  async function load() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) q.set(k, v);
    q.set("limit", "500");
    status.textContent = "Searching…";
    try {
      const res = await api(`/api/assets/search?${q}`);
      files = res.files;
      status.textContent = `${res.total} file${res.total === 1 ? "" : "s"}${res.total > files.length ? ` (first ${files.length})` : ""}`;
    } catch (err) {
      status.textContent = "";
      onError(err);
      return;
    }
    selected.clear();
    updateSel();
    renderTimeline(timeline, files, (f) => openPlayer(player, f, onError));
    tbody.replaceChildren(...files.map((f) => {
      const cb = el("input", { type: "checkbox", class: "sel", "aria-label": `Select ${f.name}` });
      cb.addEventListener("change", () => { cb.checked ? selected.add(f.path) : selected.delete(f.path); updateSel(); });
      return el("tr", { "data-path": f.path },
        el("td", {}, cb),
        el("td", {}, f.name, f.recording ? el("span", { class: "pill pill-rec", text: "recording" }) : null, el("div", { class: "muted small", text: f.path })),
        el("td", { text: fmtBytes(f.size) }),
        el("td", { text: new Date(f.modified).toLocaleString() }),
        el("td", { class: "actions" },
          el("button", { class: "btn btn-ghost act-open", type: "button", onclick: () => openPlayer(player, f, onError) }, "Play"),
          el("a", { class: "btn btn-ghost", href: fileUrl("download", f.path), download: f.name }, "Download")));
    }));
  }
  filters.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  $("sel-all").addEventListener("change", (ev) => {
    for (const cb of tbody.querySelectorAll("input.sel")) {
      cb.checked = ev.target.checked;
      cb.dispatchEvent(new Event("change"));
    }
  });
  $("bulk-download").addEventListener("click", () => {
    for (const p of selected) {
      const a = el("a", { href: fileUrl("download", p), download: p.split("/").pop() });
      document.body.append(a);
      a.click();
      a.remove();
    }
  });
  if ($("bulk-delete")) {
    $("bulk-delete").addEventListener("click", async () => {
      if (!confirm(`Delete ${selected.size} file(s)? This cannot be undone.`)) return;
      try {
        const r = await api("/api/assets/delete-bulk", { method: "POST", body: { paths: [...selected] } });
        status.textContent = `${r.message}${r.errors.length ? `; not deleted: ${r.errors.map((e) => `${e.path} (${e.error})`).join(", ")}` : ""}`;
        await load();
        if (r.errors.length) onError(new Error(`${r.errors.length} file(s) not deleted`));
      } catch (err) {
        onError(err);
      }
    });
  }
  await load();
}

/** Day rows of 24 hour cells: an hour with a recording is filled (studio colour not needed:
 * the search already narrows to a studio); clicking it plays that hour's file. */
function renderTimeline(box, files, onPick) {
  const days = new Map();
  for (const f of files) {
    const m = f.name.match(/(\d{4}-\d{2}-\d{2})[-_T ](\d{2})/);
    const d = m ? new Date(`${m[1]}T${m[2]}:00:00`) : new Date(f.modified);
    const day = m ? m[1] : d.toISOString().slice(0, 10);
    const hour = m ? Number(m[2]) : d.getHours();
    if (!days.has(day)) days.set(day, new Map());
    const hours = days.get(day);
    if (!hours.has(hour)) hours.set(hour, []);
    hours.get(hour).push(f);
  }
  const rows = [...days.keys()].sort().reverse().slice(0, 14).map((day) => {
    const hours = days.get(day);
    const cells = Array.from({ length: 24 }, (_, h) => {
      const fs = hours.get(h);
      if (!fs) return el("span", { class: "hour", title: `${day} ${String(h).padStart(2, "0")}:00 — nothing` });
      const rec = fs.some((f) => f.recording);
      return el("button", {
        class: `hour has${rec ? " live" : ""}`, type: "button",
        title: `${day} ${String(h).padStart(2, "0")}:00 — ${fs.map((f) => f.name).join(", ")}`,
        "aria-label": `Play ${day} ${String(h).padStart(2, "0")}:00${rec ? " (recording)" : ""}`,
        onclick: () => onPick(fs[0]),
      });
    });
    return el("div", { class: "day" }, el("span", { class: "day-label", text: day }), el("div", { class: "hours" }, cells));
  });
  const scale = el("div", { class: "day scale", "aria-hidden": "true" }, el("span", { class: "day-label" }),
    el("div", { class: "hours" }, Array.from({ length: 24 }, (_, h) => el("span", { class: "hour-num", text: h % 3 ? "" : String(h).padStart(2, "0") }))));
  box.replaceChildren(...(rows.length ? [scale, ...rows] : []));
}

// ------------------------------------------------------------------------------ player
/** Player: waveform (decoded in the browser), loudness curve over it when the server has one,
 * click-to-seek, and "listen live" for a file still being recorded. */
export async function openPlayer(panel, f, onError) {
  panel.classList.remove("hidden");
  const audio = el("audio", { id: "archive-audio", controls: true, preload: "metadata", src: fileUrl("preview", f.path) });
  const canvas = el("canvas", { id: "waveform", width: 1000, height: 120, role: "img", "aria-label": `Waveform of ${f.name}; click to seek` });
  const info = el("span", { class: "muted", id: "player-info" });
  const liveBtn = f.recording ? el("button", { class: "btn btn-ghost", type: "button", id: "listen-live" }, "Listen live (10 s behind)") : null;
  const report = el("div", { id: "r128-report", class: "muted small" });
  panel.replaceChildren(el("div", { class: "panel-head" }, el("h3", { text: f.name }), f.recording ? el("span", { class: "pill pill-rec", text: "recording" }) : null, el("span", { class: "spacer" }), info, liveBtn),
    el("div", { class: "wave-wrap" }, canvas), audio, report);
  let meta = null;
  try {
    meta = await api(`/api/stream/info/${f.path.split("/").map(encodeURIComponent).join("/")}`);
    info.textContent = `${fmtDuration(meta.duration)} · ${meta.sample_rate || "?"} Hz · ${meta.channels || "?"} ch · ${meta.codec || meta.format}`;
  } catch (err) {
    onError(err);
  }
  const duration = () => (isFinite(audio.duration) && audio.duration > 0 ? audio.duration : meta?.duration || 0);
  canvas.addEventListener("click", (ev) => {
    const r = canvas.getBoundingClientRect();
    const d = duration();
    if (d) audio.currentTime = ((ev.clientX - r.left) / r.width) * d;
  });
  if (liveBtn) {
    // the server streams the file from (now - 10 s) and keeps following what the recorder appends
    liveBtn.addEventListener("click", async () => {
      try {
        const now = await api(`/api/stream/info/${f.path.split("/").map(encodeURIComponent).join("/")}`);
        const url = fileUrl("preview", f.path);
        audio.src = `${url}${url.includes("?") ? "&" : "?"}start=${Math.max(0.001, (now.duration || 0) - 10).toFixed(3)}&follow=true`;
        await audio.play();
        info.textContent = `live, 10 s behind · ${info.textContent.split(" · ").slice(1).join(" · ")}`;
      } catch (err) {
        onError(err);
      }
    });
  }
  let peaks = null;
  let curve = null;
  const draw = () => drawWave(canvas, peaks, curve, duration() ? audio.currentTime / duration() : 0);
  audio.addEventListener("timeupdate", draw);
  // waveform: decode (files up to 64 MB; larger ones show the loudness curve only); a file being
  // recorded is decoded as it is on disk now (follow=false: a snapshot, not the endless stream)
  if (f.size <= 64 * 1024 * 1024) {
    try {
      const url = fileUrl("preview", f.path);
      const buf = await (await fetch(url + (url.includes("?") ? "&" : "?") + "follow=false")).arrayBuffer();
      const ac = new OfflineAudioContext(1, 1, 48000);
      const audioBuf = await ac.decodeAudioData(buf);
      peaks = peaksOf(audioBuf, canvas.width);
    } catch {
      peaks = null;
    }
  }
  const enc = f.path.split("/").map(encodeURIComponent).join("/");
  const loud = await optional(`/api/assets/loudness/${enc}`).catch(() => null);
  if (loud) curve = loud;
  const rep = await optional(`/api/assets/report/${enc}?target=ebu-r128`).catch(() => null);
  if (rep) {
    report.textContent = `R128: integrated ${rep.integrated_lufs ?? "–"} LUFS, LRA ${rep.loudness_range_lu ?? "–"} LU, true peak ${rep.true_peak_dbtp ?? "–"} dBTP${rep.passed === undefined ? "" : rep.passed ? " · passes" : " · fails"}`;
  }
  draw();
}

function peaksOf(buf, n) {
  const out = new Float32Array(n);
  const chans = [];
  for (let c = 0; c < buf.numberOfChannels; c++) chans.push(buf.getChannelData(c));
  const step = Math.max(1, Math.floor(buf.length / n));
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (const d of chans) {
      for (let j = i * step, e = Math.min(buf.length, j + step); j < e; j++) {
        const v = Math.abs(d[j]);
        if (v > m) m = v;
      }
    }
    out[i] = m;
  }
  return out;
}

function drawWave(canvas, peaks, curve, pos) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.fillStyle = "#0c0f12";
  ctx.fillRect(0, 0, w, h);
  if (peaks) {
    ctx.fillStyle = "#3d6e9e";
    for (let i = 0; i < peaks.length; i++) {
      const a = peaks[i] * (h / 2 - 2);
      ctx.fillRect(i, h / 2 - a, 1, Math.max(1, 2 * a));
    }
  } else {
    ctx.fillStyle = "#9aa5b1";
    ctx.fillText("waveform: decoding not available for this file", 10, 20);
  }
  if (curve && (curve.points || []).length) {
    const pts = curve.points;
    const t0 = pts[0].t ?? 0;
    const t1 = pts[pts.length - 1].t ?? 1;
    ctx.strokeStyle = "#4caf50";
    ctx.beginPath();
    pts.forEach((p, i) => {
      const v = p.short_term_lufs ?? p.momentary_lufs;
      const x = ((p.t - t0) / Math.max(1e-9, t1 - t0)) * w;
      const y = h - ((Math.max(-50, Math.min(-5, v ?? -50)) + 50) / 45) * h;
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  }
  ctx.fillStyle = "#ffb300";
  ctx.fillRect(Math.round(pos * w), 0, 2, h);
}

// ------------------------------------------------------------------------------ sources
export async function renderSources(root, { isAdmin, onError }) {
  const [sources, discovered, active] = await Promise.all([
    api("/api/sources/"),
    optional("/api/discovery/streams").then((d) => d || []),
    api("/api/sources/active"),
  ]);
  const srcRows = sources.map((s) =>
    el("tr", { "data-source-id": s.id },
      el("td", {}, el("b", { text: s.name }), s.id === active.active_source_id ? el("span", { class: "pill pill-on", text: "active" }) : null,
        s.description ? el("div", { class: "muted small", text: s.description }) : null),
      el("td", { text: `${s.multicast_addr}:${s.port}` }),
      el("td", { text: `${s.encoding || "L24"} · ${s.sample_rate} Hz · ${s.channels} ch${s.stream_channels > s.channels ? ` (${(s.channel_offset || 0) + 1}–${(s.channel_offset || 0) + s.channels} of ${s.stream_channels})` : ""}` }),
      el("td", { class: "actions" },
        el("button", { class: "btn btn-ghost act-activate", type: "button", disabled: s.id === active.active_source_id, onclick: async () => {
          try { await api(`/api/sources/active/${encodeURIComponent(s.id)}`, { method: "POST" }); renderSources(root, { isAdmin, onError }); } catch (err) { onError(err); }
        } }, "Record on control recorder"),
        isAdmin ? el("button", { class: "btn btn-ghost", type: "button", onclick: async () => {
          if (!confirm(`Delete source ${s.name}?`)) return;
          try { await api(`/api/sources/${encodeURIComponent(s.id)}`, { method: "DELETE" }); renderSources(root, { isAdmin, onError }); } catch (err) { onError(err); }
        } }, "Delete") : null)));
  const discRows = discovered.map((d) => {
    const labels = d.channel_labels || d.channel_names || [];
    const unsupported = d.unsupported || null;
    const redundant = d.redundant_multicast_addr ? `${d.redundant_multicast_addr}:${d.redundant_port ?? d.port}` : null;
    const sdp = el("details", {}, el("summary", { text: "SDP" }), el("pre", { class: "sdp", text: d.sdp || "" }));
    return el("tr", { "data-stream-id": d.id },
      el("td", {}, el("b", { text: d.session_name || d.name }), el("div", { class: "muted small", text: `from ${d.origin_ip || d.origin || "?"}` }), sdp),
      el("td", {}, `${d.multicast_addr}:${d.port}`, redundant ? el("div", { class: "small", text: `redundant: ${redundant}` }) : null),
      el("td", {}, `${d.encoding} · ${d.sample_rate} Hz · ${d.ptime ?? (d.ptime_us || 1000) / 1000} ms`,
        el("div", { class: "chips small", "aria-label": "Channel map" }, labels.map((l, i) => el("span", { class: "chip", text: `${i + 1}:${l}` })))),
      el("td", { class: "actions" },
        unsupported ? el("span", { class: "error small", text: `not recordable: ${unsupported}` }) :
          isAdmin ? el("button", { class: "btn act-create", type: "button", onclick: async () => {
            try {
              await api("/api/sources/from-discovery", { method: "POST", body: { stream_id: d.id } });
              renderSources(root, { isAdmin, onError });
            } catch (err) { onError(err); }
          } }, "Create source") : null));
  });
  root.replaceChildren(
    el("div", { class: "panel-head" }, el("h2", { text: "Sources" })),
    el("section", { class: "panel" }, el("h3", { text: "Configured" }),
      sources.length ? el("table", { class: "recordings", id: "sources-table" }, el("tbody", {}, srcRows)) : el("p", { class: "muted", text: "No sources yet." })),
    el("section", { class: "panel" }, el("h3", { text: "Announced on the network (SAP)" }),
      discovered.length ? el("table", { class: "recordings", id: "discovered-table" }, el("tbody", {}, discRows)) : el("p", { class: "muted", text: "No streams announced right now." })),
  );
}
