// JavaScript kernels of the file meters and the genre analysis rows (aimixer_dsp.render.FileMeter,
// aimixer_dsp.render.GenreAnalysis): their whole per-sample work on planar array('d') blocks
// (channel c at [c * n, (c + 1) * n)), behind the same Python methods (the names are listed in
// aimixer_dsp.backend.KERNEL_NAMES). Installed by kernels.js's installKernels.
//
// Every result is bit-identical to the Python list path's: the kernels do the same operations in
// the same order, and where Python sums with more than plain float additions they use pysums.js
// (math.fsum, math.sumprod and the built-in sum() reproduced exactly). Logarithms stay in Python.
//
// The arguments are PyProxies of array('d') (used in place through getBuffer, released in
// `finally`) and plain numbers; Python checked every length and count before the call.

import { SPLIT, fsum, pysum, sumprod, tlToDouble } from "./pysums.js";

/** @typedef {{getBuffer: (type: string) => {data: Float64Array, release: () => void}}} PyArray */

/**
 * math.sumprod(x, x) of x[o0 .. o0 + n) into out[k0] and of x[o1 .. o1 + n) into out[k1] (o1 < 0:
 * only the first), and their sample peaks max(max x, -min x) into out[k0 - ch] / out[k1 - ch]
 * (the same pass over the samples): sumprod's triple-length totals, the two channels'
 * interleaved (independent chains run side by side); the product's error by Dekker's
 * two-square (one split; exact, as mulErr). n >= 1.
 */
function sumSquares(x, o0, o1, n, out, k0, k1, ch) {
  const two = o1 >= 0;
  let hi0 = 0.0;
  let lo0 = 0.0;
  let tiny0 = 0.0;
  let hi1 = 0.0;
  let lo1 = 0.0;
  let tiny1 = 0.0;
  let mx0 = x[o0];
  let mn0 = mx0;
  let mx1 = two ? x[o1] : 0.0;
  let mn1 = mx1;
  for (let i = 0; i < n; i++) {
    let a = x[o0 + i];
    if (a > mx0) mx0 = a;
    if (a < mn0) mn0 = a;
    let p = a * a;
    let t = SPLIT * a;
    let ah = t - (t - a);
    let al = a - ah;
    let pl = ah * ah - p + 2.0 * ah * al + al * al;
    let s = hi0 + p;
    let z = s - hi0;
    let se = hi0 - (s - z) + (p - z);
    let r = lo0 + pl;
    z = r - lo0;
    let re = lo0 - (r - z) + (pl - z);
    let q = r + se;
    z = q - r;
    tiny0 = tiny0 + re + (r - (q - z) + (se - z));
    hi0 = s;
    lo0 = q;
    if (two) {
      a = x[o1 + i];
      if (a > mx1) mx1 = a;
      if (a < mn1) mn1 = a;
      p = a * a;
      t = SPLIT * a;
      ah = t - (t - a);
      al = a - ah;
      pl = ah * ah - p + 2.0 * ah * al + al * al;
      s = hi1 + p;
      z = s - hi1;
      se = hi1 - (s - z) + (p - z);
      r = lo1 + pl;
      z = r - lo1;
      re = lo1 - (r - z) + (pl - z);
      q = r + se;
      z = q - r;
      tiny1 = tiny1 + re + (r - (q - z) + (se - z));
      hi1 = s;
      lo1 = q;
    }
  }
  out[k0] = tlToDouble(hi0, lo0, tiny0);
  out[k0 - ch] = -mn0 > mx0 ? -mn0 : mx0;
  if (two) {
    out[k1] = tlToDouble(hi1, lo1, tiny1);
    out[k1 - ch] = -mn1 > mx1 ? -mn1 : mx1;
  }
}

let sqScratch = new Float64Array(0);

/**
 * meters._kfilter_sq_pure (the "kweight" arithmetic) of X[xo .. xo + n): coefficients (b0, b1, b2,
 * a1, a2, d1, d2) at C[co .. co + 7), state at S[so .. so + 4) (updated), ext[eo + i] += z_i^2 w
 * (skipped when w is 0). The one K-weighting loop of the kweight, meter and normanalysis kernels.
 * @param {Float64Array} X
 * @param {number} xo
 * @param {number} n
 * @param {Float64Array} C
 * @param {number} co
 * @param {Float64Array} S
 * @param {number} so
 * @param {number} w
 * @param {Float64Array} ext
 * @param {number} eo
 */
