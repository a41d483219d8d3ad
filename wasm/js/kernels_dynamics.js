// JavaScript kernels of the dynamics stages (gate, compressor, the compressor fused with the
// 3-section EQ, limiter): the per-sample recursions of aimixer_dsp.processors.{gate,compressor,
// limiter}, run natively behind the same Python functions (aimixer_dsp.backend.KERNEL_NAMES).
// Also the true-peak normaliser's limiter after its row peaks (tplimit: aimixer_dsp.loudnorm).
// Installed by kernels.js's installKernels.
//
// Each kernel does the same operations in the same order as its Python loop, on planar blocks of
// `ch` channels (channel c at [c * n, (c + 1) * n)): the detector reads the linked level
// max_c |x_c[i]| and every channel gets the same gain, so one call processes a whole block of a
// multichannel file (the render's ChannelChain) and ch = 1 is the mono pure path itself. Results
// equal the Python loops bit for bit in mono, except where a loop calls exp/log: JavaScript's
// Math.exp/Math.log (V8's fdlibm port) may differ from the C library's by an ulp, which moves
// results by ~1e-16 relative. With ch > 1 the gain is applied as x_c * g instead of x_c * (m g / m)
// (one rounding less). The Python twins are in tests/wasm/processors/test_dynamics_kernels.py.
//
// Each kernel takes ONE array('d') (a PyProxy, used in place through one getBuffer: the buffer
// request costs about as much as a whole frame's loop, so parameters, state and samples travel
// together)
// and plain numbers: `buf = [constants, state, (more state), x]`, the output overwrites x.

/** Work buffers reused from call to call (below 2**18 values; larger ones are allocated). */
const work = new Map();

/**
 * A Float64Array (or Int32Array with `int`) of exactly n values named `key`, reused: its values
 * are stale, every loop below writes a value before it reads it.
 * @param {string} key
 * @param {number} n
 * @param {boolean} [int]
 * @returns {any}
 */
function scratch(key, n, int = false) {
  if (n > 1 << 18) return int ? new Int32Array(n) : new Float64Array(n);
  let a = work.get(key);
  if (a === undefined || a.length < n) {
    a = int ? new Int32Array(Math.max(n, 4096)) : new Float64Array(Math.max(n, 4096));
    work.set(key, a);
  }
  return a.subarray(0, n);
}

function inPlace(buf, fn) {
  const b = buf.getBuffer("f64");
  try {
    fn(b.data);
  } finally {
    b.release();
  }
}

/** The linked level max_c |x_c[i]| of planar data at `off` (ch channels of n samples). */
function level(d, off, n, ch, i) {
  let a = d[off + i] < 0 ? -d[off + i] : d[off + i];
  for (let c = 1; c < ch; c++) {
    const v = d[off + c * n + i];
    const b = v < 0 ? -v : v;
    if (b > a) a = b;
  }
  return a;
}

/**
 * processors.gate.NoiseGate._py: `buf = [thr, hold, floor, aR, aA, since, y1, g, x...]`; state
 * (since, y1, g) updated (the Python side snaps y1 and g); x_c[i] *= g[i].
 */
export function gateKernel(buf, ch) {
  inPlace(buf, (d) => {
    const [thr, hold, floor, aR, aA] = d;
    const bA = 1.0 - aA;
    const closed = hold + 1;
    let since = d[5];
    let y1 = d[6];
    let g = d[7];
    const off = 8;
    const n = (d.length - off) / ch;
    for (let i = 0; i < n; i++) {
      const v = level(d, off, n, ch, i);
      if (v >= thr) {
        since = 0;
        y1 = 1.0;
      } else if (since < hold) {
        since += 1;
        y1 = 1.0;
      } else {
        since = closed;
        y1 = aR * y1;
        if (y1 < floor) y1 = floor;
      }
      g = aA * g + bA * y1;
      for (let c = 0; c < ch; c++) d[off + c * n + i] *= g;
    }
    d[5] = since;
    d[6] = y1;
    d[7] = g;
  });
}

