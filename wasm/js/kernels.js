// JavaScript kernels that the Python package calls in WebAssembly where the interpreter is
// slowest, behind the same Python functions (CPython keeps its own code; results agree within
// float rounding). Installed by the engine after the package phase.
//
// spectrum(frame, window, squared, out): aimixer_dsp.features' spectrum kernel — the n-point
// real FFT of frame * window (n a power of two), |X_k| or |X_k|^2 for k = 0 .. n/2 into out.
// The arguments are Python array('d') objects; their buffers are used in place (no copies).

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
