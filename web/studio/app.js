// Studio monitor: studios, recorders with live meters, start/stop (admins), recordings.
import { api, ApiError, fileUrl, getToken, LevelsSocket, setToken, takeTokenFromHash } from "./api.js";
import { fmtLu, seriesSummary } from "./loudness.js";
import { Meter, meterScale } from "./meters.js";
import { renderStudiosAdmin } from "./studios.js";
import { eventText, fmtDuration, renderArchive, renderRecorderDetail, renderSources } from "./views.js";

const $ = (id) => document.getElementById(id);

const state = {
  user: null,
  studios: [],
  recorders: [],
  filter: null, // studio id shown in the recorder grid (null = all)
  cards: new Map(), // recorder id -> { el, meters: Meter[] }
  socket: null,
  alerts: new Map(), // recorder id -> Map(alert kind -> { text, until })
  lost: new Map(), // recorder id -> lost + late packets at the previous refresh
};

//: alert kinds that stay until their clearing event; the others show for a minute
const ALERT_CLEARS = {
  "recorder.silence": "recorder.silence_cleared",
  "recorder.stream_lost": "recorder.stream_restored",
  "recorder.error": "recorder.restarted",
  engine_path_down: "engine_path_up",
};
const TRANSIENT_ALERTS = ["recorder.loudness", "recorder.clipping"];
const RECENT_FILES = 12;

function isAdmin() {
  return !!state.user && (state.user.role === "admin" || (state.user.roles || []).includes("admin"));
}

function showError(err) {
  if (err instanceof ApiError && err.status === 401) {
    sessionExpired(err);
    return;
  }
  $("error").textContent = err ? String(err.message || err) : "";
  if (err) setTimeout(() => { if ($("error").textContent === String(err.message || err)) $("error").textContent = ""; }, 6000);
}

