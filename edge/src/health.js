// Origin health.
//
// workerd runs no timers outside a request, so the active probes live in a Durable Object,
// `HealthMonitor` (one instance, named "global"): its alarm probes every origin's GET /health
// every PROBE_INTERVAL_MS and re-arms itself. The first request that reads the table arms the
// alarm; `aimixer edge` reads /edge/health once at start-up so probing begins before traffic, and
// on Cloudflare a cron trigger (`scheduled`, see wrangler.toml) re-arms it should it ever lapse.
//
// Each isolate keeps a copy of the table, refreshed in the background when older than SYNC_MS,
// so the request path never waits for the Durable Object (except for the very first request).
// Passive failures (a refused connection, a timeout, a 502/503/504) take the origin out of this
// isolate's rotation at once, for PASSIVE_COOLDOWN_MS or until a probe sent after the failure
// succeeds, and are reported to the monitor, which shows them in /edge/health until the next
// probe says otherwise.

import { getConfig } from "./config.js";

const MONITOR = "global";

function freshEntry(o) {
  return {
    name: o.name,
    region: o.region,
    state: "unknown",
    latencyMs: null,
    lastError: null,
    lastCheck: null,
    lastOk: null,
    lastFailure: null,
    source: null,
    consecutiveFailures: 0,
  };
}

function errText(e) {
  const s = e && e.name === "TimeoutError" ? "timed out" : String((e && e.message) || e);
  return s.slice(0, 200);
}

