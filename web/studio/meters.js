// One horizontal level meter per channel: RMS bar (a fixed gradient uncovered by a mask, so the
// colours stay at their dB positions), held peak marker, clip lamp, and the held peak / true peak
// readouts. Scale: -60 dBFS (empty) to 0 dBFS (full). Bars move by CSS transforms only.

const MIN_DB = -60;
const TICKS = [-60, -50, -40, -30, -20, -10, 0];

function frac(db) {
  if (typeof db !== "number" || !isFinite(db)) return 0;
  return Math.max(0, Math.min(1, (db - MIN_DB) / -MIN_DB));
}

function fmt(db) {
  return typeof db !== "number" || db <= -120 ? "-∞" : db.toFixed(1);
}

/** The dB scale under a card's meters (same columns as a meter row). */
export function meterScale() {
  const el = document.createElement("div");
  el.className = "meter-scale";
  el.setAttribute("aria-hidden", "true");
  const ticks = TICKS.map((t) => `<span style="left:${(frac(t) * 100).toFixed(2)}%">${t}</span>`).join("");
  el.innerHTML = `<span></span><div class="meter-ticks">${ticks}</div><span class="meter-db">RMS</span><span class="meter-tp">peak / TP</span>`;
  return el;
}

export class Meter {
  constructor(name) {
    const el = document.createElement("div");
    el.className = "meter";
    el.setAttribute("role", "meter");
    el.setAttribute("aria-valuemin", String(MIN_DB));
    el.setAttribute("aria-valuemax", "0");
    el.innerHTML = `<span class="meter-name"></span>
      <div class="meter-bar"><div class="meter-fill"></div><div class="meter-mask"></div><div class="meter-peak"></div></div>
      <span class="meter-db"></span><span class="meter-tp"></span>`;
    el.querySelector(".meter-name").textContent = name;
    el.querySelector(".meter-name").title = name;
    el.setAttribute("aria-label", `${name} level`);
    this.el = el;
    this.mask = el.querySelector(".meter-mask");
    this.peak = el.querySelector(".meter-peak");
    this.db = el.querySelector(".meter-db");
    this.tp = el.querySelector(".meter-tp");
    this.hold = -120;
    this.holdAt = 0;
  }

  update(level) {
    const f = frac(level.level_db);
    this.mask.style.transform = `scaleX(${(1 - f).toFixed(4)})`;
    // peak hold: the highest peak of the last 2 s
    const now = performance.now();
    if (level.peak_db >= this.hold || now - this.holdAt > 2000) {
      this.hold = level.peak_db;
      this.holdAt = now;
    }
    this.peak.style.left = `calc(${(frac(this.hold) * 100).toFixed(2)}% - 2px)`;
    const tp = typeof level.true_peak_db === "number" ? level.true_peak_db : null;
    this.tp.textContent = `${fmt(level.peak_db)} / ${tp === null ? "–" : fmt(tp)}`;
    this.tp.classList.toggle("hot", tp !== null && tp > -1);
    this.el.dataset.levelDb = String(level.level_db);
    if (tp !== null) this.el.dataset.truePeakDb = String(tp);
    this.el.setAttribute("aria-valuenow", String(Math.max(MIN_DB, level.level_db)));
    this.db.textContent = `${fmt(level.level_db)} dB`;
    this.el.classList.toggle("clip", !!level.clipping);
  }
}
