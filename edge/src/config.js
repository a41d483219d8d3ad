// The edge's configuration, read once per `env` from its bindings (wrangler.toml [vars], or the
// options `aimixer edge` hands to workerd). Every value is bounded before it is trusted: a bad
// configuration fails loudly at the first request instead of routing somewhere unexpected.
//
//   ORIGINS            JSON array of {name, url, region} (region defaults to name), 1..16 entries
//   HOME_REGION        region used when the client names none (default: the first origin's region)
//   PROBE_INTERVAL_MS  active /health probe period of the HealthMonitor Durable Object (default 2000)
//   PROBE_TIMEOUT_MS   one probe's time limit (default 2000)
//   UPSTREAM_TIMEOUT_MS  time limit for a buffered (retryable) request's answer (default 15000)
//   PASSIVE_COOLDOWN_MS  how long a passive failure keeps an origin out of rotation before the
//                        next probe or request may bring it back (default 5000)
//   SYNC_MS            how stale this isolate's copy of the health table may get (default 1000)
//   MAX_BUFFER_BYTES   largest request body the edge buffers for a retry (default 4 MiB, the
//                      origin's own max_body_bytes)

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const REGION_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

function intVar(env, key, dflt, min, max) {
  const raw = env[key];
  if (raw === undefined || raw === null || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${key}=${String(raw).slice(0, 40)} is not an integer in [${min}, ${max}]`);
  }
  return n;
}

/** Parse and validate the origins list (a JSON string or an array). */
export function parseOrigins(raw) {
  let list = raw;
  if (typeof raw === "string") {
    if (raw.length > 16384) throw new Error("ORIGINS is longer than 16384 characters");
    list = JSON.parse(raw);
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > 16) {
    throw new Error("ORIGINS must be a JSON array of 1..16 origins");
  }
  const seen = new Set();
  return list.map((o, i) => {
    if (!o || typeof o !== "object") throw new Error(`ORIGINS[${i}] is not an object`);
    const name = String(o.name ?? "");
    if (!NAME_RE.test(name)) throw new Error(`ORIGINS[${i}].name=${name.slice(0, 70)} is not a valid name`);
    if (seen.has(name)) throw new Error(`ORIGINS[${i}].name=${name} is used twice`);
    seen.add(name);
    const region = String(o.region ?? name).toLowerCase();
    if (!REGION_RE.test(region)) throw new Error(`ORIGINS[${i}].region=${region.slice(0, 40)} is not a valid region`);
    let url;
    try {
      url = new URL(String(o.url ?? ""));
    } catch {
      throw new Error(`ORIGINS[${i}].url is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`ORIGINS[${i}].url must be http(s)`);
    }
    const base = url.origin + url.pathname.replace(/\/+$/, "");
    return { name, region, url: base };
  });
}

const cache = new WeakMap();

/** The validated configuration for `env` (memoised per env object). */
export function getConfig(env) {
  let cfg = cache.get(env);
  if (cfg) return cfg;
  const origins = parseOrigins(env.ORIGINS);
  const home = String(env.HOME_REGION || origins[0].region).toLowerCase();
  if (!REGION_RE.test(home)) throw new Error(`HOME_REGION=${home.slice(0, 40)} is not a valid region`);
  cfg = {
    origins,
    home,
    regions: new Set(origins.map((o) => o.region)),
    probeIntervalMs: intVar(env, "PROBE_INTERVAL_MS", 2000, 100, 3_600_000),
    probeTimeoutMs: intVar(env, "PROBE_TIMEOUT_MS", 2000, 50, 60_000),
    upstreamTimeoutMs: intVar(env, "UPSTREAM_TIMEOUT_MS", 15000, 100, 600_000),
    passiveCooldownMs: intVar(env, "PASSIVE_COOLDOWN_MS", 5000, 0, 3_600_000),
    syncMs: intVar(env, "SYNC_MS", 1000, 0, 60_000),
    maxBufferBytes: intVar(env, "MAX_BUFFER_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  };
  cache.set(env, cfg);
  return cfg;
}
