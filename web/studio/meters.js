// One horizontal level meter per channel: RMS bar (a fixed gradient uncovered by a mask, so the
// colours stay at their dB positions), held peak marker, clip outline.
// Scale: -60 dBFS (empty) to 0 dBFS (full). Updated with CSS transforms only (no layout work).

const MIN_DB = -60;

function frac(db) {
  if (typeof db !== "number" || !isFinite(db)) return 0;
  return Math.max(0, Math.min(1, (db - MIN_DB) / -MIN_DB));
}

export class Meter {
  constructor(name) {
    const el = document.createElement("div");
    el.className = "meter";
    el.innerHTML = `<span class="meter-name"></span>
      <div class="meter-bar"><div class="meter-fill"></div><div class="meter-mask"></div><div class="meter-peak"></div></div>
      <span class="meter-db"></span><span class="meter-extra"></span>`;
    el.querySelector(".meter-name").textContent = name;
    this.el = el;
    this.mask = el.querySelector(".meter-mask");
    this.peak = el.querySelector(".meter-peak");
    this.db = el.querySelector(".meter-db");
    this.extra = el.querySelector(".meter-extra");
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
    const tp = typeof level.true_peak_db === "number" ? `TP ${level.true_peak_db.toFixed(1)}` : "";
    const st = typeof level.short_term_lufs === "number" ? `S ${level.short_term_lufs.toFixed(1)} LUFS` : "";
    this.extra.textContent = [tp, st].filter(Boolean).join(" · ");
    this.el.dataset.levelDb = String(level.level_db);
    this.db.textContent = level.level_db <= -120 ? "-∞ dB" : `${level.level_db.toFixed(1)} dB`;
    this.el.classList.toggle("clip", !!level.clipping);
  }
}
