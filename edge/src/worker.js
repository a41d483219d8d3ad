// AI Mixer edge: a Workers module worker in front of the regional origins.
//
//   GET /edge/health                  each origin's state, latency and last error (this edge's view)
//   /, /wasm, /wasm/*, /mixer/*, /studio/*   the CDN (cdn.js), through the Workers Cache API
//   everything else                    proxied to the best healthy origin (proxy.js)
//
// The preferred region comes from the `X-AIMixer-Region` header or `?region=`, else HOME_REGION.
// Health comes from the HealthMonitor Durable Object's probes plus passive failures (health.js).
// The edge keeps no state the origins need: sessions live in the origins' shared state.

import { getConfig, REGION_RE } from "./config.js";
import { errorResponse, requestId, withIsolation } from "./errors.js";
import { HealthMonitor, HealthView } from "./health.js";
import { isCdnPath, serveCdn } from "./cdn.js";
import { proxyHttp, proxyWebSocket } from "./proxy.js";

export { HealthMonitor };

const health = new HealthView();

function preferredRegion(req, url, cfg) {
  const raw = req.headers.get("X-AIMixer-Region") ?? url.searchParams.get("region");
  if (raw === null || raw === "") return { region: cfg.home };
  const region = raw.trim().toLowerCase();
  if (!REGION_RE.test(region)) return { bad: raw.slice(0, 40) };
  return { region };
}

async function edgeHealth(env, cfg, rid) {
  const data = await health.pull(env);
  const origins = cfg.origins.map((o) => {
    const e = (data && data.origins.find((x) => x.name === o.name)) || {};
    return {
      name: o.name,
      region: o.region,
      state: e.state || "unknown",
      latencyMs: e.latencyMs ?? null,
      lastError: e.lastError ?? null,
      lastCheck: e.lastCheck ?? null,
      lastOk: e.lastOk ?? null,
      lastFailure: e.lastFailure ?? null,
      source: e.source ?? null,
    };
  });
  const up = origins.filter((o) => o.state === "healthy").length;
  const status = up === origins.length ? "healthy" : up > 0 ? "degraded" : "unhealthy";
  const body = {
    status,
    home: cfg.home,
    regions: [...cfg.regions],
    probeIntervalMs: cfg.probeIntervalMs,
    origins,
    timestamp: Date.now(),
  };
  const headers = withIsolation(
    new Headers({ "Content-Type": "application/json", "Cache-Control": "no-store", "X-Request-Id": rid }),
  );
  return new Response(JSON.stringify(body), { status: up > 0 ? 200 : 503, headers });
}

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url);
    const rid = requestId(req);
    try {
      return await handle(req, env, ctx, url, rid);
    } catch (e) {
      // a bug of ours: the API's error shape, never a bare runtime page (and nothing logged)
      return errorResponse(url.pathname, 500, "INTERNAL_ERROR", "The edge failed to handle the request", {}, rid);
    }
  },

  // Cron trigger (wrangler.toml): a watchdog that probes now and re-arms the monitor's alarm.
  async scheduled(_event, env, ctx) {
    ctx.waitUntil(health.pull(env, "/probe"));
  },
};

async function handle(req, env, ctx, url, rid) {
  let cfg;
  try {
    cfg = getConfig(env);
  } catch (e) {
    return errorResponse(url.pathname, 503, "SERVICE_UNAVAILABLE", `edge misconfigured: ${e.message}`, {}, rid);
  }
  if (url.pathname === "/edge/health") {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return errorResponse(url.pathname, 405, "METHOD_NOT_ALLOWED", "GET /edge/health only", {}, rid);
    }
    return edgeHealth(env, cfg, rid);
  }
  const pref = preferredRegion(req, url, cfg);
  if (pref.bad !== undefined) {
    return errorResponse(
      url.pathname,
      400,
      "INVALID_PARAMETER",
      `region=${JSON.stringify(pref.bad)} is not a region name (lower-case letters, digits and '-', at most 32)`,
      { field: "region" },
      rid,
    );
  }
  await health.refresh(env, ctx, cfg);
  const edge = { env, ctx, cfg, health, rid, path: url.pathname, region: pref.region };
  edge.order = health.order(cfg, pref.region);
  const upgrade = (req.headers.get("Upgrade") || "").toLowerCase();
  if (upgrade === "websocket") return proxyWebSocket(edge, req, url);
  if ((req.method === "GET" || req.method === "HEAD") && isCdnPath(url.pathname) && !req.headers.has("range")) {
    return serveCdn(edge, req, url);
  }
  return proxyHttp(edge, req, url);
}
