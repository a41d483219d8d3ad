// Archive calendar: a month of days (each with its 24 hours shaded where there are recordings),
// from GET /api/assets/calendar?month=YYYY-MM[&studio_id]. Picking a day asks for its files
// (?date=YYYY-MM-DD) and hands them on; arrow keys move between days.
import { api } from "./api.js";

const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

const pad = (n) => String(n).padStart(2, "0");
const iso = (y, m, d) => `${y}-${pad(m)}-${pad(d)}`;

/**
 * Month calendar in `box`. `studioId()` gives the studio filter ("" = all);
 * `onDay(date, files)` receives the picked day's files (each with its `hour`).
 */
export function createCalendar(box, { studioId, onDay, onError }) {
  const now = new Date();
  let year = now.getFullYear();
  let month = now.getMonth() + 1;
  let picked = null;
  let days = {};

  async function pick(date) {
    picked = date;
    for (const b of box.querySelectorAll(".cal-day")) b.setAttribute("aria-pressed", String(b.dataset.date === date));
    const q = new URLSearchParams({ date });
    if (studioId()) q.set("studio_id", studioId());
    try {
      const res = await api(`/api/assets/calendar?${q}`);
      onDay(date, res.files);
    } catch (err) {
      onError(err);
    }
  }

  async function load() {
    const q = new URLSearchParams({ month: `${year}-${pad(month)}` });
    if (studioId()) q.set("studio_id", studioId());
    box.setAttribute("aria-busy", "true");
    try {
      days = (await api(`/api/assets/calendar?${q}`)).days;
    } catch (err) {
      days = {};
      onError(err);
    }
    box.removeAttribute("aria-busy");
    render();
  }

  function render() {
    const first = new Date(year, month - 1, 1);
    const lead = (first.getDay() + 6) % 7; // Monday first
    const count = new Date(year, month, 0).getDate();
    const title = first.toLocaleDateString(undefined, { month: "long", year: "numeric" });
    const total = Object.values(days).reduce((n, d) => n + d.files, 0);
    const prev = el("button", { class: "btn btn-ghost btn-small", type: "button", id: "cal-prev", "aria-label": "Previous month" }, "‹");
    const next = el("button", { class: "btn btn-ghost btn-small", type: "button", id: "cal-next", "aria-label": "Next month" }, "›");
    prev.addEventListener("click", () => { month -= 1; if (month < 1) { month = 12; year -= 1; } load(); });
    next.addEventListener("click", () => { month += 1; if (month > 12) { month = 1; year += 1; } load(); });
    const grid = el("div", { class: "cal-grid", role: "grid", "aria-label": `Recordings in ${title}` },
      DAY_NAMES.map((d) => el("span", { class: "cal-dow", role: "columnheader", text: d })),
      Array.from({ length: lead }, () => el("span", { class: "cal-pad" })));
    const today = iso(now.getFullYear(), now.getMonth() + 1, now.getDate());
    const ym = `${year}-${pad(month)}`;
    const focusDate = picked && picked.startsWith(ym) ? picked : today.startsWith(ym) ? today : iso(year, month, 1);
    for (let d = 1; d <= count; d++) {
      const date = iso(year, month, d);
      const info = days[date];
      const hours = el("span", { class: "cal-hours", "aria-hidden": "true" },
        Array.from({ length: 24 }, (_, h) => el("i", { class: info && info.hours[h] ? "on" : undefined })));
      const label = info ? `${date}: ${info.files} file${info.files === 1 ? "" : "s"}${info.recording ? ", recording now" : ""}` : `${date}: no recordings`;
      const b = el("button", {
        class: `cal-day${info ? " has" : ""}${info && info.recording ? " live" : ""}${date === today ? " today" : ""}`,
        type: "button", role: "gridcell", "data-date": date, "aria-label": label, title: label,
        "aria-pressed": String(date === picked), tabindex: date === focusDate ? "0" : "-1",
      }, el("span", { class: "cal-num", text: String(d) }), el("span", { class: "cal-count", text: info ? String(info.files) : "" }), hours);
      b.addEventListener("click", () => pick(date));
      b.addEventListener("keydown", (ev) => {
        const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 }[ev.key];
        if (!step) return;
        ev.preventDefault();
        const target = grid.querySelector(`.cal-day[data-date="${iso(year, month, Math.min(count, Math.max(1, d + step)))}"]`);
        if (target) target.focus();
      });
      grid.append(b);
    }
    box.replaceChildren(
      el("div", { class: "panel-head" }, prev, el("h3", { id: "cal-title", text: title }), next,
        el("span", { class: "muted small", id: "cal-total", text: `${total} file${total === 1 ? "" : "s"} in ${Object.keys(days).length} day${Object.keys(days).length === 1 ? "" : "s"}` })),
      grid);
  }

  return {
    load,
    pick,
    /** Show the month of `date` (YYYY-MM-DD) and pick that day. */
    async goTo(date) {
      year = Number(date.slice(0, 4));
      month = Number(date.slice(5, 7));
      await load();
      await pick(date);
    },
  };
}

/** One day's 24 hours: an hour with recordings is a button that narrows the list to it. */
export function renderHours(box, date, files, onHour) {
  const by = new Map();
  for (const f of files) by.set(f.hour, [...(by.get(f.hour) || []), f]);
  box.replaceChildren(
    el("div", { class: "day" }, el("span", { class: "day-label", text: date }),
      el("div", { class: "hours", role: "group", "aria-label": `Hours of ${date}` }, Array.from({ length: 24 }, (_, h) => {
        const fs = by.get(h);
        const hh = `${pad(h)}:00`;
        if (!fs) return el("span", { class: "hour", title: `${date} ${hh}: nothing` });
        const live = fs.some((f) => f.recording);
        const b = el("button", { class: `hour has${live ? " live" : ""}`, type: "button", "data-hour": String(h), title: `${date} ${hh}: ${fs.length} file(s)`, "aria-label": `${hh}, ${fs.length} file(s)${live ? ", recording" : ""}` });
        b.addEventListener("click", () => onHour(h, fs));
        return b;
      }))),
    el("div", { class: "day scale", "aria-hidden": "true" }, el("span", { class: "day-label" }),
      el("div", { class: "hours" }, Array.from({ length: 24 }, (_, h) => el("span", { class: "hour-num", text: h % 3 ? "" : pad(h) })))),
  );
}
