// Python's exact float sums in JavaScript, for the kernels whose results must equal the Python
// list path's to the bit (kernels_meters.js, kernels_loudnorm.js): math.fsum (exact partials,
// correctly rounded), math.sumprod (the triple-length accumulation of CPython >= 3.12) and the
// built-in sum() of floats (Neumaier's compensated sum). The exact product error uses Dekker's
// split instead of an fma (the same value: the products here neither overflow nor underflow).
// tests/node/meters_rows.mjs checks each against Python's on hard inputs.

export const SPLIT = 134217729; // 2 ** 27 + 1 (Veltkamp's split of a double into two 26-bit halves)

/** The rounding error of p = fl(a b), exactly (Dekker's two-product). */
export function mulErr(a, b, p) {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/**
 * math.sumprod(x[xo .. xo + n), y[yo .. yo + n)) of floats, as CPython computes it: a
 * triple-length total (hi, lo, tiny) updated per product by error-free sums, rounded once.
 */
export function sumprod(x, xo, y, yo, n) {
  let hi = 0.0;
  let lo = 0.0;
  let tiny = 0.0;
  for (let i = 0; i < n; i++) {
    const a = x[xo + i];
    const b = y[yo + i];
    const p = a * b;
    const pl = mulErr(a, b, p);
    // sm = dl_sum(hi, p), r1 = dl_sum(lo, pl), r2 = dl_sum(r1.hi, sm.lo)
    const s = hi + p;
    let z = s - hi;
    const se = hi - (s - z) + (p - z);
    const r = lo + pl;
    z = r - lo;
    const re = lo - (r - z) + (pl - z);
    const q = r + se;
    z = q - r;
    const qe = r - (q - z) + (se - z);
    hi = s;
    lo = q;
    tiny = tiny + re + qe;
  }
  // tl_to_d: dl_sum(lo, hi), then tiny + last.lo + last.hi; the int start 0 adds 0.0 in front
  const s = lo + hi;
  const z = s - lo;
  const e = lo - (s - z) + (hi - z);
  return 0.0 + (tiny + e + s);
}

/** tl_to_d of a triple-length total, plus the int 0 sumprod starts from. */
export function tlToDouble(hi, lo, tiny) {
  const s = lo + hi;
  const z = s - lo;
  const e = lo - (s - z) + (hi - z);
  return 0.0 + (tiny + e + s);
}

let partials = new Float64Array(64);
const bits = new Float64Array(1);
const bitsInt = new BigInt64Array(bits.buffer);

/** The double next to r > 0 upwards (dir 1) or downwards (dir -1). */
function nextTo(r, dir) {
  bits[0] = r;
  bitsInt[0] += BigInt(dir);
  return bits[0];
}

/**
 * math.fsum(x[a .. b)) of finite floats: the correctly rounded exact sum. A double-double sum
 * (two-sum, errors added up) is within B = 2^-100 (b - a)^2 sum|x| of the exact sum; when no
 * rounding boundary of its rounded value r lies within B of it, r is the correctly rounded exact
 * sum (what fsum returns). Otherwise (about 1e-8 of the cases, ties included) fsumExact decides.
 */
export function fsum(x, a, b) {
  let s = 0.0;
  let c = 0.0;
  let abs = 0.0;
  for (let k = a; k < b; k++) {
    const v = x[k];
    const t = s + v;
    const bv = t - s;
    c += s - (t - bv) + (v - bv);
    abs += v < 0 ? -v : v;
    s = t;
  }
  const r = s + c;
  const bv = r - s;
  const d = s - (r - bv) + (c - bv); // exactly (s + c) - r
  const m = b - a;
  const bound = m * m * abs * 7.888609052210118e-31; // 2^-100
  if (r > 1e-290 && abs < 1e300) {
    const up = (nextTo(r, 1) - r) * 0.5;
    const down = (r - nextTo(r, -1)) * 0.5;
    if (d + bound < up && d - bound > -down) return r;
  } else if (abs === 0.0) {
    return 0.0;
  }
  return fsumExact(x, a, b);
}

/** math.fsum(x[a .. b)) of finite floats: Shewchuk's exact partials, correctly rounded. */
export function fsumExact(x, a, b) {
  let p = partials;
  let n = 0;
  for (let k = a; k < b; k++) {
    let v = x[k];
    let i = 0;
    for (let j = 0; j < n; j++) {
      // the exact error of hi = fl(v + y) (Knuth's two-sum: the same lo as fsum's ordered
      // fast two-sum, without its data-dependent swap)
      const y = p[j];
      const hi = v + y;
      const bv = hi - y;
      const lo = v - bv + (y - (hi - bv));
      if (lo !== 0.0) p[i++] = lo;
      v = hi;
    }
    n = i;
    if (v !== 0.0) {
      if (n === p.length) {
        const bigger = new Float64Array(2 * n);
        bigger.set(p);
        partials = p = bigger;
      }
      p[n++] = v;
    }
  }
  let hi = 0.0;
  if (n > 0) {
    hi = p[--n];
    let lo = 0.0;
    while (n > 0) {
      const v = hi;
      const y = p[--n];
      hi = v + y;
      lo = y - (hi - v);
      if (lo !== 0.0) break;
    }
    // half-way case: make the rounding of hi + lo + (the rest) correct
    if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
      const y = lo * 2.0;
      const v = hi + y;
      if (y === v - hi) hi = v;
    }
  }
  return hi;
}

/** Python's built-in sum() of the floats f(k), k = 0 .. n - 1 (Neumaier's compensated sum). */
export function pysum(n, f) {
  if (n === 0) return 0.0;
  let s = 0.0 + f(0);
  let c = 0.0;
  for (let k = 1; k < n; k++) {
    const v = f(k);
    const t = s + v;
    if (Math.abs(s) >= Math.abs(v)) c += s - t + v;
    else c += v - t + s;
    s = t;
  }
  return c !== 0.0 && Number.isFinite(c) ? s + c : s;
}
