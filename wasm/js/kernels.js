// JavaScript kernels that the Python package calls in WebAssembly where the interpreter is
// slowest, behind the same Python functions (CPython keeps its own code; results agree within
// float rounding). Installed by the engine after the package phase.
//
// The kernels and their Python twins are listed in aimixer_dsp.backend.KERNEL_NAMES:
// spectrum (an FFT: equal up to float rounding), stft (the feature analysis' per-frame work for
// all frames in one call: equal up to float rounding), kfilter and cascade (the same arithmetic in
// the same order as the Python loops: bit-identical). The arguments are Python array('d') objects;
// their buffers are used in place (no copies).

import { cascadeInto, installChainKernels } from "./kernels_chain.js";
import { installDynamicsKernels, tplimitKernel } from "./kernels_dynamics.js";
import { installMetersKernels, kweightInto } from "./kernels_meters.js";
import { installLoudnormKernels, rowPeaks } from "./kernels_loudnorm.js";

const plans = new Map();

/** Bit-reversal permutation and twiddles of an n-point complex FFT (radix 2), cached per n. */
function plan(n) {
  let p = plans.get(n);
  if (p) return p;
  const bits = Math.round(Math.log2(n));
  const rev = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
    rev[i] = r;
  }
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let k = 0; k < n / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = -Math.sin((2 * Math.PI * k) / n);
  }
  p = { rev, cos, sin, re: new Float64Array(n), im: new Float64Array(n) };
  plans.set(n, p);
  return p;
}

/** |FFT(x * w)| (or squared) for k = 0 .. n/2 of Float64Arrays x, w into out. */
export function spectrumInto(x, w, squared, out) {
  const n = x.length;
  const { rev, cos, sin, re, im } = plan(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i];
    re[j] = x[i] * w[i];
    im[j] = 0;
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const c = cos[k * step];
        const s = sin[k * step];
        const a = start + k;
        const b = a + half;
        const tr = re[b] * c - im[b] * s;
        const ti = re[b] * s + im[b] * c;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
  const nb = n / 2 + 1;
  for (let k = 0; k < nb; k++) {
    const m2 = re[k] * re[k] + im[k] * im[k];
    out[k] = squared ? m2 : Math.sqrt(m2);
  }
}

/** The Python-callable kernel: arguments are PyProxies of array('d'). */
export function spectrumKernel(frame, window, squared, out) {
  const bf = frame.getBuffer("f64");
  const bw = window.getBuffer("f64");
  const bo = out.getBuffer("f64");
  try {
    spectrumInto(bf.data, bw.data, !!squared, bo.data);
  } finally {
    bf.release();
    bw.release();
    bo.release();
  }
}

const rplans = new Map();

/**
 * Tables of an n-point real FFT done as an h = n/2-point complex FFT (radix 2, cached per n):
 * the bit reversal of h, the complex FFT's twiddles exp(-2 pi i k / h) and the split's
 * exp(-2 pi i k / n), plus scratch buffers.
 */
function rplan(n) {
  let p = rplans.get(n);
  if (p) return p;
  const h = n >> 1;
  const bits = Math.round(Math.log2(h));
  const rev = new Uint32Array(h);
  for (let i = 0; i < h; i++) {
    let r = 0;
    for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
    rev[i] = r;
  }
  const cos = new Float64Array(h >> 1);
  const sin = new Float64Array(h >> 1);
  for (let k = 0; k < h >> 1; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / h);
    sin[k] = Math.sin((2 * Math.PI * k) / h);
  }
  const rc = new Float64Array(h + 1);
  const rs = new Float64Array(h + 1);
  for (let k = 0; k <= h; k++) {
    rc[k] = Math.cos((2 * Math.PI * k) / n);
    rs[k] = Math.sin((2 * Math.PI * k) / n);
  }
  p = {
    h, rev, cos, sin, rc, rs,
    re: new Float64Array(h), im: new Float64Array(h),
    pow: new Float64Array(h + 1), mag: new Float64Array(h + 1), prev: new Float64Array(h + 1),
  };
  rplans.set(n, p);
  return p;
}

/**
 * |X_k|^2, k = 0 .. n/2, of X = FFT(x[s .. s + n) * w) into p.pow: the even samples are the real
 * part and the odd ones the imaginary part of an n/2-point complex FFT Z, and
 * X[k] = E + exp(-2 pi i k / n) O with E = (Z[k] + conj(Z[h - k])) / 2, O = -i (Z[k] - conj(Z[h - k])) / 2.
 */