/** One probe of `origin`'s /health: {ok, latencyMs, error}. */
export async function probe(origin, timeoutMs) {
  const t0 = Date.now();
  try {
    const r = await fetch(`${origin.url}/health`, {
      headers: { "User-Agent": "aimixer-edge-probe", "Accept-Encoding": "identity" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    let status = null;
    try {
      status = (await r.json()).status;
    } catch {
      status = null;
    }
    const latencyMs = Date.now() - t0;
    if (r.status !== 200) return { ok: false, latencyMs, error: `HTTP ${r.status}` };
    if (status === "unhealthy") return { ok: false, latencyMs, error: "origin reports unhealthy" };
    return { ok: true, latencyMs, error: null };
  } catch (e) {
    return { ok: false, latencyMs: Date.now() - t0, error: errText(e) };
  }
}

export class HealthMonitor {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    this.table = null;
    this.probing = null;
  }

  ensureTable(cfg) {
    if (!this.table) this.table = Object.fromEntries(cfg.origins.map((o) => [o.name, freshEntry(o)]));
    return this.table;
  }

  async ensureAlarm(cfg, soon = false) {
    const at = await this.state.storage.getAlarm();
    if (at === null || at === undefined) {
      await this.state.storage.setAlarm(Date.now() + (soon ? 0 : cfg.probeIntervalMs));
    }
  }

  async probeAll(cfg) {
    if (!this.probing) {
      this.probing = (async () => {
        const table = this.ensureTable(cfg);
        const started = Date.now();
        const results = await Promise.all(cfg.origins.map((o) => probe(o, cfg.probeTimeoutMs)));
        const now = Date.now();
        cfg.origins.forEach((o, i) => {
          const e = table[o.name];
          const r = results[i];
          e.lastCheck = now;
          e.latencyMs = r.latencyMs;
          e.source = "probe";
          if (r.ok) {
            e.state = "healthy";
            e.lastOk = started; // it answered a probe sent at this time
            e.consecutiveFailures = 0;
          } else {
            e.state = "unhealthy";
            e.lastError = r.error;
            e.lastFailure = now;
            e.consecutiveFailures += 1;
          }
        });
      })().finally(() => {
        this.probing = null;
      });
    }
    return this.probing;
  }

  async alarm() {
    const cfg = loadConfig(this.env);
    try {
      await this.probeAll(cfg);
    } finally {
      await this.state.storage.setAlarm(Date.now() + cfg.probeIntervalMs);
    }
  }

  async fetch(request) {
    const cfg = loadConfig(this.env);
    const url = new URL(request.url);
    const table = this.ensureTable(cfg);
    if (url.pathname === "/report" && request.method === "POST") {
      const text = await request.text();
      if (text.length > 4096) return new Response("too large", { status: 413 });
      let rep;
      try {
        rep = JSON.parse(text);
      } catch {
        return new Response("bad json", { status: 400 });
      }
      const e = table[String(rep.name)];
      if (e) {
        const now = Date.now();
        e.state = "unhealthy";
        e.source = "passive";
        e.lastError = String(rep.error || "failed").slice(0, 200);
        e.lastFailure = now;
        e.consecutiveFailures += 1;
      }
      await this.ensureAlarm(cfg);
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/probe") {
      await this.probeAll(cfg);
      await this.ensureAlarm(cfg);
    } else if (url.pathname === "/state") {
      const first = Object.values(table).every((e) => e.state === "unknown");
      if (first) await this.probeAll(cfg);
      await this.ensureAlarm(cfg);
    } else {
      return new Response("not found", { status: 404 });
    }
    return new Response(JSON.stringify({ origins: Object.values(table), interval: cfg.probeIntervalMs }), {
      headers: { "Content-Type": "application/json" },
    });
  }
}

function loadConfig(env) {
  return getConfig(env);
}

function monitorStub(env) {
  if (!env.HEALTH) return null;
  return env.HEALTH.get(env.HEALTH.idFromName(MONITOR));
}

/** This isolate's view of origin health (see the module comment). */
export class HealthView {
  constructor() {
    this.table = null; // name -> entry, from the monitor
    this.syncedAt = 0;
    this.syncing = null;
    this.passive = new Map(); // name -> {until, error}
  }

  /** Ask the monitor for its table (`path` "/state" or "/probe"); returns it, or null. */
  async pull(env, path = "/state") {
    const stub = monitorStub(env);
    if (!stub) return null;
    try {
      const r = await stub.fetch(`https://health${path}`);
      const data = await r.json();
      this.table = Object.fromEntries(data.origins.map((e) => [e.name, e]));
      this.syncedAt = Date.now();
      return data;
    } catch {
      // no monitor answer: go on with what this isolate knows, and ask again after SYNC_MS
      if (this.table === null) this.table = {};
      this.syncedAt = Date.now();
      return null;
    }
  }

  /** Make sure the table is recent enough: waits only when there is none yet. */
  async refresh(env, ctx, cfg) {
    if (this.table === null) {
      await this.pull(env);
      return;
    }
    if (Date.now() - this.syncedAt >= cfg.syncMs && !this.syncing) {
      this.syncing = this.pull(env).finally(() => {
        this.syncing = null;
      });
      ctx.waitUntil(this.syncing);
    }
  }

  isUp(name) {
    const e = this.table && this.table[name];
    const p = this.passive.get(name);
    if (p) {
      // out of rotation until the cool-down ends or a probe sent after the failure succeeds
      if (p.until > Date.now() && !(e && e.state === "healthy" && e.lastOk > p.at)) return false;
      this.passive.delete(name);
    }
    return !e || e.state !== "unhealthy";
  }

  /** Origins in the order to try them: healthy ones in the preferred region, then healthy ones in
   * the home region, then the other healthy ones, then (as a last resort) the unhealthy ones. */
  order(cfg, region) {
    const rank = (o) => (o.region === region ? 0 : o.region === cfg.home ? 1 : 2);
    const byRank = (a, b) => rank(a) - rank(b);
    const up = [];
    const down = [];
    for (const o of cfg.origins) (this.isUp(o.name) ? up : down).push(o);
    return [...up.sort(byRank), ...down.sort(byRank)];
  }

  failed(env, ctx, cfg, origin, error) {
    const now = Date.now();
    this.passive.set(origin.name, { at: now, until: now + cfg.passiveCooldownMs, error });
    const stub = monitorStub(env);
    if (stub) {
      ctx.waitUntil(
        stub
          .fetch("https://health/report", {
            method: "POST",
            body: JSON.stringify({ name: origin.name, error }),
          })
          .catch(() => {}),
      );
    }
  }

  succeeded(origin) {
    this.passive.delete(origin.name);
    const e = this.table && this.table[origin.name];
    if (e && e.state === "unhealthy") {
      e.state = "healthy";
      e.source = "passive";
    }
  }
}

export { errText };
