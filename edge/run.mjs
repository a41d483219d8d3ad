// Runs the edge worker in workerd (through Miniflare, which starts the workerd binary and gives
// it the Cache API and Durable Objects) with the options `aimixer edge` generated.
//
//   node edge/run.mjs '<json>'     json = {host, port, bindings: {ORIGINS, HOME_REGION, ...},
//                                          script?}  (script: another build of the worker, e.g.
//                                          the bundle `wrangler deploy --dry-run --outdir` writes)
//
// Prints one line `{"ready": "http://host:port/"}` once the edge accepts requests. SIGTERM or
// SIGINT stops workerd and exits.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The Miniflare options for a generated edge config (also used by `--print-config`). */
export function miniflareOptions(cfg) {
  return {
    host: cfg.host,
    port: cfg.port,
    modules: true,
    modulesRoot: cfg.script ? path.dirname(path.resolve(cfg.script)) : path.join(HERE, "src"),
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
    scriptPath: cfg.script ? path.resolve(cfg.script) : path.join(HERE, "src", "worker.js"),
    compatibilityDate: "2025-07-01",
    bindings: cfg.bindings,
    durableObjects: { HEALTH: "HealthMonitor" },
    cache: true,
    cf: false, // no network look-up of a Request.cf object
    log: new Log(LogLevel.WARN),
  };
}

async function main() {
  const raw = process.argv[2];
  if (!raw) {
    console.error("usage: node edge/run.mjs '<json config>'");
    process.exit(2);
  }
  const cfg = JSON.parse(raw);
  const mf = new Miniflare(miniflareOptions(cfg));
  let url;
  try {
    url = await mf.ready;
  } catch (e) {
    console.error(`edge: workerd did not start: ${e.message}`);
    process.exit(1);
  }
  // start the health monitor's probes before the first client request
  await mf.dispatchFetch(new URL("/edge/health", url)).then((r) => r.arrayBuffer()).catch(() => {});
  console.log(JSON.stringify({ ready: url.href }));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await mf.dispose().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