export function kweightInto(X, xo, n, C, co, S, so, w, ext, eo) {
  const b0 = C[co];
  const b1 = C[co + 1];
  const b2 = C[co + 2];
  const a1 = C[co + 3];
  const a2 = C[co + 4];
  const d1 = C[co + 5];
  const d2 = C[co + 6];
  let s1 = S[so];
  let s2 = S[so + 1];
  let s3 = S[so + 2];
  let s4 = S[so + 3];
  for (let i = 0; i < n; i++) {
    const v = X[xo + i];
    const y = b0 * v + s1;
    s1 = b1 * v - a1 * y + s2;
    s2 = b2 * v - a2 * y;
    const z = y + s3;
    s3 = s4 - 2.0 * y - d1 * z;
    s4 = y - d2 * z;
    if (w !== 0.0) ext[eo + i] = ext[eo + i] + z * z * w;
  }
  S[so] = s1;
  S[so + 1] = s2;
  S[so + 2] = s3;
  S[so + 3] = s4;
}

/**
 * kweightInto for two channels at once (x[xo0 ..) with state P[so0 ..) and weight w0, x[xo1 ..)
 * with P[so1 ..) and w1): the recursions interleaved, ext[eo + i] += z0^2 w0 then += z1^2 w1 (the
 * channels' order), a zero weight skipped.
 */
function kweightPair(X, xo0, xo1, n, P, so0, so1, w0, w1, ext, eo) {
  if (w0 === 0.0 || w1 === 0.0) {
    kweightInto(X, xo0, n, P, 10, P, so0, w0, ext, eo);
    kweightInto(X, xo1, n, P, 10, P, so1, w1, ext, eo);
    return;
  }
  const b0 = P[10];
  const b1 = P[11];
  const b2 = P[12];
  const a1 = P[13];
  const a2 = P[14];
  const d1 = P[15];
  const d2 = P[16];
  let s1 = P[so0];
  let s2 = P[so0 + 1];
  let s3 = P[so0 + 2];
  let s4 = P[so0 + 3];
  let t1 = P[so1];
  let t2 = P[so1 + 1];
  let t3 = P[so1 + 2];
  let t4 = P[so1 + 3];
  for (let i = 0; i < n; i++) {
    const v = X[xo0 + i];
    const u = X[xo1 + i];
    const y = b0 * v + s1;
    const yu = b0 * u + t1;
    s1 = b1 * v - a1 * y + s2;
    t1 = b1 * u - a1 * yu + t2;
    s2 = b2 * v - a2 * y;
    t2 = b2 * u - a2 * yu;
    const z = y + s3;
    const zu = yu + t3;
    s3 = s4 - 2.0 * y - d1 * z;
    t3 = t4 - 2.0 * yu - d1 * zu;
    s4 = y - d2 * z;
    t4 = yu - d2 * zu;
    ext[eo + i] = ext[eo + i] + z * z * w0 + zu * zu * w1;
  }
  P[so0] = s1;
  P[so0 + 1] = s2;
  P[so0 + 2] = s3;
  P[so0 + 3] = s4;
  P[so1] = t1;
  P[so1 + 1] = t2;
  P[so1 + 2] = t3;
  P[so1 + 3] = t4;
}

/**
 * One push's exact-maximum windows (the slice [sa, sb) of the block), as
 * LoudnessMeter._fine_update: with ext[base ..] the push's tail + squares and c[e] their running
 * sum (c[0] = 0, c[e + 1] = c[e] + ext[base + e], in order: itertools.accumulate), the maxima of
 * c[e] - c[e - win] over e = lo .. hi for the momentary and the short-term window, folded into
 * P[fOff] and P[fOff + 1]. One pass: c[e], c[e - winM] and c[e - winS] are three running sums of
 * the same additions in the same order (the same values), carried side by side.
 */
