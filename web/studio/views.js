// The studio app's views beyond the monitor: recorder detail, archive, sources.
// Plain ES modules and DOM APIs, no framework and no CDN (everything is served by the origin).
// A file without a loudness log (recorded before logging, or uploaded) answers 404 on the
// per-file loudness endpoints: its panels say so instead of showing nothing.
import { api, ApiError, fileUrl, getToken } from "./api.js";
import { createCalendar, renderHours } from "./calendar.js";
import { drawCurveOver, drawHistory, EBU_TARGET, fmtLu, seriesSummary } from "./loudness.js";

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
  ["silence_threshold_db", "Silence level (dBFS)", "number"],
  ["silence_seconds", "Silence after (s; empty: off)", "nullable"],
  ["loudness_limit_lufs", "Loudness limit (LUFS; empty: off)", "nullable"],
  ["loudness_seconds", "Loudness after (s)", "number"],
  ["stream_lost_seconds", "Stream lost after (s)", "number"],
];
//: the form's groups: the field each one starts with, and its legend
const GROUPS = { multicast_addr: "Stream", format: "Format", archive_layout: "Archive", vox_enabled: "Voice activation", silence_threshold_db: "Alarms" };

/** An event's message (engine events carry JSON) as short "key value" text. */
export function eventText(message, data) {
  let d = data;
  if (d === undefined && typeof message === "string" && message.startsWith("{")) {
    try { d = JSON.parse(message); } catch { d = undefined; }
  }
  if (!d || typeof d !== "object") return message || "";
  return Object.entries(d)
    .filter(([k]) => k !== "time")
    .map(([k, v]) => `${k.replace(/_/g, " ")} ${typeof v === "number" ? Math.round(v * 100) / 100 : typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(" · ");
}

function eventItem(e, extra = {}) {
  const kind = e.kind || e.event || "event";
  const t = e.timestamp ? new Date(e.timestamp * 1000) : new Date();
  const level = /silence$|loudness|clipping|stream_lost|error|path_down|died/.test(kind) ? "alarm" : /cleared|restored|restarted|path_up/.test(kind) ? "clear" : "";
  return el("li", { class: [level, extra.class].filter(Boolean).join(" ") || undefined, "data-kind": kind },
    el("time", { datetime: t.toISOString(), text: t.toLocaleTimeString() }), " ",
    el("b", { text: kind.replace(/^recorder\./, "") }), " ", eventText(e.message, e.data));
}

//: what the recorder uses when a field is not set (the worker's defaults)
const DEFAULTS = {
  format: "wav", bits: "24", bitrate: 128000, archive_layout: "dailydir", archive_period: 3600,
  archive_clock: "localtime", channel_offset: 0, flac_compression: 5, vox_threshold_db: -30,
  vox_hangover_ms: 2000, vox_preroll_ms: 500, silence_threshold_db: -50, loudness_seconds: 10,
  stream_lost_seconds: 2,
};

export async function renderRecorderDetail(root, rid, { isAdmin, onError }) {
  root.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  const [rec, sources, events] = await Promise.all([
    api(`/api/recorders/${rid}`),
    api("/api/sources/"),
    optional(`/api/recorders/${rid}/events?limit=50`),
  ]);
  const cfg = { ...DEFAULTS, ...(rec.config || {}) };
  const form = el("form", { class: "cfg-form", "aria-label": `Recorder ${rid} configuration` });
  const srcSel = el(
    "select",
    { id: "cfg-source_id", name: "source_id", disabled: !isAdmin },
    el("option", { value: "", text: "— typed in below —" }),
    sources.map((s) =>
      el("option", { value: s.id, selected: s.id === cfg.source_id, text: `${s.name} (${s.multicast_addr}:${s.port})` }),
    ),
  );
  let group = null;
  for (const [key, label, kind, options] of FIELDS) {
    const id = `cfg-${key}`;
    if (GROUPS[key]) {
      group = el("fieldset", { class: "cfg" }, el("legend", { text: GROUPS[key] }));
      form.append(group);
      if (key === "multicast_addr") group.append(el("label", { for: "cfg-source_id" }, "Source"), srcSel);
    }
    let input;
    if (kind === "select") {
      input = el("select", { id, name: key }, options.map((o) => el("option", { value: o, selected: String(cfg[key] ?? "") === o, text: o })));
    } else if (kind === "checkbox") {
      input = el("input", { id, name: key, type: "checkbox", checked: !!cfg[key] });
    } else {
      const num = kind === "number" || kind === "nullable";
      input = el("input", { id, name: key, type: num ? "number" : kind, value: cfg[key] ?? "", step: num ? "any" : undefined });
    }
    if (!isAdmin) input.disabled = true;
    group.append(el("label", { for: id }, label), input);
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
      else if (kind === "nullable") body[key] = input.value === "" ? null : Number(input.value);
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
    ["received", "lost", "late", "reordered", "duplicate", "foreign", "malformed", "relocks", "silence_frames", "seconds"].map((k) => el("div", { class: "fact" },
      el("dt", { text: k.replace("_", " ") }),
      el("dd", { text: st[k] === undefined ? "–" : String(st[k]) }),
    )),
  );
  const evList = el(
    "ol",
    { class: "events", id: "events" },
    ((events && events.events) || []).map((e) => eventItem(e)),
  );
  const range = el("select", { id: "loudness-range", "aria-label": "Loudness history range" },
    [["15", "last 15 minutes"], ["60", "last hour"], ["180", "last 3 hours"], ["720", "last 12 hours"], ["1440", "last 24 hours"]].map(([v, t]) =>
      el("option", { value: v, text: t, selected: v === "180" })));
  const loudNow = el("div", { class: "loud-now", id: "loudness-now", role: "status", "aria-live": "off" });
  const loud = el("section", { class: "panel", id: "loudness-panel", "aria-label": "Loudness history" },
    el("div", { class: "panel-head" }, el("h3", { text: "Loudness" }), range, el("span", { class: "spacer" }),
      el("span", { class: "legend" }, el("i", { class: "lg-m" }), "momentary ", el("i", { class: "lg-s" }), "short-term ",
        el("i", { class: "lg-t" }), `target ${EBU_TARGET} LUFS`, cfg.loudness_limit_lufs != null ? el("span", {}, " ", el("i", { class: "lg-l" }), `alarm ${cfg.loudness_limit_lufs} LUFS`) : null)),
    loudNow,
    el("canvas", { id: "loudness-chart", role: "img", "aria-label": "Momentary and short-term loudness over time" }),
    el("p", { class: "muted small", id: "loudness-empty" }));
  root.replaceChildren(
    el("div", { class: "panel-head" }, el("h2", { text: `${rec.name}` }), el("span", { class: `state state-${rec.state}`, text: rec.state }), el("span", { class: "spacer" }),
      el("a", { class: "btn btn-ghost", href: "#/" }, "Back to monitor")),
    el("div", { class: "detail-grid" },
      el("section", { class: "panel" }, el("h3", { text: "Configuration" }), form),
      el("div", {},
        el("section", { class: "panel" }, el("h3", { text: "Stream counters" }), counters,
          el("p", { class: "muted", text: rec.current_file ? `Writing ${rec.current_file}` : "Not writing a file." })),
        el("section", { class: "panel" }, el("h3", { text: "Events" }), evList.children.length ? evList : el("p", { class: "muted", id: "events-empty", text: "No events yet." })))),
  );
  root.insertBefore(loud, root.querySelector(".detail-grid"));
  // events pushed on the levels WebSocket ({"type": "event", ...}) appear at the top at once
  const onEvent = (ev) => {
    const e = ev.detail;
    if (e.recorder_id !== rid || !document.body.contains(evList)) return;
    evList.prepend(eventItem(e, { class: "new" }));
    if (!evList.isConnected) document.querySelector("#events-empty")?.replaceWith(evList);
  };
  document.addEventListener("studio-event", onEvent);
  window.addEventListener("hashchange", () => document.removeEventListener("studio-event", onEvent), { once: true });
  // loudness history (GET /api/recorders/{id}/loudness): redrawn every 10 s while shown
  const loadLoudness = async () => {
    if (!loud.isConnected) return false;
    const minutes = Number(range.value);
    const to = Date.now();
    const from = to - minutes * 60e3;
    const step = { 15: 2, 60: 5, 180: 10, 720: 60, 1440: 120 }[minutes];
    try {
      const data = await api(`/api/recorders/${rid}/loudness?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&step=${step}`);
      const canvas = $("loudness-chart");
      canvas.dataset.points = String(data.series.length);
      drawHistory(canvas, data.series, { from, to, limit: cfg.loudness_limit_lufs });
      const s = seriesSummary(data.series);
      loudNow.replaceChildren(
        ...[["Short-term now", fmtLu(s.shortTerm), "st"], ["Integrated (file)", fmtLu(s.integrated), "int"],
          ["Max short-term", fmtLu(s.shortTermMax), "stmax"], ["Max true peak", fmtLu(s.truePeakMax, "dBTP"), "tp"],
          ["Seconds clipping", String(s.clipping), "clip"], ["Seconds silent", String(s.silence), "sil"]]
          .map(([label, v, key]) => el("div", { class: "stat", "data-key": key }, el("span", { class: "stat-label", text: label }), el("span", { class: "stat-value", text: v }))));
      $("loudness-empty").textContent = data.series.length ? "" : "No loudness readings in this range (the recorder was not recording).";
    } catch (err) {
      onError(err);
    }
    return true;
  };
  range.addEventListener("change", loadLoudness);
  await loadLoudness();
  const timer = setInterval(async () => { if (!(await loadLoudness())) clearInterval(timer); }, 10000);
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
  const status = el("p", { class: "muted", id: "archive-status", role: "status" });
  const cal = el("section", { class: "panel calendar", id: "archive-calendar", "aria-label": "Archive calendar" });
  const dayHours = el("section", { class: "timeline", id: "day-hours", "aria-label": "Hours of the picked day" });
  root.replaceChildren(el("div", { class: "panel-head" }, el("h2", { text: "Archive" })),
    el("div", { class: "archive-top" }, cal, el("div", { class: "archive-side" }, filters, dayHours, timeline)), bulk, player, table, status);

  const selected = new Set();
  let files = [];
  const updateSel = () => {
    $("sel-count").textContent = `${selected.size} selected`;
    $("bulk-download").disabled = selected.size === 0;
    if ($("bulk-delete")) $("bulk-delete").disabled = selected.size === 0;
  };
  function showFiles(list, text) {
    files = list;
    status.textContent = text;
    selected.clear();
    $("sel-all").checked = false;
    updateSel();
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
  const calendar = createCalendar(cal, {
    studioId: () => $("f-studio").value,
    onError,
    onDay: (date, list) => {
      timeline.replaceChildren();
      renderHours(dayHours, date, list, (h, fs) =>
        showFiles(fs, `${fs.length} file${fs.length === 1 ? "" : "s"} on ${date} at ${String(h).padStart(2, "0")}:00`));
      showFiles(list, `${list.length} file${list.length === 1 ? "" : "s"} on ${date}`);
    },
  });
  $("f-studio").addEventListener("change", () => { calendar.load(); load(); });
  async function load() {
    dayHours.replaceChildren();
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
    renderTimeline(timeline, files, (f) => openPlayer(player, f, onError));
    showFiles(files, status.textContent);
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
        await Promise.all([load(), calendar.load()]);
        if (r.errors.length) onError(new Error(`${r.errors.length} file(s) not deleted`));
      } catch (err) {
        onError(err);
      }
    });
  }
  await Promise.all([load(), calendar.load()]);
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
  const report = el("div", { id: "r128-report", class: "r128", "aria-label": "EBU R 128 report" });
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
  const draw = () => drawWave(canvas, peaks, curve, duration() ? audio.currentTime / duration() : 0, duration());
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
  try {
    const loud = await optional(`/api/assets/loudness/${enc}?step=1`);
    if (loud) {
      curve = loud.series;
      canvas.dataset.curvePoints = String(curve.length);
    }
    const rep = loud ? await api(`/api/assets/report/${enc}?target=ebu-r128`) : null;
    renderReport(report, rep, enc);
  } catch (err) {
    onError(err);
  }
  draw();
}

/** The per-file EBU R 128 report: verdict, checks, the measured facts, a printable page. */
function renderReport(box, rep, enc) {
  if (!rep) {
    box.replaceChildren(el("p", { class: "muted", text: "No loudness log for this file: no R 128 report." }));
    return;
  }
  const m = rep.measured;
  const printable = el("button", { class: "btn btn-ghost btn-small", type: "button", id: "r128-print" }, "Printable report");
  printable.addEventListener("click", async () => {
    // fetched with the Authorization header (a new tab could not send it), shown from a blob
    const headers = getToken() ? { Authorization: `Bearer ${getToken()}` } : {};
    const resp = await fetch(`/api/assets/report/${enc}?target=ebu-r128&format=html`, { headers });
    if (!resp.ok) { box.append(el("p", { class: "error", text: `Report failed: ${resp.status}` })); return; }
    window.open(URL.createObjectURL(new Blob([await resp.text()], { type: "text/html" })), "_blank");
  });
  box.replaceChildren(
    el("div", { class: "panel-head" },
      el("h4", { text: `EBU R 128 (${rep.target.integrated} LUFS ± ${rep.target.tolerance} LU, ≤ ${rep.target.truePeak} dBTP)` }),
      el("span", { class: `pill ${rep.compliant ? "pill-on" : "pill-bad"}`, id: "r128-verdict", text: rep.compliant ? "compliant" : "not compliant" }),
      el("span", { class: "spacer" }), printable),
    el("table", { class: "report" }, el("tbody", {},
      rep.checks.map((c) => el("tr", { "data-check": c.name },
        el("th", { text: c.name === "integrated" ? "Integrated" : "True peak max" }),
        el("td", { text: fmtLu(c.value, c.name === "integrated" ? "LUFS" : "dBTP") }),
        el("td", { class: "muted", text: c.limit }),
        el("td", { class: c.pass ? "ok" : "bad", text: c.pass ? "pass" : "FAIL" }))))),
    el("dl", { class: "counters" },
      [["Loudness range", fmtLu(m.lra, "LU")], ["Max momentary", fmtLu(m.momentaryMax)], ["Max short-term", fmtLu(m.shortTermMax)],
        ["Max sample peak", fmtLu(m.samplePeakMax, "dBFS")], ["Seconds", String(m.seconds)], ["Silent s", String(m.silenceSeconds)],
        ["Clipping s", String(m.clippingSeconds)], ["Above target", `${(100 * m.aboveTargetShare).toFixed(0)} %`]]
        .map(([k, v]) => el("div", { class: "fact" }, el("dt", { text: k }), el("dd", { text: v })))));
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

function drawWave(canvas, peaks, curve, pos, dur) {
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
  drawCurveOver(ctx, w, h, curve, dur);
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
