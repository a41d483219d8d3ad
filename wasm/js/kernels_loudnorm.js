// JavaScript kernels of the loudness pass (aimixer_dsp.loudnorm) on planar array('d') blocks: the
// normalisation analysis (K-weighted chunk energies and chunk peaks, true-peak rows included) and
// the normaliser (gain, both true-peak interpolators' rows and the linked true-peak limiter), one
// call per block each. Installed by kernels.js's installKernels; the Python side and the layouts
// are described at aimixer_dsp.backend.KERNEL_NAMES ("normanalysis", "normalize").
//
// Both repeat the arithmetic of the kernels the list path calls (kweight, tprows, tplimit: the same
// operations in the same order), so the array path's results equal the list path's bit for bit
// where the list path runs those kernels (blocks of KERNEL_MIN samples and more); the chunk
// energies are summed as math.fsum sums (correctly rounded). Every array is a PyProxy, read and
// written in place through getBuffer("f64") (released in finally): the block is never copied
// into Python floats.

import { tplimitLoop } from "./kernels_dynamics.js";
import { kweightInto } from "./kernels_meters.js";
import { fsum } from "./pysums.js";

/**
 * Run `fn` on the Float64Array views of PyProxies of array('d'), releasing them afterwards.
 * @param {any[]} arrays
 * @param {(views: Float64Array[]) => void} fn
 */
function withViews(arrays, fn) {
  const held = [];
  try {
    for (const a of arrays) held.push(a.getBuffer("f64"));
    fn(held.map((b) => b.data));
  } finally {
    for (const b of held) b.release();
  }
}

/** @type {Float64Array} */
let scratch = new Float64Array(0);

/**
 * A reusable scratch buffer of at least `n` doubles (its contents are garbage).
 * @param {number} n
 */
function scratchOf(n) {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  return scratch;
}

/**
 * The true-peak rows of one channel (TruePeakMeter.row_peaks with the "tprows" arithmetic): with
 * buf = hist (T - 1 values at `h`, in `state`) + x[xo .. xo + n), out[oo + i] =
 * max_p |sum_j taps[p T + j] buf[i + T - 1 - j]| for i < n, all zeros when max |buf| <= 1e-280
 * (as row_peaks); the history becomes the last T - 1 values of buf. Also the "truepeak" kernel's FIR
 * (kernels.js). `out` must not be this module's scratch buffer.
 * @param {Float64Array} state
 * @param {number} h
 * @param {Float64Array} x
 * @param {number} xo
 * @param {number} n
 * @param {Float64Array} taps
 * @param {number} T
 * @param {Float64Array} out
 * @param {number} oo
 */
