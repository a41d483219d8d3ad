// JavaScript kernels of the dynamics stages (gate, compressor, the compressor fused with the
// 3-section EQ, limiter): the per-sample recursions of aimixer_dsp.processors.{gate,compressor,
// limiter}, run natively behind the same Python functions (aimixer_dsp.backend.KERNEL_NAMES).
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
// Arguments are PyProxies of array('d') (used in place through getBuffer) and numbers.

function withBuffers(arrays, fn) {
  const bufs = arrays.map((a) => (a === null || a === undefined ? null : a.getBuffer("f64")));
  try {
    return fn(...bufs.map((b) => (b ? b.data : null)));
  } finally {
    for (const b of bufs) if (b) b.release();
  }
}

/**
 * processors.gate.NoiseGate._py: `p = (thr, hold, floor, aR, aA)`, `st = (since, y1, g)`
 * (updated; the Python side snaps y1 and g). out_c[i] = x_c[i] * g[i].
 */
export function gateKernel(x, ch, p, st, out) {
  withBuffers([x, p, st, out], (xd, pd, sd, od) => {
    const [thr, hold, floor, aR, aA] = pd;
    const bA = 1.0 - aA;
    const closed = hold + 1;
    let [since, y1, g] = sd;
    const n = xd.length / ch;
    for (let i = 0; i < n; i++) {
      let v = xd[i] < 0 ? -xd[i] : xd[i];
      for (let c = 1; c < ch; c++) {
        const a = xd[c * n + i] < 0 ? -xd[c * n + i] : xd[c * n + i];
        if (a > v) v = a;
      }
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
      for (let c = 0; c < ch; c++) od[c * n + i] = xd[c * n + i] * g;
    }
    sd[0] = since;
    sd[1] = y1;
    sd[2] = g;
  });
}

/**
 * processors.compressor's loop in gain nepers (Compressor._py / _comp_eq3_loop):
 * `p = (ns, c1, lhi, llo, nk, aR, aA, lo, mk)` (ns, c1, nk pre-scaled by 1 - aA as in Python),
 * `st = (W, G)` (updated). Without `eq`: out_c[i] = x_c[i] * e**G[i] (then * mk when mk != 1).
 * With `eq` (mono only; 12 coefficients, 6 states (updated), the output gain): the fused loop,
 * x = e**G * v through the three normalised sections, out = gain * w; mk is folded in by Python.
 * The Python loop skips the log of samples that cannot raise the reduction (a level test per run
 * of 64 samples); here every sample above `lo` (where the static curve starts) takes the log: the
 * same values, since a skipped sample changes nothing.
 */
export function compressorKernel(x, ch, p, st, eq, out) {
  withBuffers([x, p, st, eq, out], (xd, pd, sd, ed, od) => {
    const [ns, c1, lhi, llo, nk, aR, aA, lo, mk] = pd;
    const E = Math.E;
    let [W, G] = sd;
    const n = xd.length / ch;
    if (ed) {
      const [b1, b2, a1, a2, c1_, c2, d1, d2, e1, e2, f1, f2] = ed;
      let [s1, s2, t1, t2, u1, u2] = ed.subarray(12, 18);
      const gain = ed[18];
      for (let i = 0; i < n; i++) {
        const v = xd[i];
        W = aR * W;
        const a = v < 0 ? -v : v;
        if (a > lo) {
          const la = Math.log(a);
          if (la > lhi) {
            const gr = ns * la + c1;
            if (gr < W) W = gr;
          } else if (la > llo) {
            const d = la - llo;
            const gr = nk * d * d;
            if (gr < W) W = gr;
          }
        }
        G = aA * G + W;
        const x0 = E ** G * v;
        const y = x0 + s1;
        s1 = b1 * x0 - a1 * y + s2;
        s2 = b2 * x0 - a2 * y;
        const z = y + t1;
        t1 = c1_ * y - d1 * z + t2;
        t2 = c2 * y - d2 * z;
        const w = z + u1;
        u1 = e1 * z - f1 * w + u2;
        u2 = e2 * z - f2 * w;
        od[i] = gain * w;
      }
      ed[12] = s1;
      ed[13] = s2;
      ed[14] = t1;
      ed[15] = t2;
      ed[16] = u1;
      ed[17] = u2;
    } else {
      for (let i = 0; i < n; i++) {
        let a = xd[i] < 0 ? -xd[i] : xd[i];
        for (let c = 1; c < ch; c++) {
          const b = xd[c * n + i] < 0 ? -xd[c * n + i] : xd[c * n + i];
          if (b > a) a = b;
        }
        W = aR * W;
        if (a > lo) {
          const la = Math.log(a);
          if (la > lhi) {
            const gr = ns * la + c1;
            if (gr < W) W = gr;
          } else if (la > llo) {
            const d = la - llo;
            const gr = nk * d * d;
            if (gr < W) W = gr;
          }
        }
        G = aA * G + W;
        const e = E ** G;
        if (mk !== 1.0) for (let c = 0; c < ch; c++) od[c * n + i] = xd[c * n + i] * e * mk;
        else for (let c = 0; c < ch; c++) od[c * n + i] = xd[c * n + i] * e;
      }
    }
    sd[0] = W;
    sd[1] = G;
  });
}