function sliceWindows(P, ext, tl, seen, keep, sa, sb, fOff) {
  const seenA = seen + sa;
  const tla = Math.min(keep, tl + sa, seenA);
  const base = (tl + sa - tla) | 0; // index in ext of the push's ext[0]
  const off = seenA - tla;
  const total = seenA + (sb - sa);
  const winM = P[4] | 0;
  const winS = P[5] | 0;
  const hi = (total - off) | 0;
  // lo >= win always (off <= seenA + 1 - win when a window fits); lo > hi: no window ends here
  const loM = (Math.max(winM, seenA + 1) - off) | 0;
  const loS = (Math.max(winS, seenA + 1) - off) | 0;
  if (loM > hi) return;
  const wantS = loS <= hi;
  let cs = 0.0; // c[e]
  let cm = 0.0; // c[e - winM] once e >= winM
  let cw = 0.0; // c[e - winS] once e >= winS
  let e = 0;
  for (; e < winM; e++) cs += ext[base + e];
  for (; e < loM; e++) {
    cs += ext[base + e];
    cm += ext[base + e - winM];
  }
  // e = loM: cs = c[loM], cm = c[loM - winM]; cw runs from c[0] to c[e - winS] when e >= winS
  if (wantS) for (let j = 0; j < loM - winS; j++) cw += ext[base + j];
  let bestM = cs - cm;
  let bestS = -1.0;
  for (; e < hi; e++) {
    if (wantS && e >= loS) {
      const v = cs - cw;
      if (bestS < 0.0 || v > bestS) bestS = v;
    }
    cs += ext[base + e];
    cm += ext[base + e - winM];
    if (wantS && e >= winS) cw += ext[base + e - winS];
    const v = cs - cm;
    if (v > bestM) bestM = v;
  }
  if (wantS) {
    const v = cs - cw; // e = hi
    if (bestS < 0.0 || v > bestS) bestS = v;
    if (bestS > P[fOff + 1]) P[fOff + 1] = bestS;
  }
  if (bestM > P[fOff]) P[fOff] = bestM;
}

/** The index of the first NaN or infinity in X, or -1. */
function firstNonFinite(X) {
  for (let i = 0; i < X.length; i++) if (X[i] - X[i] !== 0) return i;
  return -1;
}

/**
 * FileMeter.push's work on a planar block (kernel "meter"), for LoudnessMeter(exact_max=True):
 * per channel the sample peak max(max x, -min x) and math.sumprod(x, x); the K-weighting of
 * meters._kfilter_sq_pure with the weighted squares summed per sample (zero weights skipped:
 * LoudnessMeter._push_cols_exact), math.fsum of those squares per 100 ms segment
 * (LoudnessMeter._segments), and the exact-maximum windows of LoudnessMeter._fine_update: over
 * one slice [0, n) or, with `split`, over every segment as its own push (FileMeter's curve pushes
 * them one by one), each slice's running sums starting at its own tail.
 *
 * params = (ch, n, tl, seen, winM, winS, keep, step, pos, split, b0, b1, b2, a1, a2, d1, d2,
 * weights (ch), states (4 ch), fineM, fineS): the states and fineM / fineS are updated in place.
 * tail: the last tl = min(keep, seen) weighted squares; x: ch n samples; out: (peak (ch),
 * sumsq (ch), segment sums); newTail (may be tail itself: read first): the last min(keep, tl + n)
 * weighted squares. A block with
 * a NaN or an infinity at index i changes nothing but out[0] = -1 - i.
 */