export function rowPeaks(state, h, x, xo, n, taps, T, out, oo) {
  const m = T - 1;
  const buf = scratchOf(m + n);
  let amax = 0.0;
  for (let j = 0; j < m; j++) {
    const v = state[h + j];
    buf[j] = v;
    const a = v < 0 ? -v : v;
    if (a > amax) amax = a;
  }
  for (let i = 0; i < n; i++) {
    const v = x[xo + i];
    buf[m + i] = v;
    const a = v < 0 ? -v : v;
    if (a > amax) amax = a;
  }
  for (let j = 0; j < m; j++) state[h + j] = buf[n + j];
  if (amax <= 1e-280) {
    out.fill(0.0, oo, oo + n);
    return;
  }
  const P = (taps.length / T) | 0;
  let i = 0;
  const simd = (P === 4 || P === 3) && n >= 2 ? wasmFir() : null;
  if (simd !== null) {
    i = n & ~1;
    wasmRows(simd, buf, m, i, taps, T, P, out, oo);
  }
  // both interpolators (4 phases of 12 taps: two samples at a time; 3 phases of 32: three), their
  // phases side by side: each sum in the same order as rowAt's (the same values), so the sums are
  // independent chains; the rest (and other filters) sample by sample
  else if (P === 4) {
    const o1 = T;
    const o2 = 2 * T;
    const o3 = 3 * T;
    for (; i + 1 < n; i += 2) {
      const t = i + m;
      let a0 = 0.0;
      let a1 = 0.0;
      let a2 = 0.0;
      let a3 = 0.0;
      let b0 = 0.0;
      let b1 = 0.0;
      let b2 = 0.0;
      let b3 = 0.0;
      let u = buf[t + 1];
      for (let j = 0; j < T; j++) {
        const v = buf[t - j];
        const g0 = taps[j];
        const g1 = taps[o1 + j];
        const g2 = taps[o2 + j];
        const g3 = taps[o3 + j];
        a0 += g0 * v;
        a1 += g1 * v;
        a2 += g2 * v;
        a3 += g3 * v;
        b0 += g0 * u;
        b1 += g1 * u;
        b2 += g2 * u;
        b3 += g3 * u;
        u = v;
      }
      out[oo + i] = peak4(a0, a1, a2, a3);
      out[oo + i + 1] = peak4(b0, b1, b2, b3);
    }
  } else if (P === 3) {
    const o1 = T;
    const o2 = 2 * T;
    for (; i + 2 < n; i += 3) {
      const t = i + m;
      let a0 = 0.0;
      let a1 = 0.0;
      let a2 = 0.0;
      let b0 = 0.0;
      let b1 = 0.0;
      let b2 = 0.0;
      let c0 = 0.0;
      let c1 = 0.0;
      let c2 = 0.0;
      let u = buf[t + 1];
      let w = buf[t + 2];
      for (let j = 0; j < T; j++) {
        const v = buf[t - j];
        const g0 = taps[j];
        const g1 = taps[o1 + j];
        const g2 = taps[o2 + j];
        a0 += g0 * v;
        a1 += g1 * v;
        a2 += g2 * v;
        b0 += g0 * u;
        b1 += g1 * u;
        b2 += g2 * u;
        c0 += g0 * w;
        c1 += g1 * w;
        c2 += g2 * w;
        w = u;
        u = v;
      }
      out[oo + i] = peak4(a0, a1, a2, 0.0);
      out[oo + i + 1] = peak4(b0, b1, b2, 0.0);
      out[oo + i + 2] = peak4(c0, c1, c2, 0.0);
    }
  }
  for (; i < n; i++) out[oo + i] = rowAt(buf, i + m, taps, T, P);
}

/**
 * The "tprows" value at buf[t]: max_p |sum_j taps[p T + j] buf[t - j]| (0 at least).
 * @param {Float64Array} buf
 * @param {number} t
 * @param {Float64Array} taps
 * @param {number} T
 * @param {number} P
 */
function rowAt(buf, t, taps, T, P) {
  let hi = 0.0;
  for (let p = 0; p < P; p++) {
    const o = p * T;
    let acc = 0.0;
    for (let j = 0; j < T; j++) acc += taps[o + j] * buf[t - j];
    const a = acc < 0 ? -acc : acc;
    if (a > hi) hi = a;
  }
  return hi;
}

// -- the rows' FIR in WebAssembly SIMD ------------------------------------------------------------
// Two samples per f64x2 lane pair: for the pair (t, t + 1) phase p's sum is
// acc_p += [g_pj, g_pj] * [buf[t - j], buf[t + 1 - j]] for j = 0 .. T - 1 (f64x2.mul then f64x2.add:
// per lane the same two roundings, in the same order, as rowAt), then
// hi = pmax(hi, abs(acc_p)) from hi = 0 (pmax(a, b) = a < b ? b : a, rowAt's comparison). So the
// rows are rowAt's bit for bit, about 4x faster than the JavaScript loops. The module (665 bytes)
// is assembled below: fir3 / fir4 (P = 3 / 4 phases) with the signature (buf, n, taps, T, out),
// byte offsets into its own memory `mem`: buf holds T - 1 + n values, taps the phases' taps
// splatted ([g, g] for j = 0 .. T - 1, p = 0 .. P - 1 within j), out receives n values (n even).
// Where WebAssembly SIMD is missing the JavaScript loops run.