/**
 * processors.limiter.Limiter._py (sample-peak mode): `x` the block (planar, ch channels, n
 * frames), `dl` the delay lines (planar, ch x L, oldest first; updated to the block's last L
 * samples), `p = (L, M, c, aR, acc0)` (acc0 = Python's sum of the history), `uh` the last M - 1
 * reductions (oldest first; updated), `st = (u)` (updated). The sliding minimum of the required
 * gain runs in a monotonic deque seeded from the delay line, as in Python.
 * out_c[i] = clip(delayed_c[i] * (1 - acc / M), +-c).
 */
export function limiterKernel(x, ch, dl, p, uh, st, out) {
  withBuffers([x, dl, p, uh, st, out], (xd, dd, pd, hd, sd, od) => {
    const L = pd[0] | 0;
    const M = pd[1] | 0;
    const c = pd[2];
    const aR = pd[3];
    let acc = pd[4];
    const nc = -c;
    const n = xd.length / ch;
    const inv = 1.0 / M;
    const level = (arr, off, len, i) => {
      let a = arr[off + i] < 0 ? -arr[off + i] : arr[off + i];
      for (let k = 1; k < ch; k++) {
        const b = arr[k * len + off + i] < 0 ? -arr[k * len + off + i] : arr[k * len + off + i];
        if (b > a) a = b;
      }
      return a;
    };
    // the deque: positions and required gains
    const qp = new Int32Array(n + L + 1);
    const qv = new Float64Array(n + L + 1);
    let len = 0;
    let head = 0;
    for (let j = 0; j < L; j++) {
      const a = level(dd, 0, L, j);
      if (a > c) {
        const r = c / a;
        while (len > 0 && qv[len - 1] >= r) len--;
        qp[len] = j - L;
        qv[len] = r;
        len++;
      }
    }
    const hist = M - 1;
    const uall = new Float64Array(hist + n);
    uall.set(hd);
    let u = sd[0];
    for (let i = 0; i < n; i++) {
      const a = level(xd, 0, n, i);
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
        // the delayed sample: from the delay line for i < L, else from the block
        const xv = i < L ? dd[k * L + i] : xd[k * n + i - L];
        let y = xv * gn;
        if (y > c) y = c;
        else if (y < nc) y = nc;
        od[k * n + i] = y;
      }
    }
    // new delay lines: the last L samples of (delay line + block)
    for (let k = 0; k < ch; k++) {
      if (n >= L) {
        for (let j = 0; j < L; j++) dd[k * L + j] = xd[k * n + n - L + j];
      } else {
        dd.copyWithin(k * L, k * L + n, k * L + L);
        for (let j = 0; j < n; j++) dd[k * L + L - n + j] = xd[k * n + j];
      }
    }
    hd.set(uall.subarray(n, n + hist));
    sd[0] = u;
  });
}

/** Install the dynamics kernels in the package (aimixer_dsp.backend.set_kernel). */
export function installDynamicsKernels(backend) {
  backend.set_kernel("gate", gateKernel);
  backend.set_kernel("compressor", compressorKernel);
  backend.set_kernel("limiter", limiterKernel);
}