export function meterKernel(params, tail, x, out, newTail) {
  const bp = params.getBuffer("f64");
  const bt = tail.getBuffer("f64");
  const bx = x.getBuffer("f64");
  const bo = out.getBuffer("f64");
  const bn = newTail.getBuffer("f64");
  try {
    const P = bp.data;
    const X = bx.data;
    const O = bo.data;
    // counts travel as doubles: small integers (Python checked them), used as int32 indices
    const ch = P[0] | 0;
    const n = P[1] | 0;
    const tl = P[2] | 0;
    const seen = P[3];
    const keep = P[6];
    const step = P[7] | 0;
    const split = P[9] !== 0;
    const sOff = 17 + ch;
    const fOff = sOff + 4 * ch;
    // ext = tail then the new weighted squares
    if (sqScratch.length < tl + n) sqScratch = new Float64Array(tl + n);
    const ext = sqScratch;
    // the peaks and sums of squares first (no state changes): a NaN or an infinity makes a sum
    // of squares non-finite (so do finite samples above 1e154: then the scan finds nothing)
    let finite = true;
    for (let c = 0; c < ch; c += 2) {
      sumSquares(X, c * n, c + 1 < ch ? (c + 1) * n : -1, n, O, ch + c, ch + c + 1, ch);
      finite = finite && Number.isFinite(O[ch + c]) && (c + 1 >= ch || Number.isFinite(O[ch + c + 1]));
    }
    if (!finite) {
      const bad = firstNonFinite(X);
      if (bad >= 0) {
        O[0] = -1 - bad; // nothing else is touched
        return;
      }
    }
    ext.set(bt.data.subarray(0, tl), 0);
    ext.fill(0.0, tl, tl + n);
    for (let c = 0; c < ch; c += 2) {
      if (c + 1 < ch) {
        kweightPair(X, c * n, (c + 1) * n, n, P, sOff + 4 * c, sOff + 4 * c + 4, P[17 + c], P[18 + c], ext, tl);
      } else {
        kweightInto(X, c * n, n, P, 10, P, sOff + 4 * c, P[17 + c], ext, tl);
      }
    }
    // the 100 ms segments: their sums, and with split their windows
    let k = 2 * ch;
    for (let a = 0, room = step - (P[8] | 0); a < n; room = step) {
      const b = Math.min(n, a + room);
      O[k++] = fsum(ext, tl + a, tl + b);
      if (split) sliceWindows(P, ext, tl, seen, keep, a, b, fOff);
      a = b;
    }
    if (!split) sliceWindows(P, ext, tl, seen, keep, 0, n, fOff);
    const N = bn.data;
    N.set(ext.subarray(tl + n - N.length, tl + n), 0);
  } finally {
    bp.release();
    bt.release();
    bx.release();
    bo.release();
    bn.release();
  }
}

/**
 * GenreAnalysis.push's mono mix (kernel "mono"): out[i] = sum(x_0[i], .., x_{k-1}[i]) / k of a
 * planar block of k channels, with Python's sum() of a tuple of floats (from the int 0).
 */
export function monoKernel(x, k, out) {
  const bx = x.getBuffer("f64");
  const bo = out.getBuffer("f64");
  try {
    const X = bx.data;
    const O = bo.data;
    const ch = Number(k) | 0;
    const n = O.length;
    if (ch === 2) {
      // two terms: the compensation is the exact error of the one rounded addition, so adding
      // it back never changes that (correctly rounded) sum
      for (let i = 0; i < n; i++) O[i] = (0.0 + X[i] + X[n + i]) / 2;
      return;
    }
    for (let i = 0; i < n; i++) {
      // pysum over the channels, inlined
      let s = 0.0 + X[i];
      let e = 0.0;
      for (let c = 1; c < ch; c++) {
        const v = X[c * n + i];
        const t = s + v;
        if (Math.abs(s) >= Math.abs(v)) e += s - t + v;
        else e += v - t + s;
        s = t;
      }
      O[i] = (e !== 0.0 && Number.isFinite(e) ? s + e : s) / ch;
    }
  } finally {
    bx.release();
    bo.release();
  }
}

/**
 * The per-sample work of genre._segment_row_pure for `count` analysis frames (kernel
 * "genrerows"): frame t is the segment S = mono[t hop .. t hop + seg) (seg = n + n / 2 - 1); its
 * three spectra (spectrumInto, the "spectrum" kernel's FFT) are P0 = |FFT(256 zeros + S[256:512])|^2,
 * M = |FFT(S[256:767] + [0])| and M' = |FFT(S[0:512])|, and out[t W ..] (W = 2 nMels + 4) holds
 * the mel energies sumprod(P0[band], weights) then sumprod(M^2[band], weights), the centroid (Hz),
 * the 85 % rolloff (Hz), the zero-crossing rate of S[256:768] and the flux |M - M'|, each with
 * features' operations (_mel_db's sumprod, _centroid_rolloff, _flux, the crossings).
 */