/**
 * Unsigned LEB128.
 * @param {number} v
 * @returns {number[]}
 */
function leb(v) {
  const o = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    o.push(b);
  } while (v);
  return o;
}

/**
 * Signed LEB128 (i32.const's immediate).
 * @param {number} v
 * @returns {number[]}
 */
function sleb(v) {
  const o = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      o.push(b);
      return o;
    }
    o.push(b | 0x80);
  }
}

/**
 * A vector of already encoded items.
 * @param {number[][]} items
 */
function vec(items) {
  return [...leb(items.length), ...items.flat()];
}

/**
 * The code of fir<P>: locals 0-4 the parameters, 5 i, 6 j, 7 xp (byte offset of buf[t - j]),
 * 8 tp (of the taps at j), then the v128 locals acc_0 .. acc_(P-1), v, hi.
 * @param {number} P
 */
function firBody(P) {
  const [GET, SET, TEE, I32C, ADD, SUB, SHL, GEU, LTU] = [0x20, 0x21, 0x22, 0x41, 0x6a, 0x6b, 0x74, 0x4f, 0x49];
  const [BLOCK, LOOP, BR, BR_IF, END, VOID] = [0x02, 0x03, 0x0c, 0x0d, 0x0b, 0x40];
  /** @param {number} code */
  const simd = (code) => [0xfd, ...leb(code)];
  const load = [...simd(0), 3, 0]; // v128.load align=8 offset=0
  const store = [...simd(11), 3, 0]; // v128.store
  const zero = [...simd(12), ...new Array(16).fill(0)]; // v128.const 0
  const [ABS, FADD, FMUL, PMAX] = [simd(0xec), simd(0xf0), simd(0xf2), simd(0xf7)]; // f64x2.*
  const i = 5;
  const j = 6;
  const xp = 7;
  const tp = 8;
  const acc = (/** @type {number} */ p) => 9 + p;
  const v = 9 + P;
  const hi = 10 + P;
  const c = [I32C, 0, SET, i, BLOCK, VOID, LOOP, VOID];
  c.push(GET, i, GET, 1, GEU, BR_IF, 1); // i >= n: done
  c.push(GET, 0, GET, i, GET, 3, ADD, I32C, 1, SUB, I32C, 3, SHL, ADD, SET, xp); // &buf[i + T - 1]
  c.push(GET, 2, SET, tp, I32C, 0, SET, j);
  for (let p = 0; p < P; p++) c.push(...zero, SET, acc(p));
  c.push(LOOP, VOID, GET, xp, ...load, SET, v);
  for (let p = 0; p < P; p++) {
    c.push(GET, acc(p), GET, tp, ...simd(0), 3, ...leb(16 * p), GET, v, ...FMUL, ...FADD, SET, acc(p));
  }
  c.push(GET, xp, I32C, 8, SUB, SET, xp);
  c.push(GET, tp, I32C, ...sleb(16 * P), ADD, SET, tp);
  c.push(GET, j, I32C, 1, ADD, TEE, j, GET, 3, LTU, BR_IF, 0, END); // next j
  c.push(...zero, SET, hi);
  for (let p = 0; p < P; p++) c.push(GET, hi, GET, acc(p), ...ABS, ...PMAX, SET, hi);
  c.push(GET, 4, GET, i, I32C, 3, SHL, ADD, GET, hi, ...store); // out[i], out[i + 1]
  c.push(GET, i, I32C, 2, ADD, SET, i, BR, 0, END, END, END);
  const body = [...vec([[4, 0x7f], [P + 2, 0x7b]]), ...c]; // 4 i32 locals, P + 2 v128 locals
  return [...leb(body.length), ...body];
}