function fmtBytes(n) {
  if (!n) return "0 B";
  const u = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${u[i]}`;
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function studioById(id) {
  return state.studios.find((s) => s.id === id) || null;
}

// ---------------------------------------------------------------- login
async function boot() {
  takeTokenFromHash();
  try {
    state.user = await api("/auth/me");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      const had = getToken();
      if (had && err.status === 401) setToken("");
      showLogin(err.status === 403 ? err.message : had ? `Your session has ended (${err.message}). Sign in again.` : "");
      return;
    }
    showLogin(`Cannot reach the server: ${err.message}`);
    return;
  }
  $("login").classList.add("hidden");
  $("app").classList.remove("hidden");
  const u = state.user;
  $("user").textContent = `${u.name || u.email || u.id} · ${u.role}${u.studio_id ? ` · ${u.studio_id}` : ""}`;
  $("logout").classList.toggle("hidden", !getToken());
  for (const el of document.querySelectorAll(".admin-only")) el.classList.toggle("hidden", !isAdmin());
  $("tabs").classList.remove("hidden");
  // the saved studio (else a studio user's own) is known before the first render: the page lands
  // in it, with no flash of all studios
  const saved = await savedSelection();
  if (saved) state.filter = saved;
  else if (!isAdmin() && state.user.studio_id) state.filter = state.user.studio_id;
  await refreshAll();
  await restoreSelection(saved);
  await loadAlerts();
  state.socket = new LevelsSocket({ onMessage: onLevels, onStatus: setWsStatus });
  setInterval(() => refreshRecorders().catch(showError), 2000);
  setInterval(() => refreshRecordings().catch(showError), 5000);
  setInterval(() => refreshLoudness().catch(showError), 2000);
  setInterval(() => refreshDisk().catch(showError), 30000);
  refreshLoudness().catch(showError);
  refreshDisk().catch(showError);
  await route();
}

/** A 401 after login: the token expired or was revoked. Say so and offer to sign in again. */
function sessionExpired(err) {
  const b = $("session-banner");
  b.textContent = "";
  b.append(`Your session has ended (${err.message}). `);
  const a = document.createElement("a");
  a.href = "/auth/login?return_to=/studio/";
  a.textContent = "Sign in again";
  a.addEventListener("click", () => setToken(""));
  b.append(a);
  b.classList.remove("hidden");
}

// ---------------------------------------------------------------- views (hash routes)
async function route() {
  const h = location.hash || "#/";
  const m = h.match(/^#\/recorder\/(\d+)/);
  const view = m ? "recorder" : h.startsWith("#/archive") ? "archive" : h.startsWith("#/sources") ? "sources" : h.startsWith("#/studios") ? "studios" : "monitor";
  for (const a of document.querySelectorAll("#tabs a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("app").classList.toggle("hidden", view !== "monitor");
  $("view").classList.toggle("hidden", view === "monitor");
  if (view === "monitor") return;
  const opts = { isAdmin: isAdmin(), onError: showError, studios: state.studios, query: { studio_id: state.filter || "" }, onChanged: () => refreshAll().catch(showError) };
  try {
    if (view === "recorder") await renderRecorderDetail($("view"), Number(m[1]), opts);
    else if (view === "archive") await renderArchive($("view"), opts);
    else if (view === "studios") await renderStudiosAdmin($("view"), { ...opts, recorders: state.recorders });
    else await renderSources($("view"), opts);
  } catch (err) {
    $("view").textContent = "";
    showError(err);
  }
  const h2 = $("view").querySelector("h2");
  if (h2) { h2.tabIndex = -1; h2.focus(); }
}
window.addEventListener("hashchange", () => route());

function showLogin(message) {
  $("app").classList.add("hidden");
  $("login").classList.remove("hidden");
  $("login-error").textContent = message || "";
}

$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const t = $("token-input").value.trim();
  if (!t) return;
  setToken(t);
  location.reload();
});

$("logout").addEventListener("click", async () => {
  try {
    const r = await api("/auth/logout", { method: "POST" });
    setToken("");
    if (r && r.logout_url) { location.href = r.logout_url; return; }
  } catch { setToken(""); }
  location.reload();
});

function setWsStatus(s, info) {
  const el = $("ws-status");
  el.textContent = s === "live" ? "live" : s === "offline" && info ? `offline · retry in ${Math.round(info / 1000)} s` : s;
  el.className = `pill ${s === "live" ? "pill-on" : s === "connecting" ? "pill-warn" : "pill-off"}`;
}

// ---------------------------------------------------------------- data
async function refreshAll() {
  const [studios, count] = await Promise.all([api("/api/studios/"), api("/api/recorders/active-count")]);
  state.studios = studios;
  $("active-count").textContent = `${count.active_recorders} of ${count.max_recorders} recorders active`;
  if (state.filter && !studioById(state.filter)) state.filter = null;
  renderStudios();
  renderStudioSelect();
  renderStudioPicker();
  await refreshRecorders();
  await refreshRecordings();
}

async function refreshRecorders() {
  state.recorders = await api("/api/recorders/");
  renderRecorders();
}

// ---------------------------------------------------------------- studios
function renderStudios() {
  const box = $("studios");
  box.textContent = "";
  const all = document.createElement("button");
  all.type = "button";
  all.className = "chip";
  all.textContent = "All";
  all.setAttribute("aria-pressed", String(state.filter === null));
  all.onclick = () => selectStudio(null);
  all.classList.toggle("hidden", !isAdmin());
  box.append(all);
  for (const s of state.studios) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.dataset.studioId = s.id;
    b.setAttribute("aria-pressed", String(state.filter === s.id));
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = s.color;
    const label = document.createElement("span");
    label.textContent = `${s.name}${s.recorder_id ? ` · R${s.recorder_id}` : ""}`;
    b.title = s.description || "";
    b.append(sw, label);
    b.onclick = () => selectStudio(s.id);
    box.append(b);
  }
  if (!state.studios.length) {
    const p = document.createElement("span");
    p.className = "muted";
    p.textContent = "No studios yet.";
    box.append(p);
  }
}

/** The studio the app shows (null: all, admins only); kept per user on the server. */
async function selectStudio(id, { persist = true } = {}) {
  state.filter = id;
  if (id) $("rec-studio").value = id;
  renderStudios();
  renderStudioPicker();
  renderRecorders();
  refreshRecordings().catch(showError);
  if (!persist) return;
  try {
    if (id) await api(`/api/studios/select/${encodeURIComponent(id)}`, { method: "POST" });
    else await api("/api/studios/clear-selection", { method: "POST" });
  } catch (err) {
    showError(err);
  }
}

/** The user's saved studio selection (per user, on the server), or null. */
async function savedSelection() {
  try {
    const sel = await api("/api/studios/current-selection");
    return (sel && sel.studio_id) || null;
  } catch (err) {
    showError(err);
    return null;
  }
}

/** On login: the user's saved selection; a studio user without one lands in its own studio. */
async function restoreSelection(saved) {
  if (saved && studioById(saved)) await selectStudio(saved, { persist: false });
  else if (!isAdmin() && state.user.studio_id && studioById(state.user.studio_id)) await selectStudio(state.user.studio_id);
  else if (saved) await selectStudio(null, { persist: false }); // the saved studio is gone
}

function renderStudioPicker() {
  const sel = $("studio-select");
  sel.textContent = "";
  if (isAdmin()) sel.append(new Option("All studios", ""));
  for (const s of state.studios) sel.append(new Option(s.name, s.id));
  sel.value = state.filter || "";
  sel.disabled = !isAdmin() && state.studios.length <= 1;
  $("studio-pick").classList.toggle("hidden", !state.studios.length);
}
$("studio-select").addEventListener("change", (ev) => {
  selectStudio(ev.target.value || null);
  if (location.hash.startsWith("#/archive")) route();
});

function renderStudioSelect() {
  const sel = $("rec-studio");
  const prev = sel.value;
  sel.textContent = "";
  for (const s of state.studios) {
    const o = document.createElement("option");
    o.value = s.id;
    o.textContent = s.name;
    sel.append(o);
  }
  if (prev && state.studios.some((s) => s.id === prev)) sel.value = prev;
  else {
    const withRec = state.studios.find((s) => s.recorder_id);
    if (withRec) sel.value = withRec.id;
  }
}

$("rec-studio").addEventListener("change", () => refreshRecordings());
$("refresh-recordings").addEventListener("click", () => refreshRecordings());

// ---------------------------------------------------------------- recorders
function cardFor(rec) {
  let card = state.cards.get(rec.id);
  if (card) return card;
  const el = document.createElement("article");
  el.className = "rec";
  el.dataset.recorderId = rec.id;
  el.innerHTML = `
    <div class="rec-head">
      <span class="rec-name"></span>
      <span class="state"></span>
      <span class="spacer"></span>
      <a class="btn btn-ghost btn-small act-detail" href="#/recorder/${rec.id}">Details</a>
      <button class="btn btn-small act-start admin-only" type="button">Start</button>
      <button class="btn btn-stop btn-small act-stop admin-only" type="button">Stop</button>
    </div>
    <div class="rec-meta"></div>
    <div class="rec-health"></div>
    <div class="rec-loud" aria-label="Programme loudness"></div>
    <ul class="rec-alerts" aria-label="Alerts" aria-live="polite"></ul>
    <label class="rec-assign admin-only">Studio <select class="assign"></select></label>
    <div class="meters"></div>
    <div class="rec-errors"></div>`;
  el.querySelector(".act-start").onclick = () => act(rec.id, "start");
  el.querySelector(".act-stop").onclick = () => act(rec.id, "stop");
  el.querySelector(".assign").onchange = (ev) => assign(rec.id, ev.target.value);
  card = { el, meters: [], names: "" };
  state.cards.set(rec.id, card);
  return card;
}

async function act(id, what) {
  try {
    await api(`/api/recorders/${id}/${what}`, { method: "POST" });
  } catch (err) {
    showError(err);
  }
  refreshRecorders().catch(showError);
}

async function assign(recorderId, studioId) {
  try {
    if (studioId) {
      await api(`/api/studios/${encodeURIComponent(studioId)}/assign`, { method: "POST", body: { recorder_id: recorderId } });
    } else {
      const cur = state.studios.find((s) => s.recorder_id === recorderId);
      if (cur) await api(`/api/studios/${encodeURIComponent(cur.id)}/assign`, { method: "POST", body: { recorder_id: null } });
    }
  } catch (err) {
    showError(err);
  }
  refreshAll().catch(showError);
}

$("new-studio").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("new-studio-name").value.trim();
  if (!name) return;
  try {
    await api("/api/studios/", { method: "POST", body: { name, color: $("new-studio-color").value.toUpperCase() } });
    $("new-studio-name").value = "";
  } catch (err) {
    showError(err);
  }
  refreshAll().catch(showError);
});

$("start-all").onclick = async () => {
  try { await api("/api/recorders/start-all", { method: "POST" }); } catch (err) { showError(err); }
  refreshRecorders().catch(showError);
};
$("stop-all").onclick = async () => {
  try { await api("/api/recorders/stop-all", { method: "POST" }); } catch (err) { showError(err); }
  refreshRecorders().catch(showError);
};

function renderRecorders() {
  const box = $("recorders");
  const visible = state.recorders.filter((r) => state.filter === null || r.studio_id === state.filter);
  const keep = new Set(visible.map((r) => r.id));
  for (const [id, card] of state.cards) {
    if (!keep.has(id)) { card.el.remove(); state.cards.delete(id); }
  }
  renderSummary();
  for (const rec of visible) {
    const card = cardFor(rec);
    if (!card.el.isConnected) box.append(card.el);
    const st = studioById(rec.studio_id);
    card.el.style.setProperty("--studio", st ? st.color : "var(--line)");
    const nameEl = card.el.querySelector(".rec-name");
    const label = `${rec.name}|${st ? st.name : ""}`;
    if (nameEl.dataset.label !== label) {
      nameEl.dataset.label = label;
      nameEl.textContent = rec.name;
      if (st) {
        const sn = document.createElement("span");
        sn.className = "rec-studio";
        sn.textContent = st.name;
        nameEl.append(" ", sn);
      }
    }
    setState(card, rec.state);
    const cfg = rec.config || {};
    const parts = [`${cfg.multicast_addr}:${cfg.port}`, (cfg.format || "").toUpperCase()];
    if (rec.state !== "stopped") parts.push(fmtBytes(rec.bytes_written));
    if (rec.current_file) parts.push(rec.current_file.split("/").slice(-2).join("/"));
    card.el.querySelector(".rec-meta").textContent = parts.filter(Boolean).join(" · ");
    const errs = rec.state === "error" ? rec.errors.slice(-1) : rec.errors.slice(-2);
    card.el.querySelector(".rec-errors").textContent = errs.join(" ");
    const stt = rec.stats || {};
    const up = rec.state !== "stopped" && rec.start_time ? fmtDuration((Date.now() - Date.parse(rec.start_time)) / 1000) : null;
    const health = card.el.querySelector(".rec-health");
    health.textContent = rec.state === "stopped" ? "" :
      [up ? `up ${up}` : null, stt.received !== undefined ? `${stt.received} pkts` : null,
        stt.lost !== undefined ? `lost ${stt.lost}` : null, stt.late !== undefined ? `late ${stt.late}` : null,
        rec.restarts ? `restarts ${rec.restarts}` : null].filter(Boolean).join(" · ");
    health.classList.toggle("warn", !!(stt.lost || stt.late || rec.restarts));
    renderAlerts(rec.id);
    if (rec.state === "stopped") card.el.querySelector(".rec-loud").textContent = "";
    const sel = card.el.querySelector(".assign");
    card.el.querySelector(".rec-assign").classList.toggle("hidden", !isAdmin());
    if (isAdmin() && document.activeElement !== sel) {
      const opts = [["", "(none)"], ...state.studios.map((x) => [x.id, x.name])];
      const key = opts.map((o) => o.join("=")).join("|");
      if (sel.dataset.key !== key) {
        sel.textContent = "";
        for (const [v, label] of opts) {
          const o = document.createElement("option");
          o.value = v;
          o.textContent = label;
          sel.append(o);
        }
        sel.dataset.key = key;
      }
      sel.value = rec.studio_id || "";
    }
    card.el.querySelector(".act-start").classList.toggle("hidden", !isAdmin() || rec.state !== "stopped");
    card.el.querySelector(".act-stop").classList.toggle("hidden", !isAdmin() || rec.state === "stopped");
    if (!card.meters.length && rec.levels && rec.levels.length) setChannels(card, rec.levels);
  }
  box.classList.toggle("empty", !visible.length);
}

function setState(card, s) {
  const el = card.el.querySelector(".state");
  el.textContent = s;
  el.className = `state state-${s}`;
  card.el.dataset.state = s;
}

function setChannels(card, channels) {
  const names = channels.map((c) => c.name).join(",");
  const box = card.el.querySelector(".meters");
  if (names !== card.names) {
    box.textContent = "";
    card.meters = channels.map((c) => {
      const m = new Meter(c.name);
      box.append(m.el);
      return m;
    });
    if (channels.length) box.append(meterScale());
    card.names = names;
    if (!channels.length) {
      const p = document.createElement("div");
      p.className = "no-signal";
      p.textContent = "no signal";
      box.append(p);
    }
  }
  channels.forEach((c, i) => card.meters[i].update(c));
}

let pending = null;
function onLevels(msg) {
  if (msg.type === "event") {
    // recorder alerts pushed on the levels socket: live in the detail view, on the card at once
    document.dispatchEvent(new CustomEvent("studio-event", { detail: msg }));
    applyAlert(msg.recorder_id, msg.event, eventText(undefined, msg.data), msg.timestamp);
    renderAlerts(msg.recorder_id);
    renderSummary();
    return;
  }
  if (msg.type !== "all_levels") return;
  if (pending === null) requestAnimationFrame(drawLevels);
  pending = msg;
}

function drawLevels() {
  const msg = pending;
  pending = null;
  if (!msg) return;
  for (const r of msg.recorders) {
    const card = state.cards.get(r.recorder_id);
    if (!card) continue;
    if (card.el.dataset.state !== r.state) setState(card, r.state);
    setChannels(card, r.channels);
  }
}

// ---------------------------------------------------------------- alerts, loudness, summary
function applyAlert(rid, kind, text, ts) {
  if (!state.alerts.has(rid)) state.alerts.set(rid, new Map());
  const a = state.alerts.get(rid);
  const at = (ts || Date.now() / 1000) * 1000;
  if (ALERT_CLEARS[kind]) a.set(kind, { text, until: Infinity, at });
  else if (TRANSIENT_ALERTS.includes(kind)) a.set(kind, { text, until: at + 60000, at });
  for (const [k, clear] of Object.entries(ALERT_CLEARS)) if (clear === kind) a.delete(k);
  if (kind === "worker_started" || kind === "stop") a.clear();
}

/** Alerts still active at load: the recorders' recent events replayed oldest first. */
async function loadAlerts() {
  await Promise.all(state.recorders.map(async (r) => {
    try {
      const data = await api(`/api/recorders/${r.id}/events?limit=30`);
      for (const e of [...data.events].reverse()) applyAlert(r.id, e.kind, eventText(e.message), e.timestamp);
    } catch (err) {
      showError(err);
    }
  }));
  for (const r of state.recorders) renderAlerts(r.id);
  renderSummary();
}

function activeAlerts(rid) {
  const a = state.alerts.get(rid);
  if (!a) return [];
  // an expired transient alert is kept (not shown): the loudness check may prolong it
  const now = Date.now();
  return [...a.entries()].filter(([, v]) => v.until >= now);
}

function renderAlerts(rid) {
  const card = state.cards.get(rid);
  if (!card) return;
  const list = card.el.querySelector(".rec-alerts");
  const alerts = activeAlerts(rid);
  const key = alerts.map(([k, v]) => k + v.at).join("|");
  card.el.classList.toggle("alerting", alerts.length > 0);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...alerts.map(([kind, v]) => {
    const li = document.createElement("li");
    li.dataset.kind = kind;
    const b = document.createElement("b");
    b.textContent = kind.replace(/^recorder\./, "").replace(/^engine_/, "").replace(/_/g, " ");
    const t = new Date(v.at).toLocaleTimeString();
    li.append(b, ` ${v.text ? `${v.text} · ` : ""}since ${t}`);
    return li;
  }));
}

/** Short-term / integrated loudness of each recording card from the recorder's loudness log. */
async function refreshLoudness() {
  // the last 2 minutes: the log is written a second behind the audio, more on a loaded machine;
  // a reading older than 10 s is shown as such
  const from = new Date(Date.now() - 120000).toISOString();
  await Promise.all(state.recorders.filter((r) => r.state === "recording" && state.cards.has(r.id)).map(async (r) => {
    const data = await api(`/api/recorders/${r.id}/loudness?from=${from}&step=1`);
    const card = state.cards.get(r.id);
    if (!card) return;
    const s = seriesSummary(data.series);
    const box = card.el.querySelector(".rec-loud");
    box.replaceChildren(...[["S", fmtLu(s.shortTerm), "st"], ["M", fmtLu(s.momentary), "m"], ["I", fmtLu(s.integrated), "int"], ["TP max", fmtLu(s.truePeakMax, "dBTP"), "tp"]].map(([label, v, k]) => {
      const span = document.createElement("span");
      span.className = `loud loud-${k}`;
      const l = document.createElement("small");
      l.textContent = label;
      span.append(l, ` ${v}`);
      return span;
    }));
    // the loudness alarm fires once per excursion: its alert stays while the short-term loudness
    // is still above the recorder's limit
    const limit = (r.config || {}).loudness_limit_lufs;
    const loudAlert = state.alerts.get(r.id)?.get("recorder.loudness");
    if (loudAlert && typeof limit === "number" && typeof s.shortTerm === "number" && s.shortTerm > limit) {
      loudAlert.until = Math.max(loudAlert.until, Date.now() + 10000);
      renderAlerts(r.id);
    }
    const last = data.series.length ? Date.parse(data.series[data.series.length - 1].t) : NaN;
    const age = (Date.now() - last) / 1000;
    box.classList.toggle("stale", !(age <= 10));
    if (!(age <= 10)) {
      const note = document.createElement("span");
      note.className = "loud-age";
      note.textContent = isFinite(age) ? `${Math.round(age)} s ago` : "no reading in the last 2 min";
      box.append(note);
    }
    box.dataset.shortTerm = s.shortTerm === null ? "" : String(s.shortTerm);
  }));
}

async function refreshDisk() {
  const d = await api("/api/assets/disk");
  const freePct = d.total ? (100 * d.free) / d.total : 0;
  $("sum-disk").textContent = fmtBytes(d.free);
  $("sum-disk-label").textContent = `disk free of ${fmtBytes(d.total)} (${freePct.toFixed(0)} %)`;
  $("sum-disk-bar").style.width = `${(100 - freePct).toFixed(1)}%`;
  $("summary").querySelector('[data-key="disk"]').classList.toggle("warn", freePct < 10);
}

function renderSummary() {
  const recs = state.recorders.filter((r) => state.filter === null || r.studio_id === state.filter);
  const recording = recs.filter((r) => r.state === "recording");
  const alerting = recs.filter((r) => activeAlerts(r.id).length > 0);
  // a stream is healthy when it records, has no stream alert and its lost/late counters did not
  // grow since the previous recorder refresh (2 s)
  let healthy = 0;
  for (const r of recording) {
    const st = r.stats || {};
    const bad = (st.lost || 0) + (st.late || 0);
    const prev = state.lost.get(r.id);
    state.lost.set(r.id, bad);
    const a = state.alerts.get(r.id);
    const streamAlert = !!a && (a.has("recorder.stream_lost") || a.has("engine_path_down"));
    if (!streamAlert && !(prev !== undefined && bad > prev)) healthy += 1;
  }
  $("sum-recording").textContent = String(recording.length);
  $("sum-idle").textContent = String(recs.filter((r) => r.state === "stopped").length);
  $("sum-alerting").textContent = String(alerting.length + recs.filter((r) => r.state === "error" && !alerting.includes(r)).length);
  $("sum-streams").textContent = `${healthy}/${recording.length}`;
  const s = $("summary");
  s.querySelector('[data-key="recording"]').classList.toggle("ok", recording.length > 0);
  s.querySelector('[data-key="alerting"]').classList.toggle("bad", $("sum-alerting").textContent !== "0");
  s.querySelector('[data-key="streams"]').classList.toggle("warn", healthy < recording.length);
}

// ---------------------------------------------------------------- recordings
async function refreshRecordings() {
  const sid = $("rec-studio").value;
  const body = $("recordings");
  if (!sid) {
    body.textContent = "";
    $("recordings-empty").classList.remove("hidden");
    return;
  }
  const data = await api(`/api/studios/${encodeURIComponent(sid)}/recordings`);
  body.textContent = "";
  // the overview lists the newest files; the archive has them all (calendar, search)
  const shown = data.recordings.slice(0, RECENT_FILES);
  const more = $("recordings-more");
  more.classList.toggle("hidden", data.recordings.length <= shown.length);
  more.textContent = `All ${data.recordings.length} files in the archive →`;
  for (const f of shown) {
    const tr = document.createElement("tr");
    tr.dataset.path = f.path;
    const name = document.createElement("td");
    name.textContent = f.path;
    if (f.recording) {
      const live = document.createElement("span");
      live.className = "live";
      live.textContent = "● recording";
      name.append(live);
    }
    const size = document.createElement("td");
    size.className = "num";
    size.textContent = fmtBytes(f.size);
    const mod = document.createElement("td");
    mod.textContent = fmtTime(f.modified);
    const acts = document.createElement("td");
    const play = document.createElement("button");
    play.type = "button";
    play.className = "btn btn-ghost btn-small act-play";
    play.textContent = "Play";
    play.onclick = () => preview(f);
    const dl = document.createElement("a");
    dl.className = "btn btn-ghost btn-small act-download";
    dl.textContent = "Download";
    dl.href = fileUrl("download", f.path);
    dl.setAttribute("download", f.name);
    acts.append(play, " ", dl);
    if (isAdmin() && !f.recording) {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "btn btn-ghost btn-small act-delete";
      del.textContent = "Delete";
      del.onclick = async () => {
        if (!confirm(`Delete ${f.path}?`)) return;
        try {
          await api(`/api/assets/file/${f.path.split("/").map(encodeURIComponent).join("/")}`, { method: "DELETE" });
        } catch (err) { showError(err); }
        refreshRecordings().catch(showError);
      };
      acts.append(" ", del);
    }
    tr.append(name, size, mod, acts);
    body.append(tr);
  }
  $("recordings-empty").classList.toggle("hidden", data.recordings.length > 0);
}

function preview(f) {
  $("player-wrap").classList.remove("hidden");
  $("player-name").textContent = f.name;
  const player = $("player");
  player.src = fileUrl("preview", f.path);
  player.play().catch(() => {});
}

boot().catch(showError);