/**
 * processors.compressor's loop in gain nepers (Compressor._py / _comp_eq3_loop):
 * `buf = [ns, c1, lhi, llo, nk, aR, aA, lo, mk, W, G, (eq), x...]` (ns, c1, nk pre-scaled by
 * 1 - aA as in Python; W, G updated). Without eq: x_c[i] = x_c[i] * e**G[i] (then * mk when
 * mk != 1). With `eq` true (mono only), 19 values follow G: the EQ's 12 coefficients, its 6
 * states (updated) and its output gain: the fused loop, x0 = e**G * v through the three normalised
 * sections, x[i] = gain * w (mk is folded into the EQ by Python).
 * The Python loop skips the log of samples that cannot raise the reduction (a level test per run
 * of 64 samples); here every sample above `lo` (where the static curve starts) takes the log: the
 * same values, since a skipped sample changes nothing.
 */
export function compressorKernel(buf, ch, eq) {
  inPlace(buf, (d) => {
    const [ns, c1, lhi, llo, nk, aR, aA, lo, mk] = d;
    let W = d[9];
    let G = d[10];
    if (eq) {
      const off = 30;
      const n = d.length - off;
      const [b1, b2, a1, a2, c1_, c2, d1, d2, e1, e2, f1, f2] = d.subarray(11, 23);
      let [s1, s2, t1, t2, u1, u2] = d.subarray(23, 29);
      const gain = d[29];
      for (let i = 0; i < n; i++) {
        const v = d[off + i];
        W = aR * W;
        const a = v < 0 ? -v : v;
        if (a > lo) {
          const la = Math.log(a);
          if (la > lhi) {
            const gr = ns * la + c1;
            if (gr < W) W = gr;
          } else if (la > llo) {
            const dd = la - llo;
            const gr = nk * dd * dd;
            if (gr < W) W = gr;
          }
        }
        G = aA * G + W;
        const x0 = Math.exp(G) * v;
        const y = x0 + s1;
        s1 = b1 * x0 - a1 * y + s2;
        s2 = b2 * x0 - a2 * y;
        const z = y + t1;
        t1 = c1_ * y - d1 * z + t2;
        t2 = c2 * y - d2 * z;
        const w = z + u1;
        u1 = e1 * z - f1 * w + u2;
        u2 = e2 * z - f2 * w;
        d[off + i] = gain * w;
      }
      d[23] = s1;
      d[24] = s2;
      d[25] = t1;
      d[26] = t2;
      d[27] = u1;
      d[28] = u2;
    } else {
      const off = 11;
      const n = (d.length - off) / ch;
      for (let i = 0; i < n; i++) {
        const a = level(d, off, n, ch, i);
        W = aR * W;
        if (a > lo) {
          const la = Math.log(a);
          if (la > lhi) {
            const gr = ns * la + c1;
            if (gr < W) W = gr;
          } else if (la > llo) {
            const dd = la - llo;
            const gr = nk * dd * dd;
            if (gr < W) W = gr;
          }
        }
        G = aA * G + W;
        const e = Math.exp(G);
        if (mk !== 1.0) for (let c = 0; c < ch; c++) d[off + c * n + i] = d[off + c * n + i] * e * mk;
        else for (let c = 0; c < ch; c++) d[off + c * n + i] *= e;
      }
    }
    d[9] = W;
    d[10] = G;
  });
}

/**
 * processors.limiter.Limiter._py (sample-peak mode):
 * `buf = [L, M, c, aR, acc0, u, hist (M - 1), delay (ch x L planar), x (ch x n planar)]` with
 * acc0 = Python's sum of the history (its compensated sum), hist the last M - 1 reductions
 * (oldest first) and the delay lines' oldest samples first; u, hist and the delay lines (now
 * the block's last L samples) are updated; x becomes the output
 * x_c[i] = clip(delayed_c[i] * (1 - acc / M), +-c), delayed_c = (delay_c + x_c)[i].
 * The sliding minimum of the required gain runs in a monotonic deque seeded from the delay
 * lines, as in Python.
 */
export function limiterKernel(buf, ch) {
  inPlace(buf, (d) => limiterLoop(d, ch));
}