/** The module's bytes. */
function firModule() {
  /** @param {number} id @param {number[]} bytes */
  const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
  /** @param {string} s */
  const name = (s) => vec([...s].map((ch) => [ch.charCodeAt(0)]));
  const i32 = 0x7f;
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, ...vec([[i32], [i32], [i32], [i32], [i32]]), 0]])), // (5 x i32) -> ()
    ...section(3, vec([[0], [0]])), // two functions of that type
    ...section(5, vec([[0, 1]])), // one memory, 1 page at first, no maximum
    ...section(7, vec([[...name("fir3"), 0, 0], [...name("fir4"), 0, 1], [...name("mem"), 2, 0]])),
    ...section(10, vec([firBody(3), firBody(4)])),
  ]);
}

/** @type {any} the module's exports (fir3, fir4, mem), null without SIMD; undefined: not tried */
let wasmExports;
let wasmAllowed = true;

/**
 * Use the WebAssembly SIMD rows (default) or the JavaScript loops (for tests: both give the same).
 * @param {boolean} on
 */
export function useWasmFir(on) {
  wasmAllowed = !!on;
}

/** Which FIR computes the rows: "wasm-simd" or "js". */
export function firEngine() {
  return wasmFir() === null ? "js" : "wasm-simd";
}

/** The SIMD module's exports, instantiated on first use; null where SIMD is missing or off. */
function wasmFir() {
  if (!wasmAllowed) return null;
  if (wasmExports === undefined) {
    wasmExports = null;
    try {
      const bytes = firModule();
      if (typeof WebAssembly === "object" && WebAssembly.validate(bytes)) {
        wasmExports = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
      }
    } catch {
      wasmExports = null;
    }
  }
  return wasmExports;
}

/**
 * rowAt for t = m .. m + n - 1 (n even) by the module: taps splatted, buf copied in, rows out.
 * @param {any} e
 * @param {Float64Array} buf
 * @param {number} m
 * @param {number} n
 * @param {Float64Array} taps
 * @param {number} T
 * @param {number} P
 * @param {Float64Array} out
 * @param {number} oo
 */
function wasmRows(e, buf, m, n, taps, T, P, out, oo) {
  const bufAt = P * T * 2; // in doubles
  const outAt = bufAt + m + n;
  const need = 8 * (outAt + n);
  const mem = e.mem;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
  const H = new Float64Array(mem.buffer, 0, outAt + n);
  for (let j = 0; j < T; j++) {
    for (let p = 0; p < P; p++) {
      const g = taps[p * T + j];
      H[2 * (j * P + p)] = g;
      H[2 * (j * P + p) + 1] = g;
    }
  }
  H.set(buf.subarray(0, m + n), bufAt);
  (P === 4 ? e.fir4 : e.fir3)(8 * bufAt, n, 0, T, 8 * outAt);
  out.set(H.subarray(outAt, outAt + n), oo);
}

/**
 * max(0, |a|, |b|, |c|, |d|) as the "tprows" loop takes it (phase by phase, the first kept on ties).
 * @param {number} a
 * @param {number} b
 * @param {number} c
 * @param {number} d
 */
function peak4(a, b, c, d) {
  let hi = 0.0;
  let v = a < 0 ? -a : a;
  if (v > hi) hi = v;
  v = b < 0 ? -b : b;
  if (v > hi) hi = v;
  v = c < 0 ? -c : c;
  if (v > hi) hi = v;
  v = d < 0 ? -d : d;
  if (v > hi) hi = v;
  return hi;
}

/**
 * loudnorm.NormalizationAnalysis's per-sample work for one planar block (kernel "normanalysis").
 * `state = (ch, T, lead, b0, b1, b2, a1, a2, d1, d2, weights (ch), K states (4 ch), true-peak
 * histories (ch x (T - 1)), row history (lead))`, updated; `block` = ch x n planar samples (read
 * only); `taps` the true-peak meter's phases (T taps each); `bounds` the chunk boundaries
 * (0 = b_0 < ... < b_k = n); `out` (2 k) receives each chunk's energy sum_c w_c z_c^2 (the
 * "kweight" squares, math.fsum over the chunk) then its peak: the max over its samples of
 * max(max_c |x_c|, the row peaks `lead` samples earlier, max over the channels).
 * @param {any} stateArr
 * @param {any} blockArr
 * @param {any} tapsArr
 * @param {any} boundsArr
 * @param {any} outArr
 */