export function genreRowsKernel(mono, count, hop, sampleRate, window, bands, weights, out, spectrumInto) {
  const arrays = [mono, window, bands, weights, out];
  const bufs = arrays.map((a) => a.getBuffer("f64"));
  try {
    const [X, w, B, Wt, O] = bufs.map((b) => b.data);
    const n = w.length;
    const half = n >> 1;
    const nb = half + 1;
    const nMels = B.length >> 1;
    const width = 2 * nMels + 4;
    const sr = Number(sampleRate);
    const frame = new Float64Array(n);
    const p0 = new Float64Array(nb);
    const mag = new Float64Array(nb);
    const prev = new Float64Array(nb);
    const pw = new Float64Array(nb);
    const cum = new Float64Array(nb);
    const freqs = new Float64Array(nb);
    for (let k = 0; k < nb; k++) freqs[k] = (k * sr) / n;
    for (let t = 0, cnt = Number(count), h = Number(hop); t < cnt; t++) {
      const s = t * h;
      frame.fill(0.0, 0, half);
      frame.set(X.subarray(s + half, s + n), half);
      spectrumInto(frame, w, true, p0);
      frame.set(X.subarray(s + half, s + n + half - 1), 0);
      frame[n - 1] = 0.0;
      spectrumInto(frame, w, false, mag);
      frame.set(X.subarray(s, s + n), 0);
      spectrumInto(frame, w, false, prev);
      for (let k = 0; k < nb; k++) pw[k] = mag[k] * mag[k];
      const o = t * width;
      for (let b = 0, off = 0; b < nMels; b++) {
        const first = B[2 * b];
        const c = B[2 * b + 1];
        O[o + b] = sumprod(p0, first, Wt, off, c);
        O[o + nMels + b] = sumprod(pw, first, Wt, off, c);
        off += c;
      }
      const total = pysum(nb, (k) => mag[k]);
      let centroid = 0.0;
      let rolloff = 0.0;
      if (total > 0.0) {
        let acc = mag[0];
        cum[0] = acc;
        for (let k = 1; k < nb; k++) cum[k] = acc = acc + mag[k];
        const thr = 0.85 * cum[nb - 1];
        let idx = 0;
        while (idx < nb && cum[idx] < thr) idx++; // bisect_left on the non-decreasing sums
        centroid = pysum(nb, (k) => freqs[k] * mag[k]) / total;
        rolloff = freqs[Math.min(idx, nb - 1)];
      }
      let z = 0;
      for (let j = s + half + 1; j < s + n + half; j++) {
        const u = j < s + n + half - 1 ? X[j] : 0.0;
        if (u < 0.0 !== X[j - 1] < 0.0) z++;
      }
      const flux = Math.sqrt(pysum(nb, (k) => (mag[k] - prev[k]) * (mag[k] - prev[k])));
      O[o + 2 * nMels] = centroid;
      O[o + 2 * nMels + 1] = rolloff;
      O[o + 2 * nMels + 2] = z / n;
      O[o + 2 * nMels + 3] = flux;
    }
  } finally {
    for (const b of bufs) b.release();
  }
}

/**
 * Install the meter kernels in the package (aimixer_dsp.backend.set_kernel); `spectrumInto` is
 * kernels.js's FFT (passed in: the bundle's hashed modules cannot import each other in a cycle).
 * @param {{set_kernel: (name: string, fn: Function) => void}} backend
 * @param {(x: Float64Array, w: Float64Array, squared: boolean, out: Float64Array) => void} spectrumInto
 */
export function installMetersKernels(backend, spectrumInto) {
  backend.set_kernel("meter", meterKernel);
  backend.set_kernel("mono", monoKernel);
  backend.set_kernel("genrerows", (mono, count, hop, sampleRate, window, bands, weights, out) =>
    genreRowsKernel(mono, count, hop, sampleRate, window, bands, weights, out, spectrumInto),
  );
}