/** limiterKernel's loop on a Float64Array `d` (the same layout). */
function limiterLoop(d, ch) {
  const L = d[0] | 0;
  const M = d[1] | 0;
  const c = d[2];
  const aR = d[3];
  let acc = d[4];
  let u = d[5];
  const nc = -c;
  const hist = M - 1;
  const offH = 6;
  const offD = offH + hist;
  const offX = offD + ch * L;
  const n = ((d.length - offX) / ch) | 0; // an integer: typed-array indices stay integers
  const inv = 1.0 / M;
  const src = scratch("lim.src", d.length - offD); // delay lines + input, read while x is overwritten
  src.set(d.subarray(offD, d.length));
  const qp = scratch("lim.qp", n + L + 1, true);
  const qv = scratch("lim.qv", n + L + 1);
  let len = 0;
  let head = 0;
  for (let j = 0; j < L; j++) {
    const a = level(src, 0, L, ch, j);
    if (a > c) {
      const r = c / a;
      while (len > 0 && qv[len - 1] >= r) len--;
      qp[len] = j - L;
      qv[len] = r;
      len++;
    }
  }
  const uall = scratch("lim.uall", hist + n);
  uall.set(d.subarray(offH, offH + hist));
  const xs = ch * L; // the block's offset in src
  for (let i = 0; i < n; i++) {
    const a = level(src, xs, n, ch, i);
    if (a > c) {
      const r = c / a;
      while (len > head && qv[len - 1] >= r) len--;
      qp[len] = i;
      qv[len] = r;
      len++;
    }
    let w;
    if (len > head) {
      if (qp[head] < i - L) head++;
      w = len > head ? 1.0 - qv[head] : 0.0;
    } else {
      w = 0.0;
    }
    u = aR * u;
    if (w > u) u = w;
    uall[hist + i] = u;
    acc += u;
    const gn = 1.0 - acc * inv;
    acc -= uall[i];
    for (let k = 0; k < ch; k++) {
      const xv = i < L ? src[k * L + i] : src[xs + k * n + i - L];
      let y = xv * gn;
      if (y > c) y = c;
      else if (y < nc) y = nc;
      d[offX + k * n + i] = y;
    }
  }
  for (let k = 0; k < ch; k++) {
    for (let j = 0; j < L; j++) {
      const t = n - L + j; // index into the block (negative: still in the old delay line)
      d[offD + k * L + j] = t >= 0 ? src[xs + k * n + t] : src[k * L + L + t];
    }
  }
  d.set(uall.subarray(n, n + hist), offH);
  d[5] = u;
}

/** Install the dynamics kernels in the package (aimixer_dsp.backend.set_kernel). */
export function installDynamicsKernels(backend) {
  backend.set_kernel("gate", gateKernel);
  backend.set_kernel("compressor", compressorKernel);
  backend.set_kernel("limiter", limiterKernel);
}

/**
 * loudnorm.Normalizer._planar after its `tprows` calls: the linked true-peak limiter. `buf = [ha
 * (A), hr (T), hx (ch x T), L, M, c, aR, acc, u, hist (M - 1), core delay (L), de (L), dx (ch x L),
 * wide rows (ch x n), annex rows (ch x n), x (ch x n)]`. The detector envelope: with ra = ha +
 * max_c annex_c, rs = hr + max(max_c wide_c, ra[:n]) and xs_c = hx_c + x_c, env[i] =
 * max(max_c |xs_c[i]|, max(rs[i + 1 .. i + T])) (only max and abs: exact); the core sample-peak
 * limiter (limiterLoop, mono) on env gives ye; es = de + env, xx_c = dx_c + xs_c[:n] and the
 * output x_c[i] = xx_c[i] * (es[i] > 0 ? ye[i] / es[i] : 0). Every history becomes its tail
 * (ha = ra[n:], hr = rs[n:], hx_c = xs_c[n:], de = es[n:], dx_c = xx_c[n:]; the core's u, hist
 * and delay as limiterKernel's).
 */
export function tplimitKernel(buf, ch, A, T) {
  inPlace(buf, (d) => tplimitLoop(d, ch, A, T));
}