export function normanalysisKernel(stateArr, blockArr, tapsArr, boundsArr, outArr) {
  withViews([stateArr, blockArr, tapsArr, boundsArr, outArr], (v) => analyse(v[0], v[1], v[2], v[3], v[4]));
}

/** @type {Float64Array} squares, level, rows, one channel's rows (4 n) */
let analysisWork = new Float64Array(0);

/**
 * normanalysisKernel on the views. Each loop is its own small function: V8 optimises them one by
 * one within the first call instead of deoptimising one large function loop after loop.
 * @param {Float64Array} s
 * @param {Float64Array} x
 * @param {Float64Array} taps
 * @param {Float64Array} bounds
 * @param {Float64Array} out
 */
function analyse(s, x, taps, bounds, out) {
  // sizes arrive as doubles: made integers, or every index below is a float conversion
  const ch = s[0] | 0;
  const T = s[1] | 0;
  const lead = s[2] | 0;
  const kOff = 10 + ch;
  const hOff = kOff + 4 * ch;
  const rOff = hOff + ch * (T - 1);
  const n = (x.length / ch) | 0;
  if (analysisWork.length < 4 * n) analysisWork = new Float64Array(4 * n);
  const sq = analysisWork.subarray(0, n);
  const lvl = analysisWork.subarray(n, 2 * n);
  const rows = analysisWork.subarray(2 * n, 3 * n);
  const r = analysisWork.subarray(3 * n, 4 * n);
  sq.fill(0.0);
  for (let c = 0; c < ch; c++) {
    kweightInto(x, c * n, n, s, 3, s, kOff + 4 * c, s[10 + c], sq, 0);
    levelInto(x, c * n, n, lvl, c === 0);
    rowPeaks(s, hOff + c * (T - 1), x, c * n, n, taps, T, c === 0 ? rows : r, 0);
    if (c > 0) maxInto(rows, r, n);
  }
  rowsIntoLevel(s, rOff, lead, rows, lvl, n);
  chunkStats(sq, lvl, bounds, out);
}

/**
 * lvl[i] = |x[xo + i]| (the first channel) or the max of it and lvl[i].
 * @param {Float64Array} x
 * @param {number} xo
 * @param {number} n
 * @param {Float64Array} lvl
 * @param {boolean} first
 */
function levelInto(x, xo, n, lvl, first) {
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[xo + i]);
    if (first || a > lvl[i]) lvl[i] = a;
  }
}

/**
 * rows[i] = max(rows[i], r[i]) (Python's max: the first kept on ties).
 * @param {Float64Array} rows
 * @param {Float64Array} r
 * @param {number} n
 */
function maxInto(rows, r, n) {
  for (let i = 0; i < n; i++) if (r[i] > rows[i]) rows[i] = r[i];
}

/**
 * lvl[i] = max(lvl[i], rs[i]) with rs = the row history (lead values at s[h ..]) + rows: the rows
 * lag their samples by `lead`; the history becomes rs's last `lead` values.
 * @param {Float64Array} s
 * @param {number} h
 * @param {number} lead
 * @param {Float64Array} rows
 * @param {Float64Array} lvl
 * @param {number} n
 */
function rowsIntoLevel(s, h, lead, rows, lvl, n) {
  for (let i = 0; i < n; i++) {
    const v = i < lead ? s[h + i] : rows[i - lead];
    if (v > lvl[i]) lvl[i] = v;
  }
  if (n >= lead) {
    for (let j = 0; j < lead; j++) s[h + j] = rows[n - lead + j];
  } else {
    s.copyWithin(h, h + n, h + lead);
    for (let j = 0; j < n; j++) s[h + lead - n + j] = rows[j];
  }
}

