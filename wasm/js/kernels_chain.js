// JavaScript kernels of the render's chain and job on planar blocks (aimixer_dsp.render:
// FileJob, ChannelChain): the finite-sample check of a block, the gain stage, the EQ's cascade on
// one channel of a planar block in place, and the peak scan of the mono chain's shortcuts.
// Installed by kernels.js's installKernels; names and contracts in aimixer_dsp.backend.KERNEL_NAMES.
//
// Every argument that holds samples is a Python array('d') (a PyProxy): its buffer is used in
// place through getBuffer("f64") (a view of the wasm heap, no copy) and released in `finally`.
// The kernels trust nothing they did not get from Python: offsets and lengths are checked against
// the buffer before the loop.

/**
 * @typedef {{getBuffer: (type: string) => {data: Float64Array, release: () => void}}} PyF64Array
 */

/**
 * @param {PyF64Array} arr
 * @param {(d: Float64Array) => any} fn
 */
function withData(arr, fn) {
  const b = arr.getBuffer("f64");
  try {
    return fn(b.data);
  } finally {
    b.release();
  }
}

/**
 * "finite": the index of the first NaN or +-Inf of the block, or -1 when every value is finite
 * (backend.check_list_finite's test, channel by channel in the planar order).
 * @param {PyF64Array} block
 * @returns {number}
 */
export function finiteKernel(block) {
  return withData(block, (d) => {
    for (let i = 0; i < d.length; i++) {
      // v - v is 0 for a finite v and NaN for NaN or +-Inf
      const v = d[i];
      if (v - v !== 0) return i;
    }
    return -1;
  });
}

/**
 * "scale": x[i] = x[i] * g in place (processors.gain.Gain._py, Compressor's makeup).
 * @param {PyF64Array} block
 * @param {number} g
 */
export function scaleKernel(block, g) {
  const gain = Number(g);
  withData(block, (d) => {
    for (let i = 0; i < d.length; i++) d[i] = d[i] * gain;
  });
}

/**
 * processors.eq's normalised sections on src[so .. so + n) into dst[dst0 .. dst0 + n) (the same
 * array and offset for in place): per section y = u + s1, s1 = b1 u - a1 y + s2, s2 = b2 u - a2 y
 * (`c` 4 and `st` 2 per section, 1..3 sections; the states are updated), output `g` times the
 * last section's. The Python loops' operations in the same order: bit-identical. Shared by the
 * "cascade" (kernels.js) and "eqblock" kernels.
 * @param {Float64Array} src
 * @param {number} so
 * @param {Float64Array} dst
 * @param {number} dst0
 * @param {number} n
 * @param {Float64Array} c
 * @param {Float64Array} st
 * @param {number} g
 */
export function cascadeInto(src, so, dst, dst0, n, c, st, g) {
  const ns = st.length / 2;
  if (ns === 3) {
    // the EQ's usual three sections, fused
    const [b1, b2, a1, a2, c1, c2, d1, d2, e1, e2, f1, f2] = c;
    let [s1, s2, t1, t2, u1, u2] = st;
    for (let i = 0; i < n; i++) {
      const x0 = src[so + i];
      const y = x0 + s1;
      s1 = b1 * x0 - a1 * y + s2;
      s2 = b2 * x0 - a2 * y;
      const z = y + t1;
      t1 = c1 * y - d1 * z + t2;
      t2 = c2 * y - d2 * z;
      const w = z + u1;
      u1 = e1 * z - f1 * w + u2;
      u2 = e2 * z - f2 * w;
      dst[dst0 + i] = g * w;
    }
    st[0] = s1;
    st[1] = s2;
    st[2] = t1;
    st[3] = t2;
    st[4] = u1;
    st[5] = u2;
    return;
  }
  if (src !== dst || so !== dst0) for (let i = 0; i < n; i++) dst[dst0 + i] = src[so + i];
  const end = dst0 + n;
  for (let k = 0; k < ns; k++) {
    const b1 = c[4 * k];
    const b2 = c[4 * k + 1];
    const a1 = c[4 * k + 2];
    const a2 = c[4 * k + 3];
    let s1 = st[2 * k];
    let s2 = st[2 * k + 1];
    for (let i = dst0; i < end; i++) {
      const u = dst[i];
      const y = u + s1;
      s1 = b1 * u - a1 * y + s2;
      s2 = b2 * u - a2 * y;
      dst[i] = y;
    }
    st[2 * k] = s1;
    st[2 * k + 1] = s2;
  }
  for (let i = dst0; i < end; i++) dst[i] = g * dst[i];
}

/**
 * "eqblock": the EQ's normalised sections (processors.eq._run_cascade: per section
 * y = u + s1, s1 = b1 u - a1 y + s2, s2 = b2 u - a2 y; then x = gain * y_last) on
 * block[off .. off + n) in place, `coeffs` 4 and `states` 2 per section (1..3 sections; the states
 * are updated). The same operations in the same order as the Python loops and the "cascade"
 * kernel: bit-identical.
 * @param {PyF64Array} block
 * @param {number} off
 * @param {number} n
 * @param {PyF64Array} coeffs
 * @param {PyF64Array} states
 * @param {number} gain
 */
export function eqblockKernel(block, off, n, coeffs, states, gain) {
  const o0 = Number(off);
  const len = Number(n);
  const g = Number(gain);
  const bc = coeffs.getBuffer("f64");
  const bs = states.getBuffer("f64");
  const bx = block.getBuffer("f64");
  try {
    const d = bx.data;
    const c = bc.data;
    const st = bs.data;
    const ns = st.length / 2;
    if (!(Number.isInteger(o0) && Number.isInteger(len) && o0 >= 0 && len >= 0 && o0 + len <= d.length)) {
      throw new RangeError(`eqblock: [${o0}, ${o0} + ${len}) is outside the block of ${d.length}`);
    }
    if (!(Number.isInteger(ns) && ns >= 1 && ns <= 3 && c.length === 4 * ns)) {
      throw new RangeError(`eqblock: ${c.length} coefficients and ${st.length} states`);
    }
    cascadeInto(d, o0, d, o0, len, c, st, g);
  } finally {
    bx.release();
    bc.release();
    bs.release();
  }
}

/**
 * "peaks": out = (max |x|, first i with |x[i]| >= thr, last such i) of a mono block (-1 for
 * none; max 0 for an empty block): the pass-through tests of the mono chain's gate, compressor
 * and limiter (their Python loops use max/min and a scan for the threshold).
 * @param {PyF64Array} block
 * @param {number} thr
 * @param {PyF64Array} out
 */
export function peaksKernel(block, thr, out) {
  const t = Number(thr);
  const bo = out.getBuffer("f64");
  const bx = block.getBuffer("f64");
  try {
    const d = bx.data;
    const o = bo.data;
    if (o.length < 3) throw new RangeError("peaks: out needs 3 values");
    let hi = 0.0;
    let first = -1;
    let last = -1;
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      const a = v < 0 ? -v : v;
      if (a > hi) hi = a;
      if (a >= t) {
        if (first < 0) first = i;
        last = i;
      }
    }
    o[0] = hi;
    o[1] = first;
    o[2] = last;
  } finally {
    bx.release();
    bo.release();
  }
}

/**
 * Install the chain kernels in the package (aimixer_dsp.backend.set_kernel).
 * @param {{set_kernel: (name: string, fn: Function) => void}} backend
 */
export function installChainKernels(backend) {
  backend.set_kernel("finite", finiteKernel);
  backend.set_kernel("scale", scaleKernel);
  backend.set_kernel("eqblock", eqblockKernel);
  backend.set_kernel("peaks", peaksKernel);
}