/** tplimitKernel's work on a Float64Array `d` (the same layout; also kernels_loudnorm.js's "normalize"). */
export function tplimitLoop(d, ch, A, T) {
  const offR = A;
  const offH = offR + T;
  const offK = offH + ch * T;
  const L = d[offK] | 0;
  const M = d[offK + 1] | 0;
  const offE = offK + 6 + (M - 1) + L;
  const offDX = offE + L;
  const offW = offDX + ch * L;
  const n = ((d.length - offW) / (3 * ch)) | 0;
  const offA = offW + ch * n;
  const offX = offA + ch * n;
  // ra = ha + max_c annex_c (A + n), rs = hr + rows (T + n)
  const ra = scratch("tp.ra", A + n);
  ra.set(d.subarray(0, A));
  const rs = scratch("tp.rs", T + n);
  rs.set(d.subarray(offR, offR + T));
  rowMaxima(d, offW, offA, n, ch, ra, A, rs, T);
  // xs_c = hx_c + x_c: the delayed channels and their linked level
  const xs = scratch("tp.xs", ch * (T + n));
  for (let c = 0; c < ch; c++) {
    xs.set(d.subarray(offH + c * T, offH + (c + 1) * T), c * (T + n));
    xs.set(d.subarray(offX + c * n, offX + (c + 1) * n), c * (T + n) + T);
  }
  // the core's buffer: its constants and state, then env[i] = max(level, max(rs[i + 1 .. i + T]))
  // (a monotonic deque of the window maxima)
  const core = scratch("tp.core", offE - offK + n);
  core.set(d.subarray(offK, offE));
  const offEnv = offE - offK;
  const qp = scratch("tp.qp", T + n, true);
  envelope(rs, T, xs, n, ch, qp, core, offEnv);
  const env = scratch("tp.env", n);
  env.set(core.subarray(offEnv, offEnv + n));
  limiterLoop(core, 1); // ye overwrites env in core
  d.set(core.subarray(0, offEnv), offK);
  // es = de + env, xx_c = dx_c + xs_c[:n]; the output and the new delay lines
  const es = scratch("tp.es", L + n);
  es.set(d.subarray(offE, offE + L));
  es.set(env, L);
  const xx = scratch("tp.xx", ch * (L + n));
  for (let c = 0; c < ch; c++) {
    xx.set(d.subarray(offDX + c * L, offDX + (c + 1) * L), c * (L + n));
    xx.set(xs.subarray(c * (T + n), c * (T + n) + n), c * (L + n) + L);
  }
  applyGains(d, offX, n, ch, es, core, offEnv, xx, L);
  for (let c = 0; c < ch; c++) {
    const base = c * (T + n);
    d.set(xs.subarray(base + n, base + n + T), offH + c * T);
    d.set(xx.subarray(c * (L + n) + n, (c + 1) * (L + n)), offDX + c * L);
  }
  d.set(es.subarray(n, n + L), offE);
  d.set(ra.subarray(n, n + A), 0);
  d.set(rs.subarray(n, n + T), offR);
}

// tplimitLoop's loops, each its own function (V8 optimises them one by one in the first call)

/** ra[A + i] = max_c annex_c[i], rs[T + i] = max(ra[i], max_c wide_c[i]) (the first kept on ties). */
function rowMaxima(d, offW, offA, n, ch, ra, A, rs, T) {
  for (let i = 0; i < n; i++) {
    let w = d[offW + i];
    let a = d[offA + i];
    for (let c = 1; c < ch; c++) {
      const wv = d[offW + c * n + i];
      if (wv > w) w = wv;
      const av = d[offA + c * n + i];
      if (av > a) a = av;
    }
    ra[A + i] = a;
    const r = ra[i];
    rs[T + i] = r > w ? r : w;
  }
}

/** core[offEnv + i] = max(max_c |xs_c[i]|, max(rs[i + 1 .. i + T])) (a monotonic deque in qp). */
function envelope(rs, T, xs, n, ch, qp, core, offEnv) {
  let head = 0;
  let len = 0;
  for (let j = 1; j < T; j++) {
    while (len > head && rs[qp[len - 1]] <= rs[j]) len--;
    qp[len++] = j;
  }
  for (let i = 0; i < n; i++) {
    const j = i + T;
    while (len > head && rs[qp[len - 1]] <= rs[j]) len--;
    qp[len++] = j;
    if (qp[head] <= i) head++;
    let e = xs[i] < 0 ? -xs[i] : xs[i];
    for (let c = 1; c < ch; c++) {
      const v = xs[c * (T + n) + i];
      const b = v < 0 ? -v : v;
      if (b > e) e = b;
    }
    const m = rs[qp[head]];
    core[offEnv + i] = m > e ? m : e;
  }
}

/** The output x_c[i] = xx_c[i] * (es[i] > 0 ? ye[i] / es[i] : 0), ye at core[offEnv ..]. */
function applyGains(d, offX, n, ch, es, core, offEnv, xx, L) {
  for (let i = 0; i < n; i++) {
    const ev = es[i];
    const g = ev > 0.0 ? core[offEnv + i] / ev : 0.0;
    for (let c = 0; c < ch; c++) d[offX + c * n + i] = xx[c * (L + n) + i] * g;
  }
}