/**
 * Per chunk q (bounds[q] .. bounds[q + 1]): out[q] = math.fsum of sq, out[k + q] = max of lvl.
 * @param {Float64Array} sq
 * @param {Float64Array} lvl
 * @param {Float64Array} bounds
 * @param {Float64Array} out
 */
function chunkStats(sq, lvl, bounds, out) {
  const k = bounds.length - 1;
  for (let q = 0; q < k; q++) {
    const lo = bounds[q] | 0;
    const hi = bounds[q + 1] | 0;
    out[q] = fsum(sq, lo, hi);
    let p = lvl[lo];
    for (let i = lo + 1; i < hi; i++) if (lvl[i] > p) p = lvl[i];
    out[k + q] = p;
  }
}

/**
 * loudnorm.Normalizer's per-sample work for one planar block (kernel "normalize"): y_c = gain x_c,
 * the wideband and Annex 2 row peaks of every channel (histories in `state`), then the "tplimit"
 * loop (tplimitLoop) on them. `state = (ch, A, T, Tw, Ta, gain, tplimit's head: ha (A), hr (T),
 * hx (ch x T), L, M, c, aR, acc, u, hist (M - 1), core delay (L), de (L), dx (ch x L); wideband
 * histories (ch x (Tw - 1)), Annex 2 histories (ch x (Ta - 1)))`, updated; `block` (ch x n, read
 * only); `out` (ch x n) receives the limited output.
 * @param {any} stateArr
 * @param {any} blockArr
 * @param {any} wideArr
 * @param {any} annexArr
 * @param {any} outArr
 */
export function normalizeKernel(stateArr, blockArr, wideArr, annexArr, outArr) {
  withViews([stateArr, blockArr, wideArr, annexArr, outArr], ([s, x, wide, annex, out]) => {
    const ch = s[0] | 0;
    const A = s[1] | 0;
    const T = s[2] | 0;
    const Tw = s[3] | 0;
    const Ta = s[4] | 0;
    const gain = s[5];
    const H = 6; // tplimit's head starts here
    const offK = A + T + ch * T;
    const L = s[H + offK] | 0;
    const M = s[H + offK + 1] | 0;
    const head = offK + 6 + (M - 1) + 2 * L + ch * L;
    const n = (x.length / ch) | 0;
    if (limitScratch.length < head + 3 * ch * n) limitScratch = new Float64Array(head + 3 * ch * n);
    const d = limitScratch.subarray(0, head + 3 * ch * n); // every value is written below
    d.set(s.subarray(H, H + head));
    const offW = head;
    const offA = offW + ch * n;
    const offX = offA + ch * n;
    const wh = H + head;
    const ah = wh + ch * (Tw - 1);
    for (let c = 0; c < ch; c++) {
      const xo = c * n;
      scaleInto(d, offX + xo, x, xo, n, gain);
      rowPeaks(s, wh + c * (Tw - 1), d, offX + xo, n, wide, Tw, d, offW + xo);
      rowPeaks(s, ah + c * (Ta - 1), d, offX + xo, n, annex, Ta, d, offA + xo);
    }
    tplimitLoop(d, ch, A, T);
    s.set(d.subarray(0, head), H);
    out.set(d.subarray(offX, offX + ch * n));
  });
}

/** @type {Float64Array} */
let limitScratch = new Float64Array(0);

/**
 * d[o + i] = gain * x[xo + i] for i < n.
 * @param {Float64Array} d
 * @param {number} o
 * @param {Float64Array} x
 * @param {number} xo
 * @param {number} n
 * @param {number} gain
 */
function scaleInto(d, o, x, xo, n, gain) {
  for (let i = 0; i < n; i++) d[o + i] = gain * x[xo + i];
}

/**
 * Install the loudness-pass kernels in the package (aimixer_dsp.backend.set_kernel).
 * @param {{set_kernel: (name: string, fn: Function) => void}} backend
 */
export function installLoudnormKernels(backend) {
  backend.set_kernel("normanalysis", normanalysisKernel);
  backend.set_kernel("normalize", normalizeKernel);
}
