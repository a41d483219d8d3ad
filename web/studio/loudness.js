// Loudness drawing and formatting for the studio app, on the shapes of origin/studio/loudness.py:
// a series is a list of per-second (or bucketed) records {t: ISO UTC, off: s into the file,
// M, S, I, LRA, TP, TPmax, SP, SPmax, sil, clip}, values in LUFS / dBTP or null.

export const EBU_TARGET = -23; // EBU R 128 programme loudness, LUFS
const LO = -50;
const HI = 0;

export function fmtLu(v, unit = "LUFS") {
  return typeof v === "number" && isFinite(v) ? `${v.toFixed(1)} ${unit}` : "–";
}

/** The last record of a series with a number under `key` (null when none). */
export function lastWith(series, key) {
  for (let i = series.length - 1; i >= 0; i--) if (typeof series[i][key] === "number") return series[i];
  return null;
}

function maxOf(series, key) {
  let m = null;
  for (const r of series) if (typeof r[key] === "number" && (m === null || r[key] > m)) m = r[key];
  return m;
}

/** Summary of a recorder series: the latest S/M/I, the max true peak, seconds flagged. */
export function seriesSummary(series) {
  const s = lastWith(series, "S");
  const m = lastWith(series, "M");
  const i = lastWith(series, "I");
  return {
    shortTerm: s ? s.S : null,
    momentary: m ? m.M : null,
    integrated: i ? i.I : null,
    truePeakMax: maxOf(series, "TP"),
    shortTermMax: maxOf(series, "S"),
    clipping: series.filter((r) => r.clip).length,
    silence: series.filter((r) => r.sil).length,
  };
}

/** Canvas sized for the device pixel ratio; returns [ctx, css width, css height]. */
function prepare(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(200, canvas.clientWidth || canvas.width);
  const h = Math.max(80, canvas.clientHeight || canvas.height);
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return [ctx, w, h];
}

function yOf(v, top, h) {
  return top + ((HI - Math.max(LO, Math.min(HI, v))) / (HI - LO)) * h;
}

function line(ctx, pts, color, width) {
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = width;
  // a run of one point (a lone reading between gaps) is drawn as a dot, so it is not lost
  let run = [];
  const flush = () => {
    if (run.length === 1) ctx.fillRect(run[0][0] - width, run[0][1] - width, 2 * width, 2 * width);
    else if (run.length > 1) {
      ctx.beginPath();
      ctx.moveTo(run[0][0], run[0][1]);
      for (const [x, y] of run.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
    run = [];
  };
  for (const p of pts) {
    if (p[1] === null) flush();
    else run.push(p);
  }
  flush();
}

function hline(ctx, y, x0, x1, color, dash) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.setLineDash(dash);
  ctx.beginPath();
  ctx.moveTo(x0, y);
  ctx.lineTo(x1, y);
  ctx.stroke();
  ctx.setLineDash([]);
}

/**
 * Loudness history: momentary (thin, blue) and short-term (green) against wall-clock time from
 * `from` to `to` (ms), a dB grid, the target line (amber, dashed) and the recorder's alarm limit
 * (red, dashed) when it has one. Gaps (no recording) stay empty.
 */
export function drawHistory(canvas, series, { from, to, target = EBU_TARGET, limit = null }) {
  const [ctx, W, H] = prepare(canvas);
  const left = 44;
  const top = 8;
  const w = W - left - 8;
  const h = H - top - 22;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#0c0f12";
  ctx.fillRect(left, top, w, h);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#9aa5b1";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = HI; v >= LO; v -= 10) {
    const y = yOf(v, top, h);
    ctx.fillText(String(v), left - 6, y);
    ctx.strokeStyle = "#232a33";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + w, y);
    ctx.stroke();
  }
  // time axis: ticks at a round interval giving 4-8 labels
  const span = Math.max(1, to - from);
  const steps = [60e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3];
  const tick = steps.find((s) => span / s <= 8) || 21600e3;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const x = (t) => left + ((t - from) / span) * w;
  for (let t = Math.ceil(from / tick) * tick; t <= to; t += tick) {
    const d = new Date(t);
    ctx.fillStyle = "#9aa5b1";
    ctx.fillText(`${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`, x(t), top + h + 5);
    ctx.strokeStyle = "#232a33";
    ctx.beginPath();
    ctx.moveTo(x(t), top);
    ctx.lineTo(x(t), top + h);
    ctx.stroke();
  }
  hline(ctx, yOf(target, top, h), left, left + w, "#ffb300", [6, 4]);
  if (typeof limit === "number") hline(ctx, yOf(limit, top, h), left, left + w, "#f44336", [3, 3]);
  // a gap of more than 3 steps between records breaks the line (no recording there)
  const pts = series.map((r) => ({ t: Date.parse(r.t), r })).filter((p) => isFinite(p.t));
  let gap = 3000;
  if (pts.length > 1) gap = 3 * Math.max(1000, (pts[pts.length - 1].t - pts[0].t) / (pts.length - 1));
  for (const [key, color, width] of [["M", "rgba(144,202,249,0.55)", 1], ["S", "#4caf50", 2]]) {
    const out = [];
    let prev = null;
    for (const p of pts) {
      if (prev !== null && p.t - prev > gap) out.push([0, null]);
      prev = p.t;
      const v = p.r[key];
      out.push([x(p.t), typeof v === "number" ? yOf(v, top, h) : null]);
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, w, h);
    ctx.clip();
    line(ctx, out, color, width);
    ctx.restore();
  }
}

/** The short-term curve of one file over its waveform (x by `off` seconds into the file). */
export function drawCurveOver(ctx, w, h, series, duration) {
  if (!series || !series.length || !duration) return;
  hline(ctx, yOf(EBU_TARGET, 0, h), 0, w, "rgba(255,179,0,0.8)", [6, 4]);
  const out = series.map((r) => [
    (Math.max(0, (r.off ?? 0) - 0.5) / duration) * w, // a record covers the second ending at off
    typeof r.S === "number" ? yOf(r.S, 0, h) : typeof r.M === "number" ? yOf(r.M, 0, h) : null,
  ]);
  line(ctx, out, "#4caf50", 2);
}