function powerSpectrum(p, x, s, w) {
  const { h, rev, cos, sin, rc, rs, re, im, pow } = p;
  for (let m = 0; m < h; m++) {
    const j = rev[m];
    re[j] = x[s + 2 * m] * w[2 * m];
    im[j] = x[s + 2 * m + 1] * w[2 * m + 1];
  }
  for (let size = 2; size <= h; size <<= 1) {
    const half = size >> 1;
    const step = h / size;
    for (let start = 0; start < h; start += size) {
      for (let k = 0, t = 0; k < half; k++, t += step) {
        const c = cos[t];
        const sn = sin[t];
        const a = start + k;
        const b = a + half;
        // (re + i im) * (c - i sn)
        const tr = re[b] * c + im[b] * sn;
        const ti = im[b] * c - re[b] * sn;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
  for (let k = 0; k <= h; k++) {
    const a = k === h ? 0 : k;
    const b = k === 0 ? 0 : h - k;
    const ar = re[a];
    const ai = im[a];
    const br = re[b];
    const bi = -im[b];
    const er = 0.5 * (ar + br);
    const ei = 0.5 * (ai + bi);
    const or = 0.5 * (ai - bi);
    const oi = -0.5 * (ar - br);
    // (or + i oi) * (rc - i rs)
    const xr = er + or * rc[k] + oi * rs[k];
    const xi = ei + oi * rc[k] - or * rs[k];
    pow[k] = xr * xr + xi * xi;
  }
}

/**
 * features._analyze_pure's per-frame work for all frames in one call (kernel "stft"): for frame t
 * (samples x[t hop .. t hop + n), n = w.length) the mel energies sum_k |X_k|^2 weights into
 * melOut[t nMels + b] (bands = (first bin, count) per filter, weights concatenated), and when
 * framesOut is not empty its centroid (Hz), 85 % rolloff (Hz), flux and zero-crossing rate into
 * framesOut[4 t .. 4 t + 4).
 */
export function stftInto(x, w, hop, sampleRate, nFrames, bands, weights, melOut, framesOut) {
  const n = w.length;
  const p = rplan(n);
  const { h, pow, mag } = p;
  let prev = p.prev;
  let cur = mag;
  const nb = h + 1;
  const nMels = bands.length >> 1;
  const wantMel = melOut.length > 0;
  const wantFrames = framesOut.length > 0;
  for (let t = 0; t < nFrames; t++) {
    const s = t * hop;
    powerSpectrum(p, x, s, w);
    if (wantMel) {
      for (let b = 0, off = 0; b < nMels; b++) {
        const first = bands[2 * b];
        const cnt = bands[2 * b + 1];
        let acc = 0.0;
        for (let j = 0; j < cnt; j++) acc += pow[first + j] * weights[off + j];
        off += cnt;
        melOut[t * nMels + b] = acc;
      }
    }
    if (wantFrames) {
      let total = 0.0;
      let fsum = 0.0;
      for (let k = 0; k < nb; k++) {
        const m = Math.sqrt(pow[k]);
        cur[k] = m;
        total += m;
        fsum += ((k * sampleRate) / n) * m;
      }
      let centroid = 0.0;
      let rolloff = 0.0;
      if (total > 0.0) {
        centroid = fsum / total;
        const thr = 0.85 * total;
        let cum = 0.0;
        let k = 0;
        for (; k < nb; k++) {
          cum += cur[k];
          if (cum >= thr) break;
        }
        rolloff = (Math.min(k, nb - 1) * sampleRate) / n;
      }
      let flux = 0.0;
      if (t > 0) {
        for (let k = 0; k < nb; k++) {
          const d = cur[k] - prev[k];
          flux += d * d;
        }
        flux = Math.sqrt(flux);
      }
      let z = 0;
      for (let j = s + 1; j < s + n; j++) if (x[j] < 0 !== x[j - 1] < 0) z++;
      const o = 4 * t;
      framesOut[o] = centroid;
      framesOut[o + 1] = rolloff;
      framesOut[o + 2] = flux;
      framesOut[o + 3] = z / n;
      const tmp = prev;
      prev = cur;
      cur = tmp;
    }
  }
}

/** The Python-callable "stft" kernel: the buffers are PyProxies of array('d'). */
export function stftKernel(x, window, hop, sampleRate, nFrames, bands, weights, melOut, framesOut) {
  const bufs = [x, window, bands, weights, melOut, framesOut].map((a) => a.getBuffer("f64"));
  try {
    const [bx, bw, bb, bwt, bm, bf] = bufs.map((b) => b.data);
    stftInto(bx, bw, Number(hop), Number(sampleRate), Number(nFrames), bb, bwt, bm, bf);
  } finally {
    for (const b of bufs) b.release();
  }
}

/** meters._kfilter_loop: K-weighting (two normalised TDF-II biquads) and the sum of squares. */
export function kfilterKernel(x, params, out) {
  const bx = x.getBuffer("f64");
  const bp = params.getBuffer("f64");
  const bo = out.getBuffer("f64");
  try {
    const d = bx.data;
    let [s1, s2, s3, s4, q1, q2, a1, a2, d1, d2] = bp.data;
    let acc = 0.0;
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      const y = v + s1;
      s1 = q1 * v - a1 * y + s2;
      s2 = q2 * v - a2 * y;
      const z = y + s3;
      s3 = s4 - 2.0 * y - d1 * z;
      s4 = y - d2 * z;
      acc += z * z;
    }
    const o = bo.data;
    o[0] = acc;
    o[1] = s1;
    o[2] = s2;
    o[3] = s3;
    o[4] = s4;
  } finally {
    bx.release();
    bp.release();
    bo.release();
  }
}

/** processors.eq's normalised sections: per section y = u + s1, s1 = b1 u - a1 y + s2, s2 = b2 u - a2 y. */
export function cascadeKernel(x, coeffs, states, gain, out) {
  const bx = x.getBuffer("f64");
  const bc = coeffs.getBuffer("f64");
  const bs = states.getBuffer("f64");
  const bo = out.getBuffer("f64");
  try {
    cascadeInto(bx.data, 0, bo.data, 0, bx.data.length, bc.data, bs.data, gain);
  } finally {
    bx.release();
    bc.release();
    bs.release();
    bo.release();
  }
}

/** @type {Float64Array} the "truepeak" kernel's rows */
let tpRows = new Float64Array(0);

/**
 * truepeak.TruePeakMeter's reading of a block (kernel "truepeak"), in one buffer
 * buf = (T, P, taps (P T), hist (T - 1), x (n)): buf[0] = max(sample peak of x, max_t max_p
 * |sum_j taps[p T + j] hist_x[t - j]|), the second term only when max |hist + x| > 1e-280, as
 * TruePeakMeter._channel_pure takes it (the sample peak as Python's max/min find it). The FIR is
 * kernels_loudnorm.js's rowPeaks (WebAssembly SIMD where the host has it): each sum the same
 * operations in the same order as the "tprows" loop, so the reading is the one the former
 * per-sample JavaScript loop gave, bit for bit. Only buf[0] (and the hist slots) are written.
 * @param {any} buffer
 */
export function truepeakKernel(buffer) {
  const bb = buffer.getBuffer("f64");
  try {
    const b = bb.data;
    const T = b[0];
    const P = b[1];
    const h = 2 + P * T;
    const xo = h + T - 1;
    const n = b.length - xo;
    let sp = b[xo];
    let sn = b[xo];
    for (let i = xo + 1; i < b.length; i++) {
      const v = b[i];
      if (v > sp) sp = v;
      if (v < sn) sn = v;
    }
    sn = -sn;
    let peak = sp > sn ? sp : sn;
    if (tpRows.length < n) tpRows = new Float64Array(n);
    rowPeaks(b, h, b, xo, n, b.subarray(2, h), T, tpRows, 0); // zeros when max |hist + x| <= 1e-280
    let ip = 0.0;
    for (let i = 0; i < n; i++) if (tpRows[i] > ip) ip = tpRows[i];
    if (ip > peak) peak = ip;
    b[0] = peak;
  } finally {
    bb.release();
  }
}

/**
 * meters._kweight_py (kernel "kweight"): K-weighted, channel-weighted squares of a planar block,
 * and the exact-maximum windows (LoudnessMeter(exact_max=True)), in one buffer:
 * buf = (ch, n, tl, loM, hiM, winM, loS, hiS, winS, maxM, maxS, b0, b1, b2, a1, a2, d1, d2,
 * weights (ch), states (4 ch), tail (tl), x (ch n)). sq[i] = sum_c w_c z_c[i]^2 (the channels in
 * order, zero weights skipped) overwrites x[0 .. n); the states are updated; with c the running
 * sum over ext = tail + sq (c[0] = 0), maxM = max_{loM <= e <= hiM} c[e] - c[e - winM] (the same
 * for S) when loM <= hiM, else -1.
 */
let kwScratch = new Float64Array(0);
export function kweightKernel(buffer) {
  const bb = buffer.getBuffer("f64");
  try {
    const b = bb.data;
    const ch = b[0];
    const n = b[1];
    const tl = b[2];
    const wOff = 18;
    const sOff = wOff + ch;
    const tOff = sOff + 4 * ch;
    const xOff = tOff + tl;
    if (kwScratch.length < n) kwScratch = new Float64Array(n);
    const sq = kwScratch;
    sq.fill(0.0, 0, n);
    for (let c = 0; c < ch; c++) kweightInto(b, xOff + c * n, n, b, 11, b, sOff + 4 * c, b[wOff + c], sq, 0);
    for (let i = 0; i < n; i++) b[xOff + i] = sq[i];
    // ext = b[tOff .. xOff + n): the tail then the new squares, contiguous
    for (const [lo, hi, win, at] of [[b[3], b[4], b[5], 9], [b[6], b[7], b[8], 10]]) {
      if (!(lo <= hi)) {
        b[at] = -1.0;
        continue;
      }
      // c[e] = ext[0] + ... + ext[e - 1], accumulated in order as itertools.accumulate does
      let c = 0.0;
      let cw = 0.0; // c[e - win]
      let e = 0;
      for (; e < lo - win; e++) cw += b[tOff + e];
      c = cw;
      for (let k = e; k < lo; k++) c += b[tOff + k];
      let best = c - cw;
      for (let k = lo; k < hi; k++) {
        c += b[tOff + k];
        cw += b[tOff + k - win];
        const v = c - cw;
        if (v > best) best = v;
      }
      b[at] = best;
    }
  } finally {
    bb.release();
  }
}

/**
 * truepeak.TruePeakMeter.row_peaks (kernel "tprows"): for t = T - 1 .. len(buf) - 1,
 * buf[t - T + 1] = max_p |sum_j taps[p T + j] buf[t - j]| (in place: each value is written after
 * the last read of its slot).
 */
export function tprowsKernel(buffer, taps, T) {
  const bb = buffer.getBuffer("f64");
  const bt = taps.getBuffer("f64");
  try {
    const x = bb.data;
    const g = bt.data;
    const nt = Number(T);
    const P = g.length / nt;
    for (let t = nt - 1; t < x.length; t++) {
      let hi = 0.0;
      for (let p = 0; p < P; p++) {
        const o = p * nt;
        let acc = 0.0;
        for (let j = 0; j < nt; j++) acc += g[o + j] * x[t - j];
        const a = acc < 0 ? -acc : acc;
        if (a > hi) hi = a;
      }
      x[t - nt + 1] = hi;
    }
  } finally {
    bb.release();
    bt.release();
  }
}

/** Install the kernels in the package (aimixer_dsp.backend.set_kernel). */
export function installKernels(backend) {
  backend.set_kernel("spectrum", spectrumKernel);
  backend.set_kernel("stft", stftKernel);
  backend.set_kernel("kfilter", kfilterKernel);
  backend.set_kernel("cascade", cascadeKernel);
  backend.set_kernel("truepeak", truepeakKernel);
  backend.set_kernel("kweight", kweightKernel);
  backend.set_kernel("tprows", tprowsKernel);
  installDynamicsKernels(backend); // gate, compressor, limiter (kernels_dynamics.js)
  backend.set_kernel("tplimit", tplimitKernel); // kernels_dynamics.js
  installChainKernels(backend); // finite, scale, eqblock, peaks (kernels_chain.js)
  installMetersKernels(backend, spectrumInto); // meter, mono, genrerows (kernels_meters.js)
  installLoudnormKernels(backend); // normanalysis, normalize (kernels_loudnorm.js)
}
